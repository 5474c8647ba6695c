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

// Strings that JSON.stringify (and so RFC 8785 §3.2.2.2) writes as they are, between quotes:
// no quote, backslash, control character or surrogate. Anything else takes JSON.stringify's
// escaping, which is the one RFC 8785 mandates (lone surrogates are refused at input).
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

const str = (v: string): string => (NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`);
const strOrNull = (v: string | null): string => (v === null ? 'null' : NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`);

function strArray(vs: readonly string[]): string {
  if (vs.length === 0) return '[]';
  let out = '[' + str(vs[0] as string);
  for (let i = 1; i < vs.length; i++) out += ',' + str(vs[i] as string);
  return out + ']';
}

/**
 * The RFC 8785 encoding of a transaction, written by a fixed-key writer: the keys are
 * constants in sorted order (UTF-16 order, RFC 8785 §3.2.3), strings are escaped as
 * JSON.stringify escapes them, and the one number (seq, a safe integer) is written as
 * ECMAScript writes it. No intermediate object, no key sort. A property test cross-checks the
 * output byte for byte against a reference implementation over arbitrary records.
 */
export function encodeTransaction(t: TransactionRecord): string {
  return (
    '{"accounting_code":' +
    strOrNull(t.accounting_code) +
    ',"accounting_code_source":' +
    strOrNull(t.accounting_code_source) +
    ',"agent_id":' +
    str(t.agent_id) +
    ',"amount":' +
    str(t.amount) +
    ',"approval_ref":' +
    strOrNull(t.approval_ref) +
    ',"approver":' +
    strOrNull(t.approver) +
    ',"authorization_id":' +
    strOrNull(t.authorization_id) +
    ',"business_purpose":' +
    strOrNull(t.business_purpose) +
    ',"currency":' +
    str(t.currency) +
    ',"external_id":' +
    str(t.external_id) +
    ',"fx_rate":' +
    strOrNull(t.fx_rate) +
    ',"fx_rate_source":' +
    strOrNull(t.fx_rate_source) +
    ',"fx_rate_time":' +
    strOrNull(t.fx_rate_time) +
    ',"input_hash":' +
    str(t.input_hash) +
    ',"kind":' +
    str(t.kind) +
    ',"merchant":' +
    str(t.merchant) +
    ',"merchant_category":' +
    strOrNull(t.merchant_category) +
    ',"org_id":' +
    str(t.org_id) +
    ',"payment_rail":' +
    str(t.payment_rail) +
    ',"policy_snapshot_id":' +
    strOrNull(t.policy_snapshot_id) +
    ',"recorded_at":' +
    str(t.recorded_at) +
    ',"recorded_by":' +
    str(t.recorded_by) +
    ',"refund_of":' +
    strOrNull(t.refund_of) +
    ',"reporting_amount":' +
    str(t.reporting_amount) +
    ',"reporting_currency":' +
    str(t.reporting_currency) +
    ',"seq":' +
    String(t.seq) +
    ',"spend_before_daily":' +
    str(t.spend_before_daily) +
    ',"spend_before_monthly":' +
    str(t.spend_before_monthly) +
    ',"timestamp":' +
    str(t.timestamp) +
    ',"tx_id":' +
    str(t.tx_id) +
    ',"type":' +
    str(t.type) +
    ',"violations":' +
    strArray(t.violations) +
    '}'
  );
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

/** RFC 8785 encoding of a normalised input, by the same fixed-key writer as encodeTransaction. */
export function encodeTransactionInput(t: TransactionInput): string {
  return (
    '{"accounting_code":' +
    strOrNull(t.accounting_code) +
    ',"agent_id":' +
    str(t.agent_id) +
    ',"amount":' +
    str(t.amount) +
    ',"approval_ref":' +
    strOrNull(t.approval_ref) +
    ',"approver":' +
    strOrNull(t.approver) +
    ',"authorization_id":' +
    strOrNull(t.authorization_id) +
    ',"business_purpose":' +
    strOrNull(t.business_purpose) +
    ',"currency":' +
    str(t.currency) +
    ',"external_id":' +
    str(t.external_id) +
    ',"fx_rate":' +
    strOrNull(t.fx_rate) +
    ',"fx_rate_source":' +
    strOrNull(t.fx_rate_source) +
    ',"fx_rate_time":' +
    strOrNull(t.fx_rate_time) +
    ',"merchant":' +
    str(t.merchant) +
    ',"merchant_category":' +
    strOrNull(t.merchant_category) +
    ',"payment_rail":' +
    str(t.payment_rail) +
    ',"refund_of":' +
    strOrNull(t.refund_of) +
    ',"reporting_amount":' +
    strOrNull(t.reporting_amount) +
    ',"timestamp":' +
    str(t.timestamp) +
    ',"type":' +
    str(t.type) +
    '}'
  );
}
