import { describe, expect, it } from 'vitest';
import type { Principal } from '../src/app/principal.ts';
import { proposePolicyChange, setChangeControl } from '../src/app/policy-changes.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { decideSpend } from '../src/app/spend-approvals.ts';
import { upsertAgent } from '../src/app/setup.ts';
import { generateSummary, getSummary, signOffSummary } from '../src/app/summaries.ts';
import { runDueSummaries } from '../src/app/summary-scheduler.ts';
import { verifyLog } from '../src/app/verify.ts';
import type { TransactionInput } from '../src/domain/ledger/transaction.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { codeOf, establishPolicy, person, seededSuite, tx } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';

const finance = person('fiona@acme.test', 'finance');


/** Cents, for the expected totals computed here from the inputs, not by the product. */
const cents = (amount: string): number => Math.round(Number(amount) * 100);
const dollars = (c: number): string => `${Math.trunc(c / 100)}.${String(Math.abs(c) % 100).padStart(2, '0')}`;

describe.each(ENGINES)('monthly compliance summary on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });
  const record = async (items: TransactionInput[]) => {
    const out = await recordTransactions(env.deps, org.admin, items, 'atomic');
    return out.map((o) => (o.ok ? o.result.transaction : undefined));
  };

  // The scenario month, with what each line should count for, written down by hand.
  const march: { t: TransactionInput; over?: true; blocked?: true; missing?: true; violating?: true }[] = [];
  let approvedLaterTx = '';

  it('counts a scenario month exactly as computed here from its inputs', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    env.clock.set('2026-03-02T08:00:00.000Z');
    for (let d = 1; d <= 20; d++) {
      march.push({ t: tx({ external_id: `ok_${d}`, amount: '100.00', timestamp: `2026-03-${String(d + 2).padStart(2, '0')}T09:00:00Z` }) });
    }
    march.push({ t: tx({ external_id: 'big_1', amount: '2600.00', approver: 'dave@acme.test', timestamp: '2026-03-05T10:00:00Z' }), over: true, violating: true });
    march.push({ t: tx({ external_id: 'big_2', amount: '2700.00', approver: 'dave@acme.test', timestamp: '2026-03-06T10:00:00Z' }), over: true, violating: true });
    march.push({ t: tx({ external_id: 'casino', amount: '50.00', merchant: 'Lucky Casino', merchant_category: '7995', timestamp: '2026-03-07T10:00:00Z' }), blocked: true, violating: true });
    march.push({ t: tx({ external_id: 'unapproved', amount: '2100.00', timestamp: '2026-03-08T10:00:00Z' }), missing: true, violating: true });
    march.push({ t: tx({ external_id: 'approved_later', amount: '2200.00', timestamp: '2026-03-09T10:00:00Z' }) });
    march.push({ t: tx({ external_id: 'wrong_rail', agent_id: 'research-bot', payment_rail: 'card', amount: '10.00', merchant: 'OpenAI', merchant_category: null, timestamp: '2026-03-10T10:00:00Z' }), violating: true });
    march.push({ t: tx({ external_id: 'refund_1', type: 'refund', refund_of: 'ok_1', amount: '-20.00', timestamp: '2026-03-11T10:00:00Z' }) });
    const outside = [
      tx({ external_id: 'feb', amount: '999.00', timestamp: '2026-02-28T23:59:59Z' }),
      tx({ external_id: 'apr', amount: '999.00', timestamp: '2026-04-01T00:00:00Z' }),
    ];
    env.clock.set('2026-04-01T12:00:00.000Z');
    const recorded = await record([...march.map((m) => m.t), ...outside]);
    approvedLaterTx = recorded[march.findIndex((m) => m.t.external_id === 'approved_later')]?.tx_id ?? '';
    await decideSpend(env.deps, person('dave@acme.test', 'approver'), { tx_id: approvedLaterTx, decision: 'approve', comment: 'ok' });

    const s = (await generateSummary(env.deps, finance, { month: '2026-03' }, { verifier: env.signer.note })).summary.document;
    const expectedSpend = march.reduce((sum, m) => sum + cents(m.t.amount), 0);
    expect(s).toMatchObject({
      period: '2026-03',
      cluster: null,
      agents_monitored: 2,
      total_transactions: march.length,
      total_spend: dollars(expectedSpend),
      total_spend_usd: dollars(expectedSpend),
      total_refunds: '20.00',
      status: 'NEEDS_REVIEW',
    });
    expect(s.compliance_flags).toEqual({
      policy_violations: march.filter((m) => m.violating).length,
      over_limit_transactions: march.filter((m) => m.over).length,
      unauthorized_category_purchases: march.filter((m) => m.blocked).length,
      unapproved_policy_changes: 0,
      missing_approvals: march.filter((m) => m.missing).length,
      segregation_of_duties_findings: 0,
      integrity_failures: 0,
    });
    // Breakdowns add up to the total, and every exception points at its log entry.
    const sum = (xs: readonly { amount: string }[]) => xs.reduce((a, x) => a + cents(x.amount), 0);
    expect(sum(s.spend_by_agent)).toBe(expectedSpend);
    expect(sum(s.spend_by_gl_account)).toBe(expectedSpend);
    expect(sum(s.spend_by_rail)).toBe(expectedSpend);
    expect(s.exceptions).toHaveLength(march.filter((m) => m.violating).length);
    const entries = s.exceptions.flatMap((e) => e.entries);
    const bySeq = new Map(recorded.map((r) => [r?.seq, r]));
    expect(entries.every((q) => bySeq.get(q)?.violations.length !== 0)).toBe(true);
    expect(s.exceptions.some((e) => e.tx_id === approvedLaterTx)).toBe(false);
    const head = await env.deps.store.latestCheckpoint('acme');
    expect(s.checkpoint.tree_size).toBeLessThanOrEqual(head?.tree_size ?? 0);
  });

  it('scopes to a cluster and is COMPLIANT only with nothing to flag', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const research = (await generateSummary(env.deps, finance, { month: '2026-03', cluster: 'research' }, { verifier: env.signer.note })).summary.document;
    expect(research.agents_monitored).toBe(1);
    expect(research.total_transactions).toBe(1);
    expect(research.compliance_flags.policy_violations).toBe(1);
    env.clock.set('2026-04-01T13:00:00.000Z');
    await upsertAgent(env.deps, org.admin, { agent_id: 'clean-bot', name: 'Clean bot', owner: 'zed@acme.test', cluster: 'clean' });
    await establishPolicy(env.deps, org.admin, 'clean-bot', { monthly_limit: '1000.00', valid_from: '2026-03-01T00:00:00Z' });
    await record([tx({ external_id: 'clean_1', agent_id: 'clean-bot', amount: '12.00', timestamp: '2026-03-20T10:00:00Z' })]);
    const clean = (await generateSummary(env.deps, finance, { month: '2026-03', cluster: 'clean' }, { verifier: env.signer.note })).summary.document;
    expect(clean.status).toBe('COMPLIANT');
    expect(Object.values(clean.compliance_flags).every((n) => n === 0)).toBe(true);
  });

  it('refuses a malformed or future month, an unknown cluster, and a principal without the role', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const gen = (by: Principal, month: string, cluster?: string) => generateSummary(env.deps, by, { month, cluster }, { verifier: env.signer.note });
    expect(await codeOf(gen(finance, '2026-13'))).toBe('VALIDATION_FAILED');
    expect(await codeOf(gen(finance, 'March'))).toBe('VALIDATION_FAILED');
    expect(await codeOf(gen(finance, '2026-05'))).toBe('VALIDATION_FAILED');
    expect(await codeOf(gen(finance, '2026-03', 'nope'))).toBe('CLUSTER_NOT_FOUND');
    expect(await codeOf(gen(person('pat@acme.test', 'policy_admin'), '2026-03'))).toBe('FORBIDDEN');
  });

  it('is signed off once by finance; late data makes a new version that says what changed, and the signed one stays', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const v1 = (await generateSummary(env.deps, finance, { month: '2026-03', cluster: 'support' }, { verifier: env.signer.note })).summary;
    // Nothing new: the same summary, not a new version.
    const again = await generateSummary(env.deps, finance, { month: '2026-03', cluster: 'support' }, { verifier: env.signer.note });
    expect(again.created).toBe(false);
    expect(again.summary.document.summary_id).toBe(v1.document.summary_id);

    expect(await codeOf(signOffSummary(env.deps, person('dave@acme.test', 'approver'), v1.document.summary_id))).toBe('FORBIDDEN');
    expect(await codeOf(signOffSummary(env.deps, { ...finance, agent_id: 'support-bot' }, v1.document.summary_id))).toBe('FORBIDDEN');
    const signed = await signOffSummary(env.deps, finance, v1.document.summary_id);
    expect(signed).toMatchObject({ signed_off_by: 'fiona@acme.test', summary_hash: v1.summary_hash });
    expect(await codeOf(signOffSummary(env.deps, finance, v1.document.summary_id))).toBe('SUMMARY_ALREADY_SIGNED');

    env.clock.set('2026-04-02T09:00:00.000Z');
    await record([tx({ external_id: 'late_march', amount: '75.00', timestamp: '2026-03-30T10:00:00Z' })]);
    const v2 = await generateSummary(env.deps, finance, { month: '2026-03', cluster: 'support' }, { verifier: env.signer.note });
    expect(v2.created).toBe(true);
    expect(v2.summary.document.version).toBe(2);
    expect(v2.summary.document.supersedes).toEqual({ summary_id: v1.document.summary_id, version: 1, summary_hash: v1.summary_hash });
    expect(v2.summary.document.changes_from_previous).toContain(`transactions ${v1.document.total_transactions} -> ${v1.document.total_transactions + 1}`);
    expect(v2.summary.signed_off_by).toBeNull();
    // The signed version is unchanged, still signed, and can be read as it was.
    const old = await getSummary(env.deps, finance, v1.document.summary_id);
    expect(old).toEqual({ ...v1, signed_off_by: 'fiona@acme.test', signed_off_at: signed.signed_off_at });

    const research = (await generateSummary(env.deps, finance, { month: '2026-03', cluster: 'research' }, { verifier: env.signer.note })).summary;
    await record([tx({ external_id: 'late_research', agent_id: 'research-bot', payment_rail: 'x402', merchant: 'OpenAI', merchant_category: null, amount: '5.00', timestamp: '2026-03-30T11:00:00Z' })]);
    await generateSummary(env.deps, finance, { month: '2026-03', cluster: 'research' }, { verifier: env.signer.note });
    expect(await codeOf(signOffSummary(env.deps, finance, research.document.summary_id))).toBe('SUMMARY_SUPERSEDED');
    expect((await verifyLog(env.deps, org.admin, env.signer.note)).findings).toEqual([]);
  });

  it('counts a widening change applied without approval and an owner raising their own budget', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    env.clock.set('2026-04-10T09:00:00.000Z');
    await setChangeControl(env.deps, org.admin, { approval: 'widening', fields: { monthly_limit: 'never' }, ticket_required: true, notify: 'none' });
    const alice = person('alice@acme.test', 'policy_admin');
    await proposePolicyChange(env.deps, alice, { agent_id: 'support-bot', changes: { monthly_limit: '25000.00' }, justification: 'Spring campaign', approval_ticket: 'OPS-5' });
    const s = (await generateSummary(env.deps, finance, { month: '2026-04', cluster: 'support' }, { verifier: env.signer.note })).summary.document;
    expect(s.compliance_flags.unapproved_policy_changes).toBe(1);
    // alice owns support-bot, and the log never granted her policy_admin: two findings.
    expect(s.compliance_flags.segregation_of_duties_findings).toBe(2);
    expect(s.status).toBe('NEEDS_REVIEW');
    expect(s.exceptions.find((e) => e.kind === 'unapproved_policy_change')?.entries.length).toBeGreaterThan(0);
  });

  it('lists at most a thousand exceptions, largest first, and counts them all', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    env.clock.set('2026-06-02T09:00:00.000Z');
    const n = 1005;
    // Each on the wrong rail; amounts 0.01 … 10.05 so the order is known.
    const items = Array.from({ length: n }, (_, k) =>
      tx({ external_id: `rail_${k}`, agent_id: 'research-bot', payment_rail: 'card', merchant: 'OpenAI', merchant_category: null, amount: dollars(k + 1), timestamp: `2026-05-${String(1 + (k % 28)).padStart(2, '0')}T10:00:00Z` }),
    );
    await record(items);
    const s = (await generateSummary(env.deps, finance, { month: '2026-05', cluster: 'research' }, { verifier: env.signer.note })).summary.document;
    expect(s.compliance_flags.policy_violations).toBe(n);
    expect(s.exceptions_total).toBe(n);
    expect(s.exceptions).toHaveLength(1000);
    expect(s.exceptions[0]?.amount).toBe(dollars(n));
    expect(s.exceptions[999]?.amount).toBe(dollars(n - 999));
  });

  it('finds a stored summary document edited behind the log', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    await env.sql(`alter table summaries disable trigger user`);
    await env.sql(`update summaries set document = replace(document, '"status":"NEEDS_REVIEW"', '"status":"COMPLIANT"') where org_id = 'acme' and version = 1`);
    await env.sql(`alter table summaries enable trigger user`);
    const r = await verifyLog(env.deps, org.admin, env.signer.note);
    expect(r.findings.some((f) => /stored document does not hash/.test(f.what))).toBe(true);
  });
});

describe.each(ENGINES)('summaries on the 1st on %s', (engine) => {
  let env: TestEnv;
  const suite = seededSuite(engine, (e) => {
    env = e;
  });

  it('makes last month once per cluster, catches up after downtime, and two schedulers make one each', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    // The organisation was created on 2026-03-01: nothing to report for February.
    env.clock.set('2026-03-31T23:59:00.000Z');
    expect(await runDueSummaries(env.deps, env.signer.note)).toEqual([]);
    await recordTransactions(env.deps, { org_id: 'acme', principal: 'admin', roles: ['admin'], agent_id: null, key_id: null }, [tx({ external_id: 'm1', timestamp: '2026-03-15T10:00:00Z' })], 'atomic');
    env.clock.set('2026-04-01T00:00:30.000Z');
    const made = await runDueSummaries(env.deps, env.signer.note);
    expect(made.map((g) => [g.period, g.cluster])).toEqual([
      ['2026-03', 'research'],
      ['2026-03', 'support'],
    ]);
    // Later the same day, and after a restart (a fresh run): nothing more.
    env.clock.set('2026-04-01T08:00:00.000Z');
    expect(await runDueSummaries(env.deps, env.signer.note)).toEqual([]);
    // Down on May 1st, up on May 3rd: April is made at start; two processes at once make it once.
    env.clock.set('2026-05-03T10:00:00.000Z');
    const [a, b] = await Promise.all([runDueSummaries(env.deps, env.signer.note), runDueSummaries(env.deps, env.signer.note)]);
    expect([...(a ?? []), ...(b ?? [])].map((g) => `${g.period}/${g.cluster}`).sort()).toEqual(['2026-04/research', '2026-04/support']);
    const rows = await env.deps.store.getSummaries('acme', { period: '2026-04' });
    expect(rows.map((r) => [r.scope, r.version])).toEqual([
      ['research', 1],
      ['support', 1],
    ]);
  });
});
