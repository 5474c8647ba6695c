import type { FastifyInstance, FastifyReply } from 'fastify';
import { SpendtrailError } from '../../domain/errors.ts';
import { STATUS } from './error-status.ts';

/**
 * Token buckets for the HTTP API, in process memory: one bucket per API key on the ingest routes
 * (recording, authorizing, rail ingest) and one per client address for failed authentication.
 * A bucket holds up to `burst` tokens and gains `perSecond` tokens a second; a request takes one.
 *
 * Limits are per server process: behind a load balancer with N servers a key gets N times the
 * rate. That is enough for what they are for (one runaway agent cannot starve the others of a
 * server, and nobody can try keys at wire speed); a global quota would need shared state.
 */

export interface BucketLimit {
  /** Tokens added per second (a sustained rate). */
  readonly perSecond: number;
  /** Largest number of requests accepted at once after a quiet period. */
  readonly burst: number;
}

export interface RateLimits {
  /** Per API key (or Stripe endpoint) on the ingest routes; null: not limited. */
  readonly ingest: BucketLimit | null;
  /** Per client address, counting answers 401 (unknown, malformed or revoked keys, bad signatures); null: not limited. */
  readonly failedAuth: BucketLimit | null;
}

/**
 * Defaults: ingest is not limited (a deployment sizes that to its agents; the benchmark's 10k tx/s
 * from 8 keys must not be throttled by a guess), failed authentication is: 5 a second with a burst
 * of 50 per address is far beyond any client's honest mistakes and far below guessing speed.
 */
export const DEFAULT_RATE_LIMITS: RateLimits = {
  ingest: null,
  failedAuth: { perSecond: 5, burst: 50 },
};

export type Take = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets by key. `now` is in milliseconds and injectable so the arithmetic can be tested with a fake clock. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: BucketLimit,
    private readonly now: () => number = () => performance.now(),
    /** Memory bound: past this many keys, idle (full) buckets are dropped first. */
    private readonly maxKeys = 100_000,
  ) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new RangeError('a rate limit needs perSecond > 0 and burst >= 1');
  }

  private refill(key: string): Bucket {
    const t = this.now();
    const b = this.buckets.get(key);
    if (b === undefined) return { tokens: this.limit.burst, at: t };
    b.tokens = Math.min(this.limit.burst, b.tokens + ((t - b.at) / 1000) * this.limit.perSecond);
    b.at = t;
    return b;
  }

  /** Whether a request may proceed now without taking a token (used to refuse before any work). */
  allows(key: string): Take {
    const b = this.refill(key);
    return b.tokens >= 1 ? { ok: true } : { ok: false, retryAfterSeconds: this.wait(b) };
  }

  /** Takes a token if there is one. */
  take(key: string): Take {
    const b = this.refill(key);
    if (b.tokens < 1) return { ok: false, retryAfterSeconds: this.wait(b) };
    b.tokens -= 1;
    this.keep(key, b);
    return { ok: true };
  }

  /** Takes a token even when there is none (the bucket goes negative: repeated failures push the wait out). */
  charge(key: string): void {
    const b = this.refill(key);
    b.tokens = Math.max(b.tokens - 1, -this.limit.burst);
    this.keep(key, b);
  }

  get size(): number {
    return this.buckets.size;
  }

  private wait(b: Bucket): number {
    return Math.max(1, Math.ceil((1 - b.tokens) / this.limit.perSecond));
  }

  private keep(key: string, b: Bucket): void {
    if (!this.buckets.has(key) && this.buckets.size >= this.maxKeys) {
      const t = this.now();
      for (const [k, v] of this.buckets) {
        if (v.tokens + ((t - v.at) / 1000) * this.limit.perSecond >= this.limit.burst) this.buckets.delete(k);
      }
      // Still full of busy buckets: forget them all rather than grow without bound.
      if (this.buckets.size >= this.maxKeys) this.buckets.clear();
    }
    this.buckets.set(key, b);
  }
}

/**
 * `rate[:burst]` (e.g. `200:400`), or `off`. A missing burst is twice the rate (at least 1).
 * Anything else is an error at start, not a silently unlimited server.
 */
export function parseBucketLimit(text: string, name: string): BucketLimit | null {
  const s = text.trim().toLowerCase();
  if (s === 'off' || s === '0') return null;
  const m = /^(\d+(?:\.\d+)?)(?::(\d+))?$/.exec(s);
  const perSecond = Number(m?.[1]);
  if (m === null || !(perSecond > 0)) throw new Error(`${name}: expected "rate[:burst]" (requests per second) or "off", got "${text}"`);
  const burst = m[2] === undefined ? Math.max(1, Math.ceil(perSecond * 2)) : Number(m[2]);
  if (burst < 1) throw new Error(`${name}: burst must be at least 1`);
  return { perSecond, burst };
}

/** `SPENDTRAIL_RATE_LIMIT` (ingest, per key) and `SPENDTRAIL_AUTH_FAIL_LIMIT` (failed authentication, per address). */
export function rateLimitsFromEnv(env: Readonly<Record<string, string | undefined>>): RateLimits {
  const ingest = env.SPENDTRAIL_RATE_LIMIT;
  const failed = env.SPENDTRAIL_AUTH_FAIL_LIMIT;
  return {
    ingest: ingest === undefined || ingest === '' ? DEFAULT_RATE_LIMITS.ingest : parseBucketLimit(ingest, 'SPENDTRAIL_RATE_LIMIT'),
    failedAuth: failed === undefined || failed === '' ? DEFAULT_RATE_LIMITS.failedAuth : parseBucketLimit(failed, 'SPENDTRAIL_AUTH_FAIL_LIMIT'),
  };
}

/** Routes whose every call is charged to the caller's ingest bucket. */
export function isIngestRoute(method: string, url: string): boolean {
  if (method !== 'POST') return false;
  return url === '/v1/transactions' || url === '/v1/transactions/batch' || url === '/v1/authorize' || url.startsWith('/v1/rails/');
}

const refuse = (reply: FastifyReply, retryAfterSeconds: number, message: string): FastifyReply =>
  reply
    .code(STATUS.RATE_LIMITED)
    .header('retry-after', String(retryAfterSeconds))
    .send({ error: new SpendtrailError('RATE_LIMITED', message, { details: { retry_after_seconds: retryAfterSeconds } }).toJSON() });

const limitedPath = (url: string): boolean => url.startsWith('/v1/') && !url.startsWith('/v1/health');

/**
 * Failed authentication, per client address. Install before the authentication hook: an address
 * over its limit is refused before its key is even looked up, so guessing costs no database work.
 * Every 401 on /v1 (bad key, bad webhook signature) takes a token.
 */
export function limitFailedAuth(app: FastifyInstance, limit: BucketLimit | null, now?: () => number): void {
  if (limit === null) return;
  const buckets = new TokenBuckets(limit, now);
  app.addHook('onRequest', async (req, reply) => {
    if (!limitedPath(req.url)) return;
    const t = buckets.allows(req.ip);
    if (!t.ok) return refuse(reply, t.retryAfterSeconds, 'too many failed authentication attempts from this address: wait and retry');
  });
  app.addHook('onResponse', async (req, reply) => {
    if (reply.statusCode === 401 && limitedPath(req.url)) buckets.charge(req.ip);
  });
}

/** Ingest calls, per API key (per endpoint for webhooks). Install after the authentication hook. */
export function limitIngest(app: FastifyInstance, limit: BucketLimit | null, now?: () => number): void {
  if (limit === null) return;
  const buckets = new TokenBuckets(limit, now);
  app.addHook('onRequest', async (req, reply) => {
    const url = req.routeOptions.url;
    if (url === undefined || !isIngestRoute(req.method, url)) return;
    const endpoint = (req.params as { endpoint_id?: string } | undefined)?.endpoint_id;
    const key = req.principal?.key_id ?? req.principal?.principal ?? (endpoint === undefined ? `ip:${req.ip}` : `endpoint:${endpoint}`);
    const t = buckets.take(key);
    if (!t.ok) return refuse(reply, t.retryAfterSeconds, 'this key is over its request rate: wait and retry');
  });
}
