import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { DEFAULT_RATE_LIMITS, TokenBuckets, isIngestRoute, limitFailedAuth, limitIngest, parseBucketLimit, rateLimitsFromEnv } from './rate-limit.ts';

const clock = () => {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};

describe('TokenBuckets', () => {
  it('accepts a burst, then refuses until tokens come back at the rate', () => {
    const c = clock();
    const b = new TokenBuckets({ perSecond: 2, burst: 3 }, c.now);
    expect([1, 2, 3].map(() => b.take('k').ok)).toEqual([true, true, true]);
    const refused = b.take('k');
    expect(refused).toEqual({ ok: false, retryAfterSeconds: 1 });
    c.advance(499);
    expect(b.take('k').ok).toBe(false);
    c.advance(1);
    expect(b.take('k').ok).toBe(true);
    expect(b.take('k').ok).toBe(false);
    // A long quiet period refills to the burst, not beyond.
    c.advance(60_000);
    expect([1, 2, 3, 4].map(() => b.take('k').ok)).toEqual([true, true, true, false]);
  });

  it('keeps keys apart', () => {
    const c = clock();
    const b = new TokenBuckets({ perSecond: 1, burst: 1 }, c.now);
    expect(b.take('a').ok).toBe(true);
    expect(b.take('a').ok).toBe(false);
    expect(b.take('b').ok).toBe(true);
  });

  it('charges failures past zero, so a guesser waits longer the more it tries', () => {
    const c = clock();
    const b = new TokenBuckets({ perSecond: 1, burst: 2 }, c.now);
    for (let i = 0; i < 5; i += 1) b.charge('ip');
    const t = b.allows('ip');
    expect(t.ok).toBe(false);
    if (!t.ok) expect(t.retryAfterSeconds).toBe(3);
    c.advance(2_999);
    expect(b.allows('ip').ok).toBe(false);
    c.advance(1);
    expect(b.allows('ip').ok).toBe(true);
    // allows() does not take a token.
    expect(b.allows('ip').ok).toBe(true);
  });

  it('stays bounded in memory under a flood of keys', () => {
    const c = clock();
    const b = new TokenBuckets({ perSecond: 1, burst: 1 }, c.now, 100);
    for (let i = 0; i < 1000; i += 1) b.take(`k${i}`);
    expect(b.size).toBeLessThanOrEqual(100);
  });

  it('refuses a nonsense limit', () => {
    expect(() => new TokenBuckets({ perSecond: 0, burst: 1 })).toThrow(RangeError);
  });
});

describe('configuration', () => {
  it('parses rate[:burst] and off, and rejects anything else', () => {
    expect(parseBucketLimit('200:400', 'X')).toEqual({ perSecond: 200, burst: 400 });
    expect(parseBucketLimit('0.5', 'X')).toEqual({ perSecond: 0.5, burst: 1 });
    expect(parseBucketLimit('off', 'X')).toBeNull();
    expect(() => parseBucketLimit('fast', 'X')).toThrow(/X/);
    expect(() => parseBucketLimit('10:0', 'X')).toThrow(/burst/);
  });

  it('defaults to no ingest limit and a failed-authentication limit', () => {
    expect(rateLimitsFromEnv({})).toEqual(DEFAULT_RATE_LIMITS);
    expect(DEFAULT_RATE_LIMITS.failedAuth).not.toBeNull();
    expect(rateLimitsFromEnv({ SPENDTRAIL_RATE_LIMIT: '100:200', SPENDTRAIL_AUTH_FAIL_LIMIT: 'off' })).toEqual({
      ingest: { perSecond: 100, burst: 200 },
      failedAuth: null,
    });
  });

  it('names the ingest routes', () => {
    expect(isIngestRoute('POST', '/v1/transactions')).toBe(true);
    expect(isIngestRoute('POST', '/v1/transactions/batch')).toBe(true);
    expect(isIngestRoute('POST', '/v1/authorize')).toBe(true);
    expect(isIngestRoute('POST', '/v1/rails/stripe/:endpoint_id')).toBe(true);
    expect(isIngestRoute('GET', '/v1/transactions')).toBe(false);
    expect(isIngestRoute('POST', '/v1/policy-changes/:id/approve')).toBe(false);
  });
});

describe('limitFailedAuth on a server', () => {
  it('answers 429 RATE_LIMITED with Retry-After once an address has failed too often, and lets it back after the wait', async () => {
    const c = clock();
    const app = Fastify();
    limitFailedAuth(app, { perSecond: 1, burst: 3 }, c.now);
    app.get('/v1/thing', async (req, reply) => (req.headers.authorization === 'good' ? { ok: true } : reply.code(401).send({ error: { code: 'UNAUTHENTICATED' } })));
    const get = (auth: string) => app.inject({ method: 'GET', url: '/v1/thing', headers: { authorization: auth } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await get('bad')).statusCode);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const r = await get('good');
    expect(r.statusCode).toBe(429);
    expect(r.json<{ error: { code: string } }>().error.code).toBe('RATE_LIMITED');
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    c.advance(1000);
    expect((await get('good')).statusCode).toBe(200);
    await app.close();
  });
});

describe('limitIngest on a server', () => {
  it('limits each key on the ingest routes on its own, and leaves other routes alone', async () => {
    const c = clock();
    const app = Fastify();
    app.decorateRequest('principal', null);
    app.addHook('onRequest', (req, _reply, done) => {
      const id = req.headers['x-key'] as string;
      req.principal = { org_id: 'o', principal: id, roles: ['agent'], agent_id: null, key_id: id };
      done();
    });
    limitIngest(app, { perSecond: 10, burst: 2 }, c.now);
    app.post('/v1/transactions', () => ({ ok: true }));
    app.get('/v1/transactions', () => ({ ok: true }));
    const post = async (key: string) => (await app.inject({ method: 'POST', url: '/v1/transactions', headers: { 'x-key': key }, payload: {} })).statusCode;
    expect([await post('a'), await post('a'), await post('a')]).toEqual([200, 200, 429]);
    expect(await post('b')).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/transactions', headers: { 'x-key': 'a' } })).statusCode).toBe(200);
    c.advance(100);
    expect(await post('a')).toBe(200);
    await app.close();
  });
});
