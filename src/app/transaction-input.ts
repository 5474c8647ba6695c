import { SpendtrailError } from '../domain/errors.ts';
import type { TransactionInput } from '../domain/ledger/transaction.ts';
import { findCurrency } from '../domain/money/currency.ts';
import { formatMinor, normalizeRate, parseDecimal } from '../domain/money/decimal.ts';
import { parseInstant } from '../domain/time.ts';
import { parseInput, transactionLine } from './schemas.ts';

const blankToNull = (s: string | null | undefined): string | null => (s === undefined || s === null || s.trim() === '' ? null : s);

/**
 * Validates one transaction as submitted (HTTP body item, NDJSON line, CSV row) and normalises
 * it: amounts at the currency's full exponent, instants in UTC. `field` prefixes error paths.
 */
export function parseTransactionInput(raw: unknown, field?: string): TransactionInput {
  const line = parseInput(transactionLine, raw, field);
  try {
    const currency = findCurrency(line.currency);
    if (currency === undefined) {
      throw new SpendtrailError('UNKNOWN_CURRENCY', `unknown currency ${line.currency}`, { field: 'currency' });
    }
    const refundOf = blankToNull(line.refund_of);
    const type = line.type ?? (refundOf === null ? 'payment' : 'refund');
    if (type !== 'payment' && refundOf === null) {
      throw new SpendtrailError('VALIDATION_FAILED', `a ${type} names the transaction it reverses in refund_of`, {
        field: 'refund_of',
      });
    }
    if (type === 'payment' && refundOf !== null) {
      throw new SpendtrailError('VALIDATION_FAILED', 'refund_of is only for refunds and reversals', { field: 'type' });
    }
    const minor = parseDecimal(line.amount, currency.exponent, { allowNegative: type !== 'payment', field: 'amount' });
    if (type !== 'payment' && minor >= 0n) {
      throw new SpendtrailError('INVALID_AMOUNT', `a ${type} is recorded as a negative amount`, { field: 'amount' });
    }
    return {
      external_id: line.external_id,
      agent_id: line.agent_id,
      timestamp: parseInstant(line.timestamp, 'timestamp'),
      type,
      refund_of: refundOf,
      amount: formatMinor(minor, currency.exponent),
      currency: currency.code,
      payment_rail: line.payment_rail,
      merchant: line.merchant.trim(),
      merchant_category: line.merchant_category ?? null,
      business_purpose: blankToNull(line.business_purpose),
      accounting_code: blankToNull(line.accounting_code),
      approver: blankToNull(line.approver),
      approval_ref: blankToNull(line.approval_ref),
      authorization_id: line.authorization_id?.toLowerCase() ?? null,
      // Validated against the reporting currency when the organisation is known.
      reporting_amount: blankToNull(line.reporting_amount),
      fx_rate: line.fx_rate == null || line.fx_rate.trim() === '' ? null : normalizeRate(line.fx_rate, 'fx_rate'),
      fx_rate_source: blankToNull(line.fx_rate_source),
      fx_rate_time: line.fx_rate_time == null ? null : parseInstant(line.fx_rate_time, 'fx_rate_time'),
    };
  } catch (e) {
    if (e instanceof SpendtrailError && field !== undefined) throw e.under(field);
    throw e;
  }
}
