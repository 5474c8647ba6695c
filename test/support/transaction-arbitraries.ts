// Generators of transaction records for the property tests of the canonical writers: the
// same records every writer of a transaction's bytes is held to.
import fc from 'fast-check';
import type { CodeSource } from '../../src/domain/gl/coding.ts';
import type { TransactionRecord, TransactionType } from '../../src/domain/ledger/transaction.ts';
import { VIOLATIONS } from '../../src/domain/policy/violation.ts';
import { RAILS } from '../../src/domain/rails.ts';
import type { Instant } from '../../src/domain/time.ts';

/** Characters where JSON escaping rules differ between encoders, plus astral and combining ones. */
export const TRICKY = ['"', '\\', '/', '\b', '\f', '\n', '\r', '\t', '\u0000', '\u001f', '\u007f', '\u00e9', 'e\u0301', '\u2028', '\u2029', '\ufeff', '\uffff', '😀', '👩‍👩‍👧', '𝄞', '東'];

/** Any well-formed Unicode string: no lone surrogates, which the product refuses at input. */
export const text = fc.oneof(
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.constantFrom(...TRICKY) }),
  // Mostly plain text with one character that needs escaping somewhere: the writer's fast path
  // must notice it wherever it sits.
  fc.tuple(fc.string({ unit: 'grapheme-ascii' }), fc.constantFrom(...TRICKY), fc.string({ unit: 'grapheme-ascii' })).map(([a, b, c]) => a + b + c),
);
export const nullable = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> => fc.option(arb, { nil: null });
export const instant: fc.Arbitrary<Instant> = fc
  .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true })
  .map((d) => d.toISOString() as Instant);
export const txType = fc.constantFrom<TransactionType>('payment', 'refund', 'reversal');
export const rail = fc.constantFrom(...RAILS);
export const codeSource = fc.constantFrom<CodeSource>('transaction', 'agent_rule', 'merchant_rule', 'mcc_rule', 'default_rule');
export const amount = fc.oneof(text, fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String));

export const record: fc.Arbitrary<TransactionRecord> = fc.record({
  kind: fc.constant('transaction' as const),
  seq: fc.oneof(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(0, 1, Number.MAX_SAFE_INTEGER)),
  org_id: text,
  tx_id: text,
  recorded_at: instant,
  recorded_by: text,
  external_id: text,
  agent_id: text,
  timestamp: instant,
  type: txType,
  refund_of: nullable(text),
  amount,
  currency: text,
  reporting_amount: amount,
  reporting_currency: text,
  fx_rate: nullable(text),
  fx_rate_source: nullable(text),
  fx_rate_time: nullable(instant),
  payment_rail: rail,
  merchant: text,
  merchant_category: nullable(text),
  business_purpose: nullable(text),
  accounting_code: nullable(text),
  accounting_code_source: nullable(codeSource),
  approver: nullable(text),
  approval_ref: nullable(text),
  authorization_id: nullable(text),
  policy_snapshot_id: nullable(text),
  violations: fc.subarray([...VIOLATIONS]),
  spend_before_daily: amount,
  spend_before_monthly: amount,
  input_hash: text,
});
