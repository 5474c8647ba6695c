import { describe, expect, it } from 'vitest';
import type { Principal } from '../src/app/principal.ts';
import { approveChange, changeControlOf, proposePolicyChange, rejectChange, setChangeControl } from '../src/app/policy-changes.ts';
import type { ChangeRequest } from '../src/app/policy-changes.ts';
import { changeLogRows, getChange, listChanges } from '../src/app/change-history.ts';
import { segregationFindings } from '../src/app/duty-findings.ts';
import { showPolicy } from '../src/app/ledger-queries.ts';
import { issueApiKey, upsertAgent } from '../src/app/setup.ts';
import { verifyLog } from '../src/app/verify.ts';
import { parseInput, policyChangeInput } from '../src/app/schemas.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { errorOf as codeOf, person, seededSuite } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';

describe.each(ENGINES)('policy change log on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });

  // People, each through a key the log records, so role findings have their evidence.
  const carol = person('carol@acme.test', 'policy_admin');
  const dave = person('dave@acme.test', 'approver');
  const alice = person('alice@acme.test', 'policy_admin', 'approver'); // owns support-bot
  const bot: Principal = { org_id: 'acme', principal: 'support-bot@agents', roles: ['agent'], agent_id: 'support-bot', key_id: null };

  const grant = async (): Promise<void> => {
    for (const p of [carol, dave, alice]) await issueApiKey(env.deps, org.admin, { principal: p.principal, roles: p.roles });
  };
  const propose = (by: Principal, over: Partial<ChangeRequest> = {}) =>
    proposePolicyChange(env.deps, by, {
      agent_id: 'research-bot',
      changes: { monthly_limit: '15000.00' },
      justification: 'Q2 research programme doubles model usage',
      approval_ticket: 'FIN-482',
      ...over,
    });
  const inForce = async (agent = 'research-bot') => (await showPolicy(env.deps, org.admin, agent)).document;
  const treeSize = async () => (await env.deps.store.getTreeHead('acme'))?.size ?? 0;

  it('answers "when was the budget raised from $5,000 to $15,000, who asked, who approved, under which ticket"', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    await grant();
    env.clock.set('2026-03-02T09:00:00.000Z');
    const before = await inForce();
    expect(before.monthly_limit).toBe('5000.00');
    const proposed = await propose(carol);
    // A raise widens spending: nothing changes until a second person approves.
    expect(proposed.version).toBeNull();
    expect(proposed.change.status).toBe('pending');
    expect((await inForce()).monthly_limit).toBe('5000.00');

    env.clock.set('2026-03-02T11:30:00.000Z');
    const approved = await approveChange(env.deps, dave, proposed.change.change_id, 'Matches the Q2 plan');
    expect(approved.change.status).toBe('applied');
    const now = await inForce();
    expect(now.monthly_limit).toBe('15000.00');
    expect(now.valid_from).toBe('2026-03-02T11:30:00.000Z');

    const [row] = changeLogRows(await listChanges(env.deps, person('auditor@acme.test', 'auditor'), { agent_id: 'research-bot', from: '2026-03-02T00:00:00Z' }));
    expect(row).toMatchObject({
      change_id: proposed.change.change_id,
      agent_id: 'research-bot',
      timestamp: '2026-03-02T09:00:00.000Z',
      changed_by: 'carol@acme.test',
      field_changed: 'monthly_limit',
      old_value: '5000.00',
      new_value: '15000.00',
      direction: 'widens',
      justification: 'Q2 research programme doubles model usage',
      approval_ticket: 'FIN-482',
      ticket_missing: false,
      status: 'applied',
      decided_by: 'dave@acme.test',
      decided_at: '2026-03-02T11:30:00.000Z',
      decision_comment: 'Matches the Q2 plan',
      policy_snapshot_id_after: approved.version?.policy_snapshot_id,
    });
    expect(row?.policy_snapshot_id_before).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(row?.policy_snapshot_id_before).not.toBe(row?.policy_snapshot_id_after);
    // The row rests on three log entries: the proposal, the decision and the new version.
    expect(row?.entries).toHaveLength(3);
    const entries = await env.deps.store.logEntriesPage('acme', row?.entries[0] ?? 0, (row?.entries[2] ?? 0) + 1);
    expect(entries.filter((e) => row?.entries.includes(e.seq)).map((e) => e.kind)).toEqual(['policy_change', 'change_decision', 'policy_version']);
    expect((await verifyLog(env.deps, org.admin, env.signer.note)).findings).toEqual([]);
  });

  it('refuses an approval by the person who proposed the change, and the policy stays as it was', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const carolApprover = person('carol@acme.test', 'policy_admin', 'approver');
    const p = await propose(carolApprover, { changes: { daily_limit: '1200.00' } });
    const size = await treeSize();
    expect(await codeOf(approveChange(env.deps, carolApprover, p.change.change_id))).toEqual({ code: 'SEGREGATION_OF_DUTIES', field: 'change_id' });
    expect(await treeSize()).toBe(size);
    expect((await inForce()).daily_limit).toBe('1000.00');
    expect((await getChange(env.deps, dave, p.change.change_id)).status).toBe('pending');
    await rejectChange(env.deps, dave, p.change.change_id, 'not this quarter');
  });

  it("flags an owner raising their own agent's budget and refuses the owner's approval", async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const raise = await proposePolicyChange(env.deps, alice, {
      agent_id: 'support-bot',
      changes: { monthly_limit: '30000.00' },
      justification: 'Holiday season',
      approval_ticket: 'OPS-77',
    });
    expect(raise.change.status).toBe('pending');
    const other = await proposePolicyChange(env.deps, carol, {
      agent_id: 'support-bot',
      changes: { per_transaction_limit: '3000.00' },
      justification: 'Larger reserved-instance purchases',
      approval_ticket: 'OPS-78',
    });
    // Alice owns support-bot: she may not approve its changes, even someone else's.
    expect((await codeOf(approveChange(env.deps, alice, other.change.change_id))).code).toBe('SEGREGATION_OF_DUTIES');
    await approveChange(env.deps, dave, raise.change.change_id);
    const findings = await segregationFindings(env.deps, person('auditor@acme.test', 'auditor'), { agent_id: 'support-bot' });
    const owner = findings.find((f) => f.kind === 'owner_raised_budget' && f.change_id === raise.change.change_id);
    expect(owner).toMatchObject({ principal: 'alice@acme.test', agent_id: 'support-bot' });
    // It names the agent entry that made Alice the owner and the proposal entry.
    expect(owner?.entries).toHaveLength(2);
    expect(owner?.entries[1]).toBe((await getChange(env.deps, dave, raise.change.change_id)).entries[0]);
    // The other change was made against the version Alice's raise replaced.
    expect((await getChange(env.deps, dave, other.change.change_id)).status).toBe('superseded');
    expect((await codeOf(approveChange(env.deps, dave, other.change.change_id))).code).toBe('CHANGE_STALE');
  });

  it('applies narrowing changes at once and logs them field by field', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const before = await inForce();
    const r = await propose(carol, { changes: { per_transaction_limit: '250.00', blocked_merchants: ['Casino Royale'], allowed_rails: ['x402'] } });
    expect(r.change.status).toBe('applied');
    expect(r.change.requires_approval).toBe(false);
    expect(r.version?.document.version).toBe(before.version + 1);
    expect(r.change.fields.map((f) => [f.field, f.direction])).toEqual([
      ['per_transaction_limit', 'narrows'],
      ['blocked_merchants', 'narrows'],
      ['allowed_rails', 'narrows'],
    ]);
    expect(r.change.fields.find((f) => f.field === 'blocked_merchants')?.new_value).toEqual(['casino royale']);
    expect((await inForce()).per_transaction_limit).toBe('250.00');
  });

  it('refuses bad changes with a stable code and field, and the policy in force never moves', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const doc = await inForce();
    const size = await treeSize();
    const cases: [() => Promise<unknown>, string, string | undefined][] = [
      [() => propose(carol, { agent_id: 'ghost-bot' }), 'AGENT_NOT_FOUND', 'agent_id'],
      [() => propose(carol, { changes: { monthly_limitt: '1.00' } as never }), 'UNKNOWN_FIELD', 'changes.monthly_limitt'],
      [() => propose(carol, { changes: { daily_limit: '999999.00' } }), 'POLICY_INVALID', 'changes.daily_limit'],
      [() => propose(carol, { changes: { monthly_limit: '-5.00' } }), 'INVALID_AMOUNT', 'changes.monthly_limit'],
      [() => propose(carol, { changes: { monthly_limit: '15000.001' } }), 'INVALID_AMOUNT', 'changes.monthly_limit'],
      [() => propose(carol, { changes: { allowed_categories: ['57x4'] } }), 'POLICY_INVALID', 'changes.allowed_categories[0]'],
      [() => propose(carol, { justification: '   ' }), 'JUSTIFICATION_REQUIRED', 'justification'],
      [() => propose(carol, { approval_ticket: 'please approve' }), 'INVALID_TICKET', 'approval_ticket'],
      [() => propose(carol, { approval_ticket: null }), 'TICKET_REQUIRED', 'approval_ticket'],
      [() => propose(carol, { changes: { monthly_limit: doc.monthly_limit } }), 'NO_CHANGE', 'changes'],
      [() => propose(carol, { effective_from: '2020-01-01T00:00:00Z' }), 'POLICY_INVALID', 'effective_from'],
      [() => propose(bot), 'FORBIDDEN', undefined],
      [() => propose(dave), 'FORBIDDEN', undefined],
      [() => approveChange(env.deps, dave, '00000000-0000-7000-8000-000000000000'), 'CHANGE_NOT_FOUND', 'change_id'],
    ];
    for (const [call, code, field] of cases) expect(await codeOf(call()), `${code} ${field}`).toEqual({ code, field });
    // The same shape arrives through the one input schema as a typed error naming the field.
    expect(() => parseInput(policyChangeInput, { justification: 'x', changes: { monthly_limit: 15000 } })).toThrow(
      expect.objectContaining({ code: 'INVALID_AMOUNT', field: 'changes.monthly_limit' }),
    );
    expect(() => parseInput(policyChangeInput, { justification: 'x', changes: { require_business_purpose: 'no' } })).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED', field: 'changes.require_business_purpose' }),
    );
    // Decisions: on a change applied at once, twice, by an agent key, by someone without the role.
    const narrowed = await propose(carol, { changes: { daily_limit: '900.00' } });
    expect((await codeOf(approveChange(env.deps, dave, narrowed.change.change_id))).code).toBe('CHANGE_NOT_PENDING');
    const pending = await propose(carol, { changes: { daily_limit: '950.00' } });
    expect((await codeOf(approveChange(env.deps, bot, pending.change.change_id))).code).toBe('FORBIDDEN');
    expect((await codeOf(approveChange(env.deps, person('fin@acme.test', 'finance'), pending.change.change_id))).code).toBe('FORBIDDEN');
    expect((await codeOf(rejectChange(env.deps, dave, pending.change.change_id, ' '))).code).toBe('VALIDATION_FAILED');
    await rejectChange(env.deps, dave, pending.change.change_id, 'no');
    expect((await codeOf(approveChange(env.deps, dave, pending.change.change_id))).code).toBe('CHANGE_NOT_PENDING');
    expect((await inForce()).daily_limit).toBe('900.00');
    expect(await treeSize()).toBe(size + 4); // narrowing: change + version; pending: change; rejection
  });

  it('accepts a change without a ticket only where the organisation allows it, and flags it', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    expect((await codeOf(setChangeControl(env.deps, carol, { approval: 'widening', fields: {}, ticket_required: false, notify: 'unticketed' }))).code).toBe('FORBIDDEN');
    await setChangeControl(env.deps, org.admin, { approval: 'widening', fields: { approval_threshold: 'always' }, ticket_required: false, notify: 'unticketed' });
    expect((await changeControlOf(env.deps.store, 'acme')).ticket_required).toBe(false);
    const r = await propose(carol, { approval_ticket: null, changes: { blocked_categories: ['7995', '5933'] } });
    expect(r.change).toMatchObject({ status: 'applied', ticket_missing: true, approval_ticket: null });
    // approval_threshold is set to "always": even lowering it waits for a second person.
    const t = await propose(carol, { changes: { approval_threshold: '100.00' } });
    expect(t.change.status).toBe('pending');
    await approveChange(env.deps, dave, t.change.change_id);
    const findings = await segregationFindings(env.deps, dave, {});
    expect(findings.filter((f) => f.kind === 'change_without_ticket').map((f) => f.change_id)).toContain(r.change.change_id);
    await setChangeControl(env.deps, org.admin, { approval: 'widening', fields: {}, ticket_required: true, notify: 'unticketed' });
  });

  it('finds a change made by someone who never held the role, naming the entries', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    // A principal the log never granted policy_admin to (a forged or stale identity).
    const ghost = person('mallory@acme.test', 'policy_admin');
    const r = await propose(ghost, { changes: { blocked_categories: ['7995', '5933', '7801'] } });
    const f = (await segregationFindings(env.deps, dave, {})).filter((x) => x.kind === 'changed_without_role' && x.change_id === r.change.change_id);
    expect(f).toHaveLength(1);
    expect(f[0]?.entries).toEqual(r.change.entries.slice(0, 1));
    expect((await verifyLog(env.deps, org.admin, env.signer.note)).findings).toEqual([]);
  });

  it('records who configured an agent, so an owner change later is judged by the owner at the time', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    await upsertAgent(env.deps, org.admin, { agent_id: 'research-bot', name: 'Research bot', owner: 'carol@acme.test', cluster: 'research' });
    const raise = await propose(carol, { changes: { monthly_limit: '16000.00' } });
    await upsertAgent(env.deps, org.admin, { agent_id: 'research-bot', name: 'Research bot', owner: 'bob@acme.test', cluster: 'research' });
    await approveChange(env.deps, dave, raise.change.change_id);
    const f = await segregationFindings(env.deps, dave, { agent_id: 'research-bot' });
    expect(f.some((x) => x.kind === 'owner_raised_budget' && x.change_id === raise.change.change_id)).toBe(true);
  });
});
