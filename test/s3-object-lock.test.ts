import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobSink } from '../src/app/ports/blob-sink.ts';
import { s3Sink } from '../src/adapters/sinks/s3-sink.ts';
import type { S3Sink, S3SinkOptions } from '../src/adapters/sinks/s3-sink.ts';
import { SpendtrailError } from '../src/domain/errors.ts';
import { exportSinkFrom } from '../src/interfaces/runtime.ts';
import { purgeBucket, s3Available } from './support/s3.ts';
import type { S3Env } from './support/s3.ts';

const NDJSON = 'application/x-ndjson';
const DAY_MS = 86_400_000;
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

async function sinkError(p: Promise<unknown>): Promise<SpendtrailError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SpendtrailError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

/** HTTP status and S3 error code of a raw SDK call that must fail (RGW bodies often lack a message). */
async function s3Error(p: Promise<unknown>): Promise<{ status: number | undefined; code: string | undefined }> {
  try {
    await p;
  } catch (e) {
    const x = e as { $metadata?: { httpStatusCode?: number }; Code?: string; name?: string };
    return { status: x.$metadata?.httpStatusCode, code: x.Code ?? x.name };
  }
  throw new Error('expected the S3 call to be refused');
}

/** A TCP port nobody listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe('S3 sink options', () => {
  it.each([0, 0.5, -1, Number.NaN])('refuses a retention of %s days at construction', (days) => {
    try {
      s3Sink({ bucket: 'b', mode: 'COMPLIANCE', retentionDays: days });
      expect.unreachable();
    } catch (e) {
      expect((e as SpendtrailError).code).toBe('VALIDATION_FAILED');
      expect((e as SpendtrailError).field).toBe('retentionDays');
    }
  });

  /** The SpendtrailError a synchronous call throws; fails the test when it does not throw one. */
  const thrown = (fn: () => unknown): SpendtrailError => {
    try {
      fn();
    } catch (e) {
      if (e instanceof SpendtrailError) return e;
      throw e;
    }
    throw new Error('expected the call to be refused');
  };

  it('refuses a retention shorter than the configured minimum with RETENTION_TOO_SHORT, and accepts one that meets it', () => {
    const e = thrown(() => s3Sink({ bucket: 'b', mode: 'COMPLIANCE', retentionDays: 365, minRetentionDays: 2557 }));
    expect(e.code).toBe('RETENTION_TOO_SHORT');
    expect(e.field).toBe('retentionDays');
    expect(e.details).toEqual({ retention_days: 365, min_retention_days: 2557 });
    expect(() => s3Sink({ bucket: 'b', mode: 'COMPLIANCE', retentionDays: 2557, minRetentionDays: 2557 })).not.toThrow();
    const bad = thrown(() => s3Sink({ bucket: 'b', mode: 'COMPLIANCE', retentionDays: 1, minRetentionDays: 0 }));
    expect([bad.code, bad.field]).toEqual(['VALIDATION_FAILED', 'minRetentionDays']);
  });

  it('at start, SPENDTRAIL_EXPORT_RETENTION below SPENDTRAIL_EXPORT_MIN_RETENTION is refused naming the variable', () => {
    const start = (over: Record<string, string>) => () => exportSinkFrom({ SPENDTRAIL_EXPORT_S3_BUCKET: 'audit', ...over }, '/nowhere', false);
    const e = thrown(start({ SPENDTRAIL_EXPORT_RETENTION: '1y', SPENDTRAIL_EXPORT_MIN_RETENTION: '7y' }));
    expect([e.code, e.field]).toEqual(['RETENTION_TOO_SHORT', 'SPENDTRAIL_EXPORT_RETENTION']);
    expect(e.message).toMatch(/^SPENDTRAIL_EXPORT_RETENTION: .*366 days.*2557 days/);
    // The default retention (7y) is compared too; the two syntaxes agree on what 7 years is.
    expect(thrown(start({ SPENDTRAIL_EXPORT_MIN_RETENTION: '2558d' })).code).toBe('RETENTION_TOO_SHORT');
    expect(start({ SPENDTRAIL_EXPORT_MIN_RETENTION: '2557d' })).not.toThrow();
    expect(start({ SPENDTRAIL_EXPORT_RETENTION: '2557d', SPENDTRAIL_EXPORT_MIN_RETENTION: '7y' })).not.toThrow();
    const typo = thrown(start({ SPENDTRAIL_EXPORT_MIN_RETENTION: 'seven years' }));
    expect([typo.code, typo.field]).toEqual(['VALIDATION_FAILED', 'SPENDTRAIL_EXPORT_MIN_RETENTION']);
  });

  it('per-record mode is off unless SPENDTRAIL_EXPORT_RECORDS=true', () => {
    expect(exportSinkFrom({}, '/nowhere', false).records).toBe(false);
    expect(exportSinkFrom({ SPENDTRAIL_EXPORT_RECORDS: 'true' }, '/nowhere', false).records).toBe(true);
    expect(exportSinkFrom({ SPENDTRAIL_EXPORT_RECORDS: 'true', SPENDTRAIL_EXPORT_S3_BUCKET: 'audit' }, '/nowhere', false).records).toBe(true);
  });
});

describe('S3 sink with Object Lock (Ceph RGW)', () => {
  let env: S3Env | null = null;
  let raw: S3Client;
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const buckets: string[] = [];
  let n = 0;
  /** A bucket name unique to this run, purged afterwards. */
  const bucketName = (what: string): string => {
    const b = `st-${runId}-${what}-${++n}`;
    buckets.push(b);
    return b;
  };
  const sinkFor = (over: Partial<S3SinkOptions> & { bucket: string }): S3Sink => {
    if (env === null) throw new Error('no S3');
    return s3Sink({
      endpoint: env.endpoint,
      region: env.region,
      forcePathStyle: true,
      credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
      mode: 'COMPLIANCE',
      retentionDays: 1,
      createBucket: true,
      ...over,
    });
  };
  const versionsOf = async (bucket: string, key: string): Promise<string[]> => {
    const r = await raw.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
    return (r.Versions ?? []).filter((v) => v.Key === key).map((v) => v.VersionId ?? '');
  };

  beforeAll(async () => {
    env = await s3Available();
    if (env === null) return;
    raw = new S3Client({
      endpoint: env.endpoint,
      region: env.region,
      forcePathStyle: true,
      credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  });
  afterAll(async () => {
    const e = env;
    if (e === null) return;
    raw.destroy();
    await Promise.all(buckets.map((b) => purgeBucket(e, b)));
  });

  it('check() creates a missing bucket with Object Lock (and versioning) on', async (ctx) => {
    if (env === null) return ctx.skip();
    const bucket = bucketName('create');
    const status = await sinkFor({ bucket, prefix: 'exports' }).check();
    expect(status).toEqual({ kind: 's3', location: `s3://${bucket}/exports/ at ${env.endpoint}`, object_lock: { enabled: true, mode: null, default_retention: null } });
    const lock = await raw.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
    expect(lock.ObjectLockConfiguration?.ObjectLockEnabled).toBe('Enabled');
    expect((await raw.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status).toBe('Enabled');
    // A second check (another process, a restart) finds the bucket as it is.
    expect((await sinkFor({ bucket, prefix: 'exports' }).check()).object_lock?.enabled).toBe(true);
  });

  it('check() refuses a missing bucket when it may not create one', async (ctx) => {
    if (env === null) return ctx.skip();
    const e = await sinkError(sinkFor({ bucket: bucketName('absent'), createBucket: false }).check());
    expect(e.code).toBe('SINK_UNAVAILABLE');
    expect(e.message).toMatch(/does not exist/);
  });

  it('a bucket without Object Lock: OBJECT_LOCK_REQUIRED, unless explicitly allowed', async (ctx) => {
    if (env === null) return ctx.skip();
    const bucket = bucketName('nolock');
    await raw.send(new CreateBucketCommand({ Bucket: bucket }));
    const strict = sinkFor({ bucket });
    const e = await sinkError(strict.check());
    expect(e.code).toBe('OBJECT_LOCK_REQUIRED');
    expect(e.message).toMatch(/Object Lock/);
    // put() checks the bucket too: nothing is written unlocked by accident.
    expect((await sinkError(strict.put('a.ndjson', Buffer.from('x'), NDJSON))).code).toBe('OBJECT_LOCK_REQUIRED');
    expect(await versionsOf(bucket, 'a.ndjson')).toEqual([]);

    const lax = sinkFor({ bucket, requireObjectLock: false });
    expect((await lax.check()).object_lock).toEqual({ enabled: false, mode: null, default_retention: null });
    const r = await lax.put('a.ndjson', Buffer.from('x'), NDJSON);
    expect(r.existed).toBe(false);
    expect((await lax.get('a.ndjson'))?.toString()).toBe('x');
  });

  describe('COMPLIANCE objects', () => {
    let bucket: string;
    let sink: BlobSink;
    const key = 'audit/acme/ledger/2026/03/01/1-10.ndjson';
    const body = Buffer.from('{"seq":1}\n{"seq":2}\n');
    let versionId: string;
    let writtenAt: number;

    beforeAll(async () => {
      if (env === null) return;
      bucket = bucketName('compliance');
      sink = sinkFor({ bucket, prefix: 'exports', mode: 'COMPLIANCE', retentionDays: 3 });
      await sink.check();
      writtenAt = Date.now();
      const r = await sink.put(key, body, NDJSON);
      expect(r).toMatchObject({ key, sha256: sha(body), existed: false });
      expect(r.version_id).toEqual(expect.any(String));
      versionId = r.version_id!;
    });

    it('is written with COMPLIANCE retention until now + retentionDays, its SHA-256 and content type', async (ctx) => {
      if (env === null) return ctx.skip();
      const ret = await raw.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: `exports/${key}`, VersionId: versionId }));
      expect(ret.Retention?.Mode).toBe('COMPLIANCE');
      const until = ret.Retention?.RetainUntilDate?.getTime() ?? 0;
      expect(Math.abs(until - (writtenAt + 3 * DAY_MS))).toBeLessThan(60_000);
      const obj = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: `exports/${key}` }));
      expect(obj.Metadata?.sha256).toBe(sha(body));
      expect(obj.ContentType).toBe(NDJSON);
      expect(Buffer.from(await obj.Body!.transformToByteArray()).equals(body)).toBe(true);
      expect(await sink.list('audit/')).toEqual([key]);
      expect((await sink.get(key))?.equals(body)).toBe(true);
      expect(await sink.get('audit/none.ndjson')).toBeNull();
    });

    it('a re-put with the same bytes reports existed and adds no version', async (ctx) => {
      if (env === null) return ctx.skip();
      const again = await sink.put(key, Buffer.from(body), NDJSON);
      expect(again).toEqual({ key, version_id: versionId, sha256: sha(body), existed: true });
      expect(await versionsOf(bucket, `exports/${key}`)).toEqual([versionId]);
    });

    it('different bytes are refused with EXPORT_CONFLICT and the original stays', async (ctx) => {
      if (env === null) return ctx.skip();
      const e = await sinkError(sink.put(key, Buffer.from('{"seq":1}\n'), NDJSON));
      expect(e.code).toBe('EXPORT_CONFLICT');
      expect(e.field).toBe('key');
      expect(await versionsOf(bucket, `exports/${key}`)).toEqual([versionId]);
      expect((await sink.get(key))?.equals(body)).toBe(true);
    });

    it('deleting the version is refused (403 AccessDenied), even with the governance bypass', async (ctx) => {
      if (env === null) return ctx.skip();
      for (const bypass of [false, true]) {
        const e = await s3Error(raw.send(new DeleteObjectCommand({ Bucket: bucket, Key: `exports/${key}`, VersionId: versionId, BypassGovernanceRetention: bypass })));
        expect(e).toEqual({ status: 403, code: 'AccessDenied' });
      }
      expect((await sink.get(key))?.equals(body)).toBe(true);
    });

    it('shortening the retention is refused', async (ctx) => {
      if (env === null) return ctx.skip();
      const e = await s3Error(raw.send(new PutObjectRetentionCommand({
        Bucket: bucket,
        Key: `exports/${key}`,
        VersionId: versionId,
        Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() + DAY_MS) },
      })));
      expect(e.status).toBe(403);
      expect(e.code).toBe('AccessDenied');
    });

    it('an overwrite with raw credentials only adds a version: the locked one stays readable', async (ctx) => {
      if (env === null) return ctx.skip();
      const other = `${key}.overwritten`;
      const first = await sink.put(other, Buffer.from('original\n'), NDJSON);
      const put = await raw.send(new PutObjectCommand({ Bucket: bucket, Key: `exports/${other}`, Body: Buffer.from('forged\n') }));
      expect(put.VersionId).not.toBe(first.version_id);
      expect((await versionsOf(bucket, `exports/${other}`)).sort()).toEqual([first.version_id, put.VersionId].sort());
      const old = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: `exports/${other}`, VersionId: first.version_id! }));
      expect(Buffer.from(await old.Body!.transformToByteArray()).toString()).toBe('original\n');
      // The sink compares with the latest version (no sha256 metadata there: it hashes the bytes).
      expect((await sinkError(sink.put(other, Buffer.from('original\n'), NDJSON))).code).toBe('EXPORT_CONFLICT');
      expect((await sink.put(other, Buffer.from('forged\n'), NDJSON)).existed).toBe(true);
    });

    it('racing writers of one key: exactly one wins (the oldest version), the others are told', async (ctx) => {
      if (env === null) return ctx.skip();
      const k = 'audit/acme/race.ndjson';
      const results = await Promise.allSettled(['a', 'b', 'c', 'd', 'a'].map((s) => sink.put(k, Buffer.from(s), NDJSON)));
      const written = results.flatMap((r) => (r.status === 'fulfilled' && !r.value.existed ? [r.value] : []));
      expect(written).toHaveLength(1);
      const winner = written[0]!;
      for (const r of results) {
        if (r.status === 'rejected') expect((r.reason as SpendtrailError).code).toBe('EXPORT_CONFLICT');
        else expect(r.value.sha256).toBe(winner.sha256);
      }
      // RGW 16 ignores If-None-Match, so losers may leave extra (locked) versions; the oldest is the winner's.
      const versions = await versionsOf(bucket, `exports/${k}`);
      expect(versions.at(-1)).toBe(winner.version_id);
      const oldest = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: `exports/${k}`, VersionId: winner.version_id! }));
      expect(sha(Buffer.from(await oldest.Body!.transformToByteArray()))).toBe(winner.sha256);
    });
  });

  it('check() reports a default retention rule on the bucket; objects still get the configured retention, even when the default is below the minimum', async (ctx) => {
    if (env === null) return ctx.skip();
    const bucket = bucketName('default');
    const sink = sinkFor({ bucket, mode: 'COMPLIANCE', retentionDays: 3, minRetentionDays: 2 });
    await sink.check();
    await raw.send(new PutObjectLockConfigurationCommand({
      Bucket: bucket,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } } },
    }));
    expect((await sink.check()).object_lock).toEqual({ enabled: true, mode: 'GOVERNANCE', default_retention: { days: 1 } });
    const writtenAt = Date.now();
    const r = await sink.put('audit/acme/default.ndjson', Buffer.from('x\n'), NDJSON);
    const ret = await raw.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: 'audit/acme/default.ndjson', VersionId: r.version_id! }));
    expect(ret.Retention?.Mode).toBe('COMPLIANCE');
    expect(Math.abs((ret.Retention?.RetainUntilDate?.getTime() ?? 0) - (writtenAt + 3 * DAY_MS))).toBeLessThan(60_000);
  });

  it('GOVERNANCE + legal hold: the hold blocks deletion even with BypassGovernanceRetention', async (ctx) => {
    if (env === null) return ctx.skip();
    const bucket = bucketName('hold');
    const sink = sinkFor({ bucket, mode: 'GOVERNANCE', retentionDays: 1, legalHold: true });
    const key = 'audit/acme/held.ndjson';
    const r = await sink.put(key, Buffer.from('held\n'), NDJSON);
    const hold = await raw.send(new GetObjectLegalHoldCommand({ Bucket: bucket, Key: key, VersionId: r.version_id! }));
    expect(hold.LegalHold?.Status).toBe('ON');
    const ret = await raw.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: key, VersionId: r.version_id! }));
    expect(ret.Retention?.Mode).toBe('GOVERNANCE');
    const e = await s3Error(raw.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: r.version_id!, BypassGovernanceRetention: true })));
    expect(e).toEqual({ status: 403, code: 'AccessDenied' });
    expect((await sink.get(key))?.toString()).toBe('held\n');
  });

  it('refused credentials are SINK_UNAVAILABLE "credentials refused", without the secret', async (ctx) => {
    if (env === null) return ctx.skip();
    const bucket = bucketName('creds');
    await sinkFor({ bucket }).check();
    const secret = 'wrongSecretKey000000000000000000000000000';
    for (const credentials of [
      { accessKeyId: env.accessKeyId, secretAccessKey: secret },
      { accessKeyId: 'NOSUCHACCESSKEY00000', secretAccessKey: secret },
    ]) {
      const sink = sinkFor({ bucket, credentials });
      for (const p of [sink.check(), sink.put('x.ndjson', Buffer.from('x'), NDJSON)]) {
        const e = await sinkError(p);
        expect(e.code).toBe('SINK_UNAVAILABLE');
        expect(e.message).toMatch(/credentials refused/);
        expect(JSON.stringify(e.toJSON())).not.toContain(secret);
      }
    }
  });

  it('an unreachable endpoint is SINK_UNAVAILABLE within a bounded time', async (ctx) => {
    if (env === null) return ctx.skip();
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const sink = sinkFor({ bucket: 'unreachable', endpoint });
    const t0 = Date.now();
    const e = await sinkError(sink.check());
    expect(e.code).toBe('SINK_UNAVAILABLE');
    expect(e.message).toMatch(/unreachable/);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect((await sinkError(sink.put('x.ndjson', Buffer.from('x'), NDJSON))).code).toBe('SINK_UNAVAILABLE');
  });
});
