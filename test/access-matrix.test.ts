import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildServer } from '../src/interfaces/http/server.ts';
import type { Role } from '../src/app/principal.ts';
import { openTestEnv } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { seedOrg } from './support/fixtures.ts';
import type { MatrixFixture, MatrixRequest } from './support/access-matrix.ts';
import { ACCESS_MATRIX, ALL_ROLES, PUBLIC_ROUTES, WEBHOOK_ROUTES, authorizeBody, matrixTx, v1RoutesOf } from './support/access-matrix.ts';

/**
 * Issue 10, item 7: every /v1 route with a key of every role, with no key, a malformed key, a
 * revoked key and a key of another organisation. The expected matrix is test/support/access-matrix.ts;
 * the routes are read from the server itself, so a route added without a row fails here.
 */

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
let env: TestEnv;
let app: FastifyInstance;
let routes: string[];
const keys = {} as Record<Role, string>;
let proposerKey = '';
let revokedKey = '';
let otherOrgAdmin = '';
let fixture: MatrixFixture;

const call = (method: Method, url: string, key: string | null, payload?: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
  app.inject({
    method,
    url,
    headers: { ...headers, ...(key === null ? {} : { authorization: `Bearer ${key}` }) },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });

const ok = async (r: Promise<LightMyRequestResponse>): Promise<Record<string, unknown>> => {
  const res = await r;
  if (res.statusCode >= 300) throw new Error(`setup call failed: ${res.statusCode} ${res.body}`);
  return res.json<Record<string, unknown>>();
};

const splitRoute = (route: string): { method: Method } => ({ method: route.split(' ')[0] as Method });

beforeAll(async () => {
  env = await openTestEnv('pglite');
  const alpha = await seedOrg(env.deps, 'alpha');
  const bravo = await seedOrg(env.deps, 'bravo');
  otherOrgAdmin = bravo.adminKey;
  app = await buildServer(env.deps, { verifier: env.signer.note, exportSinkName: 'archive', rateLimits: { ingest: null, failedAuth: null } });
  const issue = async (principal: string, roles: Role[], agentId?: string): Promise<string> =>
    (await ok(call('POST', '/v1/api-keys', alpha.adminKey, { principal, roles, ...(agentId === undefined ? {} : { agent_id: agentId }) }))).api_key as string;
  keys.admin = await issue('ada@alpha.test', ['admin']);
  keys.agent = await issue('support-bot@agents', ['agent'], 'support-bot');
  keys.policy_admin = await issue('pat@alpha.test', ['policy_admin']);
  keys.approver = await issue('val@alpha.test', ['approver']);
  keys.finance = await issue('fin@alpha.test', ['finance']);
  keys.auditor = await issue('aud@alpha.test', ['auditor']);
  proposerKey = await issue('proposer@alpha.test', ['policy_admin']);
  const revoked = await ok(call('POST', '/v1/api-keys', alpha.adminKey, { principal: 'gone@alpha.test', roles: ['admin'] }));
  revokedKey = revoked.api_key as string;
  expect((await call('DELETE', `/v1/api-keys/${revoked.key_id as string}`, alpha.adminKey)).statusCode).toBe(204);

  let n = 0;
  const admin = alpha.adminKey;
  const recorded = await ok(call('POST', '/v1/transactions', keys.agent, matrixTx()));
  const summary = await ok(call('POST', '/v1/summaries', keys.finance, { month: '2026-03' }));
  const pendingChange = async (): Promise<string> => {
    n += 1;
    const r = await ok(
      call('POST', '/v1/agents/research-bot/policy/changes', proposerKey, { changes: { monthly_limit: `${6000 + n}.00` }, justification: 'More research budget', approval_ticket: 'FIN-4' }),
    );
    return (r.change as { change_id: string }).change_id;
  };
  const authorization = async (amount: string, decision: string): Promise<string> => {
    const r = await ok(call('POST', '/v1/authorize', keys.agent, authorizeBody(amount)));
    expect(r.decision).toBe(decision);
    return r.authorization_id as string;
  };
  fixture = {
    txId: (recorded.transaction as { tx_id: string }).tx_id,
    summaryId: summary.summary_id as string,
    changeId: await pendingChange(),
    next: () => (n += 1),
    pendingChange,
    heldAuthorization: () => authorization('1.00', 'allow'),
    pendingSpend: () => authorization('2100.00', 'needs_approval'),
    throwawayKey: async () => (await ok(call('POST', '/v1/api-keys', admin, { principal: `temp${(n += 1)}@alpha.test`, roles: ['auditor'] }))).key_id as string,
    throwawayEndpoint: async () => (await ok(call('POST', '/v1/rail-endpoints', admin, { rail: 'stripe', secret: `whsec_tmp_${(n += 1)}_abcdefgh` }))).endpoint_id as string,
  };
  await app.ready();
  routes = v1RoutesOf(app.printRoutes({ commonPrefix: false }));
}, 240_000);

afterAll(async () => {
  await app.close();
  await env.close();
});

const MATRIX_ROUTES = Object.keys(ACCESS_MATRIX).sort();

describe('the access matrix covers the API', () => {
  it('has a row for every /v1 route the server registers, and a route for every row', () => {
    expect(routes.length).toBeGreaterThan(40);
    const needRows = routes.filter((r) => !WEBHOOK_ROUTES.includes(r) && !PUBLIC_ROUTES.includes(r));
    expect(needRows).toEqual(MATRIX_ROUTES);
    for (const r of [...WEBHOOK_ROUTES, ...PUBLIC_ROUTES]) expect(routes).toContain(r);
  });
});

describe.each(MATRIX_ROUTES)('%s', (route) => {
  const { method } = splitRoute(route);
  const row = ACCESS_MATRIX[route];
  if (row === undefined) throw new Error(`no row for ${route}`);
  const send = async (key: string | null, req?: MatrixRequest): Promise<LightMyRequestResponse> => {
    const r = req ?? (await row.request(fixture));
    return call(method, r.url, key, r.payload);
  };

  it('answers each role as the matrix says', async () => {
    const wrong: string[] = [];
    for (const role of ALL_ROLES) {
      const res = await send(keys[role]);
      const code = res.statusCode >= 400 ? res.json<{ error: { code: string } }>().error.code : null;
      if (row.allowed.includes(role)) {
        if (res.statusCode === 401 || res.statusCode === 403) wrong.push(`${role}: allowed, got ${res.statusCode} ${code}`);
        else if (row.succeeds === true && res.statusCode >= 300) wrong.push(`${role}: allowed, expected 2xx, got ${res.statusCode} ${res.body.slice(0, 200)}`);
        else if (res.statusCode >= 500) wrong.push(`${role}: ${res.statusCode} ${res.body.slice(0, 200)}`);
      } else if (res.statusCode !== 403 || code !== 'FORBIDDEN') {
        wrong.push(`${role}: forbidden, got ${res.statusCode} ${code ?? res.body.slice(0, 100)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('refuses no key, a malformed key and a revoked key with 401 UNAUTHENTICATED', async () => {
    const req = await row.request(fixture);
    for (const key of [null, 'st_not-a-key', `st_${'A'.repeat(12)}_${'b'.repeat(40)}`, revokedKey]) {
      const res = await send(key, req);
      expect({ key, status: res.statusCode, code: res.json<{ error: { code: string } }>().error.code }).toEqual({ key, status: 401, code: 'UNAUTHENTICATED' });
    }
  });

  it("with another organisation's admin key: no change to this organisation's log, none of its ids revealed", async () => {
    const req = await row.request(fixture);
    const before = await env.deps.store.getTreeHead('alpha');
    const res = await send(otherOrgAdmin, req);
    const after = await env.deps.store.getTreeHead('alpha');
    expect(after?.size).toBe(before?.size);
    expect(after?.root.equals(before?.root ?? Buffer.alloc(0))).toBe(true);
    // Anything naming one of alpha's objects must not be found from bravo.
    const alphaIds = [...req.url.matchAll(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|k_[A-Za-z0-9_-]{12}|rep_[0-9a-f]{32}/g)].map((m) => m[0]);
    if (alphaIds.length > 0) expect([403, 404]).toContain(res.statusCode);
    // A not-found answer may echo the id the caller sent; nothing else of alpha's may appear.
    for (const id of [fixture.txId, fixture.summaryId, fixture.changeId].filter((x) => !alphaIds.includes(x))) expect(res.body).not.toContain(id);
    expect(res.body).not.toContain('"org_id":"alpha"');
    expect(res.statusCode).not.toBe(500);
  });
});

describe('Stripe webhook (signed, no API key)', () => {
  it('refuses a missing or forged signature and an unknown endpoint, writing nothing', async () => {
    const endpoint = await fixture.throwawayEndpoint();
    const before = await env.deps.store.getTreeHead('alpha');
    const body = JSON.stringify({ id: 'evt_forged', object: 'event', type: 'payment_intent.succeeded', data: { object: {} } });
    const post = (id: string, headers: Record<string, string>) =>
      app.inject({ method: 'POST', url: `/v1/rails/stripe/${id}`, payload: body, headers: { 'content-type': 'application/json', ...headers } });
    const forged = `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}`;
    const answers = [
      await post(endpoint, {}),
      await post(endpoint, { 'stripe-signature': forged }),
      await post(endpoint, { 'stripe-signature': 'garbage' }),
      // An API key is no substitute for the signature.
      await post(endpoint, { authorization: `Bearer ${keys.admin}` }),
    ];
    for (const a of answers) {
      expect(a.statusCode).toBe(401);
      expect(a.json<{ error: { code: string } }>().error.code).toMatch(/INVALID_SIGNATURE|SIGNATURE_EXPIRED/);
    }
    const unknown = await post(`rep_${'0'.repeat(32)}`, { 'stripe-signature': forged });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json<{ error: { code: string } }>().error.code).toBe('ENDPOINT_NOT_FOUND');
    const after = await env.deps.store.getTreeHead('alpha');
    expect(after?.size).toBe(before?.size);
  });
});

describe('self-approval, through every path', () => {
  const codeOf = (r: LightMyRequestResponse): string => r.json<{ error: { code: string } }>().error.code;

  it('nobody approves a change they proposed, with the same key or another key of the same person', async () => {
    // admin holds the approver role: with the key that proposed, and with a second key under the same name.
    const sameName = await ok(call('POST', '/v1/api-keys', keys.admin, { principal: 'Proposer@Alpha.test ', roles: ['approver'] }));
    const proposed = await ok(
      call('POST', '/v1/agents/research-bot/policy/changes', keys.admin, { changes: { monthly_limit: '9100.00' }, justification: 'More research budget', approval_ticket: 'FIN-9' }),
    );
    const id = (proposed.change as { change_id: string }).change_id;
    const own = await call('POST', `/v1/policy-changes/${id}/approve`, keys.admin, { comment: 'mine' });
    expect([own.statusCode, codeOf(own)]).toEqual([403, 'SEGREGATION_OF_DUTIES']);
    const byProposer = await fixture.pendingChange();
    const second = await call('POST', `/v1/policy-changes/${byProposer}/approve`, sameName.api_key as string, { comment: 'me again' });
    expect([second.statusCode, codeOf(second)]).toEqual([403, 'SEGREGATION_OF_DUTIES']);
    // A policy_admin cannot approve at all, not even someone else's change.
    const pa = await call('POST', `/v1/policy-changes/${byProposer}/approve`, proposerKey, {});
    expect([pa.statusCode, codeOf(pa)]).toEqual([403, 'FORBIDDEN']);
    // Nothing was applied: both changes are still pending.
    for (const c of [id, byProposer]) expect((await ok(call('GET', `/v1/policy-changes/${c}`, keys.auditor))).status).toBe('pending');
  });

  it("the owner of an agent does not approve that agent's spend, by decision or by naming themselves on the payment", async () => {
    // support-bot is owned by alice@acme.test (seedOrg): give her an approver key.
    const alice = (await ok(call('POST', '/v1/api-keys', keys.admin, { principal: 'alice@acme.test', roles: ['approver'] }))).api_key as string;
    const pending = await fixture.pendingSpend();
    const decided = await call('POST', '/v1/spend-approvals', alice, { authorization_id: pending, decision: 'approve' });
    expect([decided.statusCode, codeOf(decided)]).toEqual([403, 'SEGREGATION_OF_DUTIES']);
    // Recording (admin key on the agent's behalf) with the owner, or the recorder, as approver.
    for (const approver of ['alice@acme.test', ' ALICE@acme.test', 'ada@alpha.test']) {
      const line = { ...matrixTx(), amount: '2100.00', approver };
      for (const [url, payload] of [
        ['/v1/transactions', line],
        ['/v1/transactions/batch', { transactions: [line] }],
        ['/v1/authorize', { ...authorizeBody('2100.00'), approver }],
      ] as const) {
        const r = await call('POST', url, keys.admin, payload);
        expect({ approver, url, status: r.statusCode, code: codeOf(r) }).toEqual({ approver, url, status: 403, code: 'SEGREGATION_OF_DUTIES' });
      }
    }
  });

  it('an agent key cannot name an approver for itself, nor approve spend', async () => {
    for (const [url, payload] of [
      ['/v1/transactions', { ...matrixTx(), amount: '2100.00', approver: 'cfo@alpha.test' }],
      ['/v1/transactions/batch', { transactions: [{ ...matrixTx(), amount: '2100.00', approver: 'cfo@alpha.test' }] }],
      ['/v1/authorize', { ...authorizeBody('2100.00'), approver: 'cfo@alpha.test' }],
    ] as const) {
      const r = await call('POST', url, keys.agent, payload);
      expect({ url, status: r.statusCode, code: codeOf(r) }).toEqual({ url, status: 403, code: 'FORBIDDEN' });
    }
    // Even an agent key that also holds the approver role.
    const both = (await ok(call('POST', '/v1/api-keys', keys.admin, { principal: 'support-bot@agents', roles: ['agent', 'approver'], agent_id: 'support-bot' }))).api_key as string;
    const pending = await fixture.pendingSpend();
    const r = await call('POST', '/v1/spend-approvals', both, { authorization_id: pending, decision: 'approve' });
    expect(r.statusCode).toBe(403);
    expect(['FORBIDDEN', 'SEGREGATION_OF_DUTIES']).toContain(codeOf(r));
    const change = await fixture.pendingChange();
    const c = await call('POST', `/v1/policy-changes/${change}/approve`, both, {});
    expect([c.statusCode, codeOf(c)]).toEqual([403, 'FORBIDDEN']);
  });

  it('whoever asked for a spend does not approve it', async () => {
    // A person holding agent (acting for research-bot) and approver roles asks, then tries to approve.
    const asker = (await ok(call('POST', '/v1/api-keys', keys.admin, { principal: 'sam@alpha.test', roles: ['agent'], agent_id: 'support-bot' }))).api_key as string;
    const approverSam = (await ok(call('POST', '/v1/api-keys', keys.admin, { principal: 'sam@alpha.test', roles: ['approver'] }))).api_key as string;
    const asked = await ok(call('POST', '/v1/authorize', asker, authorizeBody('2100.00')));
    expect(asked.decision).toBe('needs_approval');
    const r = await call('POST', '/v1/spend-approvals', approverSam, { authorization_id: asked.authorization_id, decision: 'approve' });
    expect([r.statusCode, codeOf(r)]).toEqual([403, 'SEGREGATION_OF_DUTIES']);
  });
});

describe('rate limits on the real server', () => {
  it('answers 429 RATE_LIMITED with Retry-After to key guessing and to a key over its ingest rate', async () => {
    const limited = await buildServer(env.deps, {
      verifier: env.signer.note,
      rateLimits: { failedAuth: { perSecond: 0.01, burst: 3 }, ingest: { perSecond: 0.01, burst: 2 } },
    });
    try {
      const get = (key: string, ip: string) => limited.inject({ method: 'GET', url: '/v1/org', remoteAddress: ip, headers: { authorization: `Bearer ${key}` } });
      const guesses: number[] = [];
      for (let i = 0; i < 5; i++) guesses.push((await get(`st_${'G'.repeat(12)}_${String(i).repeat(30)}`, '10.0.0.9')).statusCode);
      expect(guesses).toEqual([401, 401, 401, 429, 429]);
      const blocked = await get(keys.admin, '10.0.0.9');
      expect(blocked.statusCode).toBe(429);
      expect(blocked.json<{ error: { code: string } }>().error.code).toBe('RATE_LIMITED');
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      // Another address is not held back by the guesser.
      expect((await get(keys.admin, '10.0.0.10')).statusCode).toBe(200);
      const post = (key: string) => limited.inject({ method: 'POST', url: '/v1/transactions', remoteAddress: '10.0.0.11', headers: { authorization: `Bearer ${key}` }, payload: matrixTx() });
      const ingest = [(await post(keys.agent)).statusCode, (await post(keys.agent)).statusCode, (await post(keys.agent)).statusCode];
      expect(ingest).toEqual([201, 201, 429]);
      // Another key is limited on its own.
      expect((await post(keys.admin)).statusCode).toBe(201);
    } finally {
      await limited.close();
    }
  });
});
