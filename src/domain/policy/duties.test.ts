import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AgentFact, ChangeFact, DutyFacts, DutyFinding, FindingKind, KeyFact, SpendApprovalFact } from './duties.ts';
import { FINDING_KINDS, dutyFindings } from './duties.ts';

/*
 * The cast, in log order unless a test says otherwise:
 *   seq 1  agent_1 created, owned by olivia
 *   seq 2  key k_alice for alice: policy_admin
 *   seq 3  key k_bob for bob: approver
 *   seq 10 change chg_1 to agent_1 proposed by alice
 *   seq 12 its decision (when there is one)
 * With these facts a widening change proposed by alice and approved by bob, with a ticket,
 * is clean; each test changes one thing and checks the one finding that should appear.
 */
const OWNER = 'olivia@acme.test';
const ALICE = 'alice@acme.test';
const BOB = 'bob@acme.test';
const OPERATOR = 'operator@cli';
const PROPOSED_AT = '2026-03-01T10:00:00.000Z';
const DECIDED_AT = '2026-03-01T11:00:00.000Z';

const agent = (seq: number, owner: string, agent_id = 'agent_1'): AgentFact => ({ agent_id, owner, seq });
const key = (seq: number, principal: string, roles: string[], key_id = `k_${seq}`, revoked = false): KeyFact => ({
  key_id,
  principal,
  roles,
  revoked,
  seq,
});
const revoke = (seq: number, k: KeyFact): KeyFact => ({ ...k, revoked: true, seq });

const approvedBy = (by: string, seq = 12): ChangeFact['decision'] => ({ seq, at: DECIDED_AT, by, approved: true });
const rejectedBy = (by: string, seq = 12): ChangeFact['decision'] => ({ seq, at: DECIDED_AT, by, approved: false });

const change = (over: Partial<ChangeFact> = {}): ChangeFact => ({
  change_id: 'chg_1',
  agent_id: 'agent_1',
  seq: 10,
  at: PROPOSED_AT,
  proposed_by: ALICE,
  widens: true,
  ticket_missing: false,
  applied: true,
  decision: approvedBy(BOB),
  ...over,
});

const spend = (over: Partial<SpendApprovalFact> = {}): SpendApprovalFact => ({
  approval_id: 'apr_1',
  agent_id: 'agent_1',
  seq: 20,
  at: '2026-03-02T09:00:00.000Z',
  by: BOB,
  requested_by: 'agent_1',
  approved: true,
  ...over,
});

const K_ALICE = key(2, ALICE, ['policy_admin'], 'k_alice');
const K_BOB = key(3, BOB, ['approver'], 'k_bob');

const facts = (over: Partial<DutyFacts> = {}): DutyFacts => ({
  changes: [change()],
  agents: [agent(1, OWNER)],
  keys: [K_ALICE, K_BOB],
  spendApprovals: [],
  builtIn: [OPERATOR],
  ...over,
});

const ofKind = (findings: readonly DutyFinding[], kind: FindingKind): DutyFinding[] => findings.filter((f) => f.kind === kind);
const kindsOf = (findings: readonly DutyFinding[]): FindingKind[] => findings.map((f) => f.kind);

describe('dutyFindings: the clean baseline', () => {
  it('finds nothing when a policy_admin proposes, a different approver approves, with a ticket', () => {
    // Every other test departs from this one; if it found something, their assertions would be ambiguous.
    expect(dutyFindings(facts())).toEqual([]);
  });

  it('finds nothing in an empty log', () => {
    expect(dutyFindings({ changes: [], agents: [], keys: [], spendApprovals: [], builtIn: [] })).toEqual([]);
  });
});

describe('self_approved_change', () => {
  it('fires when the proposer approves their own change, matching principals case-insensitively and trimmed', () => {
    const f = facts({
      keys: [key(2, ALICE, ['policy_admin', 'approver'], 'k_alice')],
      changes: [change({ decision: approvedBy('  ALICE@Acme.Test ') })],
    });
    expect(dutyFindings(f)).toEqual([
      {
        kind: 'self_approved_change',
        agent_id: 'agent_1',
        principal: ALICE,
        at: DECIDED_AT,
        change_id: 'chg_1',
        approval_id: null,
        entries: [10, 12],
        message: expect.any(String),
      },
    ]);
  });

  it('does not fire when the proposer rejects their own change', () => {
    const f = facts({
      keys: [key(2, ALICE, ['policy_admin', 'approver'], 'k_alice')],
      changes: [change({ decision: rejectedBy(ALICE), applied: false })],
    });
    expect(dutyFindings(f)).toEqual([]);
  });

  it('does not fire for a change that has not been decided', () => {
    expect(ofKind(dutyFindings(facts({ changes: [change({ decision: null, applied: false })] })), 'self_approved_change')).toEqual([]);
  });
});

describe('owner_approved_change', () => {
  const ownerCanApprove = key(4, OWNER, ['approver'], 'k_olivia');

  it('fires when the agent owner approves a change to its policy, naming the ownership entry', () => {
    const found = dutyFindings(facts({ keys: [K_ALICE, K_BOB, ownerCanApprove], changes: [change({ decision: approvedBy(' Olivia@ACME.test') })] }));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ kind: 'owner_approved_change', principal: ' Olivia@ACME.test', at: DECIDED_AT, entries: [1, 10, 12] });
  });

  it('uses the owner as of the decision: an ownership change between proposal and decision counts', () => {
    const found = dutyFindings(
      facts({
        agents: [agent(1, 'someone@acme.test'), agent(11, OWNER)],
        keys: [K_ALICE, K_BOB, ownerCanApprove],
        changes: [change({ decision: approvedBy(OWNER) })],
      }),
    );
    expect(ofKind(found, 'owner_approved_change').map((f) => f.entries)).toEqual([[11, 10, 12]]);
  });

  it('ignores an agent entry after the decision that makes the approver the owner', () => {
    const found = dutyFindings(
      facts({
        agents: [agent(1, 'someone@acme.test'), agent(13, OWNER)],
        keys: [K_ALICE, K_BOB, ownerCanApprove],
        changes: [change({ decision: approvedBy(OWNER) })],
      }),
    );
    expect(found).toEqual([]);
  });

  it('does not fire when the approver gave up ownership before the decision', () => {
    const found = dutyFindings(
      facts({
        agents: [agent(1, OWNER), agent(11, 'someone@acme.test')],
        keys: [K_ALICE, K_BOB, ownerCanApprove],
        changes: [change({ decision: approvedBy(OWNER) })],
      }),
    );
    expect(found).toEqual([]);
  });

  it('only considers the owner of the changed agent, not of another agent', () => {
    const found = dutyFindings(facts({ agents: [agent(1, OWNER), agent(4, BOB, 'agent_2')] }));
    expect(found).toEqual([]);
  });

  it('does not fire when the owner rejects the change', () => {
    const found = dutyFindings(facts({ keys: [K_ALICE, K_BOB, ownerCanApprove], changes: [change({ decision: rejectedBy(OWNER), applied: false })] }));
    expect(found).toEqual([]);
  });
});

describe('owner_raised_budget', () => {
  const ownerAdmin = key(4, OWNER, ['policy_admin'], 'k_olivia');

  it('fires when the owner proposes a widening change, naming the ownership and proposal entries', () => {
    const found = dutyFindings(facts({ keys: [K_ALICE, K_BOB, ownerAdmin], changes: [change({ proposed_by: 'OLIVIA@acme.test ' })] }));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ kind: 'owner_raised_budget', principal: 'OLIVIA@acme.test ', at: PROPOSED_AT, change_id: 'chg_1', entries: [1, 10] });
  });

  it('does not fire when the owner only narrows the policy', () => {
    const found = dutyFindings(facts({ keys: [K_ALICE, K_BOB, ownerAdmin], changes: [change({ proposed_by: OWNER, widens: false, decision: null })] }));
    expect(found).toEqual([]);
  });

  it('uses the owner as of the proposal: becoming owner afterwards does not count', () => {
    const found = dutyFindings(
      facts({
        agents: [agent(1, 'someone@acme.test'), agent(11, OWNER)],
        keys: [K_ALICE, K_BOB, ownerAdmin],
        changes: [change({ proposed_by: OWNER })],
      }),
    );
    expect(ofKind(found, 'owner_raised_budget')).toEqual([]);
  });

  it('uses the owner as of the proposal: having given up ownership before does not count', () => {
    const found = dutyFindings(
      facts({
        agents: [agent(1, OWNER), agent(5, 'someone@acme.test')],
        keys: [K_ALICE, K_BOB, ownerAdmin],
        changes: [change({ proposed_by: OWNER })],
      }),
    );
    expect(found).toEqual([]);
  });
});

describe('change_without_ticket', () => {
  it('fires for a change applied without a ticket, naming the proposal and the approval', () => {
    const found = dutyFindings(facts({ changes: [change({ ticket_missing: true })] }));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ kind: 'change_without_ticket', principal: ALICE, at: PROPOSED_AT, entries: [10, 12] });
  });

  it('names only the proposal when the change applied at once (no decision)', () => {
    const found = dutyFindings(facts({ changes: [change({ ticket_missing: true, widens: false, decision: null })] }));
    expect(found.map((f) => [f.kind, f.entries])).toEqual([['change_without_ticket', [10]]]);
  });

  it('does not fire for a change still pending', () => {
    expect(dutyFindings(facts({ changes: [change({ ticket_missing: true, applied: false, decision: null })] }))).toEqual([]);
  });

  it('does not fire for a rejected change', () => {
    expect(dutyFindings(facts({ changes: [change({ ticket_missing: true, applied: false, decision: rejectedBy(BOB) })] }))).toEqual([]);
  });
});

describe('changed_without_role: the proposer', () => {
  const proposerFindings = (f: DutyFacts): DutyFinding[] => ofKind(dutyFindings(f), 'changed_without_role').filter((x) => x.principal === ALICE);

  it('fires when the proposer never held a key, naming just the proposal', () => {
    const found = proposerFindings(facts({ keys: [K_BOB] }));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ at: PROPOSED_AT, change_id: 'chg_1', entries: [10] });
  });

  it('does not count a key issued after the change', () => {
    const found = proposerFindings(facts({ keys: [K_BOB, key(11, ALICE, ['policy_admin'], 'k_alice')] }));
    // The late key is not evidence for the change, so it is not named either.
    expect(found.map((f) => f.entries)).toEqual([[10]]);
  });

  it('does not count a key revoked before the change, and names the key entries it looked at', () => {
    const found = proposerFindings(facts({ keys: [K_ALICE, K_BOB, revoke(5, K_ALICE)] }));
    expect(found.map((f) => f.entries)).toEqual([[2, 5, 10]]);
  });

  it('still counts a key revoked only after the change', () => {
    expect(proposerFindings(facts({ keys: [K_ALICE, K_BOB, revoke(11, K_ALICE)] }))).toEqual([]);
  });

  it('counts another live key when one of the principal\'s keys was revoked', () => {
    const second = key(4, ALICE, ['policy_admin'], 'k_alice_2');
    expect(proposerFindings(facts({ keys: [K_ALICE, K_BOB, second, revoke(5, K_ALICE)] }))).toEqual([]);
  });

  it('matches key principals case-insensitively and trimmed', () => {
    expect(proposerFindings(facts({ keys: [key(2, ' ALICE@acme.test', ['policy_admin']), K_BOB] }))).toEqual([]);
  });

  it('accepts admin in place of policy_admin, but not approver', () => {
    expect(proposerFindings(facts({ keys: [key(2, ALICE, ['admin']), K_BOB] }))).toEqual([]);
    expect(proposerFindings(facts({ keys: [key(2, ALICE, ['approver', 'auditor']), K_BOB] }))).toHaveLength(1);
  });

  it('does not count another principal\'s policy_admin key', () => {
    expect(proposerFindings(facts({ keys: [key(2, 'mallory@acme.test', ['policy_admin']), K_BOB] }))).toHaveLength(1);
  });

  it('never flags a built-in principal such as operator@cli, which holds every role without a key', () => {
    const found = dutyFindings(facts({ keys: [K_BOB], changes: [change({ proposed_by: 'Operator@CLI ' })] }));
    expect(found).toEqual([]);
  });

  it('fires for a change that is still pending or was rejected too (the proposal itself was the act)', () => {
    expect(proposerFindings(facts({ keys: [K_BOB], changes: [change({ applied: false, decision: null })] }))).toHaveLength(1);
    expect(proposerFindings(facts({ keys: [K_BOB], changes: [change({ applied: false, decision: rejectedBy(BOB) })] }))).toHaveLength(1);
  });
});

describe('changed_without_role: the approver', () => {
  const approverFindings = (f: DutyFacts): DutyFinding[] => ofKind(dutyFindings(f), 'changed_without_role').filter((x) => x.principal === BOB);

  it('fires when the approver held no key at the decision, naming just the decision', () => {
    const found = approverFindings(facts({ keys: [K_ALICE] }));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ at: DECIDED_AT, change_id: 'chg_1', entries: [12] });
  });

  it('fires when the approver holds policy_admin but not approver', () => {
    expect(approverFindings(facts({ keys: [K_ALICE, key(3, BOB, ['policy_admin'])] })).map((f) => f.entries)).toEqual([[3, 12]]);
  });

  it('accepts admin in place of approver', () => {
    expect(approverFindings(facts({ keys: [K_ALICE, key(3, BOB, ['admin'])] }))).toEqual([]);
  });

  it('judges the role at the decision, not at the proposal', () => {
    // Issued between proposal (10) and decision (12): held at decision time.
    expect(approverFindings(facts({ keys: [K_ALICE, key(11, BOB, ['approver'])] }))).toEqual([]);
    // Revoked between proposal and decision: not held at decision time.
    expect(approverFindings(facts({ keys: [K_ALICE, K_BOB, revoke(11, K_BOB)] })).map((f) => f.entries)).toEqual([[3, 11, 12]]);
    // Issued after the decision: does not count.
    expect(approverFindings(facts({ keys: [K_ALICE, key(13, BOB, ['approver'])] })).map((f) => f.entries)).toEqual([[12]]);
  });

  it('does not fire for a rejection by someone without the role', () => {
    expect(dutyFindings(facts({ keys: [K_ALICE], changes: [change({ applied: false, decision: rejectedBy(BOB) })] }))).toEqual([]);
  });

  it('never flags a built-in approver', () => {
    expect(dutyFindings(facts({ keys: [K_ALICE], changes: [change({ decision: approvedBy(OPERATOR) })] }))).toEqual([]);
  });
});

describe('spend approvals', () => {
  it('flags self_approved_spend when the approver asked for the spend, case-insensitively', () => {
    const found = dutyFindings(facts({ spendApprovals: [spend({ by: BOB, requested_by: ' Bob@Acme.Test' })] }));
    expect(found).toEqual([
      {
        kind: 'self_approved_spend',
        agent_id: 'agent_1',
        principal: BOB,
        at: '2026-03-02T09:00:00.000Z',
        change_id: null,
        approval_id: 'apr_1',
        entries: [20],
        message: expect.any(String),
      },
    ]);
  });

  it('flags owner_approved_spend when the owner at the time approved, naming the ownership entry', () => {
    const found = dutyFindings(facts({ spendApprovals: [spend({ by: 'OLIVIA@acme.test' })] }));
    expect(found.map((f) => [f.kind, f.entries])).toEqual([['owner_approved_spend', [1, 20]]]);
  });

  it('ignores an ownership entry after the spend approval', () => {
    const found = dutyFindings(facts({ agents: [agent(1, 'someone@acme.test'), agent(21, OWNER)], spendApprovals: [spend({ by: OWNER })] }));
    expect(found).toEqual([]);
  });

  it('flags both when the owner approves spend they asked for', () => {
    const found = dutyFindings(facts({ spendApprovals: [spend({ by: OWNER, requested_by: OWNER })] }));
    expect(kindsOf(found).sort()).toEqual(['owner_approved_spend', 'self_approved_spend']);
  });

  it('flags nothing for rejected spend, even by the owner who asked for it', () => {
    expect(dutyFindings(facts({ spendApprovals: [spend({ by: OWNER, requested_by: OWNER, approved: false })] }))).toEqual([]);
  });

  it('needs no role to approve spend (roles are checked on policy changes only)', () => {
    expect(dutyFindings(facts({ spendApprovals: [spend({ by: 'carol@acme.test' })] }))).toEqual([]);
  });
});

describe('dutyFindings: ordering and evidence', () => {
  it('sorts findings by the last entry each names, whatever order the facts came in', () => {
    const f = facts({
      keys: [key(2, ALICE, ['policy_admin', 'approver'], 'k_alice'), K_BOB],
      changes: [
        // last entry 40
        change({ change_id: 'chg_a', seq: 20, decision: approvedBy(ALICE, 40) }),
        // last entry 30
        change({ change_id: 'chg_b', seq: 30, widens: false, ticket_missing: true, decision: null }),
      ],
      // last entry 35
      spendApprovals: [spend({ seq: 35, by: BOB, requested_by: BOB })],
    });
    expect(dutyFindings(f).map((x) => [x.kind, x.entries.at(-1)])).toEqual([
      ['change_without_ticket', 30],
      ['self_approved_spend', 35],
      ['self_approved_change', 40],
    ]);
  });

  it('for any log: output is sorted by last entry, every finding is of a known kind and names only entries in the log', () => {
    const principals = [ALICE, BOB, OWNER, OPERATOR, 'ALICE@acme.test '];
    const roles = fc.subarray(['admin', 'policy_admin', 'approver', 'auditor']);
    // Each fact kind draws its seqs from a disjoint residue class so seqs are unique in the log.
    const log = fc.record({
      agents: fc.array(fc.record({ n: fc.nat(30), owner: fc.constantFrom(...principals), agent: fc.constantFrom('agent_1', 'agent_2') }), { maxLength: 4 }),
      keys: fc.array(fc.record({ n: fc.nat(30), principal: fc.constantFrom(...principals), roles, id: fc.constantFrom('k1', 'k2', 'k3'), revoked: fc.boolean() }), { maxLength: 6 }),
      changes: fc.array(
        fc.record({
          n: fc.nat(30),
          gap: fc.integer({ min: 1, max: 20 }),
          by: fc.constantFrom(...principals),
          decider: fc.option(fc.constantFrom(...principals), { nil: null }),
          approved: fc.boolean(),
          widens: fc.boolean(),
          ticket_missing: fc.boolean(),
          agent: fc.constantFrom('agent_1', 'agent_2'),
        }),
        { maxLength: 4 },
      ),
      spend: fc.array(fc.record({ n: fc.nat(30), by: fc.constantFrom(...principals), req: fc.constantFrom(...principals), approved: fc.boolean() }), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(log, (l) => {
        const uniq = <T extends { n: number }>(xs: T[]): T[] => [...new Map(xs.map((x) => [x.n, x])).values()].sort((a, b) => a.n - b.n);
        const agents = uniq(l.agents).map((a) => agent(a.n * 10 + 1, a.owner, a.agent));
        const keys = uniq(l.keys).map((k) => key(k.n * 10 + 2, k.principal, k.roles, k.id, k.revoked));
        const changes = uniq(l.changes).map((c, i) =>
          change({
            change_id: `chg_${i}`,
            agent_id: c.agent,
            seq: c.n * 10 + 3,
            proposed_by: c.by,
            widens: c.widens,
            ticket_missing: c.ticket_missing,
            applied: c.decider === null || c.approved,
            decision: c.decider === null ? null : { seq: (c.n + c.gap) * 10 + 4, at: DECIDED_AT, by: c.decider, approved: c.approved },
          }),
        );
        const spendApprovals = uniq(l.spend).map((s, i) => spend({ approval_id: `apr_${i}`, seq: s.n * 10 + 5, by: s.by, requested_by: s.req, approved: s.approved }));
        const inLog = new Set([
          ...agents.map((a) => a.seq),
          ...keys.map((k) => k.seq),
          ...changes.flatMap((c) => [c.seq, ...(c.decision === null ? [] : [c.decision.seq])]),
          ...spendApprovals.map((s) => s.seq),
        ]);
        const found = dutyFindings({ agents, keys, changes, spendApprovals, builtIn: [OPERATOR] });
        const last = found.map((x) => x.entries.at(-1)!);
        expect(last).toEqual([...last].sort((a, b) => a - b));
        for (const x of found) {
          expect(FINDING_KINDS).toContain(x.kind);
          expect(x.entries.length).toBeGreaterThan(0);
          for (const s of x.entries) expect(inLog.has(s)).toBe(true);
          // Nothing is ever found against the built-in operator's role.
          if (x.kind === 'changed_without_role') expect(x.principal.trim().toLowerCase()).not.toBe(OPERATOR);
        }
      }),
      { numRuns: 300 },
    );
  });
});
