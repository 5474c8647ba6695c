import type { TransactionRecord } from './transaction.ts';

// A transaction's canonical encoding as a JSON string literal, i.e. JSON.stringify(encodeTransaction(t)),
// written in one pass: the audit export embeds every transaction's canonical bytes in its NDJSON
// line as a string, and escaping the finished encoding again (its ~130 quotes) costs as much as
// encoding it. JSON.stringify escapes character by character (a surrogate pair as a unit), so
// escaping the pieces of the encoding, split at ASCII punctuation, gives the escaped whole: the
// constant pieces are written here already escaped, and a value that JSON.stringify writes as it
// is (no quote, backslash, control character or surrogate) is the same once escaped again, between
// escaped quotes. Any other value is escaped twice by JSON.stringify. A property test holds this
// to JSON.stringify(encodeTransaction(t)) over arbitrary records.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

const e = (v: string): string => (NEEDS_ESCAPE.test(v) ? JSON.stringify(JSON.stringify(v)).slice(1, -1) : `\\"${v}\\"`);
const eOrNull = (v: string | null): string => (v === null ? 'null' : e(v));

function eArray(vs: readonly string[]): string {
  if (vs.length === 0) return '[]';
  let out = '[' + e(vs[0] as string);
  for (let i = 1; i < vs.length; i++) out += ',' + e(vs[i] as string);
  return out + ']';
}

/** JSON.stringify(encodeTransaction(t)), without building the encoding first. */
export function encodeTransactionAsJsonString(t: TransactionRecord): string {
  return (
    '"{\\"accounting_code\\":' +
    eOrNull(t.accounting_code) +
    ',\\"accounting_code_source\\":' +
    eOrNull(t.accounting_code_source) +
    ',\\"agent_id\\":' +
    e(t.agent_id) +
    ',\\"amount\\":' +
    e(t.amount) +
    ',\\"approval_ref\\":' +
    eOrNull(t.approval_ref) +
    ',\\"approver\\":' +
    eOrNull(t.approver) +
    ',\\"authorization_id\\":' +
    eOrNull(t.authorization_id) +
    ',\\"business_purpose\\":' +
    eOrNull(t.business_purpose) +
    ',\\"currency\\":' +
    e(t.currency) +
    ',\\"external_id\\":' +
    e(t.external_id) +
    ',\\"fx_rate\\":' +
    eOrNull(t.fx_rate) +
    ',\\"fx_rate_source\\":' +
    eOrNull(t.fx_rate_source) +
    ',\\"fx_rate_time\\":' +
    eOrNull(t.fx_rate_time) +
    ',\\"input_hash\\":' +
    e(t.input_hash) +
    ',\\"kind\\":' +
    e(t.kind) +
    ',\\"merchant\\":' +
    e(t.merchant) +
    ',\\"merchant_category\\":' +
    eOrNull(t.merchant_category) +
    ',\\"org_id\\":' +
    e(t.org_id) +
    ',\\"payment_rail\\":' +
    e(t.payment_rail) +
    ',\\"policy_snapshot_id\\":' +
    eOrNull(t.policy_snapshot_id) +
    ',\\"recorded_at\\":' +
    e(t.recorded_at) +
    ',\\"recorded_by\\":' +
    e(t.recorded_by) +
    ',\\"refund_of\\":' +
    eOrNull(t.refund_of) +
    ',\\"reporting_amount\\":' +
    e(t.reporting_amount) +
    ',\\"reporting_currency\\":' +
    e(t.reporting_currency) +
    ',\\"seq\\":' +
    String(t.seq) +
    ',\\"spend_before_daily\\":' +
    e(t.spend_before_daily) +
    ',\\"spend_before_monthly\\":' +
    e(t.spend_before_monthly) +
    ',\\"timestamp\\":' +
    e(t.timestamp) +
    ',\\"tx_id\\":' +
    e(t.tx_id) +
    ',\\"type\\":' +
    e(t.type) +
    ',\\"violations\\":' +
    eArray(t.violations) +
    '}"'
  );
}
