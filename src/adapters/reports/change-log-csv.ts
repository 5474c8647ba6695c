import type { ChangeLogRow, ChangeValue } from '../../app/ports/change-log.ts';
import { csvCell } from './ledger-csv.ts';

/** Export columns, in the order finance sees them; the XLSX export uses the same list. */
export const CHANGE_LOG_COLUMNS = [
  'change_id', 'agent_id', 'timestamp', 'changed_by', 'field_changed', 'old_value', 'new_value', 'currency',
  'direction', 'justification', 'approval_ticket', 'ticket_missing', 'requires_approval', 'status', 'decided_by',
  'decided_at', 'decision_comment', 'policy_snapshot_id_before', 'policy_snapshot_id_after',
] as const satisfies readonly (keyof ChangeLogRow)[];

export type ChangeLogColumn = (typeof CHANGE_LOG_COLUMNS)[number];

/** A plain decimal such as `15000.00` or `-5`: it can never be a formula, so it is written unescaped. */
export const DECIMAL = /^-?\d+(?:\.\d+)?$/;

/** The separator between list items; `;` rather than `,` so a list does not look like several cells. */
export const LIST_SEPARATOR = '; ';

export const changeLogCsvHeader = (): string => `${CHANGE_LOG_COLUMNS.join(',')}\r\n`;

export function changeLogCsvRow(r: ChangeLogRow): string {
  return `${CHANGE_LOG_COLUMNS.map((c) => cell(r, c)).join(',')}\r\n`;
}

function cell(r: ChangeLogRow, c: ChangeLogColumn): string {
  const v: ChangeValue = r[c];
  if (v === null) return '';
  if (typeof v === 'boolean') return String(v);
  if (typeof v !== 'string') return csvCell(v.join(LIST_SEPARATOR));
  // A negative money value would otherwise be defused into the text "'-5.00".
  const isMoney = (c === 'old_value' || c === 'new_value') && r.value_kind === 'money';
  if (isMoney && DECIMAL.test(v)) return v;
  return csvCell(v);
}
