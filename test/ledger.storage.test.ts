import { describe, expect, it } from 'vitest';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { verifyLog } from '../src/app/verify.ts';
import { getTransaction, listLedger } from '../src/app/ledger-queries.ts';
import { verifyInclusion } from '../src/domain/merkle/proofs.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { seededSuite, tx } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';

describe.each(ENGINES)('ledger on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;

  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });

  it('records a transaction with its code, policy snapshot and violations', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const [out] = await recordTransactions(env.deps, org.admin, [tx({ amount: '2100.00', external_id: 'ch_big' })]);
    expect(out?.ok).toBe(true);
    const t = out?.ok ? out.result.transaction : undefined;
    expect(t).toMatchObject({ accounting_code: '6400', accounting_code_source: 'mcc_rule', amount: '2100.00', reporting_amount: '2100.00' });
    expect(t?.violations).toEqual(['missing_approval']);
    expect(t?.policy_snapshot_id).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('returns the original for a replay and refuses different content under the same id', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const first = tx({ external_id: 'ch_replay' });
    const [a] = await recordTransactions(env.deps, org.admin, [first]);
    const [b] = await recordTransactions(env.deps, org.admin, [first]);
    expect(b).toMatchObject({ ok: true, result: { status: 'duplicate' } });
    expect(a?.ok && b?.ok && a.result.transaction.tx_id === b.result.transaction.tx_id).toBe(true);
    await expect(recordTransactions(env.deps, org.admin, [{ ...first, amount: '22.00' }])).rejects.toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
      field: 'transactions[0].external_id',
    });
  });

  it('sorts replays from conflicts in a large batch written without per-key lookups', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const earlier = tx({ external_id: 'big_replay', amount: '3.00' });
    const [first] = await recordTransactions(env.deps, org.admin, [earlier]);
    const fresh = Array.from({ length: 300 }, (_, i) => tx({ external_id: `big_${i}`, amount: '0.10' }));
    const outcomes = await recordTransactions(env.deps, org.admin, [...fresh.slice(0, 150), earlier, ...fresh.slice(150)]);
    expect(outcomes.filter((o) => o.ok && o.result.status === 'recorded')).toHaveLength(300);
    const replay = outcomes[150];
    expect(replay).toMatchObject({ ok: true, result: { status: 'duplicate' } });
    expect(replay?.ok && first?.ok && replay.result.transaction.tx_id === first.result.transaction.tx_id).toBe(true);
    const before = await env.store.entryStats('acme');
    const more = Array.from({ length: 300 }, (_, i) => tx({ external_id: `big2_${i}`, amount: '0.10' }));
    await expect(recordTransactions(env.deps, org.admin, [...more, { ...earlier, amount: '4.00' }])).rejects.toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
      field: 'transactions[300].external_id',
    });
    expect(await env.store.entryStats('acme')).toEqual(before);
  });

  it('writes nothing from a batch with one bad item', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const before = await env.store.entryStats('acme');
    await expect(
      recordTransactions(env.deps, org.admin, [tx(), tx({ agent_id: 'ghost-bot' })]),
    ).rejects.toMatchObject({ code: 'AGENT_NOT_FOUND', field: 'transactions[1].agent_id' });
    expect(await env.store.entryStats('acme')).toEqual(before);
  });

  it('lists the ledger with filters and keyset pages, and proves inclusion', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    await recordTransactions(env.deps, org.admin, Array.from({ length: 7 }, (_, i) => tx({ agent_id: 'research-bot', payment_rail: 'x402', amount: '1.00', timestamp: `2026-03-1${i}T09:00:00Z`, merchant_category: null, merchant: 'OpenAI' })));
    const p1 = await listLedger(env.deps, org.admin, { agent_id: 'research-bot', limit: 4 });
    expect(p1.transactions).toHaveLength(4);
    const p2 = await listLedger(env.deps, org.admin, { agent_id: 'research-bot', limit: 4, cursor: p1.next_cursor ?? '' });
    expect(p2.transactions).toHaveLength(3);
    expect(p2.next_cursor).toBeNull();
    expect(p2.transactions.every((t) => t.accounting_code === '6420')).toBe(true);
    const detail = await getTransaction(env.deps, org.admin, p2.transactions[0]!.tx_id);
    expect(detail.policy?.agent_id).toBe('research-bot');
    const proof = detail.inclusion_proof!;
    expect(
      verifyInclusion(Buffer.from(proof.leaf_hash, 'base64'), proof.leaf_index, proof.tree_size, proof.audit_path.map((p) => Buffer.from(p, 'base64')), Buffer.from(proof.root, 'base64')),
    ).toBe(true);
  });

  it('verifies a clean log', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const report = await verifyLog(env.deps, org.admin, env.signer.note);
    expect(report.findings).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.entries_checked).toBeGreaterThan(10);
  });

  it('refuses UPDATE and DELETE on ledger tables', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    await expect(env.sql(`update transactions set amount = '1.00'`)).rejects.toThrow(/append-only/);
    await expect(env.sql(`delete from log_entries`)).rejects.toThrow(/append-only/);
  });
});
