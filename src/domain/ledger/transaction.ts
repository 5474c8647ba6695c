import type { CodeSource } from '../gl/coding.ts';
import type { Violation } from '../policy/violation.ts';
import type { Rail } from '../rails.ts';
import type { Instant } from '../time.ts';

export type TransactionType = 'payment' | 'refund' | 'reversal';

/**
 * A ledger transaction as stored, hashed and exported. Amounts are exact decimal strings with
 * the currency's full exponent; `reporting_amount` is in the organisation's reporting currency.
 * Every field is part of the entry's hash: there is no column outside it.
 */
export interface TransactionRecord {
  readonly kind: 'transaction';
  readonly seq: number;
  readonly org_id: string;
  readonly tx_id: string;
  readonly recorded_at: Instant;
  readonly recorded_by: string;
  readonly external_id: string;
  readonly agent_id: string;
  readonly timestamp: Instant;
  readonly type: TransactionType;
  readonly refund_of: string | null;
  readonly amount: string;
  readonly currency: string;
  readonly reporting_amount: string;
  readonly reporting_currency: string;
  readonly fx_rate: string | null;
  readonly fx_rate_source: string | null;
  readonly fx_rate_time: Instant | null;
  readonly payment_rail: Rail;
  readonly merchant: string;
  readonly merchant_category: string | null;
  readonly business_purpose: string | null;
  readonly accounting_code: string | null;
  readonly accounting_code_source: CodeSource | null;
  readonly approver: string | null;
  readonly approval_ref: string | null;
  readonly authorization_id: string | null;
  readonly policy_snapshot_id: string | null;
  readonly violations: readonly Violation[];
  readonly spend_before_daily: string;
  readonly spend_before_monthly: string;
  /** Hex SHA-256 of the normalised client input: the idempotency fingerprint. */
  readonly input_hash: string;
}

/**
 * The RFC 8785 encoding of a transaction, written with the keys already in sorted order.
 * V8 keeps insertion order for non-index keys and JSON.stringify escapes strings exactly as
 * RFC 8785 §3.2.2.2 does (lone surrogates are refused at input), so for this flat shape the
 * output is byte-identical to the generic encoder at a fraction of its cost. A property test
 * cross-checks both against a reference implementation.
 */
export function encodeTransaction(t: TransactionRecord): string {
  return JSON.stringify({
    accounting_code: t.accounting_code,
    accounting_code_source: t.accounting_code_source,
    agent_id: t.agent_id,
    amount: t.amount,
    approval_ref: t.approval_ref,
    approver: t.approver,
    authorization_id: t.authorization_id,
    business_purpose: t.business_purpose,
    currency: t.currency,
    external_id: t.external_id,
    fx_rate: t.fx_rate,
    fx_rate_source: t.fx_rate_source,
    fx_rate_time: t.fx_rate_time,
    input_hash: t.input_hash,
    kind: t.kind,
    merchant: t.merchant,
    merchant_category: t.merchant_category,
    org_id: t.org_id,
    payment_rail: t.payment_rail,
    policy_snapshot_id: t.policy_snapshot_id,
    recorded_at: t.recorded_at,
    recorded_by: t.recorded_by,
    refund_of: t.refund_of,
    reporting_amount: t.reporting_amount,
    reporting_currency: t.reporting_currency,
    seq: t.seq,
    spend_before_daily: t.spend_before_daily,
    spend_before_monthly: t.spend_before_monthly,
    timestamp: t.timestamp,
    tx_id: t.tx_id,
    type: t.type,
    violations: t.violations,
  });
}

/**
 * The fields a client supplied, normalised (amounts at full exponent, instants in UTC).
 * Two submissions with one idempotency key are "the same" when these are equal, which the
 * ledger checks through `input_hash`; everything else on the record is derived.
 */
export interface TransactionInput {
  readonly external_id: string;
  readonly agent_id: string;
  readonly timestamp: Instant;
  readonly type: TransactionType;
  /** tx_id or external_id (same rail) of the original, for refunds and reversals. */
  readonly refund_of: string | null;
  readonly amount: string;
  readonly currency: string;
  readonly payment_rail: Rail;
  readonly merchant: string;
  readonly merchant_category: string | null;
  readonly business_purpose: string | null;
  readonly accounting_code: string | null;
  readonly approver: string | null;
  readonly approval_ref: string | null;
  readonly authorization_id: string | null;
  readonly reporting_amount: string | null;
  readonly fx_rate: string | null;
  readonly fx_rate_source: string | null;
  readonly fx_rate_time: Instant | null;
}

/** RFC 8785 encoding of a normalised input, keys pre-sorted (see encodeTransaction). */
export function encodeTransactionInput(t: TransactionInput): string {
  return JSON.stringify({
    accounting_code: t.accounting_code,
    agent_id: t.agent_id,
    amount: t.amount,
    approval_ref: t.approval_ref,
    approver: t.approver,
    authorization_id: t.authorization_id,
    business_purpose: t.business_purpose,
    currency: t.currency,
    external_id: t.external_id,
    fx_rate: t.fx_rate,
    fx_rate_source: t.fx_rate_source,
    fx_rate_time: t.fx_rate_time,
    merchant: t.merchant,
    merchant_category: t.merchant_category,
    payment_rail: t.payment_rail,
    refund_of: t.refund_of,
    reporting_amount: t.reporting_amount,
    timestamp: t.timestamp,
    type: t.type,
  });
}
