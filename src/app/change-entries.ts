import type { ChangeControl, FieldChange, FieldValue, PolicyField } from '../domain/policy/change.ts';
import type { LogEntryRow } from './ports/store.ts';

/**
 * The bodies of the change-control log entries. They are the evidence: the change log, the
 * approvals queue and the segregation-of-duties findings are all read from these entries,
 * never from a table that could be edited without breaking the tree.
 */
export interface ProposalBody {
  readonly change_id: string;
  readonly agent_id: string;
  /** The version the change was made against; it applies only while that is still the latest. */
  readonly base_version: number;
  readonly policy_snapshot_id_before: string | null;
  /** Every term of the policy as it will be once applied. */
  readonly terms: Readonly<Record<PolicyField, FieldValue>>;
  /** Requested start; null = when applied. A version never takes effect before it exists. */
  readonly effective_from: string | null;
  readonly changes: readonly FieldChange[];
  readonly justification: string;
  readonly approval_ticket: string | null;
  readonly ticket_missing: boolean;
  readonly requires_approval: boolean;
  readonly currency: string;
}

export interface DecisionBody {
  readonly change_id: string;
  readonly decision: 'approved' | 'rejected';
  readonly comment: string | null;
  readonly version: number | null;
  readonly policy_snapshot_id_after: string | null;
}

export interface SpendApprovalBody {
  readonly approval_id: string;
  readonly target: 'authorization' | 'transaction';
  readonly authorization_id: string | null;
  readonly tx_id: string | null;
  readonly agent_id: string;
  readonly amount: string;
  readonly currency: string;
  readonly decision: 'approved' | 'rejected';
  readonly comment: string | null;
  /** Who asked for the spend (the authorization's requester or the payment's recorder). */
  readonly requested_by: string;
  readonly policy_snapshot_id: string | null;
}

export interface OrgSettingsBody {
  readonly change_control: ChangeControl;
}

export interface PolicyVersionBody {
  readonly policy_snapshot_id: string;
  readonly document: { readonly version: number; readonly agent_id: string };
  readonly change_id?: string | undefined;
}

/** An entry with its hashed envelope opened. */
export interface Opened<B> {
  readonly seq: number;
  readonly entity_id: string;
  readonly recorded_at: string;
  readonly recorded_by: string;
  readonly body: B;
}

export function openEntry<B>(e: LogEntryRow): Opened<B> {
  const d = JSON.parse(e.data) as { recorded_at: string; recorded_by: string; body: B };
  return { seq: e.seq, entity_id: e.entity_id, recorded_at: d.recorded_at, recorded_by: d.recorded_by, body: d.body };
}

export const CHANGE_KINDS = ['policy_change', 'change_decision', 'policy_version'] as const;
