import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestEnv } from '../../test/support/engines.ts';
import type { TestEnv } from '../../test/support/engines.ts';
import type { Violation } from '../domain/policy/violation.ts';
import { buildDemoTransactions, DEMO_BATCH_SIZE, previousMonth, seedDemo } from './demo.ts';
import type { SeedDemoResult } from './demo.ts';
import { listLedger } from './ledger-queries.ts';
import type { Principal } from './principal.ts';
import { authenticate } from './setup.ts';
import { verifyLog } from './verify.ts';

const NOW = '2026-04-15T00:00:00Z';

describe('seedDemo on pglite', () => {
  let env: TestEnv;
  let seeded: SeedDemoResult;
  let admin: Principal;
  const progress: [number, number][] = [];

  beforeAll(async () => {
    env = await openTestEnv('pglite');
    env.clock.set(NOW);
    seeded = await seedDemo(env.deps, { onProgress: (done, total) => progress.push([done, total]) });
    admin = await authenticate(env.deps, seeded.admin_api_key);
  });
  afterAll(async () => {
    await env.close();
  });

  const flagged = async (violation: Violation) =>
    (await listLedger(env.deps, admin, { violation, limit: 1000 })).transactions;

  it('creates the organisation with five agents in two clusters', async () => {
    expect(seeded).toMatchObject({ org_id: 'demo', agents: 5 });
    expect(admin.roles).toContain('admin');
    const org = await env.store.getOrg('demo');
    expect(org).toMatchObject({ name: 'Demo Robotics Inc.', reporting_currency: 'USD', timezone: 'UTC' });
    const agents = await env.store.getAgents('demo');
    expect(agents).toHaveLength(5);
    const clusters = Object.fromEntries(agents.map((a) => [a.agent_id, a.cluster]));
    expect(clusters).toEqual({
      'support-bot': 'customer-support',
      'triage-bot': 'customer-support',
      'billing-bot': 'customer-support',
      'research-bot': 'research',
      'scraper-bot': 'research',
    });
    expect((await env.store.getAccounts('demo')).map((a) => a.code).sort()).toEqual(['6400', '6410', '6420', '6430', '6440', '6999']);
    const rules = await env.store.getRules('demo');
    expect(rules.some((r) => r.kind === 'default')).toBe(false);
    const policies = await env.store.getPolicyVersions('demo');
    expect(policies).toHaveLength(5);
    expect(policies.every((p) => p.valid_from.toISOString() === '2026-01-01T00:00:00.000Z')).toBe(true);
  });

  it('records a month of transactions in chronological batches of at most 500', async () => {
    expect(seeded.transactions).toBeGreaterThanOrEqual(600);
    expect(seeded.transactions).toBeLessThanOrEqual(900);
    const [{ n, min, max }] = (await env.sql(
      `select count(*)::int as n, min(ts) as min, max(ts) as max from transactions where org_id = 'demo'`,
    )) as [{ n: number; min: Date; max: Date }];
    expect(n).toBe(seeded.transactions);
    // The default month is the one before the clock's.
    expect(new Date(min).toISOString() >= '2026-03-01T00:00:00.000Z').toBe(true);
    expect(new Date(max).toISOString() < '2026-04-01T00:00:00.000Z').toBe(true);
    expect(progress.map(([, total]) => total).every((t) => t === n)).toBe(true);
    expect(progress.at(-1)).toEqual([n, n]);
    expect(progress).toHaveLength(Math.ceil(n / DEMO_BATCH_SIZE));
    // Log order follows time order.
    const order = await env.sql(`select ts from transactions where org_id = 'demo' order by seq`);
    const times = order.map((r) => new Date(r.ts as Date).getTime());
    expect(times.every((t, i) => i === 0 || (times[i - 1] ?? 0) <= t)).toBe(true);
    const rails = await env.sql(`select distinct payment_rail from transactions where org_id = 'demo' order by 1`);
    expect(rails.map((r) => r.payment_rail)).toEqual(['card', 'l402', 'stripe', 'x402']);
  });

  it('records x402 micro-payments in USDC at par, and approvers on large payments', async () => {
    const micro = await env.sql(
      `select amount, reporting_amount, fx_rate, fx_rate_source, fx_rate_time, ts from transactions where org_id = 'demo' and payment_rail = 'x402'`,
    );
    expect(micro.length).toBeGreaterThan(50);
    for (const m of micro) {
      expect(m).toMatchObject({ fx_rate: '1', fx_rate_source: 'usdc-par' });
      expect(new Date(m.fx_rate_time as Date).getTime()).toBe(new Date(m.ts as Date).getTime());
      expect(m.amount).toMatch(/^0\.(0[1-9]|[1-4][0-9]|50)0000$/);
    }
    const approved = await env.sql(`select approver, approval_ref from transactions where org_id = 'demo' and approver is not null`);
    expect(approved.length).toBeGreaterThan(0);
    expect(approved.every((a) => a.approver === 'dave@demo.test' && /^FIN-\d{4}$/.test(String(a.approval_ref)))).toBe(true);
  });

  it('contains every deliberate violation, and no accidental ones', async () => {
    const over = await flagged('over_limit');
    expect(over).toHaveLength(1);
    expect(over[0]).toMatchObject({ agent_id: 'support-bot', amount: '742.18' });
    const blocked = await flagged('blocked_category');
    expect(blocked.map((t) => t.merchant_category)).toEqual(['7995']);
    const rail = await flagged('disallowed_rail');
    expect(rail.map((t) => [t.agent_id, t.payment_rail])).toEqual([['research-bot', 'card']]);
    expect((await flagged('missing_purpose')).every((t) => t.business_purpose === null)).toBe(true);
    expect(await flagged('missing_purpose')).toHaveLength(2);
    const approval = await flagged('missing_approval');
    expect(approval).toHaveLength(1);
    expect(approval[0]?.approver).toBeNull();
    const daily = await flagged('daily_budget_exceeded');
    expect(daily.length).toBeGreaterThanOrEqual(1);
    expect(new Set(daily.map((t) => `${t.agent_id} ${t.timestamp.slice(0, 10)}`))).toEqual(new Set(['research-bot 2026-03-18']));
    const uncoded = await flagged('uncoded');
    expect(uncoded).toHaveLength(2);
    expect(uncoded.every((t) => t.accounting_code === null)).toBe(true);

    const all = await env.sql(`select v, count(*)::int as n from transactions, unnest(violations) as v where org_id = 'demo' group by v`);
    const counts = Object.fromEntries(all.map((r) => [r.v, r.n]));
    expect(Object.keys(counts).sort()).toEqual(
      ['blocked_category', 'daily_budget_exceeded', 'disallowed_rail', 'missing_approval', 'missing_purpose', 'over_limit', 'uncoded'],
    );
    const [{ n }] = (await env.sql(`select count(*)::int as n from transactions where org_id = 'demo' and cardinality(violations) > 0`)) as [{ n: number }];
    expect(n).toBeLessThan(20);
  });

  it('links refunds to their original payments', async () => {
    const refunds = await env.sql(`
      select r.amount as amount, r.agent_id as agent, o.agent_id as original_agent, o.type as original_type,
             o.amount as original_amount, r.violations as violations, r.ts > o.ts as later
      from transactions r join transactions o on o.tx_id = r.refund_of and o.org_id = r.org_id
      where r.org_id = 'demo' and r.type = 'refund'`);
    const [{ n }] = (await env.sql(`select count(*)::int as n from transactions where org_id = 'demo' and type = 'refund'`)) as [{ n: number }];
    expect(refunds).toHaveLength(n);
    expect(n).toBe(2);
    for (const r of refunds) {
      expect(String(r.amount).startsWith('-')).toBe(true);
      expect(r).toMatchObject({ original_type: 'payment', later: true });
      expect(r.agent).toBe(r.original_agent);
      expect(r.violations).toEqual([]);
    }
    expect(refunds.map((r) => [r.amount, r.original_amount]).sort()).toEqual([
      ['-38.00', '190.00'],
      ['-64.00', '64.00'],
    ]);
  });

  it('leaves a log that verifies', async () => {
    const report = await verifyLog(env.deps, admin, env.signer.note);
    expect(report.findings).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('is deterministic: a fresh database with the same clock gets the same amounts', async () => {
    const other = await openTestEnv('pglite');
    try {
      other.clock.set(NOW);
      await seedDemo(other.deps);
      const q = `select external_id, amount from transactions where org_id = 'demo' order by external_id, amount`;
      const [a, b] = [await env.sql(q), await other.sql(q)];
      expect(b).toHaveLength(seeded.transactions);
      expect(b).toEqual(a);
    } finally {
      await other.close();
    }
  });
});

describe('buildDemoTransactions', () => {
  it('defaults to the previous calendar month', () => {
    expect(previousMonth(new Date('2026-04-15T00:00:00Z'))).toBe('2026-03');
    expect(previousMonth(new Date('2026-01-01T00:00:00Z'))).toBe('2025-12');
  });

  it('fits any month, including February, and differs between months', () => {
    const feb = buildDemoTransactions('2026-02');
    expect(feb.every((t) => t.timestamp.startsWith('2026-02-'))).toBe(true);
    expect(feb.length).toBeGreaterThanOrEqual(600);
    const mar = buildDemoTransactions('2026-03');
    expect(mar.map((t) => t.amount)).not.toEqual(feb.map((t) => t.amount));
    expect(buildDemoTransactions('2026-03')).toEqual(mar);
  });

  it('refuses a malformed month', () => {
    expect(() => buildDemoTransactions('2026-13')).toThrow(/YYYY-MM/);
  });
});
