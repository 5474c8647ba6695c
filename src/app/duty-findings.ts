import type { DutyFacts, DutyFinding } from '../domain/policy/duties.ts';
import { dutyFindings } from '../domain/policy/duties.ts';
import { instantMs, parseInstant } from '../domain/time.ts';
import type { SpendApprovalBody } from './change-entries.ts';
import { openEntry } from './change-entries.ts';
import { changesFromLog } from './change-history.ts';
import type { ChangeView } from './policy-changes.ts';
import type { AppDeps } from './deps.ts';
import type { Principal } from './principal.ts';
import { operator, requireRole } from './principal.ts';
import type { StoreReads } from './ports/store.ts';

export interface FindingQuery {
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly agent_id?: string | undefined;
}

/** The facts the rules need, read from the log entries (the evidence), not from projections. */
export async function dutyFactsFromLog(store: StoreReads, orgId: string, known?: readonly ChangeView[]): Promise<DutyFacts> {
  // A caller that already rebuilt the changes (the summary) passes them instead of reading twice.
  const changes = known ?? (await changesFromLog(store, orgId));
  const entries = await store.logEntriesOfKinds(orgId, ['agent', 'api_key', 'spend_approval']);
  const agents: DutyFacts['agents'][number][] = [];
  const keys: DutyFacts['keys'][number][] = [];
  const spend: DutyFacts['spendApprovals'][number][] = [];
  for (const e of entries) {
    if (e.kind === 'agent') {
      const b = openEntry<{ owner: string }>(e).body;
      agents.push({ agent_id: e.entity_id, owner: b.owner, seq: e.seq });
    } else if (e.kind === 'api_key') {
      const b = openEntry<{ principal: string; roles: string[]; revoked: boolean }>(e).body;
      keys.push({ key_id: e.entity_id, principal: b.principal, roles: b.roles, revoked: b.revoked, seq: e.seq });
    } else {
      const o = openEntry<SpendApprovalBody>(e);
      spend.push({
        approval_id: o.body.approval_id,
        agent_id: o.body.agent_id,
        seq: e.seq,
        at: o.recorded_at,
        by: o.recorded_by,
        requested_by: o.body.requested_by,
        approved: o.body.decision === 'approved',
      });
    }
  }
  return {
    changes: changes.map((c) => ({
      change_id: c.change_id,
      agent_id: c.agent_id,
      seq: c.entries[0] ?? 0,
      at: c.proposed_at,
      proposed_by: c.proposed_by,
      widens: c.fields.some((f) => f.direction === 'widens'),
      ticket_missing: c.ticket_missing,
      applied: c.status === 'applied',
      decision:
        c.decided_by === null || c.decided_at === null
          ? null
          : { seq: c.entries[1] ?? 0, at: c.decided_at, by: c.decided_by, approved: c.status === 'applied' },
    })),
    agents,
    keys,
    spendApprovals: spend,
    // The host operator (the CLI with database access, `cli:<os user>`) holds every role by
    // construction, without a key.
    builtIn: [
      operator(orgId).principal,
      ...new Set([...changes.flatMap((c) => [c.proposed_by, c.decided_by ?? '']), ...spend.map((s) => s.by)].filter((p) => p.startsWith('cli:'))),
    ],
  };
}

/** Segregation-of-duties findings whose act falls in [from, to). */
export async function segregationFindings(deps: AppDeps, by: Principal, q: FindingQuery = {}): Promise<DutyFinding[]> {
  requireRole(by, 'auditor', 'finance', 'approver', 'policy_admin');
  const from = q.from === undefined ? null : instantMs(parseInstant(q.from, 'from'));
  const to = q.to === undefined ? null : instantMs(parseInstant(q.to, 'to'));
  const facts = await deps.store.readSnapshot((s) => dutyFactsFromLog(s, by.org_id));
  return dutyFindings(facts).filter((f) => {
    const at = instantMs(parseInstant(f.at, 'at'));
    return (from === null || at >= from) && (to === null || at < to) && (q.agent_id === undefined || f.agent_id === q.agent_id);
  });
}
