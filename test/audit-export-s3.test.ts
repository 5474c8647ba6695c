import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportOrg, exportStatus } from '../src/app/audit-export.ts';
import type { BlobSink } from '../src/app/ports/blob-sink.ts';
import { s3Sink } from '../src/adapters/sinks/s3-sink.ts';
import type { TestEnv } from './support/engines.ts';
import { openTestEnv } from './support/engines.ts';
import { person, seedOrg, tx } from './support/fixtures.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { purgeBucket, s3Available } from './support/s3.ts';
import type { S3Env } from './support/s3.ts';

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Fails the n-th put, as an exporter killed in the middle of a segment would stop. */
const failingAt = (inner: BlobSink, n: number): BlobSink => {
  let puts = 0;
  return {
    put: (key, body, type) => (++puts === n ? Promise.reject(new Error('exporter killed')) : inner.put(key, body, type)),
    get: (k) => inner.get(k),
    list: (p) => inner.list(p),
    check: () => inner.check(),
  };
};

describe('audit export into S3 with Object Lock (Ceph RGW)', () => {
  let s3: S3Env | null = null;
  let env: TestEnv;
  const bucket = `export-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  beforeAll(async () => {
    s3 = await s3Available();
    if (s3 === null) return;
    env = await openTestEnv('pglite');
  }, 120_000);
  afterAll(async () => {
    if (s3 === null) return;
    await env.close();
    await purgeBucket(s3, bucket);
  });

  it('survives an outage and a failure mid-segment, and ends with every entry (and every per-record object) in exactly one locked object version', async (ctx) => {
    if (s3 === null) return ctx.skip();
    const creds = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
    const sinkAt = (endpoint: string): BlobSink =>
      s3Sink({ bucket, endpoint, region: s3?.region ?? 'us-east-1', forcePathStyle: true, credentials: creds, mode: 'COMPLIANCE', retentionDays: 1, createBucket: true });
    const org = await seedOrg(env.deps);
    env.clock.set('2026-03-12T12:00:00Z');
    for (let b = 0; b < 3; b++) {
      await recordTransactions(env.deps, org.admin, Array.from({ length: 4 }, (_, i) => tx({ external_id: `s3_${b}_${i}`, timestamp: '2026-03-12T10:00:00Z' })), 'atomic');
    }
    const orgRow = await env.deps.store.getOrg('acme');
    if (orgRow === undefined) throw new Error('no org');
    const name = `s3://${bucket}/`;
    const auditor = person('aud@acme.test', 'auditor');

    // S3 down: nothing moves, the error is visible, nothing is lost.
    const down = sinkAt(`http://127.0.0.1:${await closedPort()}`);
    await expect(exportOrg(env.deps, down, orgRow, { sinkName: name, maxEntries: 8, records: true })).rejects.toThrow();
    const stuck = await exportStatus(env.deps, auditor, name);
    expect(stuck.exported_through).toBe(0);
    expect(stuck.failed_attempts).toBe(1);
    expect(stuck.last_error).not.toBeNull();

    // Back up, but the exporter dies on the third put of a segment; then it runs again.
    const up = sinkAt(s3.endpoint);
    await up.check();
    await expect(exportOrg(env.deps, failingAt(up, 3), orgRow, { sinkName: name, maxEntries: 8, records: true })).rejects.toThrow('exporter killed');
    const done = await exportOrg(env.deps, up, orgRow, { sinkName: name, maxEntries: 8, records: true });
    const size = (await env.deps.store.latestCheckpoint('acme'))?.tree_size ?? 0;
    expect(done.next_seq).toBe(size);
    expect((await exportStatus(env.deps, auditor, name)).behind).toBe(0);

    // Every entry exactly once across the NDJSON objects, each object one version only.
    const raw = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: creds });
    const versions = await raw.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'audit/' }));
    const keys = (versions.Versions ?? []).map((v) => v.Key ?? '');
    expect(new Set(keys).size).toBe(keys.length);
    const seqs: number[] = [];
    for (const key of keys.filter((k) => k.endsWith('.ndjson'))) {
      const body = await up.get(key);
      for (const line of (body ?? Buffer.alloc(0)).toString('utf8').trim().split('\n')) seqs.push((JSON.parse(line) as { seq: number }).seq);
    }
    expect(seqs.sort((a, b) => a - b)).toEqual(Array.from({ length: size }, (_, i) => i));
    expect(keys.filter((k) => k.includes('/manifests/')).length).toBeGreaterThan(1);
    // Per-record mode: one object per transaction, each also a single version.
    expect(keys.filter((k) => /^audit\/acme\/agent-txns\/2026-03-12\/[0-9a-f-]+\.json$/.test(k))).toHaveLength(12);
    raw.destroy();
  }, 60_000);
});
