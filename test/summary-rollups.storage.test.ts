import { describe, expect, it } from 'vitest';
import * as m010 from '../src/adapters/store/migrations/010-summary-rollups.ts';
import type { SpendGroup } from '../src/app/ports/store.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { verifyLog } from '../src/app/verify.ts';
import { dayAfterMonth, summaryRollupKey } from '../src/domain/summary/rollup.ts';
import { monthBounds } from '../src/domain/time.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { seededSuite, tx } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';

/**
 * Summary rollups (migration 010): a summary adds up per-day rollups instead of scanning the
 * month. They must give exactly what the scan gives — for every month, in the organisation's
 * time zone (a payment at 23:30 on the last evening of a month in New York is that month's,
 * though it is the next month in UTC), for a cluster's agents, with refunds, violations and
 * uncoded spend — and verify must notice when they do not.
 */
const TZ = 'America/New_York';
const MONTHS = ['2026-02', '2026-03', '2026-04'];

const sorted = (gs: readonly SpendGroup[]): SpendGroup[] =>
  [...gs].sort((a, b) => (a.by + (a.key ?? '\u0000') < b.by + (b.key ?? '\u0000') ? -1 : 1));

describe.each(ENGINES)('summary rollups on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  }, TZ);

  const record = async (inputs: ReturnType<typeof tx>[]): Promise<void> => {
    const out = await recordTransactions(env.deps, org.admin, inputs, 'atomic');
    expect(out.every((o) => o.ok)).toBe(true);
  };

  it('give the same groups as a scan of the month, in the organisation time zone', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const inputs: ReturnType<typeof tx>[] = [];
    // Instants from the last evening of February (New York) to the first night of April (UTC).
    const startMs = Date.parse('2026-03-01T03:30:00Z');
    for (let i = 0; i < 240; i += 1) {
      const at = new Date(startMs + i * 3 * 3_600_000 + (i % 5) * 60_000).toISOString();
      const research = i % 3 === 0;
      inputs.push(
        tx({
          external_id: `roll_${i}`,
          agent_id: research ? 'research-bot' : 'support-bot',
          timestamp: at,
          amount: research ? `${(i % 9) * 70 + 0.37}` : `${(i % 11) * 300 + 1.5}`,
          payment_rail: research ? (i % 2 === 0 ? 'x402' : 'l402') : 'stripe',
          merchant: i % 4 === 0 ? 'OpenAI' : i % 4 === 1 ? 'AWS' : 'Corner shop',
          merchant_category: i % 4 === 1 ? '4816' : i % 7 === 0 ? '7995' : '5734',
        }),
      );
    }
    await record(inputs);
    await record([
      tx({ external_id: 'roll_refund_1', type: 'refund', refund_of: 'roll_4', agent_id: 'support-bot', amount: '-1.50', timestamp: '2026-03-20T12:00:00Z', merchant: 'OpenAI', merchant_category: null }),
      tx({ external_id: 'roll_refund_2', type: 'refund', refund_of: 'roll_5', agent_id: 'support-bot', amount: '-0.50', timestamp: '2026-04-01T02:00:00Z', merchant: 'AWS', merchant_category: '4816' }),
    ]);

    const [check] = await env.sql(
      `select count(*) filter (where cardinality(violations) > 0) as v, count(*) filter (where accounting_code is null) as u,
              count(*) filter (where reporting_minor < 0) as r from transactions where org_id = 'acme'`,
    );
    // The data exercises what it claims to: violations, uncoded spend and refunds.
    expect(Number(check?.v)).toBeGreaterThan(10);
    expect(Number(check?.u)).toBeGreaterThan(10);
    expect(Number(check?.r)).toBe(2);

    let total = 0;
    for (const month of MONTHS) {
      const { start, end } = monthBounds(month, TZ);
      for (const agents of [null, ['support-bot']]) {
        const scan = await env.store.spendGroups('acme', new Date(start), new Date(end), agents);
        const rolled = await env.store.rollupGroups('acme', `${month}-01`, dayAfterMonth(month), agents);
        expect(sorted(rolled)).toEqual(sorted(scan));
        if (agents === null) total += scan.find((g) => g.by === 'total')?.transactions ?? 0;
      }
    }
    // Every transaction falls in one of the three local months, and the boundary is local:
    // 2026-03-01T03:30Z is the evening of 28 February in New York.
    expect(total).toBe(242);
    const feb = await env.store.rollupGroups('acme', '2026-02-01', '2026-03-01', null);
    expect(feb.find((g) => g.by === 'total')?.transactions).toBeGreaterThan(0);
  });

  it('are what the migration computes from the transactions already recorded', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const kept = new Map((await env.store.summaryRollups('acme')).map((r) => [summaryRollupKey(r), r]));
    expect(kept.size).toBeGreaterThan(50);
    await env.sql(`drop table summary_rollups`);
    await env.sql(`drop index transactions_violating`);
    await env.sql(`drop table verified_summary_rollups`);
    await m010.up(env.store.kysely);
    const backfilled = new Map((await env.store.summaryRollups('acme')).map((r) => [summaryRollupKey(r), r]));
    expect(backfilled).toEqual(kept);
  });

  it('a changed rollup fails a full verify, and an incremental one when its day has new transactions', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    expect((await verifyLog(env.deps, org.admin, env.signer.note, { incremental: true })).findings).toEqual([]);
    await env.sql(`update summary_rollups set net_minor = net_minor - 100 where org_id = 'acme' and day = '2026-03-10' and agent_id = 'support-bot'`);
    const full = await verifyLog(env.deps, org.admin, env.signer.note);
    expect(full.ok).toBe(false);
    expect(full.findings.map((f) => f.what).join('\n')).toMatch(/summary rollup 2026-03-10 support-bot .*net_minor/);

    // Nothing new on 10 March: the incremental check looks only at the days that changed.
    await record([tx({ external_id: 'roll_late_1', timestamp: '2026-03-11T15:00:00Z' })]);
    expect((await verifyLog(env.deps, org.admin, env.signer.note, { incremental: true })).mode).toBe('incremental');
    // What it proved for the day it touched is kept beside the frontier, for the next one to add to.
    const keyed = (rs: Awaited<ReturnType<typeof env.store.summaryRollups>>) => new Map(rs.map((r) => [summaryRollupKey(r), r]));
    expect(keyed(await env.store.summaryRollups('acme', ['2026-03-11'], 'verified'))).toEqual(keyed(await env.store.summaryRollups('acme', ['2026-03-11'])));
    await record([tx({ external_id: 'roll_late_2', timestamp: '2026-03-10T15:00:00Z' })]);
    const inc = await verifyLog(env.deps, org.admin, env.signer.note, { incremental: true });
    expect(inc.mode).toBe('incremental');
    expect(inc.findings.map((f) => f.what).join('\n')).toMatch(/summary rollup 2026-03-10 support-bot .*net_minor/);

    // A rollup with nothing behind it, and one deleted, are named too.
    await env.sql(`update summary_rollups set net_minor = net_minor + 100 where org_id = 'acme' and day = '2026-03-10' and agent_id = 'support-bot'`);
    await env.sql(
      `insert into summary_rollups values ('acme', '2026-03-15', 'support-bot', '6400', 'x402', 999, 0, 1, 0, 0, 0, 0)`,
    );
    await env.sql(`delete from summary_rollups where org_id = 'acme' and day = '2026-03-16' and payment_rail = 'stripe'`);
    const again = (await verifyLog(env.deps, org.admin, env.signer.note)).findings.map((f) => f.what).join('\n');
    expect(again).toMatch(/summary rollup 2026-03-15 support-bot 6400 x402 has no transactions behind it/);
    expect(again).toMatch(/summary rollup 2026-03-16 support-bot .* stripe is missing/);
    expect(again).not.toMatch(/2026-03-10/);
  });
});
