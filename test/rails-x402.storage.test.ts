import { describe, expect, it } from 'vitest';
import { encodePaymentResponseHeader } from '@x402/core/http';
import type { Principal } from '../src/app/principal.ts';
import { setValuationRules } from '../src/app/valuation-rules.ts';
import { verifyLog } from '../src/app/verify.ts';
import { DEFAULT_VALUATION_RULES } from '../src/domain/money/valuation.ts';
import { recordX402Payment } from '../src/interfaces/http/x402-routes.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { codeOf, errorOf, seededSuite } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';
import { OTHER_ADDRESS, PAY_TO, USDC_BASE, USDC_BASE_SEPOLIA, account, reencode, txHash, v1Documents, v2Documents } from './rails-x402-fixtures.ts';

/**
 * x402 payments into the ledger on both engines, from headers made by the official x402
 * packages with a real EIP-3009 signature: amounts exact in USDC and valued by the
 * organisation's rule, the native record kept byte for byte, replays, conflicts, failed
 * settlements as evidence only, and every refusal leaving nothing behind.
 */

const bot: Principal = { org_id: 'acme', principal: 'research-bot@agents', roles: ['agent'], agent_id: 'research-bot', key_id: null };
const ledger = { agent_id: 'research-bot', business_purpose: 'Market data for the weekly research note', accounting_code: '6420' };
const payer = account.address.toLowerCase();

describe.each(ENGINES)('x402 payments in the ledger on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });
  const record = (body: Record<string, unknown>) => recordX402Payment(env.deps, bot, { ...ledger, ...body });
  const nothingWritten = async (body: Record<string, unknown>): Promise<string> => {
    const before = await env.deps.store.entryStats('acme');
    const code = await codeOf(record(body));
    expect((await env.deps.store.entryStats('acme')).maxSeqPlusOne).toBe(before.maxSeqPlusOne);
    return code;
  };

  it('books a v2 payment of 10000 atomic units as 0.010000 USDC valued at par, with the raw documents kept beside it', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const { payload, documents } = await v2Documents();
    const nonce = (payload.payload as { authorization: { nonce: string } }).authorization.nonce.toLowerCase();
    const r = await record(documents);
    expect(r.status).toBe('recorded');
    expect(r.outcome).toBe('settled');
    const sourceId = `eip155:84532/${USDC_BASE_SEPOLIA.toLowerCase()}/${payer}/${nonce}`;
    expect(r.source_id).toBe(sourceId);
    expect(r.x402).toMatchObject({ version: 2, network: 'eip155:84532', network_name: 'base-sepolia', amount: '0.010000', atomic_amount: '10000', payer, pay_to: PAY_TO, nonce });
    const [t] = r.transactions;
    expect(t).toMatchObject({
      external_id: sourceId,
      agent_id: 'research-bot',
      payment_rail: 'x402',
      amount: '0.010000',
      currency: 'USDC',
      reporting_amount: '0.01',
      reporting_currency: 'USD',
      fx_rate: '1',
      fx_rate_source: 'peg: 1 USDC = 1 USD (default rule)',
      merchant: PAY_TO,
      business_purpose: ledger.business_purpose,
      accounting_code: '6420',
      violations: [],
    });
    expect(t?.fx_rate_time).toBe(t?.timestamp);

    const [stored] = await env.deps.store.getRailPayloads('acme', [{ rail: 'x402', source_id: sourceId }]);
    expect(stored?.tx_ids).toEqual([t?.tx_id]);
    const kept = JSON.parse(stored?.body.toString('utf8') ?? '{}') as Record<string, unknown>;
    // The original header strings, byte for byte, and the decoded documents.
    expect(kept.headers).toEqual({ 'PAYMENT-REQUIRED': documents.payment_required, 'PAYMENT-SIGNATURE': documents.payment_signature, 'PAYMENT-RESPONSE': documents.payment_response });
    expect(kept).toMatchObject({ x402Version: 2, payment: { accepted: { amount: '10000' } }, settlement: { success: true } });
    // Canonical: keys in RFC 8785 order at the top level.
    expect(Object.keys(kept)).toEqual([...Object.keys(kept)].sort());
    expect((await verifyLog(env.deps, org.admin, env.signer.note)).findings).toEqual([]);
  });

  it('books a v1 payment from X-PAYMENT and the 402 body with its exact amount, network name mapped to CAIP-2', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const { documents } = await v1Documents({ maxAmountRequired: '1234567' });
    const r = await record({ ...documents, merchant: 'Example Research API', merchant_category: '5734' });
    expect(r.x402).toMatchObject({ version: 1, network: 'eip155:84532', network_name: 'base-sepolia', amount: '1.234567' });
    expect(r.source_id.startsWith(`eip155:84532/${USDC_BASE_SEPOLIA.toLowerCase()}/${payer}/0x`)).toBe(true);
    expect(r.transactions[0]).toMatchObject({ amount: '1.234567', currency: 'USDC', reporting_amount: '1.23', merchant: 'Example Research API', merchant_category: '5734' });
  });

  it('returns the first record for the same documents again, and refuses the same payment attributed differently', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const { documents } = await v2Documents({ amount: '250000' });
    const first = await record(documents);
    const again = await record(documents);
    expect(again.status).toBe('duplicate');
    expect(again.transactions.map((t) => t.tx_id)).toEqual(first.transactions.map((t) => t.tx_id));
    expect(await errorOf(record({ ...documents, business_purpose: 'Something else' }))).toEqual({ code: 'IDEMPOTENCY_CONFLICT', field: 'business_purpose' });
    const found = await env.deps.store.findTransactionsByExternal('acme', [{ payment_rail: 'x402', external_id: first.source_id }]);
    expect(found).toHaveLength(1);
  });

  it('refuses the same nonce with other content as a conflict and writes nothing', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const { documents } = await v2Documents({ amount: '20000' });
    await record(documents);
    const otherSettlement = encodePaymentResponseHeader({ success: true, transaction: txHash(), network: 'eip155:84532', payer: account.address });
    expect(await nothingWritten({ ...documents, payment_response: otherSettlement })).toBe('IDEMPOTENCY_CONFLICT');
  });

  it('records success:false as a failed record with the reason and no transaction', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const { documents } = await v2Documents({ amount: '30000' }, { success: false, errorReason: 'insufficient_funds', errorMessage: 'balance too low', transaction: '' });
    const r = await record(documents);
    expect(r).toMatchObject({ status: 'recorded', outcome: 'failed', reason: 'insufficient_funds: balance too low', transactions: [] });
    expect(r.x402.transaction).toBeNull();
    expect(await env.deps.store.findTransactionsByExternal('acme', [{ payment_rail: 'x402', external_id: r.source_id }])).toEqual([]);
    const [entry] = await env.deps.store.logEntriesOfKinds('acme', ['rail_payload'], [`x402:${r.source_id}`]);
    expect(JSON.parse(entry?.data ?? '{}')).toMatchObject({ body: { outcome: 'failed', reason: 'insufficient_funds: balance too low', tx_ids: [] } });
    expect(await record(documents)).toMatchObject({ status: 'duplicate', outcome: 'failed' });
  });

  it('refuses an unknown asset or network with UNKNOWN_ASSET', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    // Base mainnet USDC offered on Base Sepolia: a real contract, but not on that network.
    const wrongChain = await v2Documents({ asset: USDC_BASE });
    expect(await errorOf(record(wrongChain.documents))).toEqual({ code: 'UNKNOWN_ASSET', field: 'payment_signature.accepted.asset' });
    const unknownNetwork = await v2Documents({ network: 'eip155:11155111' }, { network: 'eip155:11155111' });
    expect(await nothingWritten(unknownNetwork.documents)).toBe('UNKNOWN_ASSET');
    const v1Unknown = await v1Documents({ network: 'polygon-amoy' }, { network: 'polygon-amoy' as never });
    expect(await errorOf(record(v1Unknown.documents))).toEqual({ code: 'UNKNOWN_ASSET', field: 'x_payment.network' });
  });

  it('refuses headers that are not base64 or not JSON with MALFORMED_PAYLOAD naming the field', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const { documents } = await v2Documents();
    expect(await errorOf(record({ ...documents, payment_signature: 'not base64!' }))).toEqual({ code: 'MALFORMED_PAYLOAD', field: 'payment_signature' });
    expect(await errorOf(record({ ...documents, payment_response: Buffer.from('{"success":tru').toString('base64') }))).toEqual({
      code: 'MALFORMED_PAYLOAD',
      field: 'payment_response',
    });
    expect(await errorOf(record({ ...documents, payment_required: Buffer.from('[1,2]').toString('base64') }))).toMatchObject({ code: 'MALFORMED_PAYLOAD' });
    const noValue = reencode(documents.payment_signature, (d) => {
      delete d.payload.authorization.value;
    });
    expect(await errorOf(record({ ...documents, payment_required: undefined, payment_signature: noValue }))).toEqual({
      code: 'MALFORMED_PAYLOAD',
      field: 'payment_signature.payload.authorization.value',
    });
    const v1 = await v1Documents();
    expect(await nothingWritten({ ...v1.documents, x_payment_response: '%%%' })).toBe('MALFORMED_PAYLOAD');
  });

  it('refuses a payment whose recipient is not the payee of the requirements', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    // v1: the payload was signed to PAY_TO, the requirements submitted pay someone else.
    const v1 = await v1Documents();
    const body = v1.documents.payment_requirements;
    const moved = { ...body, accepts: body.accepts.map((a) => ({ ...a, payTo: OTHER_ADDRESS })) };
    expect(await errorOf(record({ ...v1.documents, payment_requirements: moved }))).toEqual({
      code: 'VALIDATION_FAILED',
      field: 'x_payment.payload.authorization.to',
    });
    // v2: the accepted requirements inside the payload edited to another payee.
    const v2 = await v2Documents();
    const edited = reencode(v2.documents.payment_signature, (d) => {
      (d.accepted as { payTo: string }).payTo = OTHER_ADDRESS;
    });
    expect(await nothingWritten({ ...v2.documents, payment_required: undefined, payment_signature: edited })).toBe('VALIDATION_FAILED');
    // ...and with the challenge given, the edited offer is not one it made.
    expect(await errorOf(record({ ...v2.documents, payment_signature: edited }))).toEqual({ code: 'VALIDATION_FAILED', field: 'payment_signature.accepted' });
  });

  it('values USDC by the organisation rule in force, and still keeps a failed payment when no rule exists', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const finance = { ...org.admin, principal: 'fiona@acme.test' };
    await setValuationRules(env.deps, finance, [{ asset: 'USDC', quote: 'USD', rate: '0.9998', source: 'treasury: USDC at 0.9998 (FIN-77)' }]);
    try {
      const { documents } = await v2Documents({ amount: '5000000' });
      const r = await record(documents);
      expect(r.transactions[0]).toMatchObject({ amount: '5.000000', currency: 'USDC', fx_rate: '0.9998', fx_rate_source: 'treasury: USDC at 0.9998 (FIN-77)', reporting_amount: '5.00' });
      await setValuationRules(env.deps, finance, [{ asset: 'EURC', quote: 'USD', rate: '1.08', source: 'treasury' }]);
      const unvalued = await v2Documents({ amount: '7000' });
      expect(await nothingWritten(unvalued.documents)).toBe('FX_RATE_REQUIRED');
      const failed = await v2Documents({ amount: '7000' }, { success: false, errorReason: 'unexpected_settle_error', transaction: '' });
      expect(await record(failed.documents)).toMatchObject({ outcome: 'failed', transactions: [] });
    } finally {
      await setValuationRules(env.deps, finance, DEFAULT_VALUATION_RULES);
    }
  });

  it('records only for the agent the key acts for', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const { documents } = await v2Documents({ amount: '40000' });
    expect(await errorOf(record({ ...documents, agent_id: 'support-bot' }))).toEqual({ code: 'FORBIDDEN', field: 'agent_id' });
  });
});
