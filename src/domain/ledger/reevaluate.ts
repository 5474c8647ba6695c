import { parseDecimal } from '../money/decimal.ts';
import { evaluate } from '../policy/evaluate.ts';
import type { CompiledPolicy } from '../policy/policy.ts';
import type { Violation } from '../policy/violation.ts';
import { instantMs } from '../time.ts';
import type { TransactionRecord } from './transaction.ts';

/**
 * The violations a recorded transaction's policy gives it, from the record alone: its
 * reporting amount and the spend before it that it carries. `verify` and the offline bundle
 * verifier both compare this with the violations that were recorded.
 */
export function reevaluate(r: TransactionRecord, policy: CompiledPolicy | null, exponent: number): Violation[] {
  const dec = (v: string, field: string): bigint => parseDecimal(v, exponent, { allowNegative: true, field });
  return evaluate(
    policy,
    {
      amount: dec(r.reporting_amount, 'reporting_amount'),
      atMs: instantMs(r.timestamp),
      merchant: r.merchant,
      merchantCategory: r.merchant_category,
      rail: r.payment_rail,
      businessPurpose: r.business_purpose,
      approver: r.approver,
      accountingCode: r.accounting_code,
    },
    { daily: dec(r.spend_before_daily, 'spend_before_daily'), monthly: dec(r.spend_before_monthly, 'spend_before_monthly') },
  );
}
