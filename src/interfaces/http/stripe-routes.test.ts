import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from './server.ts';
import { ENGINES } from '../../../test/support/engines.ts';
import type { TestEnv } from '../../../test/support/engines.ts';
import { seededSuite } from '../../../test/support/fixtures.ts';
import type { Seeded } from '../../../test/support/fixtures.ts';
import { caller, issueKey } from '../../../test/support/http.ts';
import { event, paymentIntent, signed } from '../../../test/rails-stripe-fixtures.ts';

/**
 * The rail endpoint admin API and the webhook's place in the server: who may register and
 * revoke endpoints, that the secret never comes back or reaches a log line, and that the
 * webhook is reachable without an API key while the admin routes are not.
 */
const SECRET = 'whsec_routes_test_secret_0123456789abcdef';

describe.each(ENGINES)('rail endpoint routes on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  let app: FastifyInstance | undefined;
  let agentKey = '';
  const logs: string[] = [];
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });
  const call = caller(() => app);

  beforeAll(async () => {
    if (suite.skipped()) return;
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(chunk.toString('utf8'));
        done();
      },
    });
    app = await buildServer(env.deps, { verifier: env.signer.note, logger: { level: 'trace', stream: sink } });
    agentKey = await issueKey(call, org.adminKey, 'support-bot@keys', ['agent'], 'support-bot');
  });
  afterAll(async () => {
    await app?.close();
  });

  it('registers an endpoint for an admin, answers its webhook path, and never returns or logs the secret', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const r = await call('POST', '/v1/rail-endpoints', org.adminKey, { rail: 'stripe', secret: SECRET, label: 'Stripe live' });
    expect(r.statusCode).toBe(201);
    const e = r.json<{ endpoint_id: string; path: string }>();
    expect(e).toMatchObject({ rail: 'stripe', label: 'Stripe live', created_by: 'admin', revoked_at: null, path: `/v1/rails/stripe/${e.endpoint_id}` });
    const list = await call('GET', '/v1/rail-endpoints', org.adminKey);
    expect(list.json<{ endpoints: { endpoint_id: string }[] }>().endpoints.map((x) => x.endpoint_id)).toContain(e.endpoint_id);
    expect(r.body + list.body).not.toContain(SECRET);
    expect(logs.join('')).toContain('/v1/rail-endpoints');
    expect(logs.join('')).not.toContain(SECRET);
    const [entry] = await env.store.logEntriesOfKinds('acme', ['rail_endpoint'], [e.endpoint_id]);
    expect(entry?.data).not.toContain(SECRET);
  });

  it('lets only admins add or revoke endpoints, and checks the input at the edge', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const byAgent = await call('POST', '/v1/rail-endpoints', agentKey, { rail: 'stripe', secret: SECRET });
    expect([byAgent.statusCode, byAgent.json<{ error: { code: string } }>().error.code]).toEqual([403, 'FORBIDDEN']);
    const unknownField = await call('POST', '/v1/rail-endpoints', org.adminKey, { rail: 'stripe', secret: SECRET, url: 'https://x' });
    expect(unknownField.statusCode).toBe(400);
    const badRail = await call('POST', '/v1/rail-endpoints', org.adminKey, { rail: 'paypal', secret: SECRET });
    expect(badRail.json<{ error: { field: string } }>().error.field).toBe('rail');
    const shortSecret = await call('POST', '/v1/rail-endpoints', org.adminKey, { rail: 'stripe', secret: 'short' });
    expect(shortSecret.json<{ error: { field: string } }>().error.field).toBe('secret');
    const noKey = await app?.inject({ method: 'GET', url: '/v1/rail-endpoints' });
    expect(noKey?.statusCode).toBe(401);
    const id = (await call('POST', '/v1/rail-endpoints', org.adminKey, { rail: 'stripe', secret: SECRET })).json<{ endpoint_id: string }>().endpoint_id;
    const agentRevoke = await app?.inject({ method: 'DELETE', url: `/v1/rail-endpoints/${id}`, headers: { authorization: `Bearer ${agentKey}` } });
    expect(agentRevoke?.statusCode).toBe(403);
    const missing = await app?.inject({ method: 'DELETE', url: '/v1/rail-endpoints/rep_nope', headers: { authorization: `Bearer ${org.adminKey}` } });
    expect(missing?.json<{ error: { code: string } }>().error.code).toBe('ENDPOINT_NOT_FOUND');
  });

  it('serves the webhook without an API key (the signature authenticates it) and ignores a bearer key sent to it', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const id = (await call('POST', '/v1/rail-endpoints', org.adminKey, { rail: 'stripe', secret: SECRET })).json<{ endpoint_id: string }>().endpoint_id;
    const e = event('payment_intent.succeeded', paymentIntent({ amount: 500, currency: 'usd', created: env.clock.now(), metadata: {} }), env.clock.now());
    const s = signed(e, SECRET, env.clock.now());
    for (const headers of [{}, { authorization: 'Bearer st_not_a_real_key' }]) {
      const r = await app?.inject({ method: 'POST', url: `/v1/rails/stripe/${id}`, headers: { ...headers, 'stripe-signature': s.header, 'content-type': 'application/json' }, payload: s.body });
      expect(r?.statusCode, r?.body).toBe(200);
    }
  });

  it('documents the routes in OpenAPI, the webhook without the bearer requirement', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const spec = (await app?.inject({ method: 'GET', url: '/openapi.json' }))?.json<{ paths: Record<string, Record<string, { security?: unknown[] }>> }>();
    expect(Object.keys(spec?.paths ?? {})).toEqual(expect.arrayContaining(['/v1/rail-endpoints', '/v1/rail-endpoints/{endpoint_id}', '/v1/rails/stripe/{endpoint_id}']));
    expect(spec?.paths['/v1/rails/stripe/{endpoint_id}']?.post?.security).toEqual([]);
  });
});
