import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildServer } from '../src/interfaces/http/server.ts';
import { verifyLog } from '../src/app/verify.ts';
import { ENGINES, openTestEnv, postgresAvailable } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { rawTx, seedOrg } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';

/**
 * Issue 10, item 7: organisations are isolated. Org A and org B share agent ids, clusters and
 * account codes (both seeded alike); with org B's keys of every role, every id of org A that B
 * could know or guess (transactions, authorizations, changes, summaries, API keys, rail
 * endpoints) is tried on every route that takes one. Every attempt is refused or not found, no
 * answer carries A's data, and A's log is unchanged: same size, same root, same checkpoints,
 * and verify passes.
 */

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

describe.each(ENGINES)('organisation isolation on %s', (engine) => {
  let env: TestEnv | undefined;
  let app: FastifyInstance;
  let a: Seeded;
  let b: Seeded;
  const A = { tx: '', external: '', auth: '', pendingAuth: '', change: '', summary: '', keyId: '', key: '', endpoint: '' };
  const B = { admin: '', agent: '', finance: '', approver: '', auditor: '', policy_admin: '' };
  const call = (method: Method, url: string, key: string, payload?: unknown): Promise<LightMyRequestResponse> =>
    app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
  const ok = async (p: Promise<LightMyRequestResponse>): Promise<Record<string, unknown>> => {
    const r = await p;
    if (r.statusCode >= 300) throw new Error(`setup: ${r.statusCode} ${r.body}`);
    return r.json<Record<string, unknown>>();
  };
  const issue = async (admin: string, principal: string, roles: string[], agentId?: string): Promise<{ key: string; id: string }> => {
    const r = await ok(call('POST', '/v1/api-keys', admin, { principal, roles, ...(agentId === undefined ? {} : { agent_id: agentId }) }));
    return { key: r.api_key as string, id: r.key_id as string };
  };

  beforeAll(async () => {
    if (engine === 'postgres' && !(await postgresAvailable())) return;
    env = await openTestEnv(engine);
    a = await seedOrg(env.deps, 'org-a');
    b = await seedOrg(env.deps, 'org-b');
    app = await buildServer(env.deps, { verifier: env.signer.note, rateLimits: { ingest: null, failedAuth: null } });
    // Org A: a transaction, an open hold, a spend waiting for approval, a pending change, a summary, a key, an endpoint.
    const aAgent = (await issue(a.adminKey, 'support-bot@agents', ['agent'], 'support-bot')).key;
    const aPolicy = (await issue(a.adminKey, 'pat@a.test', ['policy_admin'])).key;
    const aFinance = (await issue(a.adminKey, 'fin@a.test', ['finance'])).key;
    const line = rawTx({ external_id: 'ch_org_a_secret_1' });
    A.external = line.external_id as string;
    A.tx = ((await ok(call('POST', '/v1/transactions', aAgent, line))).transaction as { tx_id: string }).tx_id;
    const auth = (amount: string) => ok(call('POST', '/v1/authorize', aAgent, { agent_id: 'support-bot', amount, currency: 'USD', merchant: 'AWS', payment_rail: 'stripe', business_purpose: 'x' }));
    A.auth = (await auth('10.00')).authorization_id as string;
    A.pendingAuth = (await auth('2100.00')).authorization_id as string;
    A.change = ((await ok(call('POST', '/v1/agents/research-bot/policy/changes', aPolicy, { changes: { monthly_limit: '9000.00' }, justification: 'More budget', approval_ticket: 'FIN-7' }))).change as { change_id: string }).change_id;
    A.summary = (await ok(call('POST', '/v1/summaries', aFinance, { month: '2026-03' }))).summary_id as string;
    const k = await issue(a.adminKey, 'aud@a.test', ['auditor']);
    A.keyId = k.id;
    A.key = k.key;
    A.endpoint = (await ok(call('POST', '/v1/rail-endpoints', a.adminKey, { rail: 'stripe', secret: 'whsec_org_a_0123456789' }))).endpoint_id as string;
    await ok(call('POST', '/v1/checkpoints', a.adminKey));
    // Org B: a key of every role (its agent key acts for B's own support-bot).
    B.admin = b.adminKey;
    B.agent = (await issue(b.adminKey, 'support-bot@agents', ['agent'], 'support-bot')).key;
    for (const role of ['finance', 'approver', 'auditor', 'policy_admin'] as const) B[role] = (await issue(b.adminKey, `${role}@b.test`, [role])).key;
  }, 180_000);
  afterAll(async () => {
    await app?.close();
    await env?.close();
  });

  it("cannot read, change or use any of org A's objects with org B's keys", async (ctx) => {
    if (env === undefined) return ctx.skip();
    const store = env.store;
    const before = { head: await store.getTreeHead('org-a'), checkpoints: await store.listCheckpoints('org-a'), agents: await store.getAgents('org-a') };
    const attempts: [Method, string, keyof typeof B, unknown?][] = [
      ['GET', `/v1/transactions/${A.tx}`, 'auditor'],
      ['GET', `/v1/transactions/${A.tx}`, 'admin'],
      ['POST', '/v1/transactions', 'agent', rawTx({ amount: '-5.00', type: 'refund', refund_of: A.tx })],
      ['POST', '/v1/transactions', 'agent', rawTx({ authorization_id: A.auth, amount: '10.00' })],
      ['POST', `/v1/authorizations/${A.auth}/release`, 'agent'],
      ['POST', `/v1/authorizations/${A.auth}/release`, 'admin'],
      ['POST', '/v1/spend-approvals', 'approver', { authorization_id: A.pendingAuth, decision: 'approve' }],
      ['POST', '/v1/spend-approvals', 'approver', { tx_id: A.tx, decision: 'approve' }],
      ['GET', `/v1/policy-changes/${A.change}`, 'auditor'],
      ['GET', `/v1/policy-changes/${A.change}/notifications`, 'auditor'],
      ['POST', `/v1/policy-changes/${A.change}/approve`, 'approver', { comment: 'ok' }],
      ['POST', `/v1/policy-changes/${A.change}/reject`, 'approver', { comment: 'no' }],
      ['POST', `/v1/policy-changes/${A.change}/reject`, 'policy_admin', { comment: 'withdraw' }],
      ['GET', `/v1/summaries/${A.summary}`, 'finance'],
      ['GET', `/v1/summaries/${A.summary}?format=pdf`, 'finance'],
      ['GET', `/v1/summaries/${A.summary}/deliveries`, 'finance'],
      ['POST', `/v1/summaries/${A.summary}/sign-off`, 'finance'],
      ['DELETE', `/v1/api-keys/${A.keyId}`, 'admin'],
      ['DELETE', `/v1/rail-endpoints/${A.endpoint}`, 'admin'],
    ];
    const wrong: string[] = [];
    for (const [method, url, role, payload] of attempts) {
      const r = await call(method, url, B[role], payload);
      if (r.statusCode !== 403 && r.statusCode !== 404) wrong.push(`${method} ${url} as ${role}: ${r.statusCode} ${r.body.slice(0, 160)}`);
      if (r.body.includes(A.external) || r.body.includes('"org_id":"org-a"')) wrong.push(`${method} ${url} as ${role}: answer carries org A's data`);
    }
    expect(wrong).toEqual([]);

    // Routes that name shared ids (agent support-bot, cluster support) act on B's own objects only.
    const reads: [string, keyof typeof B][] = [
      ['/v1/transactions?agent_id=support-bot', 'auditor'],
      ['/v1/transactions?agent_id=support-bot', 'agent'],
      ['/v1/transactions?format=csv', 'finance'],
      ['/v1/agents/support-bot/statement?month=2026-03&format=csv', 'finance'],
      ['/v1/clusters/support/statement?month=2026-03&format=csv', 'auditor'],
      ['/v1/policy-changes', 'auditor'],
      ['/v1/policy-changes/export?format=csv', 'auditor'],
      ['/v1/summaries', 'finance'],
      ['/v1/rail-endpoints', 'admin'],
      ['/v1/segregation-findings', 'auditor'],
      ['/v1/agents/research-bot/policy/versions', 'auditor'],
    ];
    for (const [url, role] of reads) {
      const r = await call('GET', url, B[role]);
      expect({ url, status: r.statusCode }).toEqual({ url, status: 200 });
      for (const id of [A.external, A.tx, A.change, A.summary, A.endpoint, A.auth]) expect(r.body, `${url} carries ${id}`).not.toContain(id);
    }
    // Writes that name shared ids land in B: its support-bot changes, A's does not.
    expect((await call('PUT', '/v1/agents/support-bot', B.admin, { name: 'B bot', owner: 'mallory@b.test', cluster: 'support' })).statusCode).toBe(200);
    expect((await call('PUT', '/v1/accounts/6400', B.admin, { name: 'Renamed by B' })).statusCode).toBe(200);

    // Org A: the key B tried to revoke still works, the endpoint is still there, nothing was logged.
    expect((await call('GET', '/v1/org', A.key)).statusCode).toBe(200);
    const eps = (await ok(call('GET', '/v1/rail-endpoints', a.adminKey))).endpoints as { endpoint_id: string; revoked_at?: string | null }[];
    expect(eps.find((e) => e.endpoint_id === A.endpoint)?.revoked_at ?? null).toBeNull();
    const change = await ok(call('GET', `/v1/policy-changes/${A.change}`, a.adminKey));
    expect(change.status).toBe('pending');
    const hold = await env.store.getAuthorization('org-a', A.auth);
    expect(hold?.status).toBe('held');
    expect((await env.store.getAuthorization('org-a', A.pendingAuth))?.status).toBe('pending_approval');
    const after = { head: await store.getTreeHead('org-a'), checkpoints: await store.listCheckpoints('org-a'), agents: await store.getAgents('org-a') };
    expect(after.head?.size).toBe(before.head?.size);
    expect(after.head?.root.equals(before.head?.root ?? Buffer.alloc(0))).toBe(true);
    expect(after.checkpoints.map((c) => [c.tree_size, c.note])).toEqual(before.checkpoints.map((c) => [c.tree_size, c.note]));
    expect(after.agents).toEqual(before.agents);
    expect((await verifyLog(env.deps, a.admin, env.signer.note)).findings).toEqual([]);
    expect((await verifyLog(env.deps, b.admin, env.signer.note)).findings).toEqual([]);
  }, 120_000);
});
