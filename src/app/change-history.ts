import { SpendtrailError } from '../domain/errors.ts';
import { POLICY_FIELDS } from '../domain/policy/change.ts';
import { instantMs, parseInstant } from '../domain/time.ts';
import type { DecisionBody, Opened, PolicyVersionBody, ProposalBody } from './change-entries.ts';
import { CHANGE_KINDS, openEntry } from './change-entries.ts';
import type { AppDeps } from './deps.ts';
import type { ChangeView } from './policy-changes.ts';
import { viewOf } from './policy-changes.ts';
import type { Principal } from './principal.ts';
import { requireRole } from './principal.ts';
import type { ChangeLogRow, ValueKind } from './ports/change-log.ts';
import type { StoreReads } from './ports/store.ts';

export interface ChangeQuery {
  readonly agent_id?: string | undefined;
  /** Proposals at or after this instant. */
  readonly from?: string | undefined;
  /** Proposals before this instant. */
  readonly to?: string | undefined;
  readonly status?: ChangeView['status'] | undefined;
}

const READERS = ['policy_admin', 'approver', 'finance', 'auditor'] as const;

/** Every change in log order, rebuilt from the log entries themselves. */
export async function changesFromLog(store: StoreReads, orgId: string): Promise<ChangeView[]> {
  const entries = await store.logEntriesOfKinds(orgId, CHANGE_KINDS);
  const proposals: Opened<ProposalBody>[] = [];
  const decisions = new Map<string, Opened<DecisionBody>>();
  const applied = new Map<string, { seq: number; version: number; snapshot: string }>();
  const latest = new Map<string, number>();
  for (const e of entries) {
    if (e.kind === 'policy_change') proposals.push(openEntry<ProposalBody>(e));
    else if (e.kind === 'change_decision') decisions.set(e.entity_id, openEntry<DecisionBody>(e));
    else {
      const v = openEntry<PolicyVersionBody>(e).body;
      latest.set(v.document.agent_id, Math.max(latest.get(v.document.agent_id) ?? 0, v.document.version));
      if (v.change_id !== undefined) applied.set(v.change_id, { seq: e.seq, version: v.document.version, snapshot: v.policy_snapshot_id });
    }
  }
  return proposals.map((p) =>
    viewOf(p, decisions.get(p.body.change_id) ?? null, applied.get(p.body.change_id) ?? null, latest.get(p.body.agent_id) ?? 0),
  );
}

/** The change log, filtered: what `policy history` and the approvals queue show. */
export async function listChanges(deps: AppDeps, by: Principal, q: ChangeQuery = {}): Promise<ChangeView[]> {
  requireRole(by, ...READERS);
  if (by.agent_id !== null) throw new SpendtrailError('FORBIDDEN', 'agent keys do not read the change log', { field: 'agent_id' });
  const from = q.from === undefined ? null : instantMs(parseInstant(q.from, 'from'));
  const to = q.to === undefined ? null : instantMs(parseInstant(q.to, 'to'));
  if (q.agent_id !== undefined && (await deps.store.getAgents(by.org_id, [q.agent_id])).length === 0) {
    throw new SpendtrailError('AGENT_NOT_FOUND', `no agent ${q.agent_id}`, { field: 'agent_id' });
  }
  return (await changesFromLog(deps.store, by.org_id)).filter((c) => {
    const at = instantMs(parseInstant(c.proposed_at, 'proposed_at'));
    return (
      (q.agent_id === undefined || c.agent_id === q.agent_id) &&
      (from === null || at >= from) &&
      (to === null || at < to) &&
      (q.status === undefined || c.status === q.status)
    );
  });
}

export async function getChange(deps: AppDeps, by: Principal, changeId: string): Promise<ChangeView> {
  requireRole(by, ...READERS);
  const c = (await changesFromLog(deps.store, by.org_id)).find((x) => x.change_id === changeId);
  if (c === undefined) throw new SpendtrailError('CHANGE_NOT_FOUND', `no policy change ${changeId}`, { field: 'change_id' });
  return c;
}

const kindOf = (field: string): ValueKind => {
  const k = (POLICY_FIELDS as Record<string, string>)[field];
  return k === 'money' ? 'money' : k === 'boolean' ? 'boolean' : k === 'instant' ? 'instant' : 'list';
};

/** One row per field of each change: the shape of the CSV and XLSX exports. */
export function changeLogRows(changes: readonly ChangeView[]): ChangeLogRow[] {
  return changes.flatMap((c) =>
    c.fields.map((f) => ({
      change_id: c.change_id,
      agent_id: c.agent_id,
      timestamp: c.proposed_at,
      changed_by: c.proposed_by,
      field_changed: f.field,
      value_kind: kindOf(f.field),
      old_value: f.old_value,
      new_value: f.new_value,
      currency: c.currency,
      direction: f.direction,
      justification: c.justification,
      approval_ticket: c.approval_ticket,
      ticket_missing: c.ticket_missing,
      requires_approval: c.requires_approval,
      status: c.status,
      decided_by: c.decided_by,
      decided_at: c.decided_at,
      decision_comment: c.decision_comment,
      policy_snapshot_id_before: c.policy_snapshot_id_before,
      policy_snapshot_id_after: c.policy_snapshot_id_after,
      entries: c.entries,
    })),
  );
}
