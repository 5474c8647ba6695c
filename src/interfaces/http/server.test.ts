import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildServer } from './server.ts';
import { openTestEnv } from '../../../test/support/engines.ts';
import type { TestEnv } from '../../../test/support/engines.ts';
import { rawTx, seedOrg } from '../../../test/support/fixtures.ts';
import { issueApiKey, revokeApiKey } from '../../app/setup.ts';

let env: TestEnv;
let app: FastifyInstance;
let admin: string;
let agentKey: string;
let financeKey: string;

const line = (over: Record<string, unknown> = {}) => rawTx({ business_purpose: 'Model inference for support, batch 12', ...over });

const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, key: string | null, payload?: unknown) =>
  app.inject({ method, url, ...(key === null ? {} : { headers: { authorization: `Bearer ${key}` } }), ...(payload === undefined ? {} : { payload: payload as object }) });

beforeAll(async () => {
  env = await openTestEnv('pglite');
  const seeded = await seedOrg(env.deps);
  admin = seeded.adminKey;
  agentKey = (await issueApiKey(env.deps, seeded.admin, { principal: 'support-bot@agents', roles: ['agent'], agent_id: 'support-bot' })).api_key;
  financeKey = (await issueApiKey(env.deps, seeded.admin, { principal: 'fiona@acme.test', roles: ['finance'] })).api_key;
  app = await buildServer(env.deps, { verifier: env.signer.note });
});
afterAll(async () => {
  await app.close();
  await env.close();
});

describe('HTTP API', () => {
  it('records a transaction once and returns the original on replay', async () => {
    const body = line({ external_id: 'ch_123' });
    const a = await call('POST', '/v1/transactions', agentKey, body);
    expect(a.statusCode).toBe(201);
    expect(a.json()).toMatchObject({ status: 'recorded', transaction: { external_id: 'ch_123', accounting_code: '6400', recorded_by: 'support-bot@agents' } });
    const b = await call('POST', '/v1/transactions', agentKey, body);
    expect(b.statusCode).toBe(200);
    expect(b.json().transaction.tx_id).toBe(a.json().transaction.tx_id);
  });

  it('answers 409 IDEMPOTENCY_CONFLICT for the same external id with different content', async () => {
    const body = line({ external_id: 'ch_conflict' });
    expect((await call('POST', '/v1/transactions', agentKey, body)).statusCode).toBe(201);
    const r = await call('POST', '/v1/transactions', agentKey, { ...body, amount: '99.00' });
    expect(r.statusCode).toBe(409);
    expect(r.json().error).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT', field: 'external_id' });
  });

  it.each([
    ['a JSON number as money', { amount: 21 }, 'INVALID_AMOUNT', 'amount'],
    ['more decimals than USD has', { amount: '21.001' }, 'INVALID_AMOUNT', 'amount'],
    ['a negative payment', { amount: '-5.00' }, 'INVALID_AMOUNT', 'amount'],
    ['a timestamp without a zone', { timestamp: '2026-03-12T10:00:00' }, 'INVALID_TIMESTAMP', 'timestamp'],
    ['an unknown currency', { currency: 'XYZ' }, 'UNKNOWN_CURRENCY', 'currency'],
    ['an unknown field', { colour: 'blue' }, 'UNKNOWN_FIELD', 'colour'],
    ['an unknown agent', { agent_id: 'ghost' }, 'FORBIDDEN', 'agent_id'],
    ['a control character in the merchant', { merchant: 'AWS\u0007' }, 'VALIDATION_FAILED', 'merchant'],
  ])('rejects %s with a code and the field', async (_name, over, code, field) => {
    const before = await env.store.entryStats('acme');
    const r = await call('POST', '/v1/transactions', agentKey, line(over));
    expect(r.statusCode).toBeGreaterThanOrEqual(400);
    expect(r.json().error).toMatchObject({ code, field });
    expect(await env.store.entryStats('acme')).toEqual(before);
  });

  it('reports an unknown agent to an admin as AGENT_NOT_FOUND', async () => {
    const r = await call('POST', '/v1/transactions', admin, line({ agent_id: 'ghost' }));
    expect(r.statusCode).toBe(404);
    expect(r.json().error).toMatchObject({ code: 'AGENT_NOT_FOUND', field: 'agent_id' });
  });

  it('refuses malformed JSON and oversize bodies without writing', async () => {
    const bad = await app.inject({ method: 'POST', url: '/v1/transactions', headers: { authorization: `Bearer ${agentKey}`, 'content-type': 'application/json' }, payload: '{"amount": "1.00",' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('VALIDATION_FAILED');
    const big = await call('POST', '/v1/transactions', agentKey, line({ business_purpose: 'x'.repeat(70_000) }));
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('records a batch all or nothing', async () => {
    const before = await env.store.entryStats('acme');
    const bad = await call('POST', '/v1/transactions/batch', agentKey, { transactions: [line(), line({ amount: '1e3' })] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ code: 'INVALID_AMOUNT', field: 'transactions[1].amount' });
    expect(await env.store.entryStats('acme')).toEqual(before);
    const ok = await call('POST', '/v1/transactions/batch', agentKey, { transactions: [line(), line()] });
    expect(ok.statusCode).toBe(201);
    expect(ok.json().results).toHaveLength(2);
  });

  it('authenticates: no key, a malformed key and a revoked key are 401', async () => {
    expect((await call('GET', '/v1/transactions?agent_id=support-bot', null)).statusCode).toBe(401);
    expect((await call('GET', '/v1/transactions?agent_id=support-bot', 'st_nope')).statusCode).toBe(401);
    const k = await issueApiKey(env.deps, { org_id: 'acme', principal: 'admin', roles: ['admin'], agent_id: null, key_id: null }, { principal: 'temp', roles: ['auditor'] });
    expect((await call('GET', '/v1/agents', k.api_key)).statusCode).toBe(200);
    await revokeApiKey(env.deps, { org_id: 'acme', principal: 'admin', roles: ['admin'], agent_id: null, key_id: null }, k.key_id);
    const r = await call('GET', '/v1/agents', k.api_key);
    expect(r.statusCode).toBe(401);
    expect(r.json().error.code).toBe('UNAUTHENTICATED');
    expect(JSON.stringify(r.json())).not.toContain(k.api_key);
  });

  it('limits an agent key to its own agent and to recording', async () => {
    const other = await call('POST', '/v1/transactions', agentKey, line({ agent_id: 'research-bot' }));
    expect(other.statusCode).toBe(403);
    expect((await call('PUT', '/v1/agents/support-bot/policy', agentKey, { daily_limit: '999999.00' })).statusCode).toBe(403);
    expect((await call('POST', '/v1/transactions', financeKey, line())).statusCode).toBe(403);
  });

  it('authorizes before spending and holds the amount against the daily budget', async () => {
    const ask = (amount: string) =>
      call('POST', '/v1/authorize', agentKey, { agent_id: 'support-bot', amount, currency: 'USD', merchant: 'AWS', merchant_category: '4816', payment_rail: 'stripe', business_purpose: 'inference' });
    env.clock.set('2026-03-20T10:00:00Z');
    const a = await ask('2400.00');
    expect(a.json()).toMatchObject({ decision: 'needs_approval', reasons: ['missing_approval'] });
    const b = await ask('1900.00');
    expect(b.json()).toMatchObject({ decision: 'allow', reasons: [] });
    expect(b.json().policy_snapshot_id).toMatch(/^sha256:/);
    const c = await ask('1900.00');
    expect(c.json().decision).toBe('allow');
    const d = await ask('1900.00');
    expect(d.json()).toMatchObject({ decision: 'deny', reasons: ['daily_budget_exceeded'] });
    // Neither tomorrow's window nor a self-named approver gets around the budget.
    const tomorrow = await call('POST', '/v1/authorize', agentKey, { agent_id: 'support-bot', amount: '1900.00', currency: 'USD', merchant: 'AWS', payment_rail: 'stripe', business_purpose: 'x', timestamp: '2026-03-21T10:00:00Z' });
    expect(tomorrow.json().error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'timestamp' });
    const selfApproved = await call('POST', '/v1/authorize', agentKey, { agent_id: 'support-bot', amount: '2400.00', currency: 'USD', merchant: 'AWS', payment_rail: 'stripe', business_purpose: 'x', approver: 'anyone' });
    expect(selfApproved.statusCode).toBe(403);
    expect(selfApproved.json().error).toMatchObject({ code: 'FORBIDDEN', field: 'approver' });
  });

  it('refuses amounts beyond the ledger range with a code, failing no one else', async () => {
    const huge = line({ amount: '99999999999999999999.00' });
    const [bad, good] = await Promise.all([call('POST', '/v1/transactions', agentKey, huge), call('POST', '/v1/transactions', agentKey, line())]);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ code: 'INVALID_AMOUNT', field: 'amount' });
    expect(good.statusCode).toBe(201);
  });

  it('serves the ledger as JSON pages and as CSV with formulas defused', async () => {
    await call('POST', '/v1/transactions', agentKey, line({ merchant: '=HYPERLINK("http://evil.test","x")', timestamp: '2026-03-13T10:00:00Z' }));
    const page = await call('GET', '/v1/transactions?agent_id=support-bot&limit=2', financeKey);
    expect(page.statusCode).toBe(200);
    expect(page.json().transactions).toHaveLength(2);
    expect(page.json().next_cursor).toEqual(expect.any(String));
    const csv = await call('GET', '/v1/transactions?agent_id=support-bot&format=csv&limit=1000', financeKey);
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.body).toContain(`"'=HYPERLINK(""http://evil.test"",""x"")"`);
    expect(csv.body).not.toMatch(/(^|,)=HYPERLINK/m);
  });

  it('shows a transaction with its policy and proof, and verifies the log', async () => {
    const r = await call('POST', '/v1/transactions', agentKey, line());
    const d = await call('GET', `/v1/transactions/${r.json().transaction.tx_id}`, financeKey);
    expect(d.json().policy.agent_id).toBe('support-bot');
    expect(d.json().inclusion_proof.checkpoint).toContain('spendtrail.local/acme');
    const v = await call('POST', '/v1/verify', admin);
    expect(v.json()).toMatchObject({ ok: true, findings: [] });
  });

  it('publishes an OpenAPI document', async () => {
    const r = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(r.statusCode).toBe(200);
    const spec = r.json();
    expect(spec.openapi).toBe('3.0.3');
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/transactions', '/v1/authorize', '/v1/verify']));
  });
});
