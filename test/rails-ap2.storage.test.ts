import { createHash } from 'node:crypto';
import canonicalizeReference from 'canonicalize';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../src/app/principal.ts';
import { ingestRailCapture } from '../src/app/rail-ingest.ts';
import { verifyLog } from '../src/app/verify.ts';
import { ap2Capture } from '../src/adapters/rails/ap2/ap2-payment.ts';
import { valuationFields } from '../src/domain/money/valuation.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { errorOf, seededSuite } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';
import { ap2Purchase, part } from './rails-ap2-fixtures.ts';

/** AP2 v0.1 purchases into the ledger on both engines, with the mandates' hashes as evidence. */
const agent: Principal = { org_id: 'acme', principal: 'agent:support-bot', roles: ['agent'], agent_id: 'support-bot', key_id: null };
const record = async (env: TestEnv, p: Record<string, unknown>) =>
  ingestRailCapture(env.deps, agent, ap2Capture(Buffer.from(JSON.stringify(p)), (asset, at) => valuationFields([], asset, 'USD', at)));
// RFC 8785 by an independent implementation (the `canonicalize` package), not the product's encoder.
const digest = (v: unknown): string => `sha256:${createHash('sha256').update(canonicalizeReference(v) ?? '').digest('hex')}`;

describe.each(ENGINES)('AP2 purchases on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });

  it('records the receipt amount to the cart merchant, referencing the user authorization and every mandate by hash', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const p = ap2Purchase({ value: 42.5 });
    const mandate = part(p, 'ap2.mandates.PaymentMandate');
    const id = (mandate.payment_mandate_contents as { payment_mandate_id: string }).payment_mandate_id;
    const r = await record(env, p);
    expect(r).toMatchObject({ status: 'recorded', rail: 'ap2', source_id: id, outcome: 'settled' });
    expect(r.transactions[0]).toMatchObject({
      external_id: id,
      amount: '42.50',
      currency: 'USD',
      merchant: 'Acme Compute',
      payment_rail: 'ap2',
      timestamp: '2026-03-12T10:00:05.250Z',
      business_purpose: 'GPU hours for the nightly evaluation run, up to 50 USD',
      approval_ref: `ap2 user_authorization sha256:${createHash('sha256').update(mandate.user_authorization as string).digest('hex')}`,
    });
    const [entry] = await env.deps.store.logEntriesOfKinds('acme', ['rail_payload'], [`ap2:${id}`]);
    const reason = (JSON.parse(entry?.data ?? '{}') as { body: { reason: string } }).body.reason;
    for (const [name, key] of [['IntentMandate', 'ap2.mandates.IntentMandate'], ['CartMandate', 'ap2.mandates.CartMandate'], ['PaymentMandate', 'ap2.mandates.PaymentMandate'], ['PaymentReceipt', 'ap2.PaymentReceipt']] as const) {
      expect(reason).toContain(`${name} ${digest(p[key])}`);
    }
    expect(reason).toContain('merchant_confirmation_id mc_778');
    expect((await verifyLog(env.deps, org.admin, env.signer.note)).findings).toEqual([]);
  });

  it('answers a replay with the first result and refuses the same mandate id with other content', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const p = ap2Purchase({ value: 19.99, intent: false });
    const first = await record(env, p);
    const again = await record(env, p);
    expect(again.status).toBe('duplicate');
    expect(again.transactions.map((t) => t.tx_id)).toEqual(first.transactions.map((t) => t.tx_id));
    expect(first.transactions[0]?.business_purpose).toBeNull();
    const changed = { ...p, business_purpose: 'another purpose' };
    expect(await errorOf(record(env, changed))).toEqual({ code: 'IDEMPOTENCY_CONFLICT', field: 'source_id' });
  });

  it('keeps a failed payment as a failed record with no transaction', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const p = ap2Purchase({ status: { failure_message: 'Card declined by issuer' } });
    const receipt = part(p, 'ap2.PaymentReceipt');
    const id = receipt.payment_mandate_id as string;
    const r = await record(env, p);
    expect(r).toMatchObject({ status: 'recorded', outcome: 'failed', transactions: [], source_id: `${id}:failed:${receipt.payment_id as string}` });
    expect(await env.deps.store.findTransactionsByExternal('acme', [{ payment_rail: 'ap2', external_id: id }])).toEqual([]);
    const [entry] = await env.deps.store.logEntriesOfKinds('acme', ['rail_payload'], [`ap2:${r.source_id}`]);
    expect((JSON.parse(entry?.data ?? '{}') as { body: { reason: string } }).body.reason).toMatch(/^Failure: Card declined by issuer; IntentMandate sha256:/);
  });

  it('refuses an amount the float cannot hold exactly, and writes nothing', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const p = ap2Purchase({ value: 0.1 + 0.2 });
    expect(await errorOf(record(env, p))).toEqual({ code: 'AMOUNT_NOT_EXACT', field: 'ap2.PaymentReceipt.amount.value' });
    const id = (part(p, 'ap2.PaymentReceipt').payment_mandate_id as string);
    expect(await env.deps.store.getRailPayloads('acme', [{ rail: 'ap2', source_id: id }])).toEqual([]);
  });
});
