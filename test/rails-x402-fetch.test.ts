import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../src/interfaces/http/server.ts';
import { SpendtrailPaymentRefused, withSpendtrail } from '../src/client/x402-fetch.ts';
import type { SpendtrailX402Options } from '../src/client/x402-fetch.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { seededSuite } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';
import { caller, issueKey } from './support/http.ts';
import type { ResourceServer } from './rails-x402-fixtures.ts';
import { httpClient, PAY_TO, payWithTestWallet, startResourceServer } from './rails-x402-fixtures.ts';

/**
 * The agent-side wrapper end to end over real sockets: a Spendtrail server and an x402
 * resource server on 127.0.0.1, payments signed by a throwaway wallet through the official x402
 * client. What it proves: a payment goes out only after Spendtrail allows it, a refused one
 * never reaches the resource server, and what settles is in the ledger against its hold.
 */

interface LedgerRow {
  tx_id: string;
  external_id: string;
  amount: string;
  currency: string;
  reporting_amount: string;
  authorization_id: string | null;
  merchant: string;
  business_purpose: string | null;
}

describe.each(ENGINES)('withSpendtrail against real servers on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  let spendtrail: FastifyInstance | undefined;
  let resource: ResourceServer;
  let baseUrl = '';
  const key = { bot: '', support: '', finance: '' };
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });
  const call = caller(() => spendtrail);
  const options = (over: Partial<SpendtrailX402Options> = {}): SpendtrailX402Options => ({
    baseUrl,
    apiKey: key.bot,
    agentId: 'research-bot',
    businessPurpose: 'Paid market data for the research note',
    accountingCode: '6420',
    pay: payWithTestWallet,
    ...over,
  });
  const ledger = async (): Promise<LedgerRow[]> =>
    (await call('GET', '/v1/transactions?payment_rail=x402', key.finance)).json<{ transactions: LedgerRow[] }>().transactions;

  beforeAll(async () => {
    if (suite.skipped()) return;
    spendtrail = await buildServer(env.deps, { verifier: env.signer.note });
    await spendtrail.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(spendtrail.server.address() as AddressInfo).port}`;
    key.bot = await issueKey(call, org.adminKey, 'research-bot@agents', ['agent'], 'research-bot');
    key.support = await issueKey(call, org.adminKey, 'support-bot@agents', ['agent'], 'support-bot');
    key.finance = await issueKey(call, org.adminKey, 'fiona@acme.test', ['finance']);
    resource = await startResourceServer();
  });
  afterAll(async () => {
    await resource?.close();
    await spendtrail?.close();
  });

  it('pays a v2 challenge after Spendtrail allows it and records the settlement against the hold', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const paidBefore = resource.paidRequests;
    const fetchPaid = withSpendtrail(fetch, options());
    const res = await fetchPaid(`${resource.url}/v2/10000`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ report: 'paid content', atomic: '10000' });
    expect(resource.paidRequests).toBe(paidBefore + 1);

    const settled = resource.settlements.at(-1);
    const row = (await ledger()).find((t) => t.amount === '0.010000');
    expect(row).toMatchObject({ currency: 'USDC', reporting_amount: '0.01', merchant: PAY_TO, business_purpose: 'Paid market data for the research note' });
    expect(row?.authorization_id).not.toBeNull();
    const auth = await env.deps.store.getAuthorization('acme', row?.authorization_id ?? '');
    expect(auth).toMatchObject({ status: 'settled', settled_tx_id: row?.tx_id });
    // The record keeps the settlement the resource server sent, transaction hash and all.
    const [kept] = await env.deps.store.getRailPayloads('acme', [{ rail: 'x402', source_id: row?.external_id ?? '' }]);
    expect(JSON.parse(kept?.body.toString('utf8') ?? '{}')).toMatchObject({ settlement: { success: true, transaction: settled?.transaction } });
  });

  it('pays a v1 challenge (402 JSON body, X-PAYMENT) the same way', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const res = await withSpendtrail(fetch, options())(`${resource.url}/v1/2500000`, { method: 'GET' });
    expect(res.status).toBe(200);
    const row = (await ledger()).find((t) => t.amount === '2.500000');
    expect(row).toMatchObject({ currency: 'USDC', reporting_amount: '2.50' });
    expect(row?.authorization_id).not.toBeNull();
  });

  it('refuses to pay when Spendtrail denies, and the signed payment never reaches the resource server', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const paidBefore = resource.paidRequests;
    const rowsBefore = (await ledger()).length;
    // 600 USDC against research-bot's 500.00 per-transaction limit.
    const attempt = withSpendtrail(fetch, options())(`${resource.url}/v2/600000000`);
    await expect(attempt).rejects.toBeInstanceOf(SpendtrailPaymentRefused);
    await expect(attempt).rejects.toMatchObject({ decision: 'deny', reasons: expect.arrayContaining(['over_limit']) as unknown });
    expect(resource.paidRequests).toBe(paidBefore);
    expect((await ledger()).length).toBe(rowsBefore);
  });

  it('refuses to pay while the payment needs approval, naming the authorization to approve', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const paidBefore = resource.paidRequests;
    // support-bot's payments above 2000.00 need a second person; this is 2100 USDC.
    const attempt = withSpendtrail(fetch, options({ apiKey: key.support, agentId: 'support-bot', accountingCode: '6400' }))(`${resource.url}/v2/2100000000`);
    const refused = await attempt.then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(SpendtrailPaymentRefused);
    const r = refused as SpendtrailPaymentRefused;
    expect(r.decision).toBe('needs_approval');
    expect(r.message).toContain(r.authorizationId);
    expect((await env.deps.store.getAuthorization('acme', r.authorizationId))?.status).toBe('pending_approval');
    expect(resource.paidRequests).toBe(paidBefore);
  });

  it('records a failed settlement as failed, with no transaction, and gives the hold back', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    resource.failWith('insufficient_funds');
    try {
      const res = await withSpendtrail(fetch, options())(`${resource.url}/v2/70000`);
      expect(res.status).toBe(402);
    } finally {
      resource.failWith(null);
    }
    expect((await ledger()).some((t) => t.amount === '0.070000')).toBe(false);
    const [entry] = (await env.deps.store.logEntriesOfKinds('acme', ['rail_payload'])).slice(-1);
    const body = (JSON.parse(entry?.data ?? '{}') as { body: { outcome: string; reason: string; tx_ids: string[] } }).body;
    expect(body).toMatchObject({ outcome: 'failed', reason: 'insufficient_funds', tx_ids: [] });
    const holds = await env.sql(`select status from authorizations where org_id = 'acme' and amount_minor = 7 order by created_at desc limit 1`);
    expect(holds[0]?.status).toBe('released');
  });

  it('sits underneath an x402 payment wrapper that parses the challenge and retries on its own', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    // The steps @x402/fetch's wrapFetchWithPayment takes, with the official x402HTTPClient:
    // read the challenge from the 402 (consuming its body), sign, retry with the payment header.
    const watched = withSpendtrail(fetch, options({ pay: undefined }));
    const payingWrapper = async (url: string): Promise<Response> => {
      const first = await watched(url);
      if (first.status !== 402) return first;
      const body: unknown = JSON.parse((await first.text()) || '{}');
      const challenge = httpClient.getPaymentRequiredResponse((name) => first.headers.get(name), body);
      return watched(url, { headers: await payWithTestWallet(challenge) });
    };
    for (const path of ['/v2/30000', '/v1/40000']) {
      const res = await payingWrapper(`${resource.url}${path}`);
      expect(res.status, path).toBe(200);
    }
    const amounts = (await ledger()).map((t) => t.amount);
    expect(amounts).toEqual(expect.arrayContaining(['0.030000', '0.040000']));
  });
});
