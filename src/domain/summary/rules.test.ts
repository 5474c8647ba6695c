import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { monthBounds, startOfLocalDay } from '../time.ts';
import type { ComplianceFlags } from './summary.ts';
import { monthLabel, summaryStatus } from './rules.ts';

const zero: ComplianceFlags = {
  policy_violations: 0,
  over_limit_transactions: 0,
  unauthorized_category_purchases: 0,
  unapproved_policy_changes: 0,
  missing_approvals: 0,
  segregation_of_duties_findings: 0,
  integrity_failures: 0,
};

describe('summary status', () => {
  it('is COMPLIANT only when every flag is zero', () => {
    expect(summaryStatus(zero).status).toBe('COMPLIANT');
    fc.assert(
      fc.property(fc.constantFrom(...(Object.keys(zero) as (keyof ComplianceFlags)[])), fc.integer({ min: 1, max: 10_000 }), (k, n) => {
        const r = summaryStatus({ ...zero, [k]: n });
        expect(r.status).toBe('NEEDS_REVIEW');
        expect(r.reasons).toHaveLength(1);
        expect(r.reasons[0]).toMatch(new RegExp(`^${n} `));
      }),
    );
  });

  it('gives one reason per non-zero flag, singular for one', () => {
    const r = summaryStatus({ ...zero, over_limit_transactions: 1, unapproved_policy_changes: 2 });
    expect(r.reasons).toEqual(['1 over-limit transaction', '2 policy changes applied without approval']);
  });
});

describe('month bounds in a time zone', () => {
  it('starts a month at local midnight, through DST changes and half-hour zones', () => {
    expect(monthBounds('2026-03', 'UTC')).toEqual({ start: '2026-03-01T00:00:00.000Z', end: '2026-04-01T00:00:00.000Z' });
    expect(monthBounds('2026-03', 'America/New_York')).toEqual({ start: '2026-03-01T05:00:00.000Z', end: '2026-04-01T04:00:00.000Z' });
    expect(monthBounds('2026-12', 'Asia/Kolkata')).toEqual({ start: '2026-11-30T18:30:00.000Z', end: '2026-12-31T18:30:00.000Z' });
    expect(monthBounds('2026-10', 'Europe/Berlin').end).toBe('2026-10-31T23:00:00.000Z');
    // Santiago skips midnight when DST begins (2026-09-06): the day starts at 01:00 local.
    expect(startOfLocalDay('2026-09-06', 'America/Santiago')).toBe('2026-09-06T04:00:00.000Z');
  });

  it('names a month as a reader says it', () => {
    expect(monthLabel('2026-03')).toBe('March 2026');
    expect(monthLabel('2027-12')).toBe('December 2027');
  });
});
