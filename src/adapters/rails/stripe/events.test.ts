import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SpendtrailError } from '../../../domain/errors.ts';
import { DEFAULT_VALUATION_RULES } from '../../../domain/money/valuation.ts';
import {
  authorization,
  charge,
  event,
  issuingCard,
  issuingTransaction,
  merchant,
  paymentIntent,
  refund,
  cardholder,
} from '../../../../test/rails-stripe-fixtures.ts';
import type { LedgerPayment, SpendtrailHold, StripeFacts, StripeMapping } from './events.ts';
import { authorizationAskOf, factsWanted, fromStripeAmount, mapStripeEvent, parseStripeEvent, spendtrailAuthorizationId } from './events.ts';

const AT = new Date('2026-03-12T10:00:00.000Z');
const facts = (over: Partial<StripeFacts> = {}): StripeFacts => ({
  reportingCurrency: 'USD',
  valuationRules: DEFAULT_VALUATION_RULES,
  payments: new Map(),
  holds: new Map(),
  ...over,
});
/** Maps an event the way the webhook does: through its exact JSON bytes. */
function map(e: object, f: StripeFacts = facts()): StripeMapping {
  const payload = Buffer.from(JSON.stringify(e));
  return mapStripeEvent(parseStripeEvent(payload), payload, f);
}
const original = (over: Partial<LedgerPayment> = {}): LedgerPayment => ({
  tx_id: '01900000-0000-7000-8000-000000000001',
  agent_id: 'support-bot',
  currency: 'USD',
  merchant: 'OpenAI',
  merchant_category: '5734',
  business_purpose: 'inference',
  refunded_minor: 0n,
  ...over,
});
const codeOf = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof SpendtrailError) return e.code;
    throw e;
  }
};

describe('Stripe amounts', () => {
  it('reads integer minor units through the currency table: two-, zero- and three-decimal currencies', () => {
    expect(fromStripeAmount(2100, 'usd')).toMatchObject({ currency: 'USD', decimal: '21.00', minor: 2100n });
    expect(fromStripeAmount(1500, 'jpy')).toMatchObject({ currency: 'JPY', decimal: '1500' });
    expect(fromStripeAmount(12, 'krw').decimal).toBe('12');
    expect(fromStripeAmount(1230, 'kwd')).toMatchObject({ currency: 'KWD', decimal: '1.230' });
    expect(fromStripeAmount(5, 'bhd').decimal).toBe('0.005');
  });

  it("follows Stripe where it differs from ISO 4217: MGA zero-decimal, ISK and UGX sent with two decimals that must be zero", () => {
    expect(fromStripeAmount(700, 'mga').decimal).toBe('700.00');
    expect(fromStripeAmount(500, 'isk').decimal).toBe('5');
    expect(fromStripeAmount(50000, 'ugx').decimal).toBe('500');
    expect(codeOf(() => fromStripeAmount(550, 'isk'))).toBe('AMOUNT_NOT_EXACT');
  });

  it('refuses unknown currencies and non-integer amounts', () => {
    expect(codeOf(() => fromStripeAmount(100, 'xyz'))).toBe('UNKNOWN_CURRENCY');
    expect(codeOf(() => fromStripeAmount(100, 'usdc'))).toBe('UNKNOWN_CURRENCY');
    expect(codeOf(() => fromStripeAmount(10.5, 'usd'))).toBe('INVALID_AMOUNT');
  });
});

describe('payment_intent.succeeded', () => {
  it('books amount_received with the agent, purpose and merchant from metadata, keyed by the PaymentIntent id', () => {
    const pi = paymentIntent({ amount: 2500, amount_received: 2100, currency: 'usd', created: AT, metadata: { agent_id: 'support-bot', business_purpose: 'Inference batch 12', merchant: 'OpenAI', merchant_category: '5734' } });
    const e = event('payment_intent.succeeded', pi, new Date(AT.getTime() + 5000));
    const m = map(e);
    expect(m.capture).toMatchObject({ rail: 'stripe', source_id: e.id, outcome: 'settled', reason: null });
    expect(m.capture.transactions).toEqual([
      expect.objectContaining({
        external_id: pi.id,
        agent_id: 'support-bot',
        amount: '21.00',
        currency: 'USD',
        type: 'payment',
        payment_rail: 'stripe',
        merchant: 'OpenAI',
        merchant_category: '5734',
        business_purpose: 'Inference batch 12',
        timestamp: '2026-03-12T10:00:05.000Z',
        fx_rate: null,
      }),
    ]);
  });

  it('falls back to the statement descriptor for the merchant and ignores a category that is not an MCC', () => {
    const pi = paymentIntent({ amount: 900, currency: 'usd', created: AT, statement_descriptor: 'ACME CLOUD', metadata: { agent_id: 'support-bot', merchant_category: 'cloud' } });
    expect(map(event('payment_intent.succeeded', pi, AT)).capture.transactions[0]).toMatchObject({ merchant: 'ACME CLOUD', merchant_category: null });
  });

  it('keeps a PaymentIntent that names no agent as noted, with the reason', () => {
    const m = map(event('payment_intent.succeeded', paymentIntent({ amount: 900, currency: 'usd', created: AT }), AT));
    expect(m.capture.outcome).toBe('noted');
    expect(m.capture.transactions).toEqual([]);
    expect(m.capture.reason).toMatch(/^unattributed: payment_intent pi_/);
  });

  it('values a foreign currency by the organisation valuation rule, or keeps it noted with FX_RATE_REQUIRED when there is none', () => {
    const e = event('payment_intent.succeeded', paymentIntent({ amount: 1500, currency: 'jpy', created: AT, metadata: { agent_id: 'support-bot' } }), AT);
    const none = map(e);
    expect(none.capture.outcome).toBe('noted');
    expect(none.capture.reason).toMatch(/^FX_RATE_REQUIRED/);
    const rule = { asset: 'JPY', quote: 'USD', rate: '0.0067', source: 'treasury rate 2026-03' };
    const valued = map(e, facts({ valuationRules: [rule] }));
    expect(valued.capture.transactions[0]).toMatchObject({ amount: '1500', currency: 'JPY', fx_rate: '0.0067', fx_rate_source: 'treasury rate 2026-03' });
  });

  it('keeps a three-decimal amount exactly', () => {
    const e = event('payment_intent.succeeded', paymentIntent({ amount: 12340, currency: 'kwd', created: AT, metadata: { agent_id: 'support-bot' } }), AT);
    const rule = { asset: 'KWD', quote: 'USD', rate: '3.25', source: 'treasury rate 2026-03' };
    expect(map(e, facts({ valuationRules: [rule] })).capture.transactions[0]).toMatchObject({ amount: '12.340', currency: 'KWD' });
  });
});

describe('charge.refunded', () => {
  const pi = paymentIntent({ amount: 5000, currency: 'usd', created: AT, metadata: { agent_id: 'support-bot' } });
  const r1 = refund({ amount: 2000, currency: 'usd', created: new Date(AT.getTime() + 60_000), payment_intent: pi.id, charge: pi.latest_charge as string });
  const r2 = refund({ amount: 1000, currency: 'usd', created: new Date(AT.getTime() + 120_000), payment_intent: pi.id, charge: pi.latest_charge as string });
  const failed = refund({ amount: 999, currency: 'usd', created: new Date(AT.getTime() + 130_000), payment_intent: pi.id, charge: pi.latest_charge as string, status: 'failed' });
  const known = facts({ payments: new Map([[pi.id, original()]]) });

  it('books each refund in the list as a negative entry linked to the PaymentIntent, under the refund id, skipping failed ones', () => {
    const m = map(event('charge.refunded', charge(pi, [r2, failed, r1]), AT), known);
    expect(m.capture.outcome).toBe('settled');
    expect(m.capture.transactions.map((t) => [t.external_id, t.amount, t.type, t.refund_of, t.agent_id, t.merchant])).toEqual([
      [r1.id, '-20.00', 'refund', pi.id, 'support-bot', 'OpenAI'],
      [r2.id, '-10.00', 'refund', pi.id, 'support-bot', 'OpenAI'],
    ]);
  });

  it('without the list, books amount_refunded less what the ledger holds, keyed by the running total', () => {
    const c = charge(pi, null, { amount_refunded: 3000 });
    const m = map(event('charge.refunded', c, AT), facts({ payments: new Map([[pi.id, original({ refunded_minor: 2000n })]]) }));
    expect(m.capture.transactions.map((t) => [t.external_id, t.amount])).toEqual([[`${c.id}:refunded:3000`, '-10.00']]);
    const late = map(event('charge.refunded', charge(pi, null, { amount_refunded: 2000 }), AT), facts({ payments: new Map([[pi.id, original({ refunded_minor: 3000n })]]) }));
    expect(late.capture).toMatchObject({ outcome: 'noted', transactions: [] });
  });

  it('waits for a payment the ledger does not hold yet, and keeps a charge without PaymentIntent as noted', () => {
    const m = map(event('charge.refunded', charge(pi, [r1]), AT));
    expect(m.waitingFor).toBe(pi.id);
    expect(m.capture.outcome).toBe('noted');
    const bare = map(event('charge.refunded', charge(pi, [r1], { payment_intent: null }), AT), known);
    expect(bare.waitingFor).toBeNull();
    expect(bare.capture.reason).toMatch(/^unlinked refund/);
  });

  it('asks for the refunded payment it needs', () => {
    expect(factsWanted(parseStripeEvent(Buffer.from(JSON.stringify(event('charge.refunded', charge(pi, [r1]), AT)))))).toMatchObject({ paymentExternalIds: [pi.id], currencies: ['USD'] });
  });
});

describe('Issuing', () => {
  const card = issuingCard({ agent_id: 'support-bot', business_purpose: 'SaaS seats' });
  const saas = merchant('Linear', '5734');

  it('asks the ledger about an authorization request with the pending amount, merchant and agent from the card', () => {
    const a = authorization({ card, amount: 4200, currency: 'usd', merchant: saas, created: AT, pending: true });
    const q = authorizationAskOf(parseStripeEvent(Buffer.from(JSON.stringify(event('issuing_authorization.request', a, AT)))));
    expect(q).toEqual({
      ask: { stripe_authorization_id: a.id, agent_id: 'support-bot', amount: '42.00', currency: 'USD', merchant: 'Linear', merchant_category: '5734', business_purpose: 'SaaS seats' },
    });
  });

  it('finds the agent on the cardholder when the card has none, and declines a request nobody can be named for', () => {
    const viaHolder = issuingCard({}, cardholder({ agent_id: 'research-bot' }));
    const a = authorization({ card: viaHolder, amount: 100, currency: 'usd', merchant: saas, created: AT, pending: true });
    const ask = authorizationAskOf(parseStripeEvent(Buffer.from(JSON.stringify(event('issuing_authorization.request', a, AT)))));
    expect('ask' in ask && ask.ask.agent_id).toBe('research-bot');
    const nobody = authorization({ card: issuingCard(), amount: 100, currency: 'usd', merchant: saas, created: AT, pending: true });
    const q = authorizationAskOf(parseStripeEvent(Buffer.from(JSON.stringify(event('issuing_authorization.request', nobody, AT)))));
    expect('decline' in q && q.decline).toMatch(/^unattributed/);
  });

  it('books a capture (negative at Stripe) as a positive payment under its authorization id, with MCC and merchant name', () => {
    const t = issuingTransaction({ type: 'capture', amount: -4200, currency: 'usd', authorization: 'iauth_1', card: card.id, merchant: saas, created: AT, metadata: { agent_id: 'support-bot' } });
    const m = map(event('issuing_transaction.created', t, AT));
    expect(m.capture.transactions).toEqual([expect.objectContaining({ external_id: 'iauth_1', amount: '42.00', type: 'payment', merchant: 'Linear', merchant_category: '5734', authorization_id: null })]);
    expect(m.alternate?.transactions[0]?.external_id).toBe(`iauth_1:${t.id}`);
  });

  it('attributes a capture through the Spendtrail hold of its authorization and settles that hold when it covers the amount', () => {
    const holdId = spendtrailAuthorizationId('acme', 'iauth_2');
    const hold: SpendtrailHold = { authorization_id: holdId, agent_id: 'support-bot', decision: 'allow', status: 'held', amount_minor: 4200n };
    const within = issuingTransaction({ type: 'capture', amount: -4200, currency: 'usd', authorization: 'iauth_2', card: card.id, merchant: saas, created: AT });
    const m = map(event('issuing_transaction.created', within, AT), facts({ holds: new Map([['iauth_2', hold]]) }));
    expect(m.capture.transactions[0]).toMatchObject({ agent_id: 'support-bot', authorization_id: holdId });
    expect(m.release).toBeNull();
    const over = issuingTransaction({ type: 'capture', amount: -5000, currency: 'usd', authorization: 'iauth_2', card: card.id, merchant: saas, created: AT });
    const o = map(event('issuing_transaction.created', over, AT), facts({ holds: new Map([['iauth_2', hold]]) }));
    expect(o.capture.transactions[0]).toMatchObject({ amount: '50.00', authorization_id: null });
    expect(o.release).toBe(holdId);
  });

  it('books a refund (positive at Stripe) as a negative entry linked to the capture of the same authorization', () => {
    const t = issuingTransaction({ type: 'refund', amount: 1200, currency: 'usd', authorization: 'iauth_3', card: card.id, merchant: saas, created: AT });
    const m = map(event('issuing_transaction.created', t, AT), facts({ payments: new Map([['iauth_3', original({ merchant: 'Linear' })]]) }));
    expect(m.capture.transactions).toEqual([expect.objectContaining({ external_id: t.id, amount: '-12.00', type: 'refund', refund_of: 'iauth_3', agent_id: 'support-bot' })]);
  });

  it('keeps captures and refunds with an unexpected sign, and unlinked refunds, as noted', () => {
    const positiveCapture = issuingTransaction({ type: 'capture', amount: 4200, currency: 'usd', authorization: null, card: card.id, merchant: saas, created: AT, metadata: { agent_id: 'support-bot' } });
    expect(map(event('issuing_transaction.created', positiveCapture, AT)).capture.reason).toMatch(/^unexpected sign/);
    const reversal = issuingTransaction({ type: 'refund', amount: -1200, currency: 'usd', authorization: 'iauth_4', card: card.id, merchant: saas, created: AT });
    expect(map(event('issuing_transaction.created', reversal, AT)).capture.reason).toMatch(/^refund reversal/);
    const unlinked = issuingTransaction({ type: 'refund', amount: 1200, currency: 'usd', authorization: null, card: card.id, merchant: saas, created: AT });
    expect(map(event('issuing_transaction.created', unlinked, AT)).capture.reason).toMatch(/^unlinked refund/);
  });

  it('keeps an authorization as evidence only, and gives back the hold of one Stripe declined after Spendtrail allowed it', () => {
    const a = authorization({ card, amount: 4200, currency: 'usd', merchant: saas, created: AT, pending: false, approved: false });
    const hold: SpendtrailHold = { authorization_id: spendtrailAuthorizationId('acme', a.id), agent_id: 'support-bot', decision: 'allow', status: 'held', amount_minor: 4200n };
    const m = map(event('issuing_authorization.created', a, AT), facts({ holds: new Map([[a.id, hold]]) }));
    expect(m.capture).toMatchObject({ outcome: 'noted', transactions: [] });
    expect(m.capture.reason).toMatch(/^evidence only: issuing authorization iauth_\w+ declined for 42\.00 USD at Linear/);
    expect(m.release).toBe(hold.authorization_id);
  });
});

describe('every other event', () => {
  it('is kept as noted with the reason, never dropped', () => {
    const m = map(event('payment_intent.created', paymentIntent({ amount: 100, currency: 'usd', created: AT, metadata: { agent_id: 'support-bot' } }), AT));
    expect(m.capture).toMatchObject({ outcome: 'noted', transactions: [] });
    expect(m.capture.reason).toMatch(/^unsupported_event: payment_intent\.created/);
  });

  it('is kept as noted when its object does not have the shape Stripe documents', () => {
    const e = event('payment_intent.succeeded', paymentIntent({ amount: 100, currency: 'usd', created: AT }), AT);
    const broken = { ...e, data: { object: { ...e.data.object, amount_received: '100' } } };
    expect(map(broken).capture.reason).toMatch(/^MALFORMED_PAYLOAD at data\.object\.amount_received/);
  });

  it('refuses a body that is not a Stripe event at all: it cannot be keyed', () => {
    expect(codeOf(() => parseStripeEvent(Buffer.from('{not json')))).toBe('MALFORMED_PAYLOAD');
    expect(codeOf(() => parseStripeEvent(Buffer.from('{"object":"event","type":"x"}')))).toBe('MALFORMED_PAYLOAD');
  });
});

describe('Spendtrail authorization ids for Stripe authorizations', () => {
  it('are stable per organisation and Stripe id, distinct across them, and valid UUIDs for the ledger', () => {
    const a = spendtrailAuthorizationId('acme', 'iauth_1');
    expect(spendtrailAuthorizationId('acme', 'iauth_1')).toBe(a);
    expect(spendtrailAuthorizationId('other', 'iauth_1')).not.toBe(a);
    expect(spendtrailAuthorizationId('acme', 'iauth_2')).not.toBe(a);
    expect(z.string().uuid().safeParse(a).success).toBe(true);
  });
});
