import { describe, expect, it } from 'vitest';
import type { Principal } from '../src/app/principal.ts';
import type { RailCapture } from '../src/app/rail-ingest.ts';
import { ingestRailCapture } from '../src/app/rail-ingest.ts';
import { verifyLog } from '../src/app/verify.ts';
import { contentHash } from '../src/domain/hash.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { codeOf, seededSuite, tx } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';

const rail: Principal = { org_id: 'acme', principal: 'rail:test', roles: ['agent'], agent_id: null, key_id: null };

function capture(id: string, over: Partial<RailCapture> = {}): RailCapture {
  const payload = Buffer.from(JSON.stringify({ id, amount: 1234, note: 'raw bytes, kept exactly' }));
  return {
    rail: 'stripe',
    source_id: id,
    content_type: 'application/json',
    payload,
    outcome: 'settled',
    reason: null,
    transactions: [tx({ external_id: `pi_${id}`, amount: '12.34' })],
    ...over,
  };
}

describe.each(ENGINES)('a rail record and its transactions on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });

  it('keeps the native payload beside the transactions, its hash in the log, and verify checks both', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const c = capture('evt_1');
    const r = await ingestRailCapture(env.deps, rail, c);
    expect(r.status).toBe('recorded');
    expect(r.payload_sha256).toBe(contentHash(c.payload));
    expect(r.transactions.map((t) => t.external_id)).toEqual(['pi_evt_1']);
    expect(r.transactions[0]?.recorded_by).toBe('rail:test');
    const [stored] = await env.deps.store.getRailPayloads('acme', [{ rail: 'stripe', source_id: 'evt_1' }]);
    expect(stored?.body.equals(c.payload)).toBe(true);
    expect(stored?.tx_ids).toEqual([r.transactions[0]?.tx_id]);
    const [entry] = await env.deps.store.logEntriesOfKinds('acme', ['rail_payload'], ['stripe:evt_1']);
    expect(JSON.parse(entry?.data ?? '{}')).toMatchObject({ body: { payload_sha256: r.payload_sha256, tx_ids: [r.transactions[0]?.tx_id] } });
    expect((await verifyLog(env.deps, org.admin, env.signer.note)).findings).toEqual([]);
  });

  it('returns the first result for the same record again and refuses the same id with other bytes', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const first = await ingestRailCapture(env.deps, rail, capture('evt_2'));
    const again = await ingestRailCapture(env.deps, rail, capture('evt_2'));
    expect(again.status).toBe('duplicate');
    expect(again.transactions.map((t) => t.tx_id)).toEqual(first.transactions.map((t) => t.tx_id));
    expect(await codeOf(ingestRailCapture(env.deps, rail, capture('evt_2', { payload: Buffer.from('{"other":true}') })))).toBe('IDEMPOTENCY_CONFLICT');
  });

  it('writes nothing when one of its transactions is refused', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const before = await env.deps.store.entryStats('acme');
    const bad = capture('evt_3', { transactions: [tx({ external_id: 'pi_ok_3' }), tx({ external_id: 'pi_bad_3', agent_id: 'nobody' })] });
    expect(await codeOf(ingestRailCapture(env.deps, rail, bad))).toBe('AGENT_NOT_FOUND');
    expect(await env.deps.store.getRailPayloads('acme', [{ rail: 'stripe', source_id: 'evt_3' }])).toEqual([]);
    expect(await env.deps.store.findTransactionsByExternal('acme', [{ payment_rail: 'stripe', external_id: 'pi_ok_3' }])).toEqual([]);
    expect((await env.deps.store.entryStats('acme')).maxSeqPlusOne).toBe(before.maxSeqPlusOne);
  });

  it('records a failed payment as evidence with no transaction, and refuses transactions on another rail', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const failed = await ingestRailCapture(env.deps, rail, capture('evt_4', { outcome: 'failed', reason: 'insufficient_funds', transactions: [] }));
    expect(failed).toMatchObject({ status: 'recorded', outcome: 'failed', transactions: [] });
    expect(await codeOf(ingestRailCapture(env.deps, rail, capture('evt_5', { outcome: 'failed', reason: 'x' })))).toBe('VALIDATION_FAILED');
    expect(await codeOf(ingestRailCapture(env.deps, rail, capture('evt_6', { rail: 'x402' })))).toBe('VALIDATION_FAILED');
  });

  it('lets verify find a stored payload that no longer matches its logged hash', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    await ingestRailCapture(env.deps, rail, capture('evt_7'));
    await env.sql(`alter table rail_payloads disable trigger rail_payloads_append_only`);
    await env.sql(`update rail_payloads set body = '\\x7b7d'::bytea where source_id = 'evt_7'`);
    await env.sql(`alter table rail_payloads enable trigger rail_payloads_append_only`);
    const report = await verifyLog(env.deps, org.admin, env.signer.note);
    expect(report.ok).toBe(false);
    expect(JSON.stringify(report)).toContain('stripe:evt_7');
  });
});
