/**
 * Database faults, against the real server process on PostgreSQL:
 *
 * - The database goes away under load and comes back (a loopback TCP proxy between the server
 *   and PostgreSQL resets every connection and refuses new ones for a while): every request
 *   answers 2xx or a clean 503 STORE_UNAVAILABLE, no acknowledged write is lost, nothing is
 *   written twice, and the same server process serves again once the database is back.
 * - A statement cut short by statement_timeout (set for the server's sessions in its
 *   DATABASE_URL, as an operator would) while another connection holds a lock: a 503, nothing
 *   half-written, and the retry records exactly once.
 *
 * Restarting the machine's PostgreSQL itself would break other suites using it at the same
 * time, so that is in `npm run soak` only (scripts/soak/run.ts), never here.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_URL, postgresAvailable } from './support/engines.ts';
import type { Org, Rig } from './crash-harness.ts';
import { errorCode, logShape, openPostgresRig, runSeed, send, shapeProblems, sleep, storedSql, trialSeed, txBody, verifyApi } from './crash-harness.ts';
import { TcpProxy, outageTrial } from './db-fault-harness.ts';

const SEED = runSeed();
console.log(`database fault tests: seed ${SEED} (CRASH_SEED=${SEED} to aim the faults the same way)`);

describe('the database going away under load', () => {
  let rig: Rig | undefined;
  let proxy: TcpProxy | undefined;
  let skip = false;

  beforeAll(async () => {
    if (!(await postgresAvailable())) {
      skip = true;
      return;
    }
    const p = TcpProxy.forUrl(PG_URL);
    await p.start();
    proxy = p;
    rig = await openPostgresRig('fault-outage', { serverUrl: (u) => p.url(u) });
  }, 120_000);
  afterAll(async () => {
    await rig?.close();
    await proxy?.close();
  }, 60_000);

  it('answers 503 STORE_UNAVAILABLE or succeeds, loses no acknowledged write, and recovers without a restart', async (ctx) => {
    if (skip || rig === undefined || proxy === undefined) return ctx.skip();
    const p = proxy;
    const outage = Object.assign(
      async () => {
        const t = Date.now();
        await p.cut();
        await sleep(1500);
        await p.restore();
        return Date.now() - t;
      },
      { label: 'database connections cut for 1.5 s (proxy)' },
    );
    const org = rig.orgs[0] as Org;
    const r = await outageTrial(rig, org, outage, {
      trial: 1,
      seed: trialSeed(SEED, 'proxy-outage', 1),
      clients: 6,
      minDelayMs: 300,
      maxDelayMs: 900,
      afterMs: 800,
      importLines: 50_000,
      chunk: 250,
    });
    expect(r.problems, `seed ${r.seed} at ${r.at}`).toEqual([]);
    expect(r.lost).toBe(0);
    expect(r.duplicated).toBe(0);
    expect(r.halfWritten).toBe(0);
    expect(r.verified).toBe(true);
    // The outage was felt (requests were refused with 503) and writes went on after it.
    expect(r.errors).toMatch(/503 STORE_UNAVAILABLE/);
    expect(r.acked).toBeGreaterThan(0);
  }, 120_000);
});

describe('a statement cut short by statement_timeout', () => {
  let rig: Rig | undefined;
  let skip = false;
  const TIMEOUT_MS = 1000;

  beforeAll(async () => {
    if (!(await postgresAvailable())) {
      skip = true;
      return;
    }
    const options = encodeURIComponent(`-c statement_timeout=${TIMEOUT_MS}`);
    rig = await openPostgresRig('fault-timeout', { serverUrl: (u) => `${u}${u.includes('?') ? '&' : '?'}options=${options}` });
  }, 120_000);
  afterAll(async () => {
    await rig?.close();
  }, 60_000);

  /** Runs `fn` while another connection holds a lock taken by `lockSql` in an open transaction. */
  async function whileLocked<T>(lockSql: string, params: unknown[], fn: () => Promise<T>): Promise<T> {
    if (rig?.directUrl === undefined) throw new Error('no rig');
    const holder = new pg.Client({ connectionString: rig.directUrl });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query(lockSql, params);
      return await fn();
    } finally {
      await holder.query('rollback');
      await holder.end();
    }
  }

  it('answers 503 when the log head is locked elsewhere, writes nothing, and the retry records once', async (ctx) => {
    if (skip || rig === undefined || rig.db === undefined) return ctx.skip();
    const org = rig.orgs[0] as Org;
    const url = rig.server.url;
    const single = txBody('timeout-single-1', 1);
    const batch = { transactions: [txBody('timeout-batch-1', 2), txBody('timeout-batch-2', 3), txBody('timeout-batch-3', 4)] };
    const before = await logShape(rig.db, org.orgId);

    // The organisation's tree head is the lock every append takes first.
    const [a, b] = await whileLocked('select size from tree_heads where org_id = $1 for update', [org.orgId], async () => {
      const t = Date.now();
      const replies = await Promise.all([send(url, 'POST', '/v1/transactions', org.adminKey, single), send(url, 'POST', '/v1/transactions/batch', org.adminKey, batch)]);
      expect(Date.now() - t).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      return replies;
    });
    for (const r of [a, b]) {
      expect(r?.kind).toBe('answer');
      if (r?.kind !== 'answer') continue;
      expect(r.status).toBe(503);
      expect(errorCode(r.body)).toBe('STORE_UNAVAILABLE');
    }
    expect(await storedSql(rig.db, org.orgId, 'timeout-')).toEqual(new Map());
    expect(await logShape(rig.db, org.orgId)).toEqual(before);

    // Retried once the lock is gone: recorded, then a replay is a duplicate of the same id.
    const again = await send(url, 'POST', '/v1/transactions', org.adminKey, single);
    expect(again.kind === 'answer' && again.status).toBe(201);
    const replay = await send(url, 'POST', '/v1/transactions', org.adminKey, single);
    expect(replay.kind === 'answer' && replay.status).toBe(200);
    const batchAgain = await send(url, 'POST', '/v1/transactions/batch', org.adminKey, batch);
    expect(batchAgain.kind === 'answer' && batchAgain.status).toBe(201);
    const stored = await storedSql(rig.db, org.orgId, 'timeout-');
    expect([...stored.keys()].sort()).toEqual(['timeout-batch-1', 'timeout-batch-2', 'timeout-batch-3', 'timeout-single-1']);
    expect([...stored.values()].every((s) => s.rows === 1)).toBe(true);
    expect(shapeProblems(await logShape(rig.db, org.orgId))).toEqual([]);
    expect((await verifyApi(url, org.adminKey)).ok).toBe(true);
  }, 60_000);

  it('answers 503 when the insert into transactions waits on a table lock mid-append, and leaves no entry of that append', async (ctx) => {
    if (skip || rig === undefined || rig.db === undefined) return ctx.skip();
    const org = rig.orgs[0] as Org;
    const url = rig.server.url;
    const batch = { transactions: Array.from({ length: 20 }, (_, i) => txBody(`midway-${i}`, i)) };
    const before = await logShape(rig.db, org.orgId);
    // SHARE mode lets every read through (authentication, the head lock, lookups) and stops the
    // insert itself: the unit of work has locked the head and sealed nothing yet when it is cut.
    const r = await whileLocked('lock table transactions in share mode', [], () => send(url, 'POST', '/v1/transactions/batch', org.adminKey, batch));
    expect(r.kind === 'answer' && r.status).toBe(503);
    expect(r.kind === 'answer' && errorCode(r.body)).toBe('STORE_UNAVAILABLE');
    expect(await storedSql(rig.db, org.orgId, 'midway-')).toEqual(new Map());
    expect(await logShape(rig.db, org.orgId)).toEqual(before);
    // The server's connections are usable again at once: the same batch goes in whole.
    const again = await send(url, 'POST', '/v1/transactions/batch', org.adminKey, batch);
    expect(again.kind === 'answer' && again.status).toBe(201);
    expect((await storedSql(rig.db, org.orgId, 'midway-')).size).toBe(20);
    expect(shapeProblems(await logShape(rig.db, org.orgId))).toEqual([]);
    expect((await verifyApi(url, org.adminKey)).ok).toBe(true);
  }, 60_000);
});
