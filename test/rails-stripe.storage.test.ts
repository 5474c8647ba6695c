import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppDeps } from '../src/app/deps.ts';
import type { RailEndpointRow, Store } from '../src/app/ports/store.ts';
import { verifyLog } from '../src/app/verify.ts';
import { parseStripeEvent, spendtrailAuthorizationId } from '../src/adapters/rails/stripe/events.ts';
import { STRIPE_RAIL_DEFAULTS, answerAuthorizationRequest, receiveStripeEvent } from '../src/adapters/rails/stripe/webhook.ts';
import { buildServer } from '../src/interfaces/http/server.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { seededSuite } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';
import { caller } from './support/http.ts';
import { API_VERSION, authorization, charge, event, issuingCard, issuingTransaction, merchant, paymentIntent, refund, signatureFor, signed } from './rails-stripe-fixtures.ts';

/**
 * The Stripe rail end to end: events signed with stripe-node's test-header helper are posted
 * to the webhook of a server built as the product builds it, on PGlite and on PostgreSQL, and
 * the ledger, the stored raw payloads and the log are read back. The organisation is the
 * seeded one (support-bot: 2500.00 per transaction, MCC 7995 blocked; research-bot: 500.00).
 */

const SECRET = 'whsec_test_spendtrail_rail_0123456789abcdef';

describe.each(ENGINES)('the Stripe rail on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  let app: FastifyInstance | undefined;
  let endpointId = '';
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });
  const call = caller(() => app);

  beforeAll(async () => {
    if (suite.skipped()) return;
    env.clock.set('2026-03-12T10:00:00.000Z');
    app = await buildServer(env.deps, { verifier: env.signer.note });
    const r = await call('POST', '/v1/rail-endpoints', org.adminKey, { rail: 'stripe', secret: SECRET, label: 'Stripe test mode' });
    expect(r.statusCode).toBe(201);
    endpointId = r.json<{ endpoint_id: string }>().endpoint_id;
  });
  afterAll(async () => {
    await app?.close();
  });

  const now = (): Date => env.clock.now();
  const later = (ms: number): Date => new Date(now().getTime() + ms);

  async function post(e: object, o: { at?: Date; secret?: string; endpoint?: string; body?: string } = {}): Promise<LightMyRequestResponse> {
    const s = signed(e, o.secret ?? SECRET, o.at ?? now());
    if (app === undefined) throw new Error('server not built');
    return app.inject({
      method: 'POST',
      url: `/v1/rails/stripe/${o.endpoint ?? endpointId}`,
      headers: { 'stripe-signature': s.header, 'content-type': 'application/json; charset=utf-8' },
      payload: o.body ?? s.body,
    });
  }
  const stored = async (eventId: string) => (await env.store.getRailPayloads('acme', [{ rail: 'stripe', source_id: eventId }]))[0];
  const ledger = async (externalId: string) => (await env.store.findTransactionsByExternal('acme', [{ payment_rail: 'stripe', external_id: externalId }]))[0]?.record;
  async function until<T>(read: () => Promise<T | undefined>): Promise<T> {
    for (let i = 0; i < 200; i++) {
      const v = await read();
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the record never appeared');
  }
  const paid = (amount: number, meta: Record<string, string> = { agent_id: 'support-bot', business_purpose: 'Model inference', merchant: 'OpenAI', merchant_category: '5734' }) =>
    paymentIntent({ amount, currency: 'usd', created: later(-60_000), metadata: meta });

  it('books payment_intent.succeeded into the ledger and keeps the exact bytes beside it, checked by verify', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const pi = paid(2100);
    const e = event('payment_intent.succeeded', pi, now());
    const s = signed(e, SECRET, now());
    const r = await post(e);
    expect(r.statusCode, r.body).toBe(200);
    const receipt = r.json<{ status: string; outcome: string; tx_ids: string[] }>();
    expect(receipt).toMatchObject({ event_id: e.id, status: 'recorded', outcome: 'settled' });
    const t = await ledger(pi.id);
    expect(t).toMatchObject({
      tx_id: receipt.tx_ids[0],
      agent_id: 'support-bot',
      amount: '21.00',
      currency: 'USD',
      payment_rail: 'stripe',
      merchant: 'OpenAI',
      merchant_category: '5734',
      business_purpose: 'Model inference',
      recorded_by: `rail:stripe:${endpointId}`,
      violations: [],
    });
    expect(t?.policy_snapshot_id).toMatch(/^sha256:/);
    const row = await stored(e.id);
    expect(row?.body.toString('utf8')).toBe(s.body);
    expect(row).toMatchObject({ outcome: 'settled', tx_ids: receipt.tx_ids });
    expect((await verifyLog(env.deps, org.admin, env.signer.note)).findings).toEqual([]);
  });

  it('answers a replayed event as a duplicate and books nothing twice, also when Stripe re-sends it with pending_webhooks changed', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const pi = paid(1300);
    const e = event('payment_intent.succeeded', pi, now());
    const first = (await post(e)).json<{ tx_ids: string[] }>();
    const before = await env.store.entryStats('acme');
    const again = await post(e);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ status: 'duplicate', outcome: 'settled', tx_ids: first.tx_ids });
    const resent = await post({ ...e, pending_webhooks: 0 });
    expect(resent.json()).toMatchObject({ status: 'duplicate', tx_ids: first.tx_ids });
    expect(await env.store.entryStats('acme')).toEqual(before);
    const forged = await post({ ...e, data: { object: { ...pi, amount_received: 130000 } } });
    expect(forged.statusCode).toBe(409);
    expect(forged.json()).toMatchObject({ error: { code: 'IDEMPOTENCY_CONFLICT' } });
    expect((await ledger(pi.id))?.amount).toBe('13.00');
  });

  it('books partial refunds as negative entries linked to the payment, each refund once, and never beyond the payment', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const pi = paid(5000);
    await post(event('payment_intent.succeeded', pi, later(-50_000)));
    const original = await ledger(pi.id);
    const ch = pi.latest_charge as string;
    const r1 = refund({ amount: 2000, currency: 'usd', created: later(-40_000), payment_intent: pi.id, charge: ch });
    const r2 = refund({ amount: 3000, currency: 'usd', created: later(-30_000), payment_intent: pi.id, charge: ch });
    const one = await post(event('charge.refunded', charge(pi, [r1]), later(-40_000)));
    expect(one.json()).toMatchObject({ status: 'recorded', outcome: 'settled' });
    // Stripe lists every refund of the charge, newest first: r1 comes again and is not booked twice.
    const two = await post(event('charge.refunded', charge(pi, [r2, r1]), later(-30_000)));
    expect(two.json<{ tx_ids: string[] }>().tx_ids).toHaveLength(2);
    const refunds = [await ledger(r1.id), await ledger(r2.id)];
    expect(refunds.map((t) => [t?.type, t?.amount, t?.refund_of, t?.agent_id])).toEqual([
      ['refund', '-20.00', original?.tx_id, 'support-bot'],
      ['refund', '-30.00', original?.tx_id, 'support-bot'],
    ]);
    expect(two.json<{ tx_ids: string[] }>().tx_ids).toContain(refunds[0]?.tx_id);
    // A refund beyond the payment (Stripe would not send one; a signed body can): kept, not booked.
    const r3 = refund({ amount: 100, currency: 'usd', created: later(-20_000), payment_intent: pi.id, charge: ch });
    const over = event('charge.refunded', charge(pi, [r3, r2, r1]), later(-20_000));
    const capped = await post(over);
    expect(capped.statusCode).toBe(200);
    expect(capped.json()).toMatchObject({ outcome: 'noted', tx_ids: [] });
    expect(capped.json<{ reason: string }>().reason).toMatch(/^REFUND_EXCEEDS_ORIGINAL/);
    expect(await ledger(r3.id)).toBeUndefined();
    expect((await stored(over.id))?.outcome).toBe('noted');
  });

  it('without a refunds list, books what amount_refunded adds to the ledger, whatever order the events come in', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const pi = paid(4000);
    await post(event('payment_intent.succeeded', pi, later(-50_000)));
    const second = await post(event('charge.refunded', charge(pi, null, { amount_refunded: 3000 }), later(-10_000)));
    const first = await post(event('charge.refunded', charge(pi, null, { amount_refunded: 1000 }), later(-20_000)));
    expect(second.json()).toMatchObject({ outcome: 'settled' });
    expect(first.json()).toMatchObject({ outcome: 'noted', tx_ids: [] });
    const total = await env.store.refundedSoFar('acme', [(await ledger(pi.id))?.tx_id ?? '']);
    expect([...total.values()].map(Number)).toEqual([-30]);
  });

  it('refuses a refund of a payment not in the ledger yet while the event is young, so Stripe retries it, and books it after', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const pi = paid(1500);
    const r1 = refund({ amount: 500, currency: 'usd', created: now(), payment_intent: pi.id, charge: pi.latest_charge as string });
    const early = event('charge.refunded', charge(pi, [r1]), now());
    const before = await env.store.entryStats('acme');
    const refused = await post(early);
    expect(refused.statusCode).toBe(404);
    expect(refused.json()).toMatchObject({ error: { code: 'REFUND_TARGET_NOT_FOUND' } });
    expect(await env.store.entryStats('acme')).toEqual(before);
    await post(event('payment_intent.succeeded', pi, now()));
    const retried = await post(early);
    expect(retried.json()).toMatchObject({ status: 'recorded', outcome: 'settled' });
    expect((await ledger(r1.id))?.amount).toBe('-5.00');
    // An hour later the same situation is kept as noted instead of being refused for ever.
    const orphan = paid(700);
    const old = event('charge.refunded', charge(orphan, [refund({ amount: 700, currency: 'usd', created: later(-7_200_000), payment_intent: orphan.id, charge: orphan.latest_charge as string })]), later(-7_200_000));
    const kept = await post(old);
    expect(kept.statusCode).toBe(200);
    expect(kept.json()).toMatchObject({ outcome: 'noted' });
  });

  it('keeps events it cannot attribute or does not book as noted records and answers 200, so Stripe does not retry them', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const nobody = event('payment_intent.succeeded', paid(900, {}), now());
    const r = await post(nobody);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ status: 'recorded', outcome: 'noted', tx_ids: [] });
    expect(r.json<{ reason: string }>().reason).toMatch(/^unattributed/);
    expect((await stored(nobody.id))?.outcome).toBe('noted');
    const stranger = event('payment_intent.succeeded', paid(900, { agent_id: 'no-such-bot' }), now());
    expect((await post(stranger)).json<{ reason: string }>().reason).toMatch(/^AGENT_NOT_FOUND/);
    const other = event('payment_intent.created', paid(900), now());
    expect((await post(other)).json()).toMatchObject({ outcome: 'noted', reason: expect.stringMatching(/^unsupported_event/) as unknown });
    const [entry] = await env.store.logEntriesOfKinds('acme', ['rail_payload'], [`stripe:${nobody.id}`]);
    expect(JSON.parse(entry?.data ?? '{}')).toMatchObject({ body: { outcome: 'noted', reason: expect.stringMatching(/^unattributed/) as unknown, tx_ids: [] } });
  });

  it('refuses forged and stale signatures, unknown and malformed input, and writes nothing for any of them', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const e = event('payment_intent.succeeded', paid(100), now());
    const before = await env.store.entryStats('acme');
    const forged = await post(e, { secret: 'whsec_not_the_endpoint_secret_000000' });
    expect([forged.statusCode, forged.json()]).toEqual([401, { error: { code: 'INVALID_SIGNATURE', field: 'stripe-signature', message: expect.any(String) as unknown } }]);
    const stale = await post(e, { at: later(-301_000) });
    expect([stale.statusCode, stale.json<{ error: { code: string } }>().error.code]).toEqual([401, 'SIGNATURE_EXPIRED']);
    const tampered = await post(e, { body: JSON.stringify(e) });
    expect(tampered.json<{ error: { code: string } }>().error.code).toBe('INVALID_SIGNATURE');
    const unsigned = await app?.inject({ method: 'POST', url: `/v1/rails/stripe/${endpointId}`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(e) });
    expect(unsigned?.statusCode).toBe(401);
    const notJson = await app?.inject({
      method: 'POST',
      url: `/v1/rails/stripe/${endpointId}`,
      headers: { 'content-type': 'application/json', 'stripe-signature': signatureFor('{nope', SECRET, now()) },
      payload: '{nope',
    });
    expect([notJson?.statusCode, notJson?.json<{ error: { code: string } }>().error.code]).toEqual([400, 'MALFORMED_PAYLOAD']);
    const ask = authorization({ card: issuingCard({ agent_id: 'support-bot', business_purpose: 'x' }), amount: 100, currency: 'usd', merchant: merchant('AWS', '4816'), created: now(), pending: true });
    const forgedAsk = await post(event('issuing_authorization.request', ask, now()), { secret: 'whsec_not_the_endpoint_secret_000000' });
    expect([forgedAsk.statusCode, forgedAsk.json<{ error: { code: string } }>().error.code]).toEqual([401, 'INVALID_SIGNATURE']);
    const elsewhere = await post(event('issuing_authorization.request', ask, now()), { endpoint: 'rep_00000000000000000000000000000000' });
    expect([elsewhere.statusCode, elsewhere.json<{ error: { code: string } }>().error.code]).toEqual([404, 'ENDPOINT_NOT_FOUND']);
    expect(await env.store.getAuthorization('acme', spendtrailAuthorizationId('acme', ask.id))).toBeUndefined();
    expect(await env.store.entryStats('acme')).toEqual(before);
    expect(await stored(e.id)).toBeUndefined();
  });

  it('answers unknown and revoked endpoints alike with 404 ENDPOINT_NOT_FOUND', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const e = event('payment_intent.succeeded', paid(100), now());
    const added = await call('POST', '/v1/rail-endpoints', org.adminKey, { rail: 'stripe', secret: SECRET });
    const id = added.json<{ endpoint_id: string }>().endpoint_id;
    const revoked = await app?.inject({ method: 'DELETE', url: `/v1/rail-endpoints/${id}`, headers: { authorization: `Bearer ${org.adminKey}` } });
    expect(revoked?.json<{ revoked_at: string | null }>().revoked_at).not.toBeNull();
    const answers = await Promise.all([post(e, { endpoint: id }), post(e, { endpoint: 'rep_00000000000000000000000000000000' }), post(e, { endpoint: 'not-an-id' })]);
    expect(answers.map((a) => a.statusCode)).toEqual([404, 404, 404]);
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
  });

  it('answers an issuing authorization request from the policy within budget, holds the amount, and records decision and snapshot', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const card = issuingCard({ agent_id: 'support-bot', business_purpose: 'Developer tooling' });
    const a = authorization({ card, amount: 4200, currency: 'usd', merchant: merchant('Linear', '5734'), created: now(), pending: true });
    const req = event('issuing_authorization.request', a, now());
    const started = performance.now();
    const r = await post(req);
    const elapsed = performance.now() - started;
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ approved: true });
    expect(r.headers['stripe-version']).toBe(API_VERSION);
    expect(elapsed).toBeLessThan(STRIPE_RAIL_DEFAULTS.authorizationDeadlineMs);
    const hold = await env.store.getAuthorization('acme', spendtrailAuthorizationId('acme', a.id));
    expect(hold).toMatchObject({ agent_id: 'support-bot', decision: 'allow', status: 'held', amount_minor: 4200n, requested_by: `rail:stripe:${endpointId}` });
    const record = await until(() => stored(req.id));
    const [entry] = await env.store.logEntriesOfKinds('acme', ['rail_payload'], [`stripe:${req.id}`]);
    const reason = (JSON.parse(entry?.data ?? '{}') as { body: { reason: string } }).body.reason;
    expect(record.outcome).toBe('noted');
    expect(reason).toContain('approved: decision allow');
    expect(reason).toContain(`policy_snapshot_id ${hold?.policy_snapshot_id ?? 'missing'}`);

    // The capture settles that hold and is booked as a positive payment under the authorization id.
    const cap = issuingTransaction({ type: 'capture', amount: -4200, currency: 'usd', authorization: a.id, card: card.id, merchant: merchant('Linear', '5734'), created: later(1000) });
    const booked = await post(event('issuing_transaction.created', cap, later(1000)));
    expect(booked.json()).toMatchObject({ outcome: 'settled' });
    const payment = await ledger(a.id);
    expect(payment).toMatchObject({ type: 'payment', amount: '42.00', agent_id: 'support-bot', merchant: 'Linear', merchant_category: '5734', authorization_id: hold?.authorization_id, business_purpose: null });
    expect((await env.store.getAuthorization('acme', hold?.authorization_id ?? ''))?.status).toBe('settled');

    // Stripe's refund is positive; in the ledger it is a negative refund of that capture.
    const back = issuingTransaction({ type: 'refund', amount: 1200, currency: 'usd', authorization: a.id, card: card.id, merchant: merchant('Linear', '5734'), created: later(2000) });
    await post(event('issuing_transaction.created', back, later(2000)));
    expect(await ledger(back.id)).toMatchObject({ type: 'refund', amount: '-12.00', refund_of: payment?.tx_id, agent_id: 'support-bot' });
  });

  it('answers a second request about the same Stripe authorization as the first, without a second hold', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const a = authorization({ card: issuingCard({ agent_id: 'support-bot', business_purpose: 'Tooling' }), amount: 900, currency: 'usd', merchant: merchant('Linear', '5734'), created: now(), pending: true });
    const first = event('issuing_authorization.request', a, now());
    const again = event('issuing_authorization.request', a, later(1000));
    expect((await post(first)).json()).toEqual({ approved: true });
    expect((await post(again)).json()).toEqual({ approved: true });
    const record = await until(() => stored(again.id));
    const [entry] = await env.store.logEntriesOfKinds('acme', ['rail_payload'], [`stripe:${record.source_id}`]);
    expect((JSON.parse(entry?.data ?? '{}') as { body: { reason: string } }).body.reason).toContain('asked again, answered as before: decision allow');
    const holds = await env.sql(`select count(*)::int as n from authorizations where authorization_id = $1`, [spendtrailAuthorizationId('acme', a.id)]);
    expect(holds[0]?.n).toBe(1);
  });

  it('declines an authorization request the policy denies, holds nothing, and records why', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const card = issuingCard({ agent_id: 'support-bot' });
    const over = event('issuing_authorization.request', authorization({ card, amount: 300_000, currency: 'usd', merchant: merchant('AWS', '4816'), created: now(), pending: true }), now());
    const casino = event('issuing_authorization.request', authorization({ card, amount: 1000, currency: 'usd', merchant: merchant('Lucky Slots', '7995', 'betting_casino_gambling'), created: now(), pending: true }), now());
    const nobody = event('issuing_authorization.request', authorization({ card: issuingCard(), amount: 1000, currency: 'usd', merchant: merchant('AWS', '4816'), created: now(), pending: true }), now());
    for (const [e, why] of [[over, 'decision deny (over_limit'], [casino, 'decision deny (blocked_category'], [nobody, 'declined without asking the ledger: unattributed']] as const) {
      const r = await post(e);
      expect([r.statusCode, r.json()]).toEqual([200, { approved: false }]);
      expect(r.headers['stripe-version']).toBe(API_VERSION);
      await until(() => stored(e.id));
      const [entry] = await env.store.logEntriesOfKinds('acme', ['rail_payload'], [`stripe:${e.id}`]);
      expect((JSON.parse(entry?.data ?? '{}') as { body: { reason: string } }).body.reason).toContain(why);
    }
    expect((await env.store.getAuthorization('acme', spendtrailAuthorizationId('acme', over.data.object.id)))?.status).toBe('declined');
  });

  it('books a second capture of one authorization under its own id, and keeps an uncaptured Stripe decline from holding budget', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const card = issuingCard({ agent_id: 'support-bot', business_purpose: 'Offsite for the support team' });
    const a = authorization({ card, amount: 3000, currency: 'usd', merchant: merchant('Hotel', '7011', 'hotels_motels_and_resorts'), created: now(), pending: true });
    await post(event('issuing_authorization.request', a, now()));
    const first = issuingTransaction({ type: 'capture', amount: -2000, currency: 'usd', authorization: a.id, card: card.id, merchant: merchant('Hotel', '7011'), created: later(1000) });
    const second = issuingTransaction({ type: 'capture', amount: -1000, currency: 'usd', authorization: a.id, card: card.id, merchant: merchant('Hotel', '7011'), created: later(2000) });
    await post(event('issuing_transaction.created', first, later(1000)));
    const r = await post(event('issuing_transaction.created', second, later(2000)));
    expect(r.json()).toMatchObject({ outcome: 'settled' });
    expect((await ledger(a.id))?.amount).toBe('20.00');
    expect((await ledger(`${a.id}:${second.id}`))?.amount).toBe('10.00');

    const b = authorization({ card, amount: 2500, currency: 'usd', merchant: merchant('AWS', '4816'), created: now(), pending: true });
    await post(event('issuing_authorization.request', b, now()));
    const holdId = spendtrailAuthorizationId('acme', b.id);
    expect((await env.store.getAuthorization('acme', holdId))?.status).toBe('held');
    const declined = event('issuing_authorization.created', { ...b, approved: false, pending_request: null, status: 'closed' }, later(500));
    expect((await post(declined)).json()).toMatchObject({ outcome: 'noted', reason: expect.stringMatching(/^evidence only: issuing authorization .* declined/) as unknown });
    expect((await env.store.getAuthorization('acme', holdId))?.status).toBe('released');
  });

  it('declines at the deadline when the ledger is slow, and gives back the hold the ledger makes afterwards', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const endpoint = (await env.store.getRailEndpoint(endpointId)) as RailEndpointRow;
    const slow: Store = Object.create(env.store, {
      unitOfWork: { value: async <T>(fn: Parameters<Store['unitOfWork']>[0]) => { await new Promise((r) => setTimeout(r, 300)); return env.store.unitOfWork(fn) as Promise<T>; } },
    }) as Store;
    const deps: AppDeps = { ...env.deps, store: slow };
    const a = authorization({ card: issuingCard({ agent_id: 'support-bot', business_purpose: 'Inference' }), amount: 1500, currency: 'usd', merchant: merchant('AWS', '4816'), created: now(), pending: true });
    const s = signed(event('issuing_authorization.request', a, now()), SECRET, now());
    const started = performance.now();
    const answer = await answerAuthorizationRequest(deps, () => Promise.resolve(endpoint), endpointId, Buffer.from(s.body), s.header, { ...STRIPE_RAIL_DEFAULTS, authorizationDeadlineMs: 50 }, started);
    expect(performance.now() - started).toBeLessThan(250);
    expect([answer.approved, answer.stripe_version]).toEqual([false, API_VERSION]);
    const recorded = await answer.record();
    const [entry] = await env.store.logEntriesOfKinds('acme', ['rail_payload'], [`stripe:${recorded?.source_id ?? ''}`]);
    expect((JSON.parse(entry?.data ?? '{}') as { body: { reason: string } }).body.reason).toMatch(
      /^real-time authorization declined: no decision within 50 ms .*decision allow.*its hold was released$/,
    );
    expect((await env.store.getAuthorization('acme', spendtrailAuthorizationId('acme', a.id)))?.status).toBe('released');
  });

  it('never approves after the deadline, even when the thread was too busy for the deadline timer to fire', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const endpoint = (await env.store.getRailEndpoint(endpointId)) as RailEndpointRow;
    // The unit of work finishes, then the thread spins past the deadline: the decision resolves
    // before the timers phase comes round, as when the embedded engine keeps the thread busy.
    const busy: Store = Object.create(env.store, {
      unitOfWork: {
        value: async <T>(fn: Parameters<Store['unitOfWork']>[0]) => {
          const r = (await env.store.unitOfWork(fn)) as T;
          const until = performance.now() + 120;
          while (performance.now() < until) {
            // spinning on purpose
          }
          return r;
        },
      },
    }) as Store;
    const a = authorization({ card: issuingCard({ agent_id: 'support-bot', business_purpose: 'Inference' }), amount: 700, currency: 'usd', merchant: merchant('AWS', '4816'), created: now(), pending: true });
    const s = signed(event('issuing_authorization.request', a, now()), SECRET, now());
    const answer = await answerAuthorizationRequest({ ...env.deps, store: busy }, () => Promise.resolve(endpoint), endpointId, Buffer.from(s.body), s.header, { ...STRIPE_RAIL_DEFAULTS, authorizationDeadlineMs: 50 });
    expect(answer.approved).toBe(false);
    await answer.record();
    expect((await env.store.getAuthorization('acme', spendtrailAuthorizationId('acme', a.id)))?.status).toBe('released');
  });

  it('counts the deadline from arrival, endpoint lookup included, and then does not ask the ledger at all', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const endpoint = (await env.store.getRailEndpoint(endpointId)) as RailEndpointRow;
    const slowLookup = async (): Promise<RailEndpointRow> => {
      await new Promise((r) => setTimeout(r, 200));
      return endpoint;
    };
    const a = authorization({ card: issuingCard({ agent_id: 'support-bot', business_purpose: 'Inference' }), amount: 1500, currency: 'usd', merchant: merchant('AWS', '4816'), created: now(), pending: true });
    const s = signed(event('issuing_authorization.request', a, now()), SECRET, now());
    const answer = await answerAuthorizationRequest(env.deps, slowLookup, endpointId, Buffer.from(s.body), s.header, { ...STRIPE_RAIL_DEFAULTS, authorizationDeadlineMs: 50 });
    expect(answer.approved).toBe(false);
    const recorded = await answer.record();
    expect(recorded?.outcome).toBe('noted');
    expect(await env.store.getAuthorization('acme', spendtrailAuthorizationId('acme', a.id))).toBeUndefined();
    const forged = signed(event('issuing_authorization.request', a, now()), 'whsec_not_the_endpoint_secret_000000', now());
    const refused = await answerAuthorizationRequest(env.deps, slowLookup, endpointId, Buffer.from(forged.body), forged.header, { ...STRIPE_RAIL_DEFAULTS, authorizationDeadlineMs: 50 });
    expect(refused.approved).toBe(false);
    expect(await refused.record()).toBeNull();
  });

  it('books a capture without its hold when the hold was released after it was read, instead of losing it', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const endpoint = (await env.store.getRailEndpoint(endpointId)) as RailEndpointRow;
    const card = issuingCard({ agent_id: 'support-bot', business_purpose: 'Tooling' });
    const a = authorization({ card, amount: 800, currency: 'usd', merchant: merchant('Linear', '5734'), created: now(), pending: true });
    expect((await post(event('issuing_authorization.request', a, now()))).json()).toEqual({ approved: true });
    const holdId = spendtrailAuthorizationId('acme', a.id);
    const held = await env.store.getAuthorization('acme', holdId);
    await env.store.unitOfWork((tx) => tx.setAuthorizationStatus('acme', holdId, 'released', null));
    // The facts still see the hold open, as when a release lands between reading and booking.
    const stale: Store = Object.create(env.store, { getAuthorization: { value: () => Promise.resolve(held) } }) as Store;
    const cap = issuingTransaction({ type: 'capture', amount: -800, currency: 'usd', authorization: a.id, card: card.id, merchant: merchant('Linear', '5734'), created: later(1000) });
    const body = Buffer.from(JSON.stringify(event('issuing_transaction.created', cap, later(1000))));
    const r = await receiveStripeEvent({ ...env.deps, store: stale }, endpoint, body, parseStripeEvent(body));
    expect(r).toMatchObject({ outcome: 'settled' });
    expect(await ledger(a.id)).toMatchObject({ amount: '8.00', authorization_id: null });
  });

  it('records events through the use case exactly as through HTTP (receiveStripeEvent is what the route runs)', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const endpoint = (await env.store.getRailEndpoint(endpointId)) as RailEndpointRow;
    const e = event('payment_intent.succeeded', paid(800), now());
    const body = Buffer.from(JSON.stringify(e));
    const r = await receiveStripeEvent(env.deps, endpoint, body, parseStripeEvent(body));
    expect(r).toMatchObject({ status: 'recorded', outcome: 'settled', type: 'payment_intent.succeeded' });
    expect((await stored(e.id))?.body.equals(body)).toBe(true);
  });
});
