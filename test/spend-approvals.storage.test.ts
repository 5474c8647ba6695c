import { describe, expect, it } from 'vitest';
import { authorize } from '../src/app/authorize.ts';
import type { Principal } from '../src/app/principal.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { decideSpend } from '../src/app/spend-approvals.ts';
import { segregationFindings } from '../src/app/duty-findings.ts';
import { verifyLog } from '../src/app/verify.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { codeOf, person, seededSuite, tx } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';



describe.each(ENGINES)('approval of spend above the threshold on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });
  // support-bot (owned by alice) needs approval above 2,000.00 and may spend 2,500.00 a payment.
  const bot: Principal = { org_id: 'acme', principal: 'support-bot@agents', roles: ['agent'], agent_id: 'support-bot', key_id: null };
  const dave = person('dave@acme.test', 'approver');
  const alice = person('alice@acme.test', 'approver');
  const ask = (amount: string) =>
    authorize(env.deps, bot, {
      agent_id: 'support-bot',
      amount,
      currency: 'USD',
      merchant: 'AWS',
      merchant_category: '4816',
      payment_rail: 'stripe',
      business_purpose: 'Reserved capacity',
    });

  it('turns a needs_approval answer into a hold once a second person approves, and the payment carries that approver', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    env.clock.set('2026-03-14T10:00:00.000Z');
    const asked = await ask('2200.00');
    expect(asked.decision).toBe('needs_approval');
    expect(asked.expires_at).toBeNull();
    // Nobody may record against it yet.
    const early = await recordTransactions(env.deps, bot, [tx({ external_id: 'appr_early', amount: '2200.00', timestamp: '2026-03-14T10:00:30Z', authorization_id: asked.authorization_id })], 'atomic').catch((e: unknown) => e);
    expect(early).toMatchObject({ code: 'AUTHORIZATION_NOT_USABLE' });

    // The owner and the agent cannot approve it.
    expect(await codeOf(decideSpend(env.deps, alice, { authorization_id: asked.authorization_id, decision: 'approve' }))).toBe('SEGREGATION_OF_DUTIES');
    expect(await codeOf(decideSpend(env.deps, { ...bot, roles: ['agent', 'approver'] }, { authorization_id: asked.authorization_id, decision: 'approve' }))).toBe('FORBIDDEN');
    expect(await codeOf(decideSpend(env.deps, person('fin@acme.test', 'finance'), { authorization_id: asked.authorization_id, decision: 'approve' }))).toBe('FORBIDDEN');

    const approval = await decideSpend(env.deps, dave, { authorization_id: asked.authorization_id, decision: 'approve', comment: 'Quarterly reservation' });
    expect(approval).toMatchObject({ decision: 'approved', approved_by: 'dave@acme.test' });
    expect(approval.expires_at).not.toBeNull();
    expect(await codeOf(decideSpend(env.deps, dave, { authorization_id: asked.authorization_id, decision: 'approve' }))).toBe('APPROVAL_NOT_PENDING');

    const [paid] = await recordTransactions(env.deps, bot, [tx({ external_id: 'appr_paid', amount: '2200.00', timestamp: '2026-03-14T10:05:00Z', authorization_id: asked.authorization_id })], 'atomic');
    const t = paid?.ok === true ? paid.result.transaction : undefined;
    expect(t?.approver).toBe('dave@acme.test');
    expect(t?.approval_ref).toBe(approval.approval_id);
    expect(t?.violations).not.toContain('missing_approval');
    expect((await verifyLog(env.deps, org.admin, env.signer.note)).findings).toEqual([]);
  });

  it('re-checks the budget at approval time: an approval lifts the threshold, not the limits', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    env.clock.set('2026-03-15T10:00:00.000Z');
    const first = await ask('2100.00');
    const second = await ask('2100.00');
    const third = await ask('2100.00');
    // Waiting answers hold nothing, so all three asked within the 5,000.00 daily limit.
    expect([first, second, third].map((a) => a.decision)).toEqual(['needs_approval', 'needs_approval', 'needs_approval']);
    await decideSpend(env.deps, dave, { authorization_id: first.authorization_id, decision: 'approve' });
    await decideSpend(env.deps, dave, { authorization_id: second.authorization_id, decision: 'approve' });
    // 4,200.00 is now held: the third no longer fits, approved or not.
    expect(await codeOf(decideSpend(env.deps, dave, { authorization_id: third.authorization_id, decision: 'approve' }))).toBe('AUTHORIZATION_NOT_USABLE');
    expect((await ask('2100.00')).decision).toBe('deny');
    expect((await ask('400.00')).decision).toBe('allow');
    await decideSpend(env.deps, dave, { authorization_id: third.authorization_id, decision: 'reject', comment: 'over the day' });
    expect(await codeOf(decideSpend(env.deps, dave, { authorization_id: third.authorization_id, decision: 'approve' }))).toBe('APPROVAL_NOT_PENDING');
  });

  it('approves a recorded over-threshold payment after the fact, once, and rejects need a reason', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    env.clock.set('2026-03-16T12:00:00.000Z');
    const [o] = await recordTransactions(env.deps, org.admin, [tx({ external_id: 'late_big', amount: '2300.00', timestamp: '2026-03-16T11:00:00Z' })], 'atomic');
    const t = o?.ok === true ? o.result.transaction : undefined;
    expect(t?.violations).toContain('missing_approval');
    // The admin recorded it: the admin does not approve it.
    expect(await codeOf(decideSpend(env.deps, org.admin, { tx_id: t?.tx_id ?? '', decision: 'approve' }))).toBe('SEGREGATION_OF_DUTIES');
    expect(await codeOf(decideSpend(env.deps, dave, { tx_id: t?.tx_id ?? '', decision: 'reject' }))).toBe('VALIDATION_FAILED');
    const d = await decideSpend(env.deps, dave, { tx_id: t?.tx_id ?? '', decision: 'approve', comment: 'confirmed with the team' });
    expect(d.tx_id).toBe(t?.tx_id);
    expect(await codeOf(decideSpend(env.deps, dave, { tx_id: t?.tx_id ?? '', decision: 'approve' }))).toBe('APPROVAL_NOT_PENDING');
    const [small] = await recordTransactions(env.deps, org.admin, [tx({ external_id: 'late_small', amount: '20.00', timestamp: '2026-03-16T11:05:00Z' })], 'atomic');
    const s = small?.ok === true ? small.result.transaction.tx_id : '';
    expect(await codeOf(decideSpend(env.deps, dave, { tx_id: s, decision: 'approve' }))).toBe('APPROVAL_NOT_PENDING');
    expect(await codeOf(decideSpend(env.deps, dave, { authorization_id: s, tx_id: s, decision: 'approve' }))).toBe('VALIDATION_FAILED');
  });

  it('finds an owner who approved their agent spend when the log shows one (no app path allows it)', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const findings = await segregationFindings(env.deps, person('aud@acme.test', 'auditor'), { agent_id: 'support-bot' });
    // The app refused every such approval above, so the log holds none.
    expect(findings.filter((f) => f.kind === 'owner_approved_spend' || f.kind === 'self_approved_spend')).toEqual([]);
    expect((await verifyLog(env.deps, org.admin, env.signer.note)).findings).toEqual([]);
  });
});
