import { SpendtrailError } from '../domain/errors.ts';
import type { ChangeControl, FieldChange, FieldValue, PolicyField } from '../domain/policy/change.ts';
import {
  DEFAULT_CHANGE_CONTROL,
  FIELD_NAMES,
  diffPolicies,
  parseJustification,
  parseTicket,
  requiresApproval,
  termsOf,
} from '../domain/policy/change.ts';
import type { PolicyDocument, PolicyTerms } from '../domain/policy/policy.ts';
import { buildPolicyDocument, policySnapshotId } from '../domain/policy/policy.ts';
import { canonicalize } from '../domain/canonical/jcs.ts';
import type { Instant } from '../domain/time.ts';
import { instantFromDate, instantMs, parseInstant } from '../domain/time.ts';
import type { AppendContext } from './append.ts';
import { appendToLog } from './append.ts';
import type { DecisionBody, Opened, OrgSettingsBody, ProposalBody } from './change-entries.ts';
import { openEntry } from './change-entries.ts';
import type { AppDeps } from './deps.ts';
import { queueChangeNotices } from './change-notices.ts';
import type { Principal } from './principal.ts';
import { requireRole } from './principal.ts';
import type { PolicyVersionRow, StoreReads } from './ports/store.ts';

export interface ChangeRequest {
  readonly agent_id: string;
  /** The fields to change; the others keep their current value. */
  readonly changes: Readonly<Partial<Record<PolicyField, FieldValue>>>;
  readonly justification: string;
  readonly approval_ticket?: string | null | undefined;
  /** When the new version should take effect (not in the past); default: when applied. */
  readonly effective_from?: string | null | undefined;
}

export interface PolicyVersion {
  readonly document: PolicyDocument;
  readonly policy_snapshot_id: string;
  readonly seq: number;
}

export interface ChangeResult {
  readonly change: ChangeView;
  /** The version created, when the change applied at once. */
  readonly version: PolicyVersion | null;
}

/** A change as the approvals queue and history show it. */
export interface ChangeView {
  readonly change_id: string;
  readonly agent_id: string;
  readonly status: 'pending' | 'applied' | 'rejected' | 'superseded';
  readonly requires_approval: boolean;
  readonly proposed_by: string;
  readonly proposed_at: string;
  readonly justification: string;
  readonly approval_ticket: string | null;
  readonly ticket_missing: boolean;
  readonly currency: string;
  readonly base_version: number;
  readonly effective_from: string | null;
  readonly policy_snapshot_id_before: string | null;
  readonly policy_snapshot_id_after: string | null;
  readonly version: number | null;
  readonly fields: readonly FieldChange[];
  readonly decided_by: string | null;
  readonly decided_at: string | null;
  readonly decision_comment: string | null;
  /** Log sequence numbers: the proposal, then the decision and the version when there are. */
  readonly entries: readonly number[];
}

export const documentOf = (row: PolicyVersionRow): PolicyDocument => JSON.parse(row.document) as PolicyDocument;

/** The organisation's change control: the last settings entry in its log, or the defaults. */
export async function changeControlOf(store: StoreReads, orgId: string): Promise<ChangeControl> {
  const entries = await store.logEntriesOfKinds(orgId, ['org_settings'], [orgId]);
  const last = entries[entries.length - 1];
  return last === undefined ? DEFAULT_CHANGE_CONTROL : openEntry<OrgSettingsBody>(last).body.change_control;
}

export async function setChangeControl(deps: AppDeps, by: Principal, control: ChangeControl): Promise<ChangeControl> {
  requireRole(by, 'admin');
  await appendToLog(deps, by.org_id, ({ sealer, now }) => {
    const body: OrgSettingsBody = { change_control: control };
    sealer.addEntry('org_settings', by.org_id, instantFromDate(now), by.principal, body);
    return Promise.resolve();
  });
  return control;
}

const sameOwner = (owner: string, principal: string): boolean => owner.trim().toLowerCase() === principal.trim().toLowerCase();

/**
 * Proposes a change to an agent's policy. Narrowing changes (and whatever the organisation
 * exempts) apply at once as a new version; changes that widen spending wait for a different
 * principal with the approver role. Either way the proposal is logged field by field.
 */
export async function proposePolicyChange(deps: AppDeps, by: Principal, req: ChangeRequest): Promise<ChangeResult> {
  requireRole(by, 'policy_admin');
  if (by.agent_id !== null) throw new SpendtrailError('FORBIDDEN', 'an agent key cannot change a policy', { field: 'agent_id' });
  const justification = parseJustification(req.justification);
  const ticket = req.approval_ticket == null || req.approval_ticket.trim() === '' ? null : parseTicket(req.approval_ticket);
  for (const f of Object.keys(req.changes)) {
    if (!(FIELD_NAMES as string[]).includes(f)) {
      throw new SpendtrailError('UNKNOWN_FIELD', `"${f}" is not a policy field (${FIELD_NAMES.join(', ')})`, { field: `changes.${f}` });
    }
  }
  const { result } = await appendToLog(deps, by.org_id, async (ctx) => {
    const { tx, org, sealer, now } = ctx;
    const control = await changeControlOf(tx, org.org_id);
    if (ticket === null && control.ticket_required) {
      throw new SpendtrailError('TICKET_REQUIRED', 'this organisation requires an approval ticket on every policy change', {
        field: 'approval_ticket',
      });
    }
    const [agent] = await tx.getAgents(org.org_id, [req.agent_id]);
    if (agent === undefined) throw new SpendtrailError('AGENT_NOT_FOUND', `no agent ${req.agent_id}`, { field: 'agent_id' });
    const base = await latestVersion(tx, org.org_id, req.agent_id);
    const before = base === null ? null : documentOf(base);
    const effective = req.effective_from == null ? null : parseInstant(req.effective_from, 'effective_from');
    // Only an agent's first policy may start in the past (to record its history from the start);
    // a later version never takes effect before it exists, or it would rewrite what was in force.
    if (effective !== null && instantMs(effective) < now.getTime() && base !== null) {
      throw new SpendtrailError('POLICY_INVALID', 'effective_from is in the past: a new version never takes effect before it exists', {
        field: 'effective_from',
      });
    }
    const terms = { ...(before === null ? {} : termsOf(before)), ...req.changes } as Record<PolicyField, FieldValue>;
    const baseVersion = base?.version ?? 0;
    // Built now to validate (a daily limit above the monthly one fails here, before anything is
    // logged); built again when applied, with the moment it takes effect.
    const proposed = buildDocument(org.org_id, req.agent_id, baseVersion + 1, org.reporting_currency, terms, effective, now, 'changes');
    const changes = diffPolicies(before, proposed);
    if (changes.length === 0) throw new SpendtrailError('NO_CHANGE', 'the proposal changes nothing', { field: 'changes' });
    const needsApproval = requiresApproval(changes, control);
    const changeId = deps.ids.uuid();
    const body: ProposalBody = {
      change_id: changeId,
      agent_id: req.agent_id,
      base_version: baseVersion,
      policy_snapshot_id_before: base?.snapshot_id ?? null,
      terms: Object.fromEntries(FIELD_NAMES.map((f) => [f, termsOf(proposed)[f] ?? null])) as Record<PolicyField, FieldValue>,
      effective_from: effective,
      changes,
      justification,
      approval_ticket: ticket,
      ticket_missing: ticket === null,
      requires_approval: needsApproval,
      currency: org.reporting_currency,
    };
    const at = instantFromDate(now);
    const e = sealer.addEntry('policy_change', changeId, at, by.principal, body);
    const version = needsApproval ? null : await applyVersion(ctx, by.principal, body);
    await queueChangeNotices(deps, tx, control, {
      org_id: org.org_id,
      change_id: changeId,
      agent_id: req.agent_id,
      agent_name: agent.name,
      changed_by: by.principal,
      justification,
      approval_ticket: ticket,
      ticket_missing: ticket === null,
      status: needsApproval ? 'pending' : 'applied',
      currency: org.reporting_currency,
      at,
      fields: changes.map((c) => ({ field: c.field, old_value: c.old_value, new_value: c.new_value })),
    });
    const view = viewOf(
      { seq: e.seq, entity_id: changeId, recorded_at: at, recorded_by: by.principal, body },
      null,
      version === null ? null : { seq: version.seq, version: version.document.version, snapshot: version.policy_snapshot_id },
      baseVersion + (version === null ? 0 : 1),
    );
    return { change: view, version };
  });
  return result;
}

/**
 * Replaces every term of an agent's policy (what `policy set` and PUT do): a change like any
 * other, with the same justification, ticket and approval rules.
 */
export function setPolicy(
  deps: AppDeps,
  by: Principal,
  agentId: string,
  terms: PolicyTerms,
  meta: { justification: string; approval_ticket?: string | null | undefined },
): Promise<ChangeResult> {
  const changes: Partial<Record<PolicyField, FieldValue>> = {};
  for (const f of FIELD_NAMES) {
    const v = (terms as Record<string, FieldValue | undefined>)[f];
    changes[f] = v === undefined ? defaultTerm(f) : v;
  }
  return proposePolicyChange(deps, by, {
    agent_id: agentId,
    changes,
    justification: meta.justification,
    approval_ticket: meta.approval_ticket,
    effective_from: terms.valid_from,
  });
}

/** What an omitted term means in a full replacement: no limit, no list, purpose required. */
function defaultTerm(f: PolicyField): FieldValue {
  if (f === 'blocked_categories' || f === 'blocked_merchants') return [];
  if (f === 'require_business_purpose') return true;
  return null;
}

/**
 * Approves a pending change. The approver must hold the approver role, must not be the
 * proposer, and must not own the agent; the change applies only if the policy has not moved
 * since it was proposed, so what was approved is exactly what takes effect.
 */
export async function approveChange(deps: AppDeps, by: Principal, changeId: string, comment?: string | null): Promise<ChangeResult> {
  return decide(deps, by, changeId, 'approved', comment ?? null);
}

/** Rejects a pending change (an approver, or its proposer withdrawing it); a comment is required. */
export async function rejectChange(deps: AppDeps, by: Principal, changeId: string, comment: string): Promise<ChangeResult> {
  if (comment.trim() === '') throw new SpendtrailError('VALIDATION_FAILED', 'a rejection says why', { field: 'comment' });
  return decide(deps, by, changeId, 'rejected', comment);
}

async function decide(
  deps: AppDeps,
  by: Principal,
  changeId: string,
  decision: 'approved' | 'rejected',
  comment: string | null,
): Promise<ChangeResult> {
  if (by.agent_id !== null) throw new SpendtrailError('FORBIDDEN', 'an agent key cannot decide on a policy change', { field: 'agent_id' });
  const text = comment === null || comment.trim() === '' ? null : comment.trim();
  if (text !== null && text.length > 2000) throw new SpendtrailError('VALIDATION_FAILED', 'comment is longer than 2000 characters', { field: 'comment' });
  const { result } = await appendToLog(deps, by.org_id, async (ctx) => {
    const { tx, org, sealer, now } = ctx;
    const entries = await tx.logEntriesOfKinds(org.org_id, ['policy_change', 'change_decision'], [changeId]);
    const proposalEntry = entries.find((e) => e.kind === 'policy_change');
    if (proposalEntry === undefined) throw new SpendtrailError('CHANGE_NOT_FOUND', `no policy change ${changeId}`, { field: 'change_id' });
    const proposal = openEntry<ProposalBody>(proposalEntry);
    const p = proposal.body;
    const withdrawing = decision === 'rejected' && sameOwner(proposal.recorded_by, by.principal);
    if (!withdrawing) requireRole(by, 'approver');
    if (!p.requires_approval || entries.some((e) => e.kind === 'change_decision')) {
      throw new SpendtrailError('CHANGE_NOT_PENDING', `change ${changeId} is not pending: it was already decided or applied at once`, {
        field: 'change_id',
      });
    }
    const [agent] = await tx.getAgents(org.org_id, [p.agent_id]);
    if (decision === 'approved') {
      if (sameOwner(proposal.recorded_by, by.principal)) {
        throw new SpendtrailError('SEGREGATION_OF_DUTIES', 'nobody approves their own change: another approver must', { field: 'change_id' });
      }
      if (agent !== undefined && sameOwner(agent.owner, by.principal)) {
        throw new SpendtrailError('SEGREGATION_OF_DUTIES', `you own agent ${p.agent_id}: its policy changes are approved by someone else`, {
          field: 'change_id',
        });
      }
    }
    const latest = await latestVersion(tx, org.org_id, p.agent_id);
    const stale = (latest?.version ?? 0) !== p.base_version;
    if (decision === 'approved' && stale) {
      throw new SpendtrailError(
        'CHANGE_STALE',
        `the policy of ${p.agent_id} changed since this was proposed (version ${latest?.version ?? 0}, proposed against ${p.base_version}): propose it again`,
        { field: 'change_id' },
      );
    }
    const at = instantFromDate(now);
    let version: PolicyVersion | null = null;
    let body: DecisionBody;
    let decisionSeq: number;
    if (decision === 'approved') {
      const document = buildDocument(org.org_id, p.agent_id, p.base_version + 1, p.currency, p.terms, p.effective_from as Instant | null, now, 'changes');
      body = { change_id: changeId, decision, comment: text, version: document.version, policy_snapshot_id_after: policySnapshotId(document) };
      // The decision entry comes first: the log reads "approved, then in force".
      decisionSeq = sealer.addEntry('change_decision', changeId, at, by.principal, body).seq;
      version = await writeVersion(ctx, by.principal, changeId, document);
    } else {
      body = { change_id: changeId, decision, comment: text, version: null, policy_snapshot_id_after: null };
      decisionSeq = sealer.addEntry('change_decision', changeId, at, by.principal, body).seq;
    }
    const view = viewOf(
      proposal,
      { seq: decisionSeq, entity_id: changeId, recorded_at: at, recorded_by: by.principal, body },
      version === null ? null : { seq: version.seq, version: version.document.version, snapshot: version.policy_snapshot_id },
      version?.document.version ?? latest?.version ?? 0,
    );
    return { change: view, version };
  });
  return result;
}

async function latestVersion(tx: StoreReads, orgId: string, agentId: string): Promise<PolicyVersionRow | null> {
  const versions = await tx.getPolicyVersions(orgId, [agentId]);
  return versions.reduce<PolicyVersionRow | null>((m, v) => (m === null || v.version > m.version ? v : m), null);
}

function buildDocument(
  orgId: string,
  agentId: string,
  version: number,
  currency: string,
  terms: Readonly<Record<PolicyField, FieldValue>>,
  effective: Instant | null,
  now: Date,
  fieldPrefix: string,
): PolicyDocument {
  const start = effective !== null && (version === 1 || instantMs(effective) > now.getTime()) ? effective : instantFromDate(now);
  try {
    return buildPolicyDocument({ org_id: orgId, agent_id: agentId, version, currency }, { ...(terms as PolicyTerms), valid_from: start }, start);
  } catch (e) {
    if (e instanceof SpendtrailError) throw e.under(fieldPrefix);
    throw e;
  }
}

/** Builds and writes the version a change that applies at once produces. */
function applyVersion(ctx: AppendContext, by: string, p: ProposalBody): Promise<PolicyVersion> {
  const document = buildDocument(ctx.org.org_id, p.agent_id, p.base_version + 1, p.currency, p.terms, p.effective_from as Instant | null, ctx.now, 'changes');
  return writeVersion(ctx, by, p.change_id, document);
}

/** Writes a policy version with its log entry naming the change it came from. */
async function writeVersion({ tx, org, sealer, now }: AppendContext, by: string, changeId: string, document: PolicyDocument): Promise<PolicyVersion> {
  const snapshot = policySnapshotId(document);
  const e = sealer.addEntry('policy_version', `${document.agent_id}@${document.version}`, instantFromDate(now), by, {
    policy_snapshot_id: snapshot,
    document,
    change_id: changeId,
  });
  await tx.insertPolicyVersion({
    org_id: org.org_id,
    agent_id: document.agent_id,
    version: document.version,
    snapshot_id: snapshot,
    document: canonicalize(document),
    valid_from: new Date(document.valid_from),
    seq: e.seq,
  });
  return { document, policy_snapshot_id: snapshot, seq: e.seq };
}

/** The state of a change from its entries; `latest` is the agent's latest version number. */
export function viewOf(
  proposal: Opened<ProposalBody>,
  decision: Opened<DecisionBody> | null,
  applied: { seq: number; version: number; snapshot: string } | null,
  latest: number,
): ChangeView {
  const p = proposal.body;
  const d = decision?.body ?? null;
  const status: ChangeView['status'] =
    applied !== null || d?.decision === 'approved'
      ? 'applied'
      : d?.decision === 'rejected'
        ? 'rejected'
        : latest !== p.base_version
          ? 'superseded'
          : 'pending';
  return {
    change_id: p.change_id,
    agent_id: p.agent_id,
    status,
    requires_approval: p.requires_approval,
    proposed_by: proposal.recorded_by,
    proposed_at: proposal.recorded_at,
    justification: p.justification,
    approval_ticket: p.approval_ticket,
    ticket_missing: p.ticket_missing,
    currency: p.currency,
    base_version: p.base_version,
    effective_from: p.effective_from,
    policy_snapshot_id_before: p.policy_snapshot_id_before,
    policy_snapshot_id_after: applied?.snapshot ?? d?.policy_snapshot_id_after ?? null,
    version: applied?.version ?? d?.version ?? null,
    fields: p.changes,
    decided_by: decision?.recorded_by ?? null,
    decided_at: decision?.recorded_at ?? null,
    decision_comment: d?.comment ?? null,
    entries: [proposal.seq, ...(decision === null ? [] : [decision.seq]), ...(applied === null ? [] : [applied.seq])].sort((x, y) => x - y),
  };
}
