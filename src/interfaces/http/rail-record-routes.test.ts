import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from './server.ts';
import { setValuationRules } from '../../app/valuation-rules.ts';
import { ENGINES } from '../../../test/support/engines.ts';
import type { TestEnv } from '../../../test/support/engines.ts';
import { rawTx, seededSuite } from '../../../test/support/fixtures.ts';
import type { Seeded } from '../../../test/support/fixtures.ts';
import { caller, issueKey } from '../../../test/support/http.ts';
import { l402Fixture, lndPayment } from '../../../test/rails-l402-fixtures.ts';
import { ap2Purchase } from '../../../test/rails-ap2-fixtures.ts';

/**
 * The rail record endpoints over HTTP with real API keys: the body is the stored payload, so
 * the same bytes again are a replay and other bytes for the same rail id are a conflict; the
 * agent role and the agent a key acts for are enforced; other routes still parse JSON.
 */
describe.each(ENGINES)('rail records over HTTP on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  let app: FastifyInstance | undefined;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });
  const key = { bot: '', research: '', auditor: '' };
  const call = caller(() => app);
  const post = (rail: string, bearer: string, body: string, type = 'application/json'): Promise<LightMyRequestResponse> => {
    if (app === undefined) throw new Error('server not built');
    return app.inject({ method: 'POST', url: `/v1/rails/${rail}/payments`, headers: { authorization: `Bearer ${bearer}`, 'content-type': type }, payload: body });
  };

  beforeAll(async () => {
    if (suite.skipped()) return;
    app = await buildServer(env.deps, { verifier: env.signer.note });
    key.bot = await issueKey(call, org.adminKey, 'support-bot@agents', ['agent'], 'support-bot');
    key.research = await issueKey(call, org.adminKey, 'research-bot@agents', ['agent'], 'research-bot');
    key.auditor = await issueKey(call, org.adminKey, 'erin@acme.test', ['auditor']);
    await setValuationRules(env.deps, org.admin, [{ asset: 'SAT', quote: 'USD', rate: '0.001', source: 'treasury policy' }]);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('records an L402 payment (201), answers the same bytes with the first result (200) and other bytes with 409', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const f = l402Fixture();
    const record = { agent_id: 'support-bot', merchant: 'Inference API', challenge: f.challenge, authorization: f.authorization, payment: lndPayment(f) };
    const body = JSON.stringify(record);
    const first = await post('l402', key.bot, body);
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ status: 'recorded', rail: 'l402', source_id: f.paymentHash, transactions: [{ amount: '150.000', currency: 'SAT', fx_rate_source: 'treasury policy' }, { external_id: `${f.paymentHash}:fee` }] });
    const again = await post('l402', key.bot, body);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ status: 'duplicate' });
    // The same content re-serialised is other bytes: the payload is what was received, exactly.
    const reformatted = await post('l402', key.bot, JSON.stringify(record, null, 2));
    expect(reformatted.statusCode).toBe(409);
    expect(reformatted.json()).toMatchObject({ error: { code: 'IDEMPOTENCY_CONFLICT', field: 'source_id' } });
  });

  it('records an AP2 purchase and an AP4M record', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const ap2 = await post('ap2', key.bot, JSON.stringify(ap2Purchase({ value: 12.5 })));
    expect(ap2.statusCode).toBe(201);
    expect(ap2.json()).toMatchObject({ rail: 'ap2', transactions: [{ amount: '12.50', merchant: 'Acme Compute' }] });
    const ap4m = await post('ap4m', key.bot, JSON.stringify({ record_id: 'ap4m_http_1', agent_id: 'support-bot', amount: '3.20', currency: 'USD', merchant: 'EV charger 12', timestamp: '2026-03-12T10:00:00Z', status: 'settled', raw: { session: 'c-88' } }));
    expect(ap4m.statusCode).toBe(201);
    expect(ap4m.json()).toMatchObject({ rail: 'ap4m', source_id: 'ap4m_http_1', transactions: [{ amount: '3.20' }] });
  });

  it('answers 422 for a bad preimage and 400 for a body that is not JSON, naming the field', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const f = l402Fixture();
    const bad = await post('l402', key.bot, JSON.stringify({ agent_id: 'support-bot', merchant: 'X', payment: lndPayment(f, { payment_preimage: 'ab'.repeat(32) }) }));
    expect(bad.statusCode).toBe(422);
    expect(bad.json()).toMatchObject({ error: { code: 'PREIMAGE_MISMATCH', field: 'payment.payment_preimage' } });
    const notJson = await post('ap4m', key.bot, '{"record_id": ');
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json()).toMatchObject({ error: { code: 'MALFORMED_PAYLOAD' } });
    const text = await post('ap4m', key.bot, 'record_id=1', 'text/plain');
    expect(text.statusCode).toBe(400);
  });

  it("refuses a key recording another agent's payment, and a key without the agent role", async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const f = l402Fixture();
    const body = JSON.stringify({ agent_id: 'support-bot', merchant: 'Inference API', payment: lndPayment(f) });
    const other = await post('l402', key.research, body);
    expect(other.statusCode).toBe(403);
    expect(other.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
    expect((await post('l402', key.auditor, body)).statusCode).toBe(403);
    expect((await env.deps.store.getRailPayloads('acme', [{ rail: 'l402', source_id: f.paymentHash }])).length).toBe(0);
  });

  it('leaves JSON parsing of the other routes as it was, and documents the three routes in OpenAPI', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const r = await call('POST', '/v1/transactions', key.bot, rawTx());
    expect(r.statusCode).toBe(201);
    const spec = await app?.inject({ method: 'GET', url: '/openapi.json' });
    const paths = spec?.json<{ paths: Record<string, { post?: { requestBody?: unknown } }> }>().paths ?? {};
    for (const rail of ['l402', 'ap2', 'ap4m']) expect(paths[`/v1/rails/${rail}/payments`]?.post?.requestBody).toBeDefined();
  });
});
