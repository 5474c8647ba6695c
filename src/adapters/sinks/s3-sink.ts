import { createHash } from 'node:crypto';
import {
  CreateBucketCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { BucketLocationConstraint, PutObjectCommandInput } from '@aws-sdk/client-s3';
import type { BlobSink, PutResult, SinkStatus } from '../../app/ports/blob-sink.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import { assertSafeKey, sha256Hex } from './filesystem-sink.ts';

export type ObjectLockMode = 'GOVERNANCE' | 'COMPLIANCE';

export interface S3SinkOptions {
  readonly bucket: string;
  /** Key prefix inside the bucket (no leading or trailing "/" needed). */
  readonly prefix?: string;
  /** For S3-compatible stores (Ceph RGW, MinIO); AWS when absent. */
  readonly endpoint?: string;
  readonly region?: string;
  /** Path-style URLs (`endpoint/bucket/key`); needed by most S3-compatible stores. */
  readonly forcePathStyle?: boolean;
  /** Static credentials; when absent, the AWS SDK's default chain (env, profile, SSO, IMDS...). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  /** Object Lock retention mode written on every object. */
  readonly mode: ObjectLockMode;
  /** Retention per object from the time of writing, in days (at least 1). */
  readonly retentionDays: number;
  /**
   * The shortest retention the organisation's records policy allows, in days: a sink configured
   * with less is refused at creation (RETENTION_TOO_SHORT), before anything is written for a
   * shorter time than policy requires.
   */
  readonly minRetentionDays?: number;
  /** Also put a legal hold on every object (stays until someone with permission releases it). */
  readonly legalHold?: boolean;
  /** Refuse a bucket without Object Lock (default true). When false, objects are written unlocked there. */
  readonly requireObjectLock?: boolean;
  /** check() creates the bucket, with Object Lock, when it does not exist. */
  readonly createBucket?: boolean;
  readonly now?: () => Date;
}

const DAY_MS = 86_400_000;
/** Metadata key holding the SHA-256 of the bytes (sent as `x-amz-meta-sha256`). */
const SHA_META = 'sha256';

/** A bucket's default Object Lock retention period, as configured (S3 takes days or years). */
export type DefaultRetention = { readonly days: number } | { readonly years: number };

interface LockState {
  readonly enabled: boolean;
  /** The mode of the bucket's default retention rule, if it has one. */
  readonly mode: ObjectLockMode | null;
  /** The period of that rule. Informational: every object is written with its own retention. */
  readonly default_retention: DefaultRetention | null;
}

/** check() of an S3 sink also reports the bucket's default retention rule. */
export interface S3SinkStatus extends SinkStatus {
  readonly kind: 's3';
  readonly object_lock: LockState;
}

export interface S3Sink extends BlobSink {
  check(): Promise<S3SinkStatus>;
}

interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const statusOf = (e: unknown): number | undefined => (e as SdkError | null)?.$metadata?.httpStatusCode;
const nameOf = (e: unknown): string => {
  const x = e as SdkError | null;
  return String(x?.Code ?? x?.code ?? x?.name ?? 'Error');
};

const CREDENTIAL_ERRORS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'ExpiredToken', 'InvalidToken', 'Forbidden']);
const NETWORK_ERRORS = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE',
  'TimeoutError', 'RequestTimeout', 'AbortError',
]);

/**
 * Write-once objects in S3 with Object Lock: each object is written with a retention
 * (GOVERNANCE or COMPLIANCE, until now + retentionDays) and optionally a legal hold, so that
 * not even the writer's credentials can delete or shorten it (COMPLIANCE) within that time.
 * Idempotency and conflicts use the SHA-256 stored as object metadata.
 */
export function s3Sink(opts: S3SinkOptions): S3Sink {
  if (typeof opts.bucket !== 'string' || opts.bucket === '') {
    throw new SpendtrailError('VALIDATION_FAILED', 'an S3 bucket name is required', { field: 'bucket' });
  }
  if (opts.mode !== 'GOVERNANCE' && opts.mode !== 'COMPLIANCE') {
    throw new SpendtrailError('VALIDATION_FAILED', `Object Lock mode must be GOVERNANCE or COMPLIANCE, not ${String(opts.mode)}`, { field: 'mode' });
  }
  if (typeof opts.retentionDays !== 'number' || !Number.isFinite(opts.retentionDays) || opts.retentionDays < 1) {
    throw new SpendtrailError('VALIDATION_FAILED', `retention must be at least 1 day, got ${String(opts.retentionDays)}`, { field: 'retentionDays' });
  }
  const min = opts.minRetentionDays;
  if (min !== undefined) {
    if (typeof min !== 'number' || !Number.isFinite(min) || min < 1) {
      throw new SpendtrailError('VALIDATION_FAILED', `minimum retention must be at least 1 day, got ${String(min)}`, { field: 'minRetentionDays' });
    }
    if (opts.retentionDays < min) {
      throw new SpendtrailError('RETENTION_TOO_SHORT', `retention of ${opts.retentionDays} days is shorter than the configured minimum of ${min} days`, {
        field: 'retentionDays',
        details: { retention_days: opts.retentionDays, min_retention_days: min },
      });
    }
  }
  const base = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
  if (base !== '') assertSafeKey(base, { field: 'prefix' });
  const basePrefix = base === '' ? '' : `${base}/`;
  const bucket = opts.bucket;
  const region = opts.region ?? 'us-east-1';
  const now = opts.now ?? ((): Date => new Date());
  const requireLock = opts.requireObjectLock ?? true;

  const location = `s3://${bucket}/${basePrefix}${opts.endpoint === undefined ? '' : ` at ${endpointWithoutSecrets(opts.endpoint)}`}`;

  const client = new S3Client({
    region,
    ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
    ...(opts.forcePathStyle === undefined ? {} : { forcePathStyle: opts.forcePathStyle }),
    ...(opts.credentials === undefined ? {} : { credentials: { ...opts.credentials } }),
    // The SDK's default checksum mode sends stream bodies aws-chunked, which some S3-compatible
    // stores (Ceph RGW 16) refuse with 411; Object Lock puts carry Content-MD5 instead (below).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Bounded: an unreachable endpoint fails within seconds rather than hanging an export.
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
  });

  const fail = (e: unknown, what: string): never => {
    if (e instanceof SpendtrailError) throw e;
    const status = statusOf(e);
    const name = nameOf(e);
    if (status === 403 || CREDENTIAL_ERRORS.has(name)) {
      throw new SpendtrailError('SINK_UNAVAILABLE', `${location}: ${what} failed: credentials refused (HTTP ${status ?? '-'} ${name})`, { cause: e, details: { status, code: name } });
    }
    if (name === 'CredentialsProviderError') {
      throw new SpendtrailError('SINK_UNAVAILABLE', `${location}: ${what} failed: no S3 credentials found (set them or configure the AWS credential chain)`, { cause: e });
    }
    if (status === undefined || NETWORK_ERRORS.has(name)) {
      const detail = (e as SdkError | null)?.message ?? name;
      throw new SpendtrailError('SINK_UNAVAILABLE', `${location}: ${what} failed: endpoint unreachable (${detail})`, { cause: e, details: { code: name } });
    }
    throw new SpendtrailError('SINK_UNAVAILABLE', `${location}: ${what} failed: HTTP ${status} ${name}`, { cause: e, details: { status, code: name } });
  };

  const fullKey = (key: string): string => `${basePrefix}${key}`;

  /** The object's stored SHA-256 (from metadata, or hashed from its bytes), or null when absent. */
  const currentSha = async (key: string, versionId?: string): Promise<{ sha256: string; version_id: string | null } | null> => {
    let head;
    try {
      head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: fullKey(key), ...(versionId === undefined ? {} : { VersionId: versionId }) }));
    } catch (e) {
      if (statusOf(e) === 404) return null;
      return fail(e, `HEAD ${key}`);
    }
    const stored = head.Metadata?.[SHA_META];
    if (stored !== undefined && /^[0-9a-f]{64}$/.test(stored)) return { sha256: stored, version_id: head.VersionId ?? null };
    // Written by something else: hash the bytes of that same version.
    const bytes = await getBytes(key, head.VersionId);
    return bytes === null ? null : { sha256: sha256Hex(bytes), version_id: head.VersionId ?? null };
  };

  const getBytes = async (key: string, versionId?: string): Promise<Buffer | null> => {
    try {
      const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: fullKey(key), ...(versionId === undefined ? {} : { VersionId: versionId }) }));
      if (r.Body === undefined) return Buffer.alloc(0);
      return Buffer.from(await r.Body.transformToByteArray());
    } catch (e) {
      if (statusOf(e) === 404) return null;
      return fail(e, `GET ${key}`);
    }
  };

  /** The oldest version of a key (ListObjectVersions lists each key's versions newest first). */
  const oldestVersion = async (key: string): Promise<string | undefined> => {
    const k = fullKey(key);
    let oldest: string | undefined;
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (;;) {
      let r;
      try {
        r = await client.send(new ListObjectVersionsCommand({
          Bucket: bucket,
          Prefix: k,
          ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
          ...(versionMarker === undefined ? {} : { VersionIdMarker: versionMarker }),
        }));
      } catch (e) {
        return fail(e, `listing versions of ${key}`);
      }
      for (const v of r.Versions ?? []) if (v.Key === k && v.VersionId !== undefined) oldest = v.VersionId;
      if (r.IsTruncated !== true || r.NextKeyMarker !== k) return oldest;
      keyMarker = r.NextKeyMarker;
      versionMarker = r.NextVersionIdMarker;
    }
  };

  const settle = (key: string, sha256: string, found: { sha256: string; version_id: string | null }): PutResult => {
    if (found.sha256 === sha256) return { key, version_id: found.version_id, sha256, existed: true };
    throw new SpendtrailError('EXPORT_CONFLICT', `object ${key} already exists in ${location} with different content`, {
      field: 'key',
      details: { key, existing_sha256: found.sha256, sha256 },
    });
  };

  const inspect = async (): Promise<LockState> => {
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch (e) {
      if (statusOf(e) !== 404) return fail(e, 'checking the bucket');
      if (opts.createBucket !== true) {
        throw new SpendtrailError('SINK_UNAVAILABLE', `${location}: bucket ${bucket} does not exist (create it with Object Lock enabled)`, { cause: e });
      }
      try {
        await client.send(new CreateBucketCommand({
          Bucket: bucket,
          ObjectLockEnabledForBucket: true,
          ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
        }));
      } catch (ce) {
        // Another process created it first: fine, its Object Lock state is checked below.
        if (!['BucketAlreadyOwnedByYou'].includes(nameOf(ce))) return fail(ce, `creating bucket ${bucket}`);
      }
    }
    let lock: LockState;
    try {
      const r = await client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
      const cfg = r.ObjectLockConfiguration;
      const rule = cfg?.Rule?.DefaultRetention;
      const mode = rule?.Mode;
      const period: DefaultRetention | null =
        rule?.Days !== undefined ? { days: rule.Days } : rule?.Years !== undefined ? { years: rule.Years } : null;
      // Reported only: every put carries its own mode and retain-until date, which take the
      // place of the bucket's default for that object, so a default shorter (or longer) than
      // the configured retention changes nothing about what this sink writes.
      lock = { enabled: cfg?.ObjectLockEnabled === 'Enabled', mode: mode === 'GOVERNANCE' || mode === 'COMPLIANCE' ? mode : null, default_retention: period };
    } catch (e) {
      // AWS: 404 ObjectLockConfigurationNotFoundError for a bucket without Object Lock.
      if (statusOf(e) !== 404) return fail(e, 'reading the Object Lock configuration');
      lock = { enabled: false, mode: null, default_retention: null };
    }
    if (!lock.enabled && requireLock) {
      throw new SpendtrailError(
        'OBJECT_LOCK_REQUIRED',
        `${location}: bucket ${bucket} does not have S3 Object Lock enabled, so exported objects could be deleted or overwritten. ` +
          'Use a bucket created with Object Lock (or enable it on the versioned bucket where the store allows), or explicitly allow an unlocked bucket (requireObjectLock: false).',
        { field: 'bucket', details: { bucket } },
      );
    }
    return lock;
  };

  let checked: Promise<LockState> | undefined;
  /** The bucket's lock state, looked up once (a failed look-up is retried next time). */
  const lockState = (): Promise<LockState> => {
    checked ??= inspect().catch((e: unknown) => {
      checked = undefined;
      throw e;
    });
    return checked;
  };

  return {
    async put(key, body, contentType) {
      assertSafeKey(key);
      const sha256 = sha256Hex(body);
      const lock = await lockState();
      const found = await currentSha(key);
      if (found !== null) return settle(key, sha256, found);

      const input: PutObjectCommandInput = {
        Bucket: bucket,
        Key: fullKey(key),
        Body: body, // a Buffer, never a stream: see requestChecksumCalculation above
        ContentType: contentType,
        ContentLength: body.length,
        // Object Lock puts must carry Content-MD5 (or an x-amz-checksum) on AWS.
        ContentMD5: createHash('md5').update(body).digest('base64'),
        Metadata: { [SHA_META]: sha256 },
        // Closes the race between HEAD and PUT where the store supports conditional writes.
        IfNoneMatch: '*',
      };
      if (lock.enabled) {
        input.ObjectLockMode = opts.mode;
        input.ObjectLockRetainUntilDate = new Date(now().getTime() + opts.retentionDays * DAY_MS);
        if (opts.legalHold === true) input.ObjectLockLegalHoldStatus = 'ON';
      }
      let written;
      try {
        written = await client.send(new PutObjectCommand(input));
      } catch (e) {
        if (statusOf(e) === 412 || statusOf(e) === 409) { // 409: AWS ConditionalRequestConflict (a concurrent conditional write)
          const raced = await currentSha(key);
          if (raced !== null) return settle(key, sha256, raced);
        }
        return fail(e, `PUT ${key}`);
      }
      const mine = written.VersionId;
      if (mine !== undefined && mine !== 'null') {
        // Some stores (Ceph RGW 16) ignore If-None-Match, so a writer racing us between HEAD and
        // PUT adds a second version instead of failing. The oldest version is the one that stands:
        // if it is not ours, we were second (our extra version is locked and stays, but is reported).
        const first = await oldestVersion(key);
        if (first !== undefined && first !== mine) {
          const theirs = await currentSha(key, first);
          if (theirs !== null) {
            try {
              return settle(key, sha256, theirs);
            } catch (e) {
              if (e instanceof SpendtrailError) {
                throw new SpendtrailError(e.code, `${e.message} (a concurrent writer was first; this attempt left version ${mine})`, {
                  field: e.field,
                  details: { ...e.details, extra_version_id: mine },
                });
              }
              throw e;
            }
          }
        }
      }
      return { key, version_id: mine ?? null, sha256, existed: false };
    },

    async get(key) {
      assertSafeKey(key);
      return getBytes(key);
    },

    async list(prefix) {
      assertSafeKey(prefix, { prefix: true, field: 'prefix' });
      const keys: string[] = [];
      let token: string | undefined;
      do {
        let r;
        try {
          r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: fullKey(prefix), ...(token === undefined ? {} : { ContinuationToken: token }) }));
        } catch (e) {
          return fail(e, `LIST ${prefix}`);
        }
        for (const o of r.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key.slice(basePrefix.length));
        token = r.IsTruncated === true ? r.NextContinuationToken : undefined;
      } while (token !== undefined);
      return keys.sort();
    },

    async check(): Promise<S3SinkStatus> {
      checked = undefined; // an explicit check always asks the store again
      const lock = await lockState();
      return { kind: 's3', location, object_lock: { enabled: lock.enabled, mode: lock.mode, default_retention: lock.default_retention } };
    },
  };
}

/** The endpoint as shown in messages: no user-info, query or fragment. */
function endpointWithoutSecrets(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(invalid endpoint)';
  }
}
