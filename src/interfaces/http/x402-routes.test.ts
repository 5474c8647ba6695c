import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from './server.ts';
import { ENGINES } from '../../../test/support/engines.ts';
import type { TestEnv } from '../../../test/support/engines.ts';
import { seededSuite } from '../../../test/support/fixtures.ts';
import type { Seeded } from '../../../test/support/fixtures.ts';
import { caller, issueKey } from '../../../test/support/http.ts';
import { OTHER_ADDRESS, PAY_TO, USDC_BASE, v1Documents, v2Documents } from '../../../test/rails-x402-fixtures.ts';

/**
 * The x402 endpoints over HTTP with real API keys on both engines: what an agent sees when it
 * authorizes a signed payment and records it with its settlement — statuses, codes, fields,
 * and that the hold and the recorded payment are the same amount.
 */

interface Recorded {
  status: string;
  outcome: string;
  source_id: string;
  transactions: { tx_id: string; amount: string; currency: string; reporting_amount: string; authorization_id: string | null; merchant: string }[];
  x402: { amount: string; transaction: string | null; pay_to: string };
}
interface Authorized {
  authorization_id: string;
  decision: string;
  reasons: string[];
  expires_at: string | null;
  amount: string;
  currency: string;
  reporting_amount: string;
  reporting_currency: string;
}

describe.each(ENGINES)('x402 over HTTP on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  let app: FastifyInstance | undefined;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });
  const call = caller(() => app);
  const key = { bot: '', support: '', finance: '' };
  const base = { agent_id: 'research-bot', business_purpose: 'Paid search results for the research note', accounting_code: '6420' };
  const expectError = (r: LightMyRequestResponse, status: number, code: string, field?: string): void => {
    expect(r.statusCode, r.body).toBe(status);
    const error = r.json<{ error: { code: string; field?: string } }>().error;
    expect(error.code).toBe(code);
    if (field !== undefined) expect(error.field).toBe(field);
  };

  beforeAll(async () => {
    if (suite.skipped()) return;
    app = await buildServer(env.deps, { verifier: env.signer.note });
    key.bot = await issueKey(call, org.adminKey, 'research-bot@agents', ['agent'], 'research-bot');
    key.support = await issueKey(call, org.adminKey, 'support-bot@agents', ['agent'], 'support-bot');
    key.finance = await issueKey(call, org.adminKey, 'fiona@acme.test', ['finance']);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('records a v2 payment (201), returns it again for the same documents (200), and lists it on the x402 rail', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const { documents } = await v2Documents({ amount: '10000' });
    const first = await call('POST', '/v1/rails/x402/payments', key.bot, { ...base, ...documents });
    expect(first.statusCode, first.body).toBe(201);
    const r = first.json<Recorded>();
    expect(r).toMatchObject({ status: 'recorded', outcome: 'settled', x402: { amount: '0.010000', pay_to: PAY_TO } });
    expect(r.transactions[0]).toMatchObject({ amount: '0.010000', currency: 'USDC', reporting_amount: '0.01', merchant: PAY_TO });
    const again = await call('POST', '/v1/rails/x402/payments', key.bot, { ...base, ...documents });
    expect(again.statusCode).toBe(200);
    expect(again.json<Recorded>()).toMatchObject({ status: 'duplicate', transactions: [{ tx_id: r.transactions[0]?.tx_id }] });
    const listed = await call('GET', '/v1/transactions?payment_rail=x402&agent_id=research-bot', key.finance);
    expect(listed.json<{ transactions: { tx_id: string }[] }>().transactions.map((t) => t.tx_id)).toContain(r.transactions[0]?.tx_id);
  });

  it('holds the valued amount on authorize and settles that hold when the payment is recorded with it, once', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const { documents } = await v1Documents({ maxAmountRequired: '2500000' });
    const { x_payment_response: _settlement, ...unsettled } = documents;
    const a = await call('POST', '/v1/rails/x402/authorize', key.bot, { ...base, ...unsettled });
    expect(a.statusCode, a.body).toBe(200);
    const auth = a.json<Authorized>();
    expect(auth).toMatchObject({ decision: 'allow', amount: '2.500000', currency: 'USDC', reporting_amount: '2.50', reporting_currency: 'USD' });
    expect(auth.expires_at).not.toBeNull();
    const rec = await call('POST', '/v1/rails/x402/payments', key.bot, { ...base, ...documents, authorization_id: auth.authorization_id });
    expect(rec.statusCode, rec.body).toBe(201);
    expect(rec.json<Recorded>().transactions[0]?.authorization_id).toBe(auth.authorization_id);
    // The hold is spent: another payment cannot settle against it.
    const other = await v1Documents({ maxAmountRequired: '1000000' });
    expectError(await call('POST', '/v1/rails/x402/payments', key.bot, { ...base, ...other.documents, authorization_id: auth.authorization_id }), 409, 'AUTHORIZATION_NOT_USABLE', 'transactions[0].authorization_id');
  });

  it('denies a payment over the agent limit before it is sent, with the reason', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    // research-bot may spend 500.00 per transaction; this is 600 USDC.
    const { documents } = await v2Documents({ amount: '600000000' });
    const a = await call('POST', '/v1/rails/x402/authorize', key.bot, { ...base, payment_signature: documents.payment_signature, payment_required: documents.payment_required });
    expect(a.statusCode, a.body).toBe(200);
    expect(a.json<Authorized>()).toMatchObject({ decision: 'deny', expires_at: null, reporting_amount: '600.00' });
    expect(a.json<Authorized>().reasons).toContain('over_limit');
  });

  it('answers bad input with the error code and the field at fault', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const { documents } = await v2Documents({ amount: '10000' });
    const post = (bearer: string, body: Record<string, unknown>) => call('POST', '/v1/rails/x402/payments', bearer, body);
    expectError(await post('', { ...base, ...documents }), 401, 'UNAUTHENTICATED');
    expectError(await post(key.support, { ...base, ...documents }), 403, 'FORBIDDEN', 'agent_id');
    expectError(await post(key.bot, { ...base, ...documents, payment_signature: '@@@' }), 400, 'MALFORMED_PAYLOAD', 'payment_signature');
    expectError(await post(key.bot, { ...base, ...documents, tx_hash: '0x00' }), 400, 'UNKNOWN_FIELD', 'tx_hash');
    const wrongAsset = await v2Documents({ asset: USDC_BASE });
    expectError(await post(key.bot, { ...base, ...wrongAsset.documents }), 422, 'UNKNOWN_ASSET', 'payment_signature.accepted.asset');
    const v1 = await v1Documents();
    const elsewhere = { ...v1.documents.payment_requirements, accepts: v1.documents.payment_requirements.accepts.map((o) => ({ ...o, payTo: OTHER_ADDRESS })) };
    expectError(await post(key.bot, { ...base, ...v1.documents, payment_requirements: elsewhere }), 400, 'VALIDATION_FAILED', 'x_payment.payload.authorization.to');
  });

  it('records a failed settlement as evidence (201, outcome failed) with no transaction', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const { documents } = await v2Documents({ amount: '10000' }, { success: false, errorReason: 'invalid_exact_evm_payload_signature', transaction: '' });
    const r = await call('POST', '/v1/rails/x402/payments', key.bot, { ...base, ...documents });
    expect(r.statusCode, r.body).toBe(201);
    expect(r.json<Recorded>()).toMatchObject({ outcome: 'failed', transactions: [], x402: { transaction: null } });
  });

  it('describes both endpoints in the OpenAPI document', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const spec = (await app?.inject({ method: 'GET', url: '/openapi.json' }))?.json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(spec?.paths ?? {})).toEqual(expect.arrayContaining(['/v1/rails/x402/authorize', '/v1/rails/x402/payments']));
  });
});
