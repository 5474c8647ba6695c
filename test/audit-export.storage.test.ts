import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportOrg, exportStatus } from '../src/app/audit-export.ts';
import type { BlobSink, PutResult } from '../src/app/ports/blob-sink.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { SpendtrailError } from '../src/domain/errors.ts';
import { leafHash } from '../src/domain/merkle/tree-hash.ts';
import { verifyInclusion } from '../src/domain/merkle/proofs.ts';
import { openCheckpoint } from '../src/domain/checkpoint/checkpoint.ts';
import { parseVerifierKey } from '../src/domain/checkpoint/note-key.ts';
import type { OrgRow } from '../src/app/ports/store.ts';
import { ENGINES, postgresAvailable } from './support/engines.ts';
import type { EngineName, TestEnv } from './support/engines.ts';
import type { Corpus } from './support/tamper-corpus.ts';
import { ORG, openSerializedEnv, seedCorpus } from './support/tamper-corpus.ts';
import { person, seedOrg, tx } from './support/fixtures.ts';

/**
 * A write-once store that keeps every put, as the port's contract says: the same bytes again
 * are recognised, different bytes under a key are refused. `failAt` makes the n-th put fail,
 * as a crash or an outage in the middle of a segment would.
 */
class MemorySink implements BlobSink {
  readonly objects = new Map<string, Buffer>();
  /** Keys in the order they were first written. */
  readonly order: string[] = [];
  puts = 0;
  failAt: number | null = null;
  /** Fails the put of a manifest after storing it: a crash between the last put and saving progress. */
  crashAfterManifest = false;

  put(key: string, body: Buffer): Promise<PutResult> {
    this.puts += 1;
    if (this.failAt !== null && this.puts >= this.failAt) return Promise.reject(new Error('connection reset by the sink'));
    const sha256 = createHash('sha256').update(body).digest('hex');
    const had = this.objects.get(key);
    if (had !== undefined && !had.equals(body)) return Promise.reject(new SpendtrailError('EXPORT_CONFLICT', `${key} exists with other bytes`, { field: 'key' }));
    if (had === undefined) this.order.push(key);
    this.objects.set(key, body);
    if (this.crashAfterManifest && key.includes('/manifests/')) return Promise.reject(new Error('exporter killed after the manifest'));
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
    .filter(([k]) => k.endsWith('.ndjson') && !k.includes('/rail_payload_bodies/'))
    .flatMap(([, b]) => b.toString('utf8').trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq))
    .sort((a, b) => a - b);
}

interface RecordObject {
  format: string;
  org_id: string;
  seq: number;
  kind: string;
  entity_id: string;
  recorded_at: string;
  leaf_hash: string;
  data: string;
  tree_size: number;
  checkpoint: string;
  audit_path: string[];
}

interface Manifest {
  first_seq: number;
  tree_size: number;
  objects: { key: string; sha256: string }[];
  records?: { key: string; sha256: string }[];
}

const manifestsOf = (sink: MemorySink): [string, Manifest][] =>
  [...sink.objects.entries()].filter(([k]) => k.includes('/manifests/')).map(([k, b]) => [k, JSON.parse(b.toString('utf8')) as Manifest]);

const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/**
 * Checks every per-record object the way someone holding one object and the organisation's
 * verifier key would: the signature on the checkpoint, the leaf hash recomputed from `data`,
 * the audit path up to the signed root, and the key it is stored under. Returns the tx ids.
 */
function checkRecords(sink: MemorySink, org: OrgRow): string[] {
  const verifier = parseVerifierKey(org.verifier_key);
  const ids: string[] = [];
  for (const [key, body] of sink.objects) {
    if (!key.includes('/agent-txns/')) continue;
    const r = JSON.parse(body.toString('utf8')) as RecordObject;
    const cp = openCheckpoint(r.checkpoint, verifier);
    expect(cp.size).toBe(r.tree_size);
    expect(r.kind).toBe('transaction');
    const leaf = leafHash(r.data);
    expect(leaf.toString('base64')).toBe(r.leaf_hash);
    const proof = r.audit_path.map((h) => Buffer.from(h, 'base64'));
    expect(verifyInclusion(leaf, r.seq, r.tree_size, proof, cp.root), `proof of ${r.seq} in ${r.tree_size}`).toBe(true);
    expect(key).toBe(`audit/${org.org_id}/agent-txns/${new Date(r.recorded_at).toISOString().slice(0, 10)}/${r.entity_id}.json`);
    ids.push(r.entity_id);
  }
  return ids.sort();
}

/** Transaction ids in the NDJSON objects. */
const exportedTxIds = (sink: MemorySink): string[] =>
  [...sink.objects.entries()]
    .filter(([k]) => k.includes('/transaction/') && k.endsWith('.ndjson'))
    .flatMap(([, b]) => b.toString('utf8').trim().split('\n').map((l) => (JSON.parse(l) as { entity_id: string }).entity_id))
    .sort();

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

  it("writes each rail's native record beside the entries that log its hash, listed in the manifest", async (ctx) => {
    if (skip) return ctx.skip();
    const org = await env.deps.store.getOrg(ORG);
    if (org === undefined) throw new Error('no org');
    const sink = new MemorySink();
    await exportOrg(env.deps, sink, org, { sinkName: 'mem-rail' });
    const bodyKeys = [...sink.objects.keys()].filter((k) => k.includes('/rail_payload_bodies/'));
    expect(bodyKeys.length).toBeGreaterThan(0);
    const logged = new Map(
      [...sink.objects.entries()]
        .filter(([k]) => k.includes('/rail_payload/'))
        .flatMap(([, b]) => b.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; data: string }))
        .map((l) => [l.seq, (JSON.parse(l.data) as { body: { payload_sha256: string } }).body.payload_sha256]),
    );
    const lines = bodyKeys.flatMap((k) => (sink.objects.get(k) as Buffer).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; payload_sha256: string; body: string }));
    expect(lines.map((l) => l.seq).sort((a, b) => a - b)).toEqual([...logged.keys()].sort((a, b) => a - b));
    for (const l of lines) {
      expect(`sha256:${createHash('sha256').update(Buffer.from(l.body, 'base64')).digest('hex')}`).toBe(l.payload_sha256);
      expect(logged.get(l.seq)).toBe(l.payload_sha256);
    }
    for (const k of bodyKeys) {
      const manifest = [...sink.objects.entries()].find(([mk, b]) => mk.includes('/manifests/') && b.toString('utf8').includes(k));
      const listed = (JSON.parse((manifest?.[1] ?? Buffer.from('{}')).toString('utf8')) as { rail_payloads?: { key: string; sha256: string } }).rail_payloads;
      expect(listed?.sha256).toBe(createHash('sha256').update(sink.objects.get(k) as Buffer).digest('hex'));
    }
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
  it('per-record mode: each transaction is an object that verifies alone against its signed checkpoint, written before the manifest that lists it, and a re-run writes the same bytes', async (ctx) => {
    if (skip) return ctx.skip();
    const org = await env.deps.store.getOrg(ORG);
    if (org === undefined) throw new Error('no org');
    const sink = new MemorySink();
    // Segments of at most 7 entries start at offsets like 7, 12, 19: the proofs need the frontier before them.
    sink.failAt = 9;
    await expect(exportOrg(env.deps, sink, org, { sinkName: 'rec', maxEntries: 7, records: true })).rejects.toThrow(/connection reset/);
    sink.failAt = null;
    await exportOrg(env.deps, sink, org, { sinkName: 'rec', maxEntries: 7, records: true });

    const manifests = manifestsOf(sink);
    expect(manifests.some(([, m]) => m.first_seq > 0 && !isPowerOfTwo(m.first_seq) && (m.records?.length ?? 0) > 0)).toBe(true);
    const listed: string[] = [];
    for (const [key, m] of manifests) {
      expect(m.records).toBeDefined();
      for (const r of m.records ?? []) {
        const body = sink.objects.get(r.key);
        expect(body).toBeDefined();
        expect(createHash('sha256').update(body ?? '').digest('hex')).toBe(r.sha256);
        expect(sink.order.indexOf(r.key)).toBeLessThan(sink.order.indexOf(key));
        listed.push(r.key);
      }
    }
    const ids = checkRecords(sink, org);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids).toEqual(exportedTxIds(sink));
    expect(listed.sort()).toEqual([...sink.objects.keys()].filter((k) => k.includes('/agent-txns/')).sort());

    // A second exporter from scratch into the same write-once store: every put meets identical bytes.
    const before = sink.objects.size;
    const again = await exportOrg(env.deps, sink, org, { sinkName: 'rec-again', maxEntries: 7, records: true });
    expect(again.segments).toBe(manifests.length);
    expect(sink.objects.size).toBe(before);
  });

  it('a segment whose manifest was written before a crash stands when the exporter restarts with per-record mode switched on', async (ctx) => {
    if (skip) return ctx.skip();
    const org = await env.deps.store.getOrg(ORG);
    if (org === undefined) throw new Error('no org');
    const sink = new MemorySink();
    sink.crashAfterManifest = true;
    await expect(exportOrg(env.deps, sink, org, { sinkName: 'switch', maxEntries: 10 })).rejects.toThrow(/killed after the manifest/);
    const [first] = manifestsOf(sink);
    expect(first?.[1].records).toBeUndefined();
    sink.crashAfterManifest = false;
    const done = await exportOrg(env.deps, sink, org, { sinkName: 'switch', maxEntries: 10, records: true });
    expect(done.next_seq).toBe(done.tree_size);
    // The first segment kept its manifest without records; every later one lists its records.
    const manifests = manifestsOf(sink).sort(([, a], [, b]) => a.first_seq - b.first_seq);
    expect(manifests[0]?.[1].records).toBeUndefined();
    expect(manifests.slice(1).every(([, m]) => m.records !== undefined)).toBe(true);
    expect(exportedSeqs(sink)).toEqual(Array.from({ length: done.tree_size }, (_, i) => i));
    const status = await exportStatus(env.deps, person('aud@acme.test', 'auditor'), 'switch');
    expect(status.objects_written).toBe(sink.objects.size);
  });

  it('per-record proofs after hundreds of entries come from stored tiles and still verify', async (ctx) => {
    if (skip) return ctx.skip();
    const big = await seedOrg(env.deps, 'bigco');
    env.clock.set('2026-03-21T10:00:00Z');
    for (let b = 0; b < 9; b++) {
      await recordTransactions(env.deps, big.admin, Array.from({ length: 70 }, () => tx({ timestamp: '2026-03-21T09:00:00Z' })), 'atomic');
    }
    const org = await env.deps.store.getOrg('bigco');
    if (org === undefined) throw new Error('no org');
    const sink = new MemorySink();
    const r = await exportOrg(env.deps, sink, org, { sinkName: 'big', maxEntries: 100, records: true });
    expect(r.tree_size).toBeGreaterThan(600);
    // Segments start past 256 (a stored tile) at offsets that are not powers of two.
    expect(manifestsOf(sink).some(([, m]) => m.first_seq > 512 && !isPowerOfTwo(m.first_seq))).toBe(true);
    const ids = checkRecords(sink, org);
    expect(ids).toHaveLength(630);
    expect(ids).toEqual(exportedTxIds(sink));
  });
});
