import type { Violation } from '../policy/violation.ts';

/**
 * Monthly summary rollups: per organisation-local day, agent, GL account and rail, the sums a
 * summary reports. A summary adds up a month's rollup rows (a few thousand) instead of scanning
 * the month's transactions (millions). Transactions are append-only, so a rollup only ever
 * grows by the transactions recorded into it; `verify` recomputes every rollup from the log.
 */
export interface SummaryRollup {
  /** Organisation-local calendar day, "YYYY-MM-DD". */
  readonly day: string;
  readonly agent_id: string;
  /** `''` for a transaction with no GL account (the column is part of the primary key). */
  readonly accounting_code: string;
  readonly payment_rail: string;
  readonly net_minor: bigint;
  /** Sum of the negative amounts (refunds), so it is ≤ 0. */
  readonly refunds_minor: bigint;
  readonly transactions: number;
  readonly violating: number;
  readonly over_limit: number;
  readonly blocked_category: number;
  readonly missing_approval: number;
}

/** What one transaction contributes to its rollup. */
export interface RollupContribution {
  readonly day: string;
  readonly agent_id: string;
  readonly accounting_code: string | null;
  readonly payment_rail: string;
  readonly reporting_minor: bigint;
  readonly violations: readonly Violation[];
}

/** The violations the summary counts as "over limit" (a per-transaction limit or a budget). */
const OVER_LIMIT: ReadonlySet<string> = new Set(['over_limit', 'daily_budget_exceeded', 'monthly_budget_exceeded']);

export const summaryRollupKey = (r: { day: string; agent_id: string; accounting_code: string | null; payment_rail: string }): string =>
  `${r.day}\u0000${r.agent_id}\u0000${r.accounting_code ?? ''}\u0000${r.payment_rail}`;

/** Adds one transaction into a map of rollups keyed by `summaryRollupKey`. */
export function addToRollups(into: Map<string, SummaryRollup>, c: RollupContribution): void {
  const key = summaryRollupKey(c);
  const prev = into.get(key);
  const neg = c.reporting_minor < 0n;
  const violating = c.violations.length > 0;
  let over = false;
  let blocked = false;
  let missing = false;
  for (const v of c.violations) {
    if (OVER_LIMIT.has(v)) over = true;
    else if (v === 'blocked_category') blocked = true;
    else if (v === 'missing_approval') missing = true;
  }
  into.set(key, {
    day: c.day,
    agent_id: c.agent_id,
    accounting_code: c.accounting_code ?? '',
    payment_rail: c.payment_rail,
    net_minor: (prev?.net_minor ?? 0n) + c.reporting_minor,
    refunds_minor: (prev?.refunds_minor ?? 0n) + (neg ? c.reporting_minor : 0n),
    transactions: (prev?.transactions ?? 0) + 1,
    violating: (prev?.violating ?? 0) + (violating ? 1 : 0),
    over_limit: (prev?.over_limit ?? 0) + (over ? 1 : 0),
    blocked_category: (prev?.blocked_category ?? 0) + (blocked ? 1 : 0),
    missing_approval: (prev?.missing_approval ?? 0) + (missing ? 1 : 0),
  });
}

/** The numeric columns, in one order, for comparing and naming differences. */
export const ROLLUP_MEASURES = ['net_minor', 'refunds_minor', 'transactions', 'violating', 'over_limit', 'blocked_category', 'missing_approval'] as const;

/** The first measure in which two rollups differ, or null when they agree. */
export function rollupDifference(a: SummaryRollup | undefined, b: SummaryRollup | undefined): (typeof ROLLUP_MEASURES)[number] | null {
  for (const m of ROLLUP_MEASURES) {
    const x = a?.[m] ?? 0;
    const y = b?.[m] ?? 0;
    if (BigInt(x) !== BigInt(y)) return m;
  }
  return null;
}

/** The first day of the month after `month` ("YYYY-MM"), as "YYYY-MM-DD". */
export function dayAfterMonth(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
}
