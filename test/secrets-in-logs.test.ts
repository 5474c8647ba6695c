import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildServer } from '../src/interfaces/http/server.ts';
import type { Store } from '../src/app/ports/store.ts';
import { openTestEnv } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { rawTx, seedOrg } from './support/fixtures.ts';
import { event, paymentIntent, signed } from './rails-stripe-fixtures.ts';

/**
 * Issue 10, item 7: API keys and signing secrets never appear in a log line or an error body.
 * The server runs with a real pino logger at trace level writing into memory; every request kind
 * that touches a secret is made (valid, malformed, unknown and revoked keys, keys in the wrong
 * header, webhook secrets, requests that fail with 500 inside the store), then every captured
 * line and every response body is searched for every secret and for anything shaped like a key.
 * (QuickBooks tokens never cross the HTTP API: QuickBooks is connected from the CLI.)
 */

const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
    done();
  },
});

let env: TestEnv;
let app: FastifyInstance;
/** Methods of the store that throw while set, to provoke 500s (as a broken driver would). */
const failing = new Set<string>();
const secrets: string[] = [];
const bodies: { what: string; body: string }[] = [];
const WEBHOOK_SECRET = 'whsec_log_test_0123456789abcdef';
const KEY_SHAPE = /st_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{20,}/;

const send = async (what: string, method: 'GET' | 'POST' | 'DELETE', url: string, headers: Record<string, string>, payload?: unknown): Promise<LightMyRequestResponse> => {
  const r = await app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
  bodies.push({ what, body: r.body });
  return r;
};
const bearer = (k: string): Record<string, string> => ({ authorization: `Bearer ${k}` });
let adminKey = '';

beforeAll(async () => {
  env = await openTestEnv('pglite');
  const seeded = await seedOrg(env.deps, 'acme');
  adminKey = seeded.adminKey;
  secrets.push(adminKey, WEBHOOK_SECRET);
  const store = new Proxy(env.store, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof prop === 'string' && failing.has(prop)) {
        return () => Promise.reject(new Error('server closed the connection unexpectedly'));
      }
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as Store;
  app = await buildServer({ ...env.deps, store }, {
    verifier: env.signer.note,
    logger: { level: 'trace', stream: sink },
    rateLimits: { ingest: null, failedAuth: null },
  });
}, 180_000);

afterAll(async () => {
  await app.close();
  await env.close();
});

describe('secrets in logs and error bodies', () => {
  it('leaks no API key, key secret or webhook secret anywhere', async () => {
    // Keys issued over HTTP: the answer to the issuing call is the one place a key may appear.
    const issued: string[] = [];
    for (const [principal, roles, agent] of [
      ['bot@agents', ['agent'], 'support-bot'],
      ['fin@acme.test', ['finance'], undefined],
      ['gone@acme.test', ['admin'], undefined],
    ] as const) {
      const r = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(adminKey), payload: { principal, roles, ...(agent === undefined ? {} : { agent_id: agent }) } });
      expect(r.statusCode).toBe(201);
      const k = r.json<{ api_key: string; key_id: string }>();
      issued.push(k.api_key);
      if (principal === 'gone@acme.test') {
        expect((await send('revoke', 'DELETE', `/v1/api-keys/${k.key_id}`, bearer(adminKey))).statusCode).toBe(204);
      }
    }
    const [agentKey = '', financeKey = '', revokedKey = ''] = issued;
    // The search below would see a key: the pattern matches every issued one.
    for (const k of issued) expect(k).toMatch(KEY_SHAPE);
    secrets.push(...issued);
    // The secret half of each key on its own, too.
    for (const k of [...issued, adminKey]) secrets.push(k.split('_').slice(2).join('_'));
    const wrongSecret = `${agentKey.slice(0, -6)}ZZZZZZ`;
    const unknownId = `st_${'Q'.repeat(12)}_${agentKey.split('_').slice(2).join('_')}`;
    secrets.push(wrongSecret, unknownId);

    // Valid, wrong, malformed, unknown, revoked keys; a key in the wrong scheme and in the query string.
    await send('valid', 'POST', '/v1/transactions', bearer(agentKey), rawTx());
    await send('valid read', 'GET', '/v1/transactions?agent_id=support-bot', bearer(financeKey));
    expect((await send('wrong secret', 'GET', '/v1/org', bearer(wrongSecret))).statusCode).toBe(401);
    expect((await send('unknown id', 'GET', '/v1/org', bearer(unknownId))).statusCode).toBe(401);
    expect((await send('revoked', 'GET', '/v1/org', bearer(revokedKey))).statusCode).toBe(401);
    expect((await send('malformed', 'GET', '/v1/org', bearer(`${agentKey}!`))).statusCode).toBe(401);
    expect((await send('basic scheme', 'GET', '/v1/org', { authorization: `Basic ${agentKey}` })).statusCode).toBe(401);
    expect((await send('x-api-key', 'GET', '/v1/org', { 'x-api-key': agentKey })).statusCode).toBe(401);
    // Bad input while authenticated: the error names the field, not the caller's credentials.
    expect((await send('bad body', 'POST', '/v1/transactions', bearer(agentKey), { ...rawTx(), amount: 21 })).statusCode).toBe(400);
    expect((await send('forbidden', 'POST', '/v1/api-keys', bearer(financeKey), { principal: 'x', roles: ['admin'] })).statusCode).toBe(403);

    // Webhook secrets: registered, listed, refused when malformed, and used to sign.
    const ep = await send('endpoint', 'POST', '/v1/rail-endpoints', bearer(adminKey), { rail: 'stripe', secret: WEBHOOK_SECRET, label: 'live' });
    expect(ep.statusCode).toBe(201);
    const endpointId = ep.json<{ endpoint_id: string }>().endpoint_id;
    const badSecret = 'whsec short secret';
    secrets.push(badSecret);
    expect((await send('bad secret', 'POST', '/v1/rail-endpoints', bearer(adminKey), { rail: 'stripe', secret: badSecret })).statusCode).toBe(400);
    expect((await send('list endpoints', 'GET', '/v1/rail-endpoints', bearer(adminKey))).statusCode).toBe(200);
    const e = event('payment_intent.succeeded', paymentIntent({ amount: 900, currency: 'usd', created: new Date(), metadata: { agent_id: 'support-bot', business_purpose: 'x' } }), new Date());
    const good = signed(e, WEBHOOK_SECRET, new Date());
    await send('webhook', 'POST', `/v1/rails/stripe/${endpointId}`, { 'content-type': 'application/json', 'stripe-signature': good.header }, good.body);
    const attacker = 'whsec_attacker_guess_0000000000';
    secrets.push(attacker);
    const forged = signed(e, attacker, new Date());
    expect((await send('forged webhook', 'POST', `/v1/rails/stripe/${endpointId}`, { 'content-type': 'application/json', 'stripe-signature': forged.header }, forged.body)).statusCode).toBe(401);

    // 500s: the store fails under authentication, a read and a write.
    failing.add('getApiKey');
    const k500 = await send('store down at auth', 'GET', '/v1/org', bearer(`st_${'R'.repeat(12)}_${'s'.repeat(40)}`));
    failing.clear();
    failing.add('listTransactions');
    const r500 = await send('store down at read', 'GET', '/v1/transactions?agent_id=support-bot', bearer(agentKey));
    failing.clear();
    failing.add('unitOfWork');
    const w500 = await send('store down at write', 'POST', '/v1/transactions', bearer(agentKey), rawTx());
    failing.clear();
    for (const r of [k500, r500, w500]) {
      expect(r.statusCode).toBe(500);
      expect(r.json()).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
    }

    await new Promise((r) => setImmediate(r));
    const text = lines.join('\n');
    // The capture is real: requests, 401s and the 500s' causes were logged.
    expect(lines.length).toBeGreaterThan(40);
    expect(text).toContain('server closed the connection unexpectedly');
    expect(text).toContain('/v1/rails/stripe/');
    const leaks: string[] = [];
    for (const s of secrets) {
      if (text.includes(s)) leaks.push(`log line contains ${s.slice(0, 10)}…`);
      for (const b of bodies) if (b.body.includes(s)) leaks.push(`${b.what} body contains ${s.slice(0, 10)}…`);
    }
    for (const l of lines) if (KEY_SHAPE.test(l)) leaks.push(`log line with a key: ${l.slice(0, 120)}`);
    for (const b of bodies) if (KEY_SHAPE.test(b.body)) leaks.push(`${b.what} body with a key`);
    // The authorization header is logged, if at all, redacted.
    for (const l of lines.filter((x) => x.includes('authorization'))) expect(l).not.toMatch(/Bearer /);
    expect(leaks).toEqual([]);
  });
});
