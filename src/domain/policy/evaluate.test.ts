import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMinor } from '../money/decimal.ts';
import { RAILS } from '../rails.ts';
import { parseInstant } from '../time.ts';
import type { SpendFacts, SpendSoFar } from './evaluate.ts';
import { decide, evaluate } from './evaluate.ts';
import type { CompiledPolicy, PolicyTerms } from './policy.ts';
import { buildPolicyDocument, compilePolicy } from './policy.ts';
import type { Violation } from './violation.ts';
import { VIOLATIONS, sortViolations } from './violation.ts';

const FROM = parseInstant('2026-01-01T00:00:00Z', 'valid_from');
const AT = Date.parse('2026-03-12T10:00:00Z');

const policy = (terms: PolicyTerms = {}): CompiledPolicy =>
  compilePolicy(buildPolicyDocument({ org_id: 'org_1', agent_id: 'agent_1', version: 1, currency: 'USD' }, terms, FROM));

/** A payment that no policy below objects to unless a test changes one of its facts. */
const facts = (over: Partial<SpendFacts> = {}): SpendFacts => ({
  amount: 1000n,
  atMs: AT,
  merchant: 'Acme Corp',
  merchantCategory: '5734',
  rail: 'card',
  businessPurpose: 'Build server credits',
  approver: null,
  accountingCode: '6000',
  ...over,
});

const NOTHING_SPENT: SpendSoFar = { daily: 0n, monthly: 0n };

describe('evaluate: a clean payment', () => {
  it('has no violations under a policy with no limits or lists', () => {
    expect(evaluate(policy(), facts(), NOTHING_SPENT)).toEqual([]);
  });

  it('has no violations when it is inside every limit and list', () => {
    const p = policy({
      per_transaction_limit: '10',
      daily_limit: '100',
      monthly_limit: '1000',
      approval_threshold: '10',
      allowed_categories: ['5734'],
      allowed_merchants: ['acme corp'],
      allowed_rails: ['card'],
      valid_until: '2026-12-31T00:00:00Z',
    });
    expect(evaluate(p, facts(), { daily: 9000n, monthly: 99000n })).toEqual([]);
  });
});

describe('evaluate: each violation on its own', () => {
  it('flags a payment with no policy in force', () => {
    expect(evaluate(null, facts(), NOTHING_SPENT)).toEqual(['no_policy']);
  });

  it('flags a payment after the policy has expired', () => {
    const p = policy({ valid_until: '2026-03-12T09:59:59.999Z' });
    expect(evaluate(p, facts(), NOTHING_SPENT)).toEqual(['policy_expired']);
    expect(evaluate(p, facts({ atMs: Date.parse('2026-03-12T09:59:59.998Z') }), NOTHING_SPENT)).toEqual([]);
  });

  it('flags a payment over the per-transaction limit, not one exactly at it', () => {
    const p = policy({ per_transaction_limit: '10.00' });
    expect(evaluate(p, facts({ amount: 1000n }), NOTHING_SPENT)).toEqual([]);
    expect(evaluate(p, facts({ amount: 1001n }), NOTHING_SPENT)).toEqual(['over_limit']);
  });

  it('flags a payment that takes the day past its budget, not one that reaches it exactly', () => {
    const p = policy({ daily_limit: '50.00' });
    expect(evaluate(p, facts({ amount: 1000n }), { daily: 4000n, monthly: 4000n })).toEqual([]);
    expect(evaluate(p, facts({ amount: 1001n }), { daily: 4000n, monthly: 4000n })).toEqual(['daily_budget_exceeded']);
    expect(evaluate(p, facts({ amount: 1n }), { daily: 5000n, monthly: 5000n })).toEqual(['daily_budget_exceeded']);
  });

  it('flags a payment that takes the month past its budget, not one that reaches it exactly', () => {
    const p = policy({ monthly_limit: '500.00' });
    expect(evaluate(p, facts({ amount: 1000n }), { daily: 0n, monthly: 49000n })).toEqual([]);
    expect(evaluate(p, facts({ amount: 1001n }), { daily: 0n, monthly: 49000n })).toEqual(['monthly_budget_exceeded']);
  });

  it('flags a purchase in a blocked category', () => {
    const p = policy({ blocked_categories: ['7995', '5734'] });
    expect(evaluate(p, facts({ merchantCategory: '5734' }), NOTHING_SPENT)).toEqual(['blocked_category']);
    expect(evaluate(p, facts({ merchantCategory: '5411' }), NOTHING_SPENT)).toEqual([]);
    expect(evaluate(p, facts({ merchantCategory: null }), NOTHING_SPENT)).toEqual([]);
  });

  it('flags a purchase outside the category allow-list, including one with no category', () => {
    const p = policy({ allowed_categories: ['5411', '5734'] });
    expect(evaluate(p, facts({ merchantCategory: '5734' }), NOTHING_SPENT)).toEqual([]);
    expect(evaluate(p, facts({ merchantCategory: '7995' }), NOTHING_SPENT)).toEqual(['blocked_category']);
    expect(evaluate(p, facts({ merchantCategory: null }), NOTHING_SPENT)).toEqual(['blocked_category']);
    expect(evaluate(policy({ allowed_categories: [] }), facts(), NOTHING_SPENT)).toEqual(['blocked_category']);
  });

  it('flags a blocked merchant whatever its case and surrounding spaces', () => {
    const p = policy({ blocked_merchants: ['Acme Corp'] });
    expect(evaluate(p, facts({ merchant: 'Acme Corp' }), NOTHING_SPENT)).toEqual(['blocked_merchant']);
    expect(evaluate(p, facts({ merchant: '  ACME corp ' }), NOTHING_SPENT)).toEqual(['blocked_merchant']);
    expect(evaluate(p, facts({ merchant: 'Acme Corporation' }), NOTHING_SPENT)).toEqual([]);
  });

  it('flags a merchant outside the merchant allow-list, matching case-insensitively', () => {
    const p = policy({ allowed_merchants: ['ACME Corp', 'Globex'] });
    expect(evaluate(p, facts({ merchant: 'acme corp' }), NOTHING_SPENT)).toEqual([]);
    expect(evaluate(p, facts({ merchant: 'Initech' }), NOTHING_SPENT)).toEqual(['blocked_merchant']);
  });

  it('flags a payment on a rail the policy does not allow', () => {
    const p = policy({ allowed_rails: ['x402', 'stripe'] });
    expect(evaluate(p, facts({ rail: 'card' }), NOTHING_SPENT)).toEqual(['disallowed_rail']);
    expect(evaluate(p, facts({ rail: 'x402' }), NOTHING_SPENT)).toEqual([]);
    expect(evaluate(policy({ allowed_rails: [] }), facts({ rail: 'x402' }), NOTHING_SPENT)).toEqual(['disallowed_rail']);
  });

  it('flags a payment above the approval threshold without an approver, not one exactly at it', () => {
    const p = policy({ approval_threshold: '100.00' });
    expect(evaluate(p, facts({ amount: 10000n }), NOTHING_SPENT)).toEqual([]);
    expect(evaluate(p, facts({ amount: 10001n }), NOTHING_SPENT)).toEqual(['missing_approval']);
    expect(evaluate(p, facts({ amount: 10001n, approver: '   ' }), NOTHING_SPENT)).toEqual(['missing_approval']);
    expect(evaluate(p, facts({ amount: 10001n, approver: 'cfo@example.com' }), NOTHING_SPENT)).toEqual([]);
  });

  it('flags a payment without a business purpose when the policy requires one', () => {
    expect(evaluate(policy(), facts({ businessPurpose: null }), NOTHING_SPENT)).toEqual(['missing_purpose']);
    expect(evaluate(policy(), facts({ businessPurpose: ' \t ' }), NOTHING_SPENT)).toEqual(['missing_purpose']);
    expect(evaluate(policy({ require_business_purpose: false }), facts({ businessPurpose: null }), NOTHING_SPENT)).toEqual([]);
  });

  it('flags a payment with no accounting code as uncoded', () => {
    expect(evaluate(policy(), facts({ accountingCode: null }), NOTHING_SPENT)).toEqual(['uncoded']);
  });
});

describe('evaluate: refunds and reversals', () => {
  const strict = policy({ per_transaction_limit: '1', daily_limit: '1', monthly_limit: '1', approval_threshold: '0' });

  it('never puts a refund over a limit or a budget, even when the budgets are spent', () => {
    expect(evaluate(strict, facts({ amount: -1_000_000n }), { daily: 100n, monthly: 100n })).toEqual([]);
    expect(evaluate(strict, facts({ amount: -1n }), { daily: 10_000n, monthly: 10_000n })).toEqual([]);
  });

  it('holds for any refund amount and spend so far', () => {
    const limitViolations: readonly Violation[] = ['over_limit', 'daily_budget_exceeded', 'monthly_budget_exceeded', 'missing_approval'];
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 20n), max: -1n }),
        fc.bigInt({ min: 0n, max: 10n ** 20n }),
        fc.bigInt({ min: 0n, max: 10n ** 20n }),
        (amount, daily, monthly) => {
          const v = evaluate(strict, facts({ amount }), { daily, monthly });
          expect(v.filter((x) => limitViolations.includes(x))).toEqual([]);
        },
      ),
    );
  });

  it('still needs a policy and an accounting code', () => {
    expect(evaluate(null, facts({ amount: -500n, accountingCode: null }), NOTHING_SPENT)).toEqual(['no_policy', 'uncoded']);
  });
});

describe('evaluate: order of violations', () => {
  it('lists every violation in the canonical VIOLATIONS order', () => {
    const p = policy({
      per_transaction_limit: '1',
      daily_limit: '1',
      monthly_limit: '1',
      approval_threshold: '1',
      blocked_categories: ['5734'],
      blocked_merchants: ['Acme Corp'],
      allowed_rails: ['x402'],
      valid_until: '2026-02-01T00:00:00Z',
    });
    const v = evaluate(p, facts({ amount: 500n, businessPurpose: null, accountingCode: null }), NOTHING_SPENT);
    expect(v).toEqual(VIOLATIONS.filter((x) => x !== 'no_policy'));
    expect(evaluate(null, facts({ businessPurpose: null, accountingCode: null }), NOTHING_SPENT)).toEqual([
      'no_policy',
      'missing_purpose',
      'uncoded',
    ]);
  });

  it('always returns a sorted list without duplicates', () => {
    const minor = fc.option(fc.bigInt({ min: 0n, max: 100_000n }), { nil: null });
    fc.assert(
      fc.property(
        fc.record({
          perTx: minor,
          approval: minor,
          blockedCategories: fc.subarray(['5411', '5734', '7995']),
          allowedRails: fc.option(fc.subarray([...RAILS]), { nil: null }),
          expired: fc.boolean(),
        }),
        fc.record({
          amount: fc.bigInt({ min: -100_000n, max: 100_000n }),
          merchantCategory: fc.option(fc.constantFrom('5411', '5734', '7995'), { nil: null }),
          rail: fc.constantFrom(...RAILS),
          businessPurpose: fc.option(fc.constantFrom('', 'ok'), { nil: null }),
          approver: fc.option(fc.constantFrom('', 'boss'), { nil: null }),
          accountingCode: fc.option(fc.constant('6000'), { nil: null }),
        }),
        fc.boolean(),
        (t, f, hasPolicy) => {
          const p = hasPolicy
            ? policy({
                per_transaction_limit: t.perTx === null ? null : formatMinor(t.perTx, 2),
                approval_threshold: t.approval === null ? null : formatMinor(t.approval, 2),
                blocked_categories: t.blockedCategories,
                allowed_rails: t.allowedRails,
                valid_until: t.expired ? '2026-02-01T00:00:00Z' : null,
              })
            : null;
          const v = evaluate(p, facts(f), NOTHING_SPENT);
          expect(v).toEqual(sortViolations(v));
          expect(new Set(v).size).toBe(v.length);
        },
      ),
    );
  });
});

describe('decide', () => {
  it('allows a payment with no violations', () => {
    expect(decide([])).toBe('allow');
  });

  it('allows an uncoded payment: coding is advisory', () => {
    expect(decide(['uncoded'])).toBe('allow');
    expect(decide(evaluate(policy(), facts({ accountingCode: null }), NOTHING_SPENT))).toBe('allow');
  });

  it('asks for approval when a missing approval is the only hard violation', () => {
    expect(decide(['missing_approval'])).toBe('needs_approval');
    expect(decide(['missing_approval', 'uncoded'])).toBe('needs_approval');
    const p = policy({ approval_threshold: '5.00' });
    expect(decide(evaluate(p, facts({ amount: 501n }), NOTHING_SPENT))).toBe('needs_approval');
    expect(decide(evaluate(p, facts({ amount: 501n, approver: 'cfo' }), NOTHING_SPENT))).toBe('allow');
  });

  it.each(VIOLATIONS.filter((v) => v !== 'uncoded' && v !== 'missing_approval'))('denies a payment with %s', (v) => {
    expect(decide([v])).toBe('deny');
    expect(decide([v, 'uncoded'])).toBe('deny');
  });

  it('denies rather than asks for approval when another hard violation comes with a missing approval', () => {
    expect(decide(['over_limit', 'missing_approval'])).toBe('deny');
    const p = policy({ approval_threshold: '5.00', per_transaction_limit: '6.00' });
    expect(decide(evaluate(p, facts({ amount: 601n }), NOTHING_SPENT))).toBe('deny');
  });
});

describe('evaluation never authorizes past a limit', () => {
  // One step: a payment amount, and whether a new day (and possibly a new month) starts before it.
  const step = fc.record({
    amount: fc.bigInt({ min: 1n, max: 300_000n }),
    boundary: fc.constantFrom('same_day', 'same_day', 'same_day', 'new_day', 'new_month'),
    approved: fc.boolean(),
  });
  const limit = fc.option(fc.bigInt({ min: 0n, max: 200_000n }), { nil: null, freq: 4 });

  it('keeps accepted spend within every limit, and accepts exactly what fits', () => {
    fc.assert(
      fc.property(
        fc.tuple(limit, limit, limit).map((xs) => {
          // Sorted so the policy is valid: per-transaction ≤ daily ≤ monthly.
          const present = xs.filter((x): x is bigint => x !== null).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
          return xs.map((x) => (x === null ? null : (present.shift() ?? null)));
        }),
        fc.option(fc.bigInt({ min: 0n, max: 200_000n }), { nil: null }),
        fc.array(step, { maxLength: 80 }),
        ([perTx, daily, monthly], approval, steps) => {
          const p = policy({
            per_transaction_limit: perTx === null || perTx === undefined ? null : formatMinor(perTx, 2),
            daily_limit: daily === null || daily === undefined ? null : formatMinor(daily, 2),
            monthly_limit: monthly === null || monthly === undefined ? null : formatMinor(monthly, 2),
            approval_threshold: approval === null ? null : formatMinor(approval, 2),
          });
          let dayTotal = 0n;
          let monthTotal = 0n;
          for (const s of steps) {
            if (s.boundary !== 'same_day') dayTotal = 0n;
            if (s.boundary === 'new_month') monthTotal = 0n;
            const v = evaluate(p, facts({ amount: s.amount, approver: s.approved ? 'cfo' : null }), {
              daily: dayTotal,
              monthly: monthTotal,
            });
            const d = decide(v);
            // The model: a payment is allowed exactly when it fits every limit and is approved if it needs to be.
            const fits =
              (p.perTransactionLimit === null || s.amount <= p.perTransactionLimit) &&
              (p.dailyLimit === null || dayTotal + s.amount <= p.dailyLimit) &&
              (p.monthlyLimit === null || monthTotal + s.amount <= p.monthlyLimit);
            const approvedEnough = p.approvalThreshold === null || s.amount <= p.approvalThreshold || s.approved;
            expect(d === 'allow').toBe(fits && approvedEnough);
            if (d === 'allow') {
              dayTotal += s.amount;
              monthTotal += s.amount;
              if (p.perTransactionLimit !== null) expect(s.amount).toBeLessThanOrEqual(p.perTransactionLimit);
              if (p.dailyLimit !== null) expect(dayTotal).toBeLessThanOrEqual(p.dailyLimit);
              if (p.monthlyLimit !== null) expect(monthTotal).toBeLessThanOrEqual(p.monthlyLimit);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
