import { describe, expect, it } from 'vitest';
import type { Principal } from '../src/app/principal.ts';
import { ingestRailCapture } from '../src/app/rail-ingest.ts';
import { upsertAccount, upsertRule } from '../src/app/setup.ts';
import { setValuationRules, valuationRulesOf } from '../src/app/valuation-rules.ts';
import { verifyLog } from '../src/app/verify.ts';
import { l402Capture, ROUTING_FEE_MERCHANT } from '../src/adapters/rails/l402/l402-payment.ts';
import { valuationFields } from '../src/domain/money/valuation.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { errorOf, seededSuite } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';
import { l402Fixture, lndPayment } from './rails-l402-fixtures.ts';
import type { L402Fixture } from './rails-l402-fixtures.ts';

/**
 * L402 payments into the ledger on both engines: real macaroons and signed BOLT #11 invoices
 * from the fixtures, an LND payment record as lncli prints it, the organisation's SAT
 * valuation rule, and the records as they are stored and logged.
 */
const agent: Principal = { org_id: 'acme', principal: 'agent:support-bot', roles: ['agent'], agent_id: 'support-bot', key_id: null };

const body = (f: L402Fixture, payment: Record<string, unknown> = {}, over: Record<string, unknown> = {}): Buffer =>
  Buffer.from(
    JSON.stringify({
      agent_id: 'support-bot',
      merchant: 'Inference API',
      merchant_category: '5734',
      business_purpose: 'Paid inference call for ticket triage',
      challenge: f.challenge,
      authorization: f.authorization,
      payment: lndPayment(f, payment),
      ...over,
    }),
  );

describe.each(ENGINES)('L402 payments on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });
  const record = async (payload: Buffer) => {
    const rules = await valuationRulesOf(env.deps.store, 'acme');
    return ingestRailCapture(env.deps, agent, l402Capture(payload, (asset, at) => valuationFields(rules, asset, 'USD', at)));
  };
  const setup = async (): Promise<void> => {
    await setValuationRules(env.deps, org.admin, [{ asset: 'SAT', quote: 'USD', rate: '0.001', source: 'treasury: 1 sat = 0.001 USD (test)' }]);
    await upsertAccount(env.deps, org.admin, { code: '6900', name: 'Payment network fees' });
    await upsertRule(env.deps, org.admin, { kind: 'merchant', match: ROUTING_FEE_MERCHANT, account_code: '6900' });
  };

  it('records a settled payment in SAT and its routing fee as a second line, coded to the fees account', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    await setup();
    const f = l402Fixture();
    const payload = body(f, { fee_msat: '12345' });
    const r = await record(payload);
    expect(r).toMatchObject({ status: 'recorded', rail: 'l402', source_id: f.paymentHash, outcome: 'settled' });
    const [pay, fee] = r.transactions;
    expect(pay).toMatchObject({
      external_id: f.paymentHash,
      amount: '150.000',
      currency: 'SAT',
      reporting_amount: '0.15',
      fx_rate: '0.001',
      fx_rate_source: 'treasury: 1 sat = 0.001 USD (test)',
      merchant: 'Inference API',
      payment_rail: 'l402',
      timestamp: '2026-03-12T10:00:00.123Z',
    });
    expect(fee).toMatchObject({ external_id: `${f.paymentHash}:fee`, amount: '12.345', currency: 'SAT', merchant: ROUTING_FEE_MERCHANT, accounting_code: '6900', accounting_code_source: 'merchant_rule', reporting_amount: '0.01' });
    const [stored] = await env.deps.store.getRailPayloads('acme', [{ rail: 'l402', source_id: f.paymentHash }]);
    expect(stored?.body.equals(payload)).toBe(true);
    expect(stored?.tx_ids).toEqual([pay?.tx_id, fee?.tx_id]);
    expect((await verifyLog(env.deps, org.admin, env.signer.note)).findings).toEqual([]);
  });

  it('answers a replay with the first result and refuses the same payment hash with other content', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const f = l402Fixture({ scheme: 'LSAT' });
    const first = await record(body(f));
    const again = await record(body(f));
    expect(again.status).toBe('duplicate');
    expect(again.transactions.map((t) => t.tx_id)).toEqual(first.transactions.map((t) => t.tx_id));
    expect(await errorOf(record(body(f, { value_msat: '151000' })))).toEqual({ code: 'IDEMPOTENCY_CONFLICT', field: 'source_id' });
  });

  it('refuses a preimage that does not open the payment hash, and writes nothing', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const f = l402Fixture();
    const other = l402Fixture();
    const before = await env.deps.store.entryStats('acme');
    expect(await errorOf(record(body(f, { payment_preimage: other.preimage.toString('hex') })))).toEqual({ code: 'PREIMAGE_MISMATCH', field: 'payment.payment_preimage' });
    expect(await errorOf(record(body(f, {}, { authorization: `L402 ${f.macaroon}:${other.preimage.toString('hex')}` })))).toEqual({ code: 'PREIMAGE_MISMATCH', field: 'authorization' });
    expect(await errorOf(record(body(f, {}, { challenge: other.challenge })))).toEqual({ code: 'PREIMAGE_MISMATCH', field: 'challenge' });
    expect(await env.deps.store.getRailPayloads('acme', [{ rail: 'l402', source_id: f.paymentHash }])).toEqual([]);
    expect((await env.deps.store.entryStats('acme')).maxSeqPlusOne).toBe(before.maxSeqPlusOne);
  });

  it('keeps a failed payment as a failed record without a transaction, and still records the retry that settles', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const f = l402Fixture();
    const failed = await record(body(f, { status: 'FAILED', payment_preimage: '0'.repeat(64), fee_msat: '0', failure_reason: 'FAILURE_REASON_NO_ROUTE' }, { authorization: null }));
    expect(failed).toMatchObject({ status: 'recorded', outcome: 'failed', transactions: [], source_id: `${f.paymentHash}:failed:1773309600123456789` });
    expect(await env.deps.store.findTransactionsByExternal('acme', [{ payment_rail: 'l402', external_id: f.paymentHash }])).toEqual([]);
    const [entry] = await env.deps.store.logEntriesOfKinds('acme', ['rail_payload'], [`l402:${failed.source_id}`]);
    expect(JSON.parse(entry?.data ?? '{}')).toMatchObject({ body: { outcome: 'failed', reason: 'FAILED: FAILURE_REASON_NO_ROUTE', tx_ids: [] } });
    const retry = await record(body(f, { creation_time_ns: '1773309700000000000' }));
    expect(retry).toMatchObject({ status: 'recorded', outcome: 'settled', source_id: f.paymentHash });
    expect(retry.transactions).toHaveLength(2);
  });

  it('refuses a payment still in flight: it is recorded once it has settled', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const f = l402Fixture();
    expect(await errorOf(record(body(f, { status: 'IN_FLIGHT', payment_preimage: '' }, { authorization: null })))).toEqual({ code: 'PAYMENT_NOT_SETTLED', field: 'payment.status' });
    expect(await errorOf(record(body(f, { status: 1 })))).toEqual({ code: 'PAYMENT_NOT_SETTLED', field: 'payment.status' });
    expect(await env.deps.store.getRailPayloads('acme', [{ rail: 'l402', source_id: f.paymentHash }])).toEqual([]);
  });
});
