import type { RailCapture } from '../../../app/rail-ingest.ts';
import { parseTransactionInput } from '../../../app/transaction-input.ts';
import { SpendtrailError } from '../../../domain/errors.ts';
import { findCurrency } from '../../../domain/money/currency.ts';
import { formatMinor, parseDecimal, parseRate } from '../../../domain/money/decimal.ts';
import type { ValuationRule } from '../../../domain/money/valuation.ts';
import { valuationFields } from '../../../domain/money/valuation.ts';
import type { Instant } from '../../../domain/time.ts';
import type { X402Payment, X402Settled } from './payment.ts';

/** What the agent says about a payment: the rail knows amounts and addresses, not purposes. */
export interface X402LedgerFields {
  readonly agent_id: string;
  readonly business_purpose?: string | null | undefined;
  /** A merchant name; the payee address (`payTo`) when none is given. */
  readonly merchant?: string | null | undefined;
  readonly merchant_category?: string | null | undefined;
  readonly accounting_code?: string | null | undefined;
  readonly authorization_id?: string | null | undefined;
}

/** How the organisation values assets: its rules, its reporting currency, and when the payment is booked. */
export interface X402Valuation {
  readonly rules: readonly ValuationRule[];
  readonly reporting: string;
  readonly at: Instant;
}

export const merchantOf = (p: X402Payment, f: X402LedgerFields): string => {
  const m = f.merchant?.trim();
  return m === undefined || m === '' ? p.pay_to : m;
};

/**
 * The rail record of a settled or failed x402 payment. A settled one is one payment in the
 * asset (USDC stays USDC in the ledger) valued by the organisation's rule for it; a failed one
 * is kept as evidence with the facilitator's reason and makes no transaction, so a failure is
 * never half recorded.
 */
export function x402Capture(p: X402Settled, fields: X402LedgerFields, valuation: X402Valuation): RailCapture {
  const common = { rail: 'x402' as const, source_id: p.source_id, content_type: 'application/json', payload: p.payload };
  if (!p.settlement.success) return { ...common, outcome: 'failed', reason: p.settlement.reason, transactions: [] };
  const fx = valuationFields(valuation.rules, p.currency.code, valuation.reporting, valuation.at);
  const transaction = parseTransactionInput({
    // The natural id doubles as the ledger's idempotency key on the x402 rail.
    external_id: p.source_id,
    agent_id: fields.agent_id,
    timestamp: valuation.at,
    amount: p.amount,
    currency: p.currency.code,
    payment_rail: 'x402',
    merchant: merchantOf(p, fields),
    merchant_category: fields.merchant_category ?? null,
    business_purpose: fields.business_purpose ?? null,
    accounting_code: fields.accounting_code ?? null,
    approver: null,
    approval_ref: null,
    authorization_id: fields.authorization_id ?? null,
    fx_rate: fx.fx_rate,
    fx_rate_source: fx.fx_rate_source,
    fx_rate_time: fx.fx_rate_time,
  });
  return { ...common, outcome: 'settled', reason: null, transactions: [transaction] };
}

/**
 * The reporting-currency amount to authorize before paying: the payment valued by the same
 * rule the ledger will book it with, rounded up to a whole minor unit, so that the recorded
 * payment (rounded half-even) never exceeds its hold.
 */
export function x402ReportingCeiling(p: X402Payment, valuation: X402Valuation): string {
  const reporting = findCurrency(valuation.reporting);
  if (reporting === undefined) throw new SpendtrailError('UNKNOWN_CURRENCY', `unknown reporting currency ${valuation.reporting}`);
  const fx = valuationFields(valuation.rules, p.currency.code, reporting.code, valuation.at);
  const minor = parseDecimal(p.amount, p.currency.exponent, { allowNegative: false, field: 'amount' });
  if (fx.fx_rate === null) return formatMinor(minor, reporting.exponent);
  const rate = parseRate(fx.fx_rate, 'fx_rate');
  const numerator = minor * rate.numerator * 10n ** BigInt(reporting.exponent);
  const denominator = 10n ** BigInt(p.currency.exponent + rate.scale);
  return formatMinor((numerator + denominator - 1n) / denominator, reporting.exponent);
}
