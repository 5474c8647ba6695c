import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyTransactionSource } from '../src/adapters/store/export-rows.ts';
import { exportOrg } from '../src/app/audit-export.ts';
import type { BlobSink, PutResult } from '../src/app/ports/blob-sink.ts';
import type { TransactionRowSource } from '../src/app/ports/export-rows.ts';
import type { OrgRow } from '../src/app/ports/store.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import type { TransactionRecord } from '../src/domain/ledger/transaction.ts';
import { postgresAvailable } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { openSerializedEnv } from './support/tamper-corpus.ts';
import type { Seeded } from './support/fixtures.ts';
import { seedOrg, tx } from './support/fixtures.ts';

/** Keeps every put as it came. */
class MemorySink implements BlobSink {
  readonly objects = new Map<string, Buffer>();
  put(key: string, body: Buffer): Promise<PutResult> {
    const had = this.objects.has(key);
    this.objects.set(key, Buffer.from(body));
    return Promise.resolve({ key, version_id: null, sha256: '', existed: had });
  }
  get(key: string): Promise<Buffer | null> {
    return Promise.resolve(this.objects.get(key) ?? null);
  }
  list(prefix: string): Promise<string[]> {
    return Promise.resolve([...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort());
  }
  check() {
    return Promise.resolve({ kind: 'filesystem' as const, location: 'memory', object_lock: null });
  }
}

// Text the COPY format escapes (backslash), text JSON escapes (quotes) and text neither does
// (accents, astral characters): every one must come out of the COPY path as it went in.
const ODD = ['back\\slash \\N \\t', 'say "hi"', 'Café Zürich', '東京 😀 𝄞', 'plain'];
// Control characters, which the API refuses but a row may still hold (written by hand, or before
// the check): COPY escapes tab, newline, carriage return, backspace, form feed and vertical tab by
// letter and sends the others as they are.
const CONTROL = ['tab\there', 'new\nline', 'cr\rlf', 'bs\b ff\f vt\v', 'bell\u0007 esc\u001b', 'ls\u2028ps\u2029 del\u007f'];

describe('audit export with COPY on PostgreSQL', () => {
  let env: TestEnv;
  let org: OrgRow;
  let skip = false;
  beforeAll(async () => {
    if (!(await postgresAvailable())) {
      skip = true;
      return;
    }
    env = await openSerializedEnv('postgres');
    const seeded: Seeded = await seedOrg(env.deps, 'acme');
    // Several chunks (several signed checkpoints, so several segments), with log entries between.
    for (let chunk = 0; chunk < 4; chunk++) {
      const inputs = Array.from({ length: 30 }, (_, i) => {
        const odd = ODD[(chunk * 30 + i) % ODD.length] as string;
        return tx({
          external_id: `ext_${chunk}_${i}_${odd}`,
          merchant: `Merchant ${odd}`,
          business_purpose: i % 3 === 0 ? null : `Purpose ${odd}`,
          approver: i % 5 === 0 ? `approver ${odd}` : null,
          amount: `${i + 1}.25`,
        });
      });
      await recordTransactions(env.deps, seeded.admin, inputs, 'atomic');
    }
    const rows = await env.sql('select seq from transactions where org_id = $1 order by seq limit $2', ['acme', CONTROL.length * 2]);
    // As someone with database access would: past the append-only trigger (tamper-corpus does the same).
    await env.sql('alter table transactions disable trigger user');
    for (const [i, r] of rows.entries()) {
      const odd = CONTROL[i % CONTROL.length] as string;
      await env.sql('update transactions set merchant = $1, business_purpose = $2 where org_id = $3 and seq = $4', [`M ${odd}`, `P ${odd} \\ "q"`, 'acme', r.seq]);
    }
    await env.sql('alter table transactions enable trigger user');
    const o = await env.deps.store.getOrg('acme');
    if (o === undefined) throw new Error('no org');
    org = o;
  }, 60_000);
  afterAll(async () => {
    if (!skip) await env.close();
  });

  it('reads the records transactionsPage reads, odd text included', async (ctx) => {
    if (skip) return ctx.skip();
    const pool = env.store.pool;
    if (pool === undefined) throw new Error('no pool');
    const size = (await env.deps.store.latestCheckpoint('acme'))?.tree_size ?? 0;
    const paged = await env.deps.store.transactionsPage('acme', 0, size);
    const copied: { record: TransactionRecord; leaf: string }[] = [];
    await copyTransactionSource(pool).eachTransaction('acme', 0, size, (record, leaf) => copied.push({ record, leaf }));
    expect(copied.length).toBe(120);
    expect(copied.map((c) => c.record)).toEqual(paged.map((t) => t.record));
    expect(copied.map((c) => c.leaf)).toEqual(paged.map((t) => t.leaf_hash.toString('base64')));
    for (const odd of CONTROL) expect(copied.some((c) => c.record.merchant === `M ${odd}`)).toBe(true);
    expect(copied.some((c) => c.record.merchant.includes('\\N'))).toBe(true);
  });

  it('exports the same bytes with COPY as through the store, in one segment or many, with per-record objects or without', async (ctx) => {
    if (skip) return ctx.skip();
    const pool = env.store.pool;
    if (pool === undefined) throw new Error('no pool');
    const run = async (name: string, maxEntries: number, records: boolean, transactions?: TransactionRowSource): Promise<Map<string, Buffer>> => {
      const sink = new MemorySink();
      const r = await exportOrg(env.deps, sink, org, { sinkName: name, maxEntries, records, ...(transactions === undefined ? {} : { transactions }) });
      expect(r.next_seq).toBe(r.tree_size);
      return sink.objects;
    };
    const copy = copyTransactionSource(pool);
    for (const [max, records] of [
      [10_000, false],
      [35, false],
      [35, true],
    ] as const) {
      const viaStore = await run(`store-${max}-${records}`, max, records);
      const viaCopy = await run(`copy-${max}-${records}`, max, records, copy);
      expect([...viaCopy.keys()].sort()).toEqual([...viaStore.keys()].sort());
      for (const [key, body] of viaStore) expect((viaCopy.get(key) as Buffer).equals(body), key).toBe(true);
      expect([...viaStore.keys()].filter((k) => k.includes('/manifests/')).length).toBeGreaterThan(max === 35 ? 1 : 0);
    }
  });

  it('stops with the database error and leaves the plan for the next round when COPY fails', async (ctx) => {
    if (skip) return ctx.skip();
    const pool = env.store.pool;
    if (pool === undefined) throw new Error('no pool');
    const copy = copyTransactionSource(pool);
    // A seq range COPY cannot read: the organisation's literal is quoted, so this is just no rows.
    const rows: number[] = [];
    await copy.eachTransaction("acme' or 'x' = 'x", 0, 1_000, (r) => rows.push(r.seq));
    expect(rows).toEqual([]);
    const failing: TransactionRowSource = {
      eachTransaction: () => Promise.reject(new Error('server closed the connection unexpectedly')),
    };
    const sink = new MemorySink();
    await expect(exportOrg(env.deps, sink, org, { sinkName: 'fails', transactions: failing })).rejects.toThrow(/server closed/);
    const state = await env.deps.store.getExportState('acme', 'fails');
    expect(state?.planned).not.toBeNull();
    expect(state?.failed_attempts).toBe(1);
    const r = await exportOrg(env.deps, sink, org, { sinkName: 'fails', transactions: copy });
    expect(r.next_seq).toBe(r.tree_size);
  });
});
