import { describe, expect, it } from 'vitest';
import { addToRollups, dayAfterMonth, rollupDifference, summaryRollupKey } from './rollup.ts';
import type { SummaryRollup } from './rollup.ts';

const base = { day: '2026-03-12', agent_id: 'bot', accounting_code: '6400', payment_rail: 'stripe' } as const;

describe('summary rollups', () => {
  it('add up net spend, refunds and each kind of violation once per transaction', () => {
    const m = new Map<string, SummaryRollup>();
    addToRollups(m, { ...base, reporting_minor: 2_500n, violations: ['over_limit', 'daily_budget_exceeded'] });
    addToRollups(m, { ...base, reporting_minor: -700n, violations: [] });
    addToRollups(m, { ...base, reporting_minor: 100n, violations: ['blocked_category', 'missing_approval'] });
    expect([...m.values()]).toEqual([
      { ...base, net_minor: 1_900n, refunds_minor: -700n, transactions: 3, violating: 2, over_limit: 1, blocked_category: 1, missing_approval: 1 },
    ]);
  });

  it('keep uncoded spend apart under the empty account code', () => {
    const m = new Map<string, SummaryRollup>();
    addToRollups(m, { ...base, reporting_minor: 1n, violations: [] });
    addToRollups(m, { ...base, accounting_code: null, reporting_minor: 2n, violations: [] });
    expect(m.size).toBe(2);
    expect(m.get(summaryRollupKey({ ...base, accounting_code: null }))?.accounting_code).toBe('');
  });

  it('name the first measure that differs, and treat a missing rollup as zero', () => {
    const m = new Map<string, SummaryRollup>();
    addToRollups(m, { ...base, reporting_minor: 5n, violations: [] });
    const r = [...m.values()][0] as SummaryRollup;
    expect(rollupDifference(r, r)).toBeNull();
    expect(rollupDifference(r, { ...r, violating: 1 })).toBe('violating');
    expect(rollupDifference(undefined, r)).toBe('net_minor');
    expect(rollupDifference(undefined, { ...r, net_minor: 0n, transactions: 0 })).toBeNull();
  });

  it('find the first day of the next month, across a year end', () => {
    expect(dayAfterMonth('2026-03')).toBe('2026-04-01');
    expect(dayAfterMonth('2026-12')).toBe('2027-01-01');
    expect(dayAfterMonth('2026-09')).toBe('2026-10-01');
  });
});
