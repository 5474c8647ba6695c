import { describe, expect, it } from 'vitest';
import { ap2Capture } from '../src/adapters/rails/ap2/ap2-payment.ts';
import { SpendtrailError } from '../src/domain/errors.ts';
import { valuationFields } from '../src/domain/money/valuation.ts';
import { ap2Purchase, part } from './rails-ap2-fixtures.ts';

const capture = (p: Record<string, unknown>) => ap2Capture(Buffer.from(JSON.stringify(p)), (asset, at) => valuationFields([], asset, 'USD', at));
function failure(p: Record<string, unknown>): string {
  try {
    capture(p);
  } catch (e) {
    if (e instanceof SpendtrailError) return `${e.code}@${e.field ?? ''}`;
    throw e;
  }
  throw new Error('expected the record to be refused');
}

describe('an AP2 v0.1 purchase record', () => {
  it('converts float amounts that are exact decimals of the currency', () => {
    expect(capture(ap2Purchase({ value: 1.5 })).transactions[0]?.amount).toBe('1.50');
    const yen = { ...ap2Purchase({ value: 1200, currency: 'JPY' }), fx_rate: '0.0067', fx_rate_source: 'ECB reference rate', fx_rate_time: '2026-03-12T00:00:00Z' };
    expect(capture(yen).transactions[0]).toMatchObject({ amount: '1200', currency: 'JPY', fx_rate: '0.0067' });
  });

  it('refuses floats that are not exact amounts: 1.005 USD, 0.1 + 0.2, 0.5 JPY', () => {
    expect(failure(ap2Purchase({ value: 1.005 }))).toBe('AMOUNT_NOT_EXACT@ap2.PaymentReceipt.amount.value');
    expect(failure(ap2Purchase({ value: 0.1 + 0.2 }))).toBe('AMOUNT_NOT_EXACT@ap2.PaymentReceipt.amount.value');
    expect(failure(ap2Purchase({ value: 0.5, currency: 'JPY' }))).toBe('AMOUNT_NOT_EXACT@ap2.PaymentReceipt.amount.value');
  });

  it('names the offending field of an object that is not in AP2 shape', () => {
    const noStatus = ap2Purchase();
    delete part(noStatus, 'ap2.PaymentReceipt').payment_status;
    expect(failure(noStatus)).toBe('MALFORMED_PAYLOAD@ap2.PaymentReceipt.payment_status');
    const ambiguous = ap2Purchase({ status: { merchant_confirmation_id: 'mc_1', error_message: 'declined' } });
    expect(failure(ambiguous)).toBe('MALFORMED_PAYLOAD@ap2.PaymentReceipt.payment_status');
    const noMerchant = ap2Purchase();
    delete (part(noMerchant, 'ap2.mandates.CartMandate').contents as Record<string, unknown>).merchant_name;
    expect(failure(noMerchant)).toBe('MALFORMED_PAYLOAD@ap2.mandates.CartMandate.contents.merchant_name');
    const { agent_id: _agent, ...noAgent } = ap2Purchase();
    expect(failure(noAgent)).toBe('VALIDATION_FAILED@agent_id');
  });

  it('refuses a receipt for another mandate, above the authorized total, or in another currency', () => {
    const other = ap2Purchase();
    part(other, 'ap2.PaymentReceipt').payment_mandate_id = 'pm_other';
    expect(failure(other)).toBe('VALIDATION_FAILED@ap2.PaymentReceipt.payment_mandate_id');
    expect(failure(ap2Purchase({ value: 50.01, total: 50 }))).toBe('VALIDATION_FAILED@ap2.PaymentReceipt.amount.value');
    const eur = ap2Purchase();
    (part(eur, 'ap2.PaymentReceipt').amount as Record<string, unknown>).currency = 'EUR';
    expect(failure(eur)).toBe('CURRENCY_MISMATCH@ap2.PaymentReceipt.amount.currency');
  });

  it('takes a partial capture below the mandate total', () => {
    expect(capture(ap2Purchase({ value: 30, total: 50 })).transactions[0]?.amount).toBe('30.00');
  });

  it('keeps an Error status as a failed record', () => {
    const c = capture(ap2Purchase({ status: { error_message: 'PSP timeout, retry' } }));
    expect(c).toMatchObject({ outcome: 'failed', transactions: [] });
    expect(c.reason).toMatch(/^Error: PSP timeout, retry; /);
  });
});
