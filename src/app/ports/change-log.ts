/**
 * One row of the policy change log as finance reads it: one field of one change. Values keep
 * their type so a report can write money as numbers and instants as dates.
 */
export type ChangeValue = string | boolean | readonly string[] | null;

export type ValueKind = 'money' | 'list' | 'boolean' | 'instant';

export type ChangeStatus = 'pending' | 'applied' | 'rejected' | 'superseded';

export interface ChangeLogRow {
  readonly change_id: string;
  readonly agent_id: string;
  /** When the change was proposed (ISO 8601 UTC, milliseconds, `Z`). */
  readonly timestamp: string;
  /** The authenticated principal who proposed it. */
  readonly changed_by: string;
  readonly field_changed: string;
  readonly value_kind: ValueKind;
  /** Money values are decimal strings in `currency`; null = no limit / no list / none before. */
  readonly old_value: ChangeValue;
  readonly new_value: ChangeValue;
  readonly currency: string;
  readonly direction: 'widens' | 'narrows';
  readonly justification: string;
  readonly approval_ticket: string | null;
  readonly ticket_missing: boolean;
  readonly requires_approval: boolean;
  readonly status: ChangeStatus;
  readonly decided_by: string | null;
  readonly decided_at: string | null;
  readonly decision_comment: string | null;
  readonly policy_snapshot_id_before: string | null;
  readonly policy_snapshot_id_after: string | null;
  /** Log sequence numbers of the entries this row rests on (proposal, decision, version). */
  readonly entries: readonly number[];
}
