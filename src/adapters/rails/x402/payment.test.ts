import { describe, expect, it } from 'vitest';
import { encodePaymentResponseHeader } from '@x402/core/http';
import { SpendtrailError } from '../../../domain/errors.ts';
import { findCurrency } from '../../../domain/money/currency.ts';
import type { Currency } from '../../../domain/money/currency.ts';
import { convert, parseDecimal, parseRate } from '../../../domain/money/decimal.ts';
import type { Instant } from '../../../domain/time.ts';
import { account, OTHER_ADDRESS, reencode, txHash, v1Documents, v2Documents } from '../../../../test/rails-x402-fixtures.ts';
import { x402Capture, x402ReportingCeiling } from './capture.ts';
import { atomicToAmount, readX402Payment, readX402Settled } from './payment.ts';
import { findAsset, findNetwork, registeredAssets } from './registry.ts';

/** The code and field a synchronous parse fails with. */
function failure(f: () => unknown): { code: string; field: string | undefined } {
  try {
    f();
  } catch (e) {
    if (e instanceof SpendtrailError) return { code: e.code, field: e.field };
    throw e;
  }
  throw new Error('expected the parse to fail');
}

const usdc = findCurrency('USDC') as Currency;
const at = '2026-03-12T10:00:00.000Z' as Instant;

describe('the x402 asset registry', () => {
  it('maps the v1 network names to their CAIP-2 ids and back', () => {
    for (const [name, caip2] of [
      ['base', 'eip155:8453'],
      ['base-sepolia', 'eip155:84532'],
      ['avalanche', 'eip155:43114'],
      ['avalanche-fuji', 'eip155:43113'],
    ]) {
      expect(findNetwork(name as string)).toEqual({ name, caip2 });
      expect(findNetwork(caip2 as string)).toEqual({ name, caip2 });
    }
    expect(findNetwork('eip155:1')).toBeUndefined();
    expect(findNetwork('solana-devnet')).toBeUndefined();
  });

  it('finds a contract whatever the case of its address, only on its own network', () => {
    expect(findAsset('eip155:84532', '0x036CbD53842c5426634e7929541eC2318f3dCF7e')).toEqual({ currency: 'USDC', decimals: 6 });
    expect(findAsset('eip155:84532', '0x036CBD53842C5426634E7929541EC2318F3DCF7E')).toEqual({ currency: 'USDC', decimals: 6 });
    expect(findAsset('eip155:8453', '0x036CbD53842c5426634e7929541eC2318f3dCF7e')).toBeUndefined();
  });

  it('books every registered asset in a ledger currency that can hold its smallest unit', () => {
    expect(registeredAssets().length).toBeGreaterThanOrEqual(4);
    for (const { network, address, asset } of registeredAssets()) {
      const currency = findCurrency(asset.currency);
      expect(currency, `${network.name} ${address}`).toBeDefined();
      expect(currency?.exponent, `${network.name} ${address}`).toBeGreaterThanOrEqual(asset.decimals);
    }
  });
});

describe('reading x402 documents', () => {
  it('converts atomic units exactly and refuses dust the ledger currency cannot hold', () => {
    expect(atomicToAmount(10000n, 6, usdc, 'v')).toBe('0.010000');
    expect(atomicToAmount(1n, 6, usdc, 'v')).toBe('0.000001');
    expect(atomicToAmount(123456789012345678901234567n, 6, usdc, 'v')).toBe('123456789012345678901.234567');
    // An 18-decimal token: whole micro-units convert, anything finer is refused, never rounded.
    expect(atomicToAmount(10n ** 16n, 18, usdc, 'v')).toBe('0.010000');
    expect(failure(() => atomicToAmount(10n ** 16n + 1n, 18, usdc, 'v')).code).toBe('AMOUNT_NOT_EXACT');
    expect(atomicToAmount(5n, 2, usdc, 'v')).toBe('0.050000');
  });

  it('reads hex and decimal numbers per the exact-EVM encoding, to the same payment', async () => {
    const { documents } = await v2Documents();
    const plain = readX402Settled(documents);
    const hexValue = reencode(documents.payment_signature, (d) => {
      d.payload.authorization.value = '0x2710';
      d.payload.authorization.nonce = BigInt(d.payload.authorization.nonce ?? '0').toString(10);
    });
    const mixed = readX402Settled({ ...documents, payment_signature: hexValue });
    expect(mixed.amount).toBe('0.010000');
    expect(mixed.nonce).toBe(plain.nonce);
    expect(mixed.source_id).toBe(plain.source_id);
    // Same payment, other bytes: kept as received, so a replay in the other encoding is a conflict, not a duplicate.
    expect(mixed.payload.equals(plain.payload)).toBe(false);
  });

  it('takes a v1 transfer below maxAmountRequired at its value and refuses one above it', async () => {
    // Signed for 5000 against requirements that allow up to 10000.
    const signed = await v1Documents({ maxAmountRequired: '5000' });
    const allowing = { ...signed.documents.payment_requirements, accepts: signed.documents.payment_requirements.accepts.map((a) => ({ ...a, maxAmountRequired: '10000' })) };
    expect(readX402Payment({ ...signed.documents, payment_requirements: allowing }).amount).toBe('0.005000');
    const tighter = { ...allowing, accepts: allowing.accepts.map((a) => ({ ...a, maxAmountRequired: '4999' })) };
    expect(failure(() => readX402Payment({ ...signed.documents, payment_requirements: tighter }))).toEqual({
      code: 'AMOUNT_NOT_EXACT',
      field: 'x_payment.payload.authorization.value',
    });
  });

  it('accepts the v1 requirements as the 402 body, its accepts list, or the one entry paid', async () => {
    const { documents } = await v1Documents();
    const body = documents.payment_requirements;
    const a = readX402Payment(documents);
    expect(readX402Payment({ ...documents, payment_requirements: body.accepts }).source_id).toBe(a.source_id);
    expect(readX402Payment({ ...documents, payment_requirements: body.accepts[0] }).source_id).toBe(a.source_id);
    expect(failure(() => readX402Payment({ x_payment: documents.x_payment }))).toEqual({ code: 'VALIDATION_FAILED', field: 'payment_requirements' });
  });

  it('picks the v1 offer that pays the payload recipient when the 402 body offers several on the network', async () => {
    const signed = await v1Documents({ maxAmountRequired: '3000' });
    const [paid] = signed.documents.payment_requirements.accepts;
    const elsewhere = { ...paid, payTo: OTHER_ADDRESS, maxAmountRequired: '1' };
    const p = readX402Payment({ ...signed.documents, payment_requirements: { x402Version: 1, accepts: [elsewhere, paid] } });
    expect(p).toMatchObject({ amount: '0.003000', pay_to: paid?.payTo });
    // Two assets to the same payee on one network: a v1 payload cannot say which it paid.
    const otherAsset = { ...paid, asset: '0x0000000000000000000000000000000000000001' };
    expect(failure(() => readX402Payment({ ...signed.documents, payment_requirements: [paid, otherAsset] }))).toEqual({ code: 'VALIDATION_FAILED', field: 'payment_requirements' });
  });

  it('requires a v2 payment to authorize exactly the amount its requirements charge', async () => {
    const { documents } = await v2Documents();
    const cheaper = reencode(documents.payment_signature, (d) => {
      (d.accepted as { amount: string }).amount = '9999';
    });
    expect(failure(() => readX402Payment({ payment_signature: cheaper }))).toEqual({ code: 'AMOUNT_NOT_EXACT', field: 'payment_signature.payload.authorization.value' });
  });

  it('checks the settlement against the payment: network, payer and a transaction hash on success', async () => {
    const { documents } = await v2Documents();
    const settle = (s: Record<string, unknown>) => ({ ...documents, payment_response: encodePaymentResponseHeader({ success: true, transaction: txHash(), network: 'eip155:84532', ...s } as never) });
    expect(readX402Settled(settle({ payer: account.address.toUpperCase().replace('0X', '0x') })).settlement.success).toBe(true);
    expect(readX402Settled(settle({})).settlement.success).toBe(true);
    expect(failure(() => readX402Settled(settle({ payer: OTHER_ADDRESS })))).toEqual({ code: 'VALIDATION_FAILED', field: 'payment_response.payer' });
    expect(failure(() => readX402Settled(settle({ network: 'eip155:8453' })))).toEqual({ code: 'VALIDATION_FAILED', field: 'payment_response.network' });
    expect(failure(() => readX402Settled(settle({ transaction: '' })))).toEqual({ code: 'MALFORMED_PAYLOAD', field: 'payment_response.transaction' });
    expect(failure(() => readX402Settled(settle({ amount: '9000' })))).toEqual({ code: 'AMOUNT_NOT_EXACT', field: 'payment_response.amount' });
    expect(failure(() => readX402Settled({ ...documents, payment_response: undefined }))).toEqual({ code: 'VALIDATION_FAILED', field: 'payment_response' });
  });

  it('refuses schemes other than exact, and v1 and v2 documents mixed in one submission', async () => {
    const { documents } = await v2Documents();
    const upto = reencode(documents.payment_signature, (d) => {
      (d.accepted as { scheme: string }).scheme = 'upto';
    });
    expect(failure(() => readX402Payment({ payment_signature: upto }))).toEqual({ code: 'UNSUPPORTED_EVENT', field: 'payment_signature.accepted.scheme' });
    const permit2 = reencode(documents.payment_signature, (d) => {
      (d.payload as Record<string, unknown>).permit2Authorization = d.payload.authorization;
      delete (d.payload as Record<string, unknown>).authorization;
    });
    expect(failure(() => readX402Payment({ payment_signature: permit2 }))).toEqual({ code: 'UNSUPPORTED_EVENT', field: 'payment_signature.payload' });
    const v1 = await v1Documents();
    expect(failure(() => readX402Settled({ ...v1.documents, payment_response: documents.payment_response }))).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(failure(() => readX402Settled({}))).toEqual({ code: 'VALIDATION_FAILED', field: 'payment_signature' });
  });

  it('keeps the documents as canonical JSON with the headers exactly as received', async () => {
    const { documents } = await v1Documents();
    const p = readX402Settled(documents);
    const text = p.payload.toString('utf8');
    const kept = JSON.parse(text) as { headers: Record<string, string>; requirements: unknown };
    expect(kept.headers).toEqual({ 'X-PAYMENT': documents.x_payment, 'X-PAYMENT-RESPONSE': documents.x_payment_response });
    expect(kept.requirements).toEqual(documents.payment_requirements);
    // Reading the same documents again gives the same bytes: that is what makes a replay a duplicate.
    expect(readX402Settled(documents).payload.equals(p.payload)).toBe(true);
    expect(text).not.toContain('\n');
  });
});

describe('valuing an x402 payment', () => {
  it('authorizes at least what the ledger will book, however the rate rounds', async () => {
    const { documents } = await v2Documents({ amount: '10001' });
    const p = readX402Settled(documents);
    const rules = [{ asset: 'USDC', quote: 'USD', rate: '0.9998', source: 'treasury' }];
    const hold = x402ReportingCeiling(p, { rules, reporting: 'USD', at });
    const [t] = x402Capture(p, { agent_id: 'research-bot' }, { rules, reporting: 'USD', at }).transactions;
    const booked = convert(parseDecimal(t?.amount ?? '', 6, { allowNegative: false, field: 'a' }), 6, parseRate('0.9998', 'r'), 2);
    // 0.010001 × 0.9998 = 0.00999899…: a cent either way.
    expect(hold).toBe('0.01');
    expect(parseDecimal(hold, 2, { allowNegative: false, field: 'h' })).toBeGreaterThanOrEqual(booked);
    // At par 0.010001 books as 0.01 (half-even) and is held as 0.02: the hold rounds up.
    expect(x402ReportingCeiling(p, { rules: [{ asset: 'USDC', quote: 'USD', rate: '1', source: 'peg' }], reporting: 'USD', at })).toBe('0.02');
    const whole = readX402Settled((await v2Documents({ amount: '10000' })).documents);
    expect(x402ReportingCeiling(whole, { rules: [{ asset: 'USDC', quote: 'USD', rate: '1', source: 'peg' }], reporting: 'USD', at })).toBe('0.01');
  });

  it('makes no transaction from a failed settlement, whatever the valuation rules', async () => {
    const { documents } = await v2Documents({}, { success: false, errorReason: 'insufficient_funds', transaction: '' });
    const c = x402Capture(readX402Settled(documents), { agent_id: 'research-bot' }, { rules: [], reporting: 'USD', at });
    expect(c).toMatchObject({ rail: 'x402', outcome: 'failed', reason: 'insufficient_funds', transactions: [] });
  });
});
