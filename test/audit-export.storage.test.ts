import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportOrg, exportStatus } from '../src/app/audit-export.ts';
import type { BlobSink, PutResult } from '../src/app/ports/blob-sink.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { SpendtrailError } from '../src/domain/errors.ts';
import { leafHash } from '../src/domain/merkle/tree-hash.ts';
import { openCheckpoint } from '../src/domain/checkpoint/checkpoint.ts';
import { ENGINES, postgresAvailable } from './support/engines.ts';
import type { EngineName, TestEnv } from './support/engines.ts';
import type { Corpus } from './support/tamper-corpus.ts';
import { ORG, openSerializedEnv, seedCorpus } from './support/tamper-corpus.ts';
import { person, tx } from './support/fixtures.ts';

/**
 * A write-once store that keeps every put, as the port's contract says: the same bytes again
 * are recognised, different bytes under a key are refused. `failAt` makes the n-th put fail,
 * as a crash or an outage in the middle of a segment would.
 */
class MemorySink implements BlobSink {
  readonly objects = new Map<string, Buffer>();
  puts = 0;
  failAt: number | null = null;

  put(key: string, body: Buffer): Promise<PutResult> {
    this.puts += 1;
    if (this.failAt !== null && this.puts >= this.failAt) return Promise.reject(new Error('connection reset by the sink'));
    const sha256 = createHash('sha256').update(body).digest('hex');
    const had = this.objects.get(key);
    if (had !== undefined && !had.equals(body)) return Promise.reject(new SpendtrailError('EXPORT_CONFLICT', `${key} exists with other bytes`, { field: 'key' }));
    this.objects.set(key, body);
    return Promise.resolve({ key, version_id: null, sha256, existed: had !== undefined });
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

/** Every exported line, in order, from the NDJSON objects (not the manifests). */
function exportedSeqs(sink: MemorySink): number[] {
  return [...sink.objects.entries()]
    .filter(([k]) => k.endsWith('.ndjson'))
    .flatMap(([, b]) => b.toString('utf8').trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq))
    .sort((a, b) => a - b);
}

describe.each(ENGINES)('audit export on %s', (engine: EngineName) => {
  let env: TestEnv;
  let c: Corpus;
  let skip = false;
  beforeAll(async () => {
    if (engine === 'postgres' && !(await postgresAvailable())) {
      skip = true;
      return;
    }
    env = await openSerializedEnv(engine);
    c = await seedCorpus(env);
  });
  afterAll(async () => {
    if (!skip) await env.close();
  });

  it('exports every entry exactly once through a failure mid-segment, with manifests an outsider can check', async (ctx) => {
    if (skip) return ctx.skip();
    const org = await env.deps.store.getOrg(ORG);
    if (org === undefined) throw new Error('no org');
    const sink = new MemorySink();
    const size = (await env.deps.store.latestCheckpoint(ORG))?.tree_size ?? 0;
    // Small segments, and the fourth put fails: the second segment is left half-written.
    sink.failAt = 4;
    await expect(exportOrg(env.deps, sink, org, { sinkName: 'mem', maxEntries: 10 })).rejects.toThrow(/connection reset/);
    const stuck = await exportStatus(env.deps, person('aud@acme.test', 'auditor'), 'mem');
    expect(stuck.failed_attempts).toBe(1);
    expect(stuck.last_error).toContain('connection reset');
    expect(stuck.behind).toBeGreaterThan(0);
    // Restart: the same segment is re-put byte for byte, then the rest follows.
    sink.failAt = null;
    const done = await exportOrg(env.deps, sink, org, { sinkName: 'mem', maxEntries: 10 });
    expect(done.next_seq).toBe(size);
    expect(exportedSeqs(sink)).toEqual(Array.from({ length: size }, (_, i) => i));
    const status = await exportStatus(env.deps, person('aud@acme.test', 'auditor'), 'mem');
    expect(status).toMatchObject({ behind: 0, exported_through: size, last_error: null });

    // Each manifest: object hashes, leaf hashes recomputed from the exported bytes, a signed checkpoint.
    const manifests = [...sink.objects.entries()].filter(([k]) => k.includes('/manifests/'));
    expect(manifests.length).toBeGreaterThan(1);
    for (const [, body] of manifests) {
      const m = JSON.parse(body.toString('utf8')) as { objects: { key: string; sha256: string }[]; leaf_hashes: string[]; first_seq: number; checkpoint: string; tree_size: number };
      for (const o of m.objects) expect(createHash('sha256').update(sink.objects.get(o.key) ?? '').digest('hex')).toBe(o.sha256);
      const lines = m.objects
        .flatMap((o) => (sink.objects.get(o.key) ?? Buffer.alloc(0)).toString('utf8').trim().split('\n'))
        .map((l) => JSON.parse(l) as { seq: number; data: string })
        .sort((a, b) => a.seq - b.seq);
      expect(lines.map((l) => leafHash(l.data).toString('base64'))).toEqual(m.leaf_hashes);
      expect(openCheckpoint(m.checkpoint, env.signer.note).size).toBe(m.tree_size);
    }
    expect(c.txs.length).toBeGreaterThan(0);
  });

  it('picks up new entries on the next round, and a re-run writes nothing twice', async (ctx) => {
    if (skip) return ctx.skip();
    const org = await env.deps.store.getOrg(ORG);
    if (org === undefined) throw new Error('no org');
    const sink = new MemorySink();
    await exportOrg(env.deps, sink, org, { sinkName: 'mem2' });
    const before = sink.objects.size;
    env.clock.set('2026-03-20T10:00:00Z');
    await recordTransactions(env.deps, c.org.admin, [tx({ external_id: 'after_export', timestamp: '2026-03-20T09:00:00Z' })], 'atomic');
    const r = await exportOrg(env.deps, sink, org, { sinkName: 'mem2' });
    expect(r.segments).toBe(1);
    expect(sink.objects.size).toBe(before + 2); // one transaction object, one manifest
    const again = await exportOrg(env.deps, sink, org, { sinkName: 'mem2' });
    expect(again.segments).toBe(0);
    const size = (await env.deps.store.latestCheckpoint(ORG))?.tree_size ?? 0;
    expect(exportedSeqs(sink)).toEqual(Array.from({ length: size }, (_, i) => i));
  });
});
