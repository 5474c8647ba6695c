import { describe, expect, it } from 'vitest';
import type { TransactionRecord } from '../ledger/transaction.ts';
import type { PolicyTerms } from '../policy/policy.ts';
import { buildPolicyDocument, policySnapshotId } from '../policy/policy.ts';
import type { Instant } from '../time.ts';
import { parseInstant } from '../time.ts';
import { localDateTime, monthsOf, resolvePeriod } from './period.ts';
import type { PolicyVersionInput, StatementLine } from './statement.ts';
import { monthlyNote, policiesInForce, statementLine } from './statement.ts';
import { StatementTotaller, combineTotals } from './totals.ts';

const at = (s: string): Instant => parseInstant(s, 't');

function version(v: number, terms: PolicyTerms): PolicyVersionInput {
  const document = buildPolicyDocument({ org_id: 'acme', agent_id: 'bot', version: v, currency: 'USD' }, terms, at('2026-01-01T00:00:00Z'));
  return { document, snapshot_id: policySnapshotId(document) };
}

let seq = 0;
function rec(over: Partial<TransactionRecord> = {}): TransactionRecord {
  seq += 1;
  return {
    kind: 'transaction', seq, org_id: 'acme', tx_id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    recorded_at: at('2026-04-01T00:00:00Z'), recorded_by: 'admin', external_id: `e${seq}`, agent_id: 'bot',
    timestamp: at('2026-03-10T10:00:00Z'), type: 'payment', refund_of: null, amount: '10.00', currency: 'USD',
    reporting_amount: '10.00', reporting_currency: 'USD', fx_rate: null, fx_rate_source: null, fx_rate_time: null,
    payment_rail: 'stripe', merchant: 'AWS', merchant_category: '4816', business_purpose: 'inference', accounting_code: '6400',
    accounting_code_source: 'mcc_rule', approver: null, approval_ref: null, authorization_id: null, policy_snapshot_id: null,
    violations: [], spend_before_daily: '0.00', spend_before_monthly: '0.00', input_hash: 'h',
    ...over,
  };
}

const march = resolvePeriod({ month: '2026-03' }, 'UTC');
const names = new Map([['6400', 'Cloud infrastructure'], ['6420', 'API services']]);
const lineOf = (t: TransactionRecord, extra: { original?: TransactionRecord; approvedLaterBy?: string } = {}): StatementLine =>
  statementLine(t, { period: march, accountName: (c) => names.get(c) ?? null, ...extra });

describe('statement period', () => {
  it('cuts a calendar month at local midnight in the organisation time zone', () => {
    const p = resolvePeriod({ month: '2026-03' }, 'Europe/Berlin');
    expect(p).toMatchObject({
      key: '2026-03',
      month: '2026-03',
      start: '2026-02-28T23:00:00.000Z',
      // Summer time begins on 29 March: April starts at 22:00 UTC.
      end: '2026-03-31T22:00:00.000Z',
      first_day: '2026-03-01',
      last_day: '2026-03-31',
      label: 'March 2026 (2026-03-01 to 2026-03-31, Europe/Berlin)',
    });
  });

  it('takes from/to as local days with "to" exclusive, named by its first and last day', () => {
    const p = resolvePeriod({ from: '2026-03-05', to: '2026-03-20' }, 'America/New_York');
    expect(p).toMatchObject({ key: '2026-03-05_2026-03-19', month: null, start: '2026-03-05T05:00:00.000Z', end: '2026-03-20T04:00:00.000Z' });
    expect(p.label).toBe('2026-03-05 to 2026-03-19 (America/New_York)');
    expect(monthsOf(p)).toEqual(['2026-03']);
    expect(monthsOf(resolvePeriod({ from: '2025-12-15', to: '2026-02-02' }, 'UTC'))).toEqual(['2025-12', '2026-01', '2026-02']);
  });

  it('says so when an edge given as an instant is not a local midnight', () => {
    const p = resolvePeriod({ from: '2026-03-05T12:00:00Z', to: '2026-03-06T00:00:00Z' }, 'UTC');
    expect(p.label).toBe('2026-03-05 12:00:00 to 2026-03-06 00:00:00 (end exclusive, UTC)');
  });

  it.each([
    [{ month: '2026-13' }, 'VALIDATION_FAILED', 'month'],
    [{ from: '2026-03-10', to: '2026-03-10' }, 'VALIDATION_FAILED', 'to'],
    [{ from: '2026-03-10', to: '2026-03-01' }, 'VALIDATION_FAILED', 'to'],
    [{ from: '2026-02-30', to: '2026-03-10' }, 'INVALID_TIMESTAMP', 'from'],
    [{ from: '2026-03-01', to: 'next week' }, 'INVALID_TIMESTAMP', 'to'],
  ])('refuses %j', (req, code, field) => {
    expect(() => resolvePeriod(req, 'UTC')).toThrow(expect.objectContaining({ code, field }));
  });

  it('prints wall-clock time in the zone, midnight as 00', () => {
    expect(localDateTime(at('2026-03-31T22:00:00Z'), 'Europe/Berlin')).toBe('2026-04-01 00:00:00');
    expect(localDateTime(at('2026-03-12T10:05:09.500Z'), 'UTC')).toBe('2026-03-12 10:05:09');
  });
});

describe('policy versions in force', () => {
  const v1 = version(1, { daily_limit: '100.00', monthly_limit: '1000.00', valid_from: '2026-01-01T00:00:00Z' });
  const v2 = version(2, { daily_limit: '50.00', monthly_limit: '500.00', valid_from: '2026-03-15T00:00:00Z' });

  it('lists each version with the part of the period it was in force', () => {
    expect(policiesInForce([v2, v1], march).map((p) => [p.version, p.from, p.until, p.snapshot_id])).toEqual([
      [1, '2026-03-01T00:00:00.000Z', '2026-03-15T00:00:00.000Z', v1.snapshot_id],
      [2, '2026-03-15T00:00:00.000Z', '2026-04-01T00:00:00.000Z', v2.snapshot_id],
    ]);
  });

  it('leaves out a version that ended before the period and one that starts after it', () => {
    const v3 = version(3, { valid_from: '2026-04-02T00:00:00Z' });
    expect(policiesInForce([v1, v2, v3], resolvePeriod({ from: '2026-03-20', to: '2026-04-01' }, 'UTC')).map((p) => p.version)).toEqual([2]);
  });

  it('is empty when the agent had no policy', () => {
    expect(policiesInForce([], march)).toEqual([]);
  });
});

describe('statement lines', () => {
  it('links a refund to the payment it gives money back for, inside or before the period', () => {
    const feb = rec({ timestamp: at('2026-02-27T09:00:00Z'), merchant: 'OpenAI', amount: '40.00' });
    const pay = rec({ timestamp: at('2026-03-03T08:30:00Z') });
    const r1 = lineOf(rec({ type: 'refund', refund_of: pay.tx_id, amount: '-4.00', reporting_amount: '-4.00' }), { original: pay });
    const r2 = lineOf(rec({ type: 'reversal', refund_of: feb.tx_id, amount: '-40.00', reporting_amount: '-40.00' }), { original: feb });
    expect(r1.refund_of).toEqual({ tx_id: pay.tx_id, timestamp: pay.timestamp, local_time: '2026-03-03 08:30:00', merchant: 'AWS', amount: '10.00', currency: 'USD', in_period: true });
    expect(r2.refund_of).toMatchObject({ tx_id: feb.tx_id, merchant: 'OpenAI', in_period: false });
    expect(lineOf(pay).refund_of).toBeNull();
  });

  it('names the GL account, leaves an uncoded one empty, and shows a later approver as such', () => {
    const l = lineOf(rec({ approver: null, violations: ['missing_approval'] }), { approvedLaterBy: 'dave@acme.test' });
    expect(l).toMatchObject({ gl_account: '6400', gl_account_name: 'Cloud infrastructure', approver: 'dave@acme.test', approved_after_the_fact: true });
    expect(lineOf(rec({ accounting_code: null, violations: ['uncoded'] }))).toMatchObject({ gl_account: null, gl_account_name: null });
    expect(lineOf(rec({ approver: 'erin@acme.test' }), { approvedLaterBy: 'dave@acme.test' })).toMatchObject({ approver: 'erin@acme.test', approved_after_the_fact: false });
  });
});

describe('statement totals', () => {
  const v1 = version(1, { daily_limit: '100.00', monthly_limit: '150.00', valid_from: '2026-01-01T00:00:00Z' });
  const v2 = version(2, { daily_limit: '20.00', monthly_limit: '1000.00', valid_from: '2026-03-15T00:00:00Z' });

  function total(lines: StatementLine[], versions = [v1, v2], period = march) {
    const t = new StatementTotaller('USD', period, versions);
    for (const l of lines) t.add(l);
    return t.totals();
  }

  it('adds payments, refunds and net exactly, beyond what a double holds', () => {
    const t = total([
      lineOf(rec({ reporting_amount: '12345678901234567.89' })),
      lineOf(rec({ reporting_amount: '0.01' })),
      lineOf(rec({ type: 'refund', reporting_amount: '-0.03' })),
    ]);
    expect(t.payments).toEqual({ count: 2, amount: '12345678901234567.90' });
    expect(t.refunds).toEqual({ count: 1, amount: '-0.03' });
    expect(t.net).toEqual({ count: 3, amount: '12345678901234567.87' });
  });

  it('totals by GL account in code order with the uncoded last', () => {
    const t = total([
      lineOf(rec({ accounting_code: null, reporting_amount: '1.00', violations: ['uncoded'] })),
      lineOf(rec({ accounting_code: '6420', reporting_amount: '2.50' })),
      lineOf(rec({ accounting_code: '6400', reporting_amount: '3.00' })),
      lineOf(rec({ accounting_code: '6400', type: 'refund', reporting_amount: '-1.00' })),
    ]);
    expect(t.by_gl_account).toEqual([
      { gl_account: '6400', name: 'Cloud infrastructure', count: 2, amount: '2.00' },
      { gl_account: '6420', name: 'API services', count: 1, amount: '2.50' },
      { gl_account: null, name: null, count: 1, amount: '1.00' },
    ]);
    expect(t.with_violations).toBe(1);
  });

  it('compares each day with the daily limit in force at its last payment, counting payments gross', () => {
    const t = total([
      lineOf(rec({ timestamp: at('2026-03-02T09:00:00Z'), reporting_amount: '60.00' })),
      lineOf(rec({ timestamp: at('2026-03-02T10:00:00Z'), reporting_amount: '50.00' })),
      // A refund gives no budget back: the day stays over.
      lineOf(rec({ timestamp: at('2026-03-02T11:00:00Z'), type: 'refund', reporting_amount: '-50.00' })),
      lineOf(rec({ timestamp: at('2026-03-16T10:00:00Z'), reporting_amount: '25.00' })),
      lineOf(rec({ timestamp: at('2026-03-20T10:00:00Z'), reporting_amount: '15.00' })),
    ]);
    expect(t.budget.daily).toEqual({
      days_with_spend: 3,
      peak: { day: '2026-03-02', used: '110.00', limit: '100.00', policy_version: 1, over: true },
      over_limit: [
        { day: '2026-03-02', used: '110.00', limit: '100.00', policy_version: 1, over: true },
        { day: '2026-03-16', used: '25.00', limit: '20.00', policy_version: 2, over: true },
      ],
    });
    expect(t.budget.monthly).toEqual([{ month: '2026-03', partial: false, used: '150.00', limit: '1000.00', remaining: '850.00', policy_version: 2 }]);
  });

  it('shows a month over its limit as a negative remainder and marks a month the period only partly covers', () => {
    const period = resolvePeriod({ from: '2026-02-20', to: '2026-03-10' }, 'UTC');
    const t = total([lineOf(rec({ timestamp: at('2026-02-21T10:00:00Z'), reporting_amount: '90.00' })), lineOf(rec({ timestamp: at('2026-02-22T10:00:00Z'), reporting_amount: '70.00' }))], [v1], period);
    expect(t.budget.monthly).toEqual([
      { month: '2026-02', partial: true, used: '160.00', limit: '150.00', remaining: '-10.00', policy_version: 1 },
      { month: '2026-03', partial: true, used: '0.00', limit: '150.00', remaining: '150.00', policy_version: 1 },
    ]);
  });

  it('puts a month against its limit in words', () => {
    expect(monthlyNote('150.00', '-10.00', true)).toBe('over the monthly limit by 10.00 (the period covers part of this month only)');
    expect(monthlyNote('150.00', '0.00', false)).toBe('0.00 remaining');
    expect(monthlyNote(null, null, false)).toBe('no monthly limit');
  });

  it('has no limits to compare with when the agent has no policy', () => {
    const t = total([lineOf(rec())], []);
    expect(t.budget.has_policy).toBe(false);
    expect(t.budget.monthly[0]).toMatchObject({ limit: null, remaining: null, used: '10.00' });
    expect(t.budget.daily.over_limit).toEqual([]);
  });

  it('is all zeros for a period without transactions', () => {
    const t = total([]);
    expect(t).toMatchObject({ transactions: 0, payments: { count: 0, amount: '0.00' }, net: { count: 0, amount: '0.00' }, by_gl_account: [] });
    expect(t.budget.daily.peak).toBeNull();
  });

  it('sums several statements for a cluster exactly', () => {
    const a = total([lineOf(rec({ reporting_amount: '0.10' })), lineOf(rec({ type: 'refund', reporting_amount: '-0.05' }))]);
    const b = total([lineOf(rec({ reporting_amount: '0.20' }))]);
    expect(combineTotals([a, b], 'USD')).toEqual({
      payments: { count: 2, amount: '0.30' },
      refunds: { count: 1, amount: '-0.05' },
      net: { count: 3, amount: '0.25' },
    });
  });
});
