/** Violations in their canonical order: a transaction's list is always sorted by it. */
export const VIOLATIONS = [
  'no_policy',
  'policy_expired',
  'over_limit',
  'daily_budget_exceeded',
  'monthly_budget_exceeded',
  'blocked_category',
  'blocked_merchant',
  'disallowed_rail',
  'missing_approval',
  'missing_purpose',
  'uncoded',
] as const;

export type Violation = (typeof VIOLATIONS)[number];

export const sortViolations = (v: Iterable<Violation>): Violation[] => {
  const set = new Set(v);
  return VIOLATIONS.filter((x) => set.has(x));
};
