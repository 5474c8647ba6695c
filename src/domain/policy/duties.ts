/**
 * Segregation-of-duties rules, as a pure function over what the log says happened. Each finding
 * names the log entries (sequence numbers) it rests on, so an auditor can open each one.
 */
export const FINDING_KINDS = [
  'self_approved_change',
  'owner_approved_change',
  'owner_raised_budget',
  'change_without_ticket',
  'changed_without_role',
  'self_approved_spend',
  'owner_approved_spend',
] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

export interface DutyFinding {
  readonly kind: FindingKind;
  readonly agent_id: string;
  readonly principal: string;
  /** When the act the finding is about happened (ISO 8601 UTC). */
  readonly at: string;
  readonly change_id: string | null;
  readonly approval_id: string | null;
  readonly entries: readonly number[];
  readonly message: string;
}

export interface ChangeFact {
  readonly change_id: string;
  readonly agent_id: string;
  readonly seq: number;
  readonly at: string;
  readonly proposed_by: string;
  readonly widens: boolean;
  readonly ticket_missing: boolean;
  readonly applied: boolean;
  readonly decision: { readonly seq: number; readonly at: string; readonly by: string; readonly approved: boolean } | null;
}

export interface AgentFact {
  readonly agent_id: string;
  readonly owner: string;
  readonly seq: number;
}

/** An API key as the log records it; a revocation is a later fact for the same key. */
export interface KeyFact {
  readonly key_id: string;
  readonly principal: string;
  readonly roles: readonly string[];
  readonly revoked: boolean;
  readonly seq: number;
}

export interface SpendApprovalFact {
  readonly approval_id: string;
  readonly agent_id: string;
  readonly seq: number;
  readonly at: string;
  readonly by: string;
  readonly requested_by: string;
  readonly approved: boolean;
}

export interface DutyFacts {
  readonly changes: readonly ChangeFact[];
  /** In log order. */
  readonly agents: readonly AgentFact[];
  /** In log order. */
  readonly keys: readonly KeyFact[];
  readonly spendApprovals: readonly SpendApprovalFact[];
  /** Principals that hold every role without a key (the operator at the host). */
  readonly builtIn: readonly string[];
}

const norm = (s: string): string => s.trim().toLowerCase();

/** The owner of an agent as of a log position: the last agent entry before it. */
function ownerAt(agents: readonly AgentFact[], agentId: string, seq: number): AgentFact | null {
  let found: AgentFact | null = null;
  for (const a of agents) {
    if (a.seq >= seq) break;
    if (a.agent_id === agentId) found = a;
  }
  return found;
}

/** Whether a principal held one of the roles at a log position, and the key entries that say so. */
function roleAt(facts: DutyFacts, principal: string, roles: readonly string[], seq: number): { held: boolean; entries: number[] } {
  if (facts.builtIn.some((b) => norm(b) === norm(principal))) return { held: true, entries: [] };
  const live = new Map<string, KeyFact>();
  const seen: number[] = [];
  for (const k of facts.keys) {
    if (k.seq >= seq) break;
    if (norm(k.principal) !== norm(principal)) continue;
    seen.push(k.seq);
    if (k.revoked) live.delete(k.key_id);
    else live.set(k.key_id, k);
  }
  const held = [...live.values()].some((k) => k.roles.includes('admin') || roles.some((r) => k.roles.includes(r)));
  return { held, entries: seen };
}

export function dutyFindings(facts: DutyFacts): DutyFinding[] {
  const out: DutyFinding[] = [];
  for (const c of facts.changes) {
    const owner = ownerAt(facts.agents, c.agent_id, c.seq);
    const base = { agent_id: c.agent_id, change_id: c.change_id, approval_id: null };
    if (c.decision?.approved === true && norm(c.decision.by) === norm(c.proposed_by)) {
      out.push({ ...base, kind: 'self_approved_change', principal: c.proposed_by, at: c.decision.at, entries: [c.seq, c.decision.seq], message: `${c.proposed_by} proposed and approved change ${c.change_id}` });
    }
    if (c.decision?.approved === true) {
      const ownerThen = ownerAt(facts.agents, c.agent_id, c.decision.seq);
      if (ownerThen !== null && norm(ownerThen.owner) === norm(c.decision.by)) {
        out.push({ ...base, kind: 'owner_approved_change', principal: c.decision.by, at: c.decision.at, entries: [ownerThen.seq, c.seq, c.decision.seq], message: `${c.decision.by} owns ${c.agent_id} and approved a change to its policy` });
      }
      const role = roleAt(facts, c.decision.by, ['approver'], c.decision.seq);
      if (!role.held) {
        out.push({ ...base, kind: 'changed_without_role', principal: c.decision.by, at: c.decision.at, entries: [...role.entries, c.decision.seq], message: `${c.decision.by} approved change ${c.change_id} without the approver role at the time` });
      }
    }
    if (c.widens && owner !== null && norm(owner.owner) === norm(c.proposed_by)) {
      out.push({ ...base, kind: 'owner_raised_budget', principal: c.proposed_by, at: c.at, entries: [owner.seq, c.seq], message: `${c.proposed_by} owns ${c.agent_id} and proposed widening its policy` });
    }
    if (c.applied && c.ticket_missing) {
      out.push({ ...base, kind: 'change_without_ticket', principal: c.proposed_by, at: c.at, entries: [c.seq, ...(c.decision === null ? [] : [c.decision.seq])], message: `change ${c.change_id} to ${c.agent_id} applied without an approval ticket` });
    }
    const role = roleAt(facts, c.proposed_by, ['policy_admin'], c.seq);
    if (!role.held) {
      out.push({ ...base, kind: 'changed_without_role', principal: c.proposed_by, at: c.at, entries: [...role.entries, c.seq], message: `${c.proposed_by} changed the policy of ${c.agent_id} without the policy_admin role at the time` });
    }
  }
  for (const s of facts.spendApprovals) {
    if (!s.approved) continue;
    const base = { agent_id: s.agent_id, change_id: null, approval_id: s.approval_id, at: s.at, principal: s.by };
    if (norm(s.by) === norm(s.requested_by)) {
      out.push({ ...base, kind: 'self_approved_spend', entries: [s.seq], message: `${s.by} approved spend they asked for` });
    }
    const owner = ownerAt(facts.agents, s.agent_id, s.seq);
    if (owner !== null && norm(owner.owner) === norm(s.by)) {
      out.push({ ...base, kind: 'owner_approved_spend', entries: [owner.seq, s.seq], message: `${s.by} owns ${s.agent_id} and approved its spend` });
    }
  }
  return out.sort((a, b) => (a.entries[a.entries.length - 1] ?? 0) - (b.entries[b.entries.length - 1] ?? 0));
}
