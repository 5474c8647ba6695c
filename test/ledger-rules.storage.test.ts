import { describe, expect, it } from 'vitest';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { authorize } from '../src/app/authorize.ts';
import { verifyLog } from '../src/app/verify.ts';
import type { Principal } from '../src/app/principal.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { seededSuite, tx } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';

describe.each(ENGINES)('ledger rules on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  const bot: Principal = { org_id: 'acme', principal: 'support-bot@agents', roles: ['agent'], agent_id: 'support-bot', key_id: null };

  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });

  const record = (...items: ReturnType<typeof tx>[]) => recordTransactions(env.deps, org.admin, items);
  const txOf = (o: Awaited<ReturnType<typeof record>>[number] | undefined) => (o?.ok ? o.result : undefined);

  it('returns a replayed full refund as a duplicate, alone or with its payment', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const pay = tx({ external_id: 'rf_pay', amount: '10.00' });
    const refund = tx({ external_id: 'rf_ref', amount: '-10.00', refund_of: 'rf_pay', type: 'refund' });
    await record(pay, refund);
    const again = await record(pay, refund);
    expect(again.map((o) => txOf(o)?.status)).toEqual(['duplicate', 'duplicate']);
    expect(txOf((await record(refund))[0])?.status).toBe('duplicate');
  });

  it('caps refunds in the original currency whatever the rate', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const fx = (rate: string, amount: string, over: Record<string, unknown> = {}) =>
      tx({ currency: 'EUR', amount, fx_rate: rate, fx_rate_source: 'ecb', fx_rate_time: '2026-03-12T00:00:00Z', ...over });
    await record(fx('1.10', '100.00', { external_id: 'eur_pay' }));
    const full = await record(fx('1.20', '-100.00', { external_id: 'eur_ref1', refund_of: 'eur_pay', type: 'refund' }));
    expect(txOf(full[0])?.transaction.reporting_amount).toBe('-120.00');
    await expect(record(fx('0.70', '-0.01', { external_id: 'eur_ref2', refund_of: 'eur_pay', type: 'refund' }))).rejects.toMatchObject({
      code: 'REFUND_EXCEEDS_ORIGINAL',
    });
    await record(tx({ external_id: 'usd_pay', amount: '50.00' }));
    await expect(
      record(tx({ external_id: 'jpy_ref', currency: 'JPY', amount: '-5000', fx_rate: '0.0067', fx_rate_source: 'x', fx_rate_time: '2026-03-12T00:00:00Z', refund_of: 'usd_pay', type: 'refund' })),
    ).rejects.toMatchObject({ code: 'CURRENCY_MISMATCH', field: 'transactions[0].currency' });
  });

  it('refuses a reported amount that does not match the stated rate', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const under = tx({ currency: 'EUR', amount: '100000.00', fx_rate: '1.10', fx_rate_source: 'ecb', fx_rate_time: '2026-03-12T00:00:00Z', reporting_amount: '0.00' });
    await expect(record(under)).rejects.toMatchObject({ code: 'INVALID_AMOUNT', field: 'transactions[0].reporting_amount' });
    const off = tx({ currency: 'EUR', amount: '100.00', fx_rate: '1.10', fx_rate_source: 'ecb', fx_rate_time: '2026-03-12T00:00:00Z', reporting_amount: '90.00' });
    await expect(record(off)).rejects.toMatchObject({ code: 'INVALID_AMOUNT' });
    const close = tx({ currency: 'EUR', amount: '100.00', fx_rate: '1.10', fx_rate_source: 'processor', fx_rate_time: '2026-03-12T00:00:00Z', reporting_amount: '110.03' });
    expect(txOf((await record(close))[0])?.transaction.reporting_amount).toBe('110.03');
  });

  it('settles only an open allow hold, once, up to its amount', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    env.clock.set('2026-03-25T09:00:00Z');
    const ask = (amount: string) => authorize(env.deps, bot, { agent_id: 'support-bot', amount, currency: 'USD', merchant: 'AWS', merchant_category: '4816', payment_rail: 'stripe', business_purpose: 'x' });
    const denied = await ask('3000.00');
    expect(denied.decision).toBe('deny');
    const held = await ask('10.00');
    expect(held.decision).toBe('allow');
    const at = '2026-03-25T09:01:00Z';
    await expect(record(tx({ external_id: 'set_deny', amount: '5.00', timestamp: at, authorization_id: denied.authorization_id }))).rejects.toMatchObject({ code: 'AUTHORIZATION_NOT_USABLE' });
    await expect(record(tx({ external_id: 'set_big', amount: '2000.00', timestamp: at, authorization_id: held.authorization_id, approver: 'dave@acme.test' }))).rejects.toMatchObject({ code: 'AUTHORIZATION_NOT_USABLE', field: 'transactions[0].amount' });
    expect(txOf((await record(tx({ external_id: 'set_ok', amount: '9.50', timestamp: at, authorization_id: held.authorization_id })))[0])?.status).toBe('recorded');
    await expect(record(tx({ external_id: 'set_twice', amount: '1.00', timestamp: at, authorization_id: held.authorization_id }))).rejects.toMatchObject({ code: 'AUTHORIZATION_NOT_USABLE' });
  });

  it('does not give budget back for a refund dated later', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    await record(tx({ external_id: 'gross_pay', amount: '2400.00', timestamp: '2026-04-01T10:00:00Z', approver: 'dave@acme.test' }));
    await record(tx({ external_id: 'gross_ref', amount: '-2400.00', timestamp: '2026-04-02T10:00:00Z', refund_of: 'gross_pay', type: 'refund' }));
    const [next] = await record(tx({ external_id: 'gross_next', amount: '2400.00', timestamp: '2026-04-02T11:00:00Z', approver: 'dave@acme.test' }));
    expect(txOf(next)?.transaction.spend_before_daily).toBe('0.00');
    expect(txOf(next)?.transaction.spend_before_monthly).toBe('2400.00');
    expect(txOf(next)?.transaction.violations).toEqual([]);
    expect((await verifyLog(env.deps, org.admin, env.signer.note)).findings).toEqual([]);
  });

  it('treats differently written equal rates and amounts as the same content on a replay', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const base = { external_id: 'fmt_1', currency: 'EUR', amount: '100.00', fx_rate_source: 'ecb', fx_rate_time: '2026-03-12T00:00:00Z' };
    const [a] = await record(tx({ ...base, fx_rate: '1.10', reporting_amount: '110.0' }));
    const [b] = await record(tx({ ...base, fx_rate: '1.1', reporting_amount: '110.00' }));
    expect(txOf(a)?.transaction).toMatchObject({ fx_rate: '1.1', reporting_amount: '110.00' });
    expect(txOf(b)?.status).toBe('duplicate');
  });

  it('refuses an approver named by the agent itself', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    await expect(recordTransactions(env.deps, bot, [tx({ external_id: 'self_appr', approver: 'me' })])).rejects.toMatchObject({
      code: 'FORBIDDEN',
      field: 'transactions[0].approver',
    });
  });
});
