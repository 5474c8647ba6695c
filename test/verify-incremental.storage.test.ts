import { describe, expect, it } from 'vitest';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { verifyLog } from '../src/app/verify.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { seededSuite, tx } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';

/**
 * Incremental verify (issue 9): a successful verify records the tree at its latest signed
 * checkpoint; the next incremental one checks that frontier against the signed root and then
 * only the entries after it. Each case below builds on the log the previous ones left.
 */
describe.each(ENGINES)('incremental verify on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });
  let batch = 0;
  const record = async (n: number): Promise<void> => {
    batch += 1;
    const inputs = Array.from({ length: n }, (_, i) => tx({ external_id: `inc_${batch}_${i}`, amount: `${(i % 7) + 1}.25` }));
    const out = await recordTransactions(env.deps, org.admin, inputs, 'atomic');
    expect(out.every((o) => o.ok)).toBe(true);
  };
  const frontier = async (): Promise<number | null> => {
    const [r] = await env.sql(`select tree_size from verified_frontiers where org_id = 'acme'`);
    return r === undefined ? null : Number(r.tree_size);
  };
  const head = async (): Promise<number> => Number((await env.sql(`select size from tree_heads where org_id = 'acme'`))[0]?.size);

  it('without a frontier verifies in full, then records one at the signed tree', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    await record(300);
    expect(await frontier()).toBeNull();
    const r = await verifyLog(env.deps, org.admin, env.signer.note, { incremental: true });
    expect(r.findings).toEqual([]);
    expect(r.mode).toBe('full');
    expect(r.entries_checked).toBe(await head());
    expect(await frontier()).toBe(await head());
  });

  it('resumes from the frontier and checks only the new entries', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const before = await head();
    await record(40);
    await record(25);
    const r = await verifyLog(env.deps, org.admin, env.signer.note, { incremental: true });
    expect(r.findings).toEqual([]);
    expect(r).toMatchObject({ ok: true, mode: 'incremental', resumed_from: before, entries_checked: (await head()) - before, tree_size: await head() });
    expect(await frontier()).toBe(await head());
    // And a full verify of the same log agrees.
    const full = await verifyLog(env.deps, org.admin, env.signer.note);
    expect(full).toMatchObject({ ok: true, mode: 'full', entries_checked: await head(), root: r.root });
  });

  it('names the first rewritten entry after the frontier', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const start = await head();
    await record(10);
    const [victim] = await env.sql(`select seq, merchant from transactions where org_id = 'acme' and seq >= ${start + 3} order by seq limit 1`);
    const seq = Number(victim?.seq);
    await env.sql(`alter table transactions disable trigger user`);
    await env.sql(`update transactions set merchant = 'elsewhere.example' where org_id = 'acme' and seq = ${seq}`);
    const r = await verifyLog(env.deps, org.admin, env.signer.note, { incremental: true });
    expect(r.ok).toBe(false);
    expect(r.mode).toBe('incremental');
    expect(r.findings[0]?.seq).toBe(seq);
    expect(await frontier()).toBe(start);
    await env.sql(`update transactions set merchant = $1 where org_id = 'acme' and seq = ${seq}`, [victim?.merchant]);
    await env.sql(`alter table transactions enable trigger user`);
    expect((await verifyLog(env.deps, org.admin, env.signer.note, { incremental: true })).findings).toEqual([]);
  });

  it('finds a spend total that disagrees with the new transactions', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    await record(5);
    const start = await frontier();
    const [row] = await env.sql(`select agent_id, period from spend_rollups where org_id = 'acme' and period like 'M%' order by period desc limit 1`);
    await env.sql(`update spend_rollups set amount_minor = amount_minor + 1 where org_id = 'acme' and agent_id = $1 and period = $2`, [row?.agent_id, row?.period]);
    const r = await verifyLog(env.deps, org.admin, env.signer.note, { incremental: true });
    expect(r.ok).toBe(false);
    expect(r.findings.map((f) => f.what).join('\n')).toMatch(/spend total/);
    expect(await frontier()).toBe(start);
    await env.sql(`update spend_rollups set amount_minor = amount_minor - 1 where org_id = 'acme' and agent_id = $1 and period = $2`, [row?.agent_id, row?.period]);
  });

  it('a frontier that does not match its signed root is ignored: the verify runs in full', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    await env.sql(`update verified_frontiers set frontier = decode(repeat('00', length(frontier)), 'hex') where org_id = 'acme'`);
    const r = await verifyLog(env.deps, org.admin, env.signer.note, { incremental: true });
    expect(r).toMatchObject({ ok: true, mode: 'full', resumed_from: 0, entries_checked: await head() });
  });
});
