import type { Rail } from '../rails.ts';
import type { CompiledPolicy } from './policy.ts';
import { merchantKey } from './policy.ts';
import type { Violation } from './violation.ts';
import { sortViolations } from './violation.ts';

/** One payment as evaluation sees it: amounts already in the policy's currency (minor units). */
export interface SpendFacts {
  readonly amount: bigint;
  readonly atMs: number;
  readonly merchant: string;
  readonly merchantCategory: string | null;
  readonly rail: Rail;
  readonly businessPurpose: string | null;
  readonly approver: string | null;
  readonly accountingCode: string | null;
}

/** Spend already counted in the transaction's windows before it (settled + reserved). */
export interface SpendSoFar {
  readonly daily: bigint;
  readonly monthly: bigint;
}

/**
 * Pure: (policy, payment, spend so far) → violations in canonical order. Used both for the
 * record of a settled payment and for `authorize` before one. Refunds and reversals (negative
 * amounts) give money back and are never over a limit, but still need a policy and coding.
 */
export function evaluate(policy: CompiledPolicy | null, f: SpendFacts, soFar: SpendSoFar): Violation[] {
  const v: Violation[] = [];
  if (f.accountingCode === null) v.push('uncoded');
  if (policy === null) {
    v.push('no_policy');
    if (f.businessPurpose === null || f.businessPurpose.trim() === '') v.push('missing_purpose');
    return sortViolations(v);
  }
  if (policy.document.require_business_purpose && (f.businessPurpose === null || f.businessPurpose.trim() === '')) {
    v.push('missing_purpose');
  }
  if (policy.validUntilMs !== null && f.atMs > policy.validUntilMs) v.push('policy_expired');
  if (f.amount > 0n) {
    if (policy.perTransactionLimit !== null && f.amount > policy.perTransactionLimit) v.push('over_limit');
    if (policy.dailyLimit !== null && soFar.daily + f.amount > policy.dailyLimit) v.push('daily_budget_exceeded');
    if (policy.monthlyLimit !== null && soFar.monthly + f.amount > policy.monthlyLimit) v.push('monthly_budget_exceeded');
    if (policy.approvalThreshold !== null && f.amount > policy.approvalThreshold && (f.approver ?? '').trim() === '') {
      v.push('missing_approval');
    }
  }
  // Money coming back (refunds, reversals) is never stopped by category, merchant or rail lists.
  if (f.amount <= 0n) return sortViolations(v);
  const mcc = f.merchantCategory;
  if (
    mcc !== null &&
    (policy.blockedCategories.has(mcc) || (policy.allowedCategories !== null && !policy.allowedCategories.has(mcc)))
  ) {
    v.push('blocked_category');
  } else if (mcc === null && policy.allowedCategories !== null) {
    // An allow-list cannot be satisfied by a payment whose category is unknown.
    v.push('blocked_category');
  }
  const m = merchantKey(f.merchant);
  if (policy.blockedMerchants.has(m) || (policy.allowedMerchants !== null && !policy.allowedMerchants.has(m))) {
    v.push('blocked_merchant');
  }
  if (policy.allowedRails !== null && !policy.allowedRails.has(f.rail)) v.push('disallowed_rail');
  return sortViolations(v);
}

export type Decision = 'allow' | 'deny' | 'needs_approval';

/** Violations that only matter for the books: they never stop a payment. */
const ADVISORY: ReadonlySet<Violation> = new Set<Violation>(['uncoded']);

/** The pre-spend answer: any hard violation denies; only a missing approval asks for one. */
export function decide(violations: readonly Violation[]): Decision {
  const hard = violations.filter((v) => !ADVISORY.has(v));
  if (hard.length === 0) return 'allow';
  if (hard.every((v) => v === 'missing_approval')) return 'needs_approval';
  return 'deny';
}

/** What a settled amount adds to budget windows: budgets count gross spend, refunds add nothing. */
export const budgetAmount = (reportingMinor: bigint): bigint => (reportingMinor > 0n ? reportingMinor : 0n);
