import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import type { ChangeLogRow } from '../../app/ports/change-log.ts';
import { changeLogCsvHeader, changeLogCsvRow } from './change-log-csv.ts';

const row = (over: Partial<ChangeLogRow> = {}): ChangeLogRow => ({
  change_id: 'chg_1',
  agent_id: 'agt_1',
  timestamp: '2026-03-01T09:15:42.123Z',
  changed_by: 'alice@example.com',
  field_changed: 'limits.per_transaction',
  value_kind: 'money',
  old_value: '5000.00',
  new_value: '15000.00',
  currency: 'EUR',
  direction: 'widens',
  justification: 'Q2 travel',
  approval_ticket: 'FIN-42',
  ticket_missing: false,
  requires_approval: true,
  status: 'applied',
  decided_by: 'bob@example.com',
  decided_at: '2026-03-01T10:00:00.000Z',
  decision_comment: 'ok',
  policy_snapshot_id_before: 'snap_1',
  policy_snapshot_id_after: 'snap_2',
  entries: [1, 2, 3],
  ...over,
});

/** Parses header + one row as a spreadsheet would, keyed by header name. */
function cells(r: ChangeLogRow): Record<string, string> {
  const records: Record<string, string>[] = parse(changeLogCsvHeader() + changeLogCsvRow(r), { columns: true });
  expect(records).toHaveLength(1);
  return records[0]!;
}

describe('change log CSV', () => {
  it('names the columns in the documented order, CRLF-terminated', () => {
    expect(changeLogCsvHeader()).toBe(
      'change_id,agent_id,timestamp,changed_by,field_changed,old_value,new_value,currency,direction,justification,'
      + 'approval_ticket,ticket_missing,requires_approval,status,decided_by,decided_at,decision_comment,'
      + 'policy_snapshot_id_before,policy_snapshot_id_after\r\n',
    );
  });

  it('writes one CRLF-terminated line per row with a cell per column and no internal fields', () => {
    const line = changeLogCsvRow(row());
    expect(line).toBe(
      'chg_1,agt_1,2026-03-01T09:15:42.123Z,alice@example.com,limits.per_transaction,5000.00,15000.00,EUR,widens,'
      + 'Q2 travel,FIN-42,false,true,applied,bob@example.com,2026-03-01T10:00:00.000Z,ok,snap_1,snap_2\r\n',
    );
  });

  it('quotes commas, doubles quotes and keeps newlines inside one cell', () => {
    const justification = 'Offsite, "all hands"\r\nsecond line\nthird';
    const line = changeLogCsvRow(row({ justification }));
    expect(line).toContain('"Offsite, ""all hands""\r\nsecond line\nthird"');
    expect(cells(row({ justification })).justification).toBe(justification);
  });

  it('defuses text a spreadsheet would run as a formula', () => {
    for (const start of ['=', '+', '-', '@']) {
      const c = cells(row({ justification: `${start}HYPERLINK("http://x")`, decision_comment: `${start}1+1` }));
      expect(c.justification).toBe(`'${start}HYPERLINK("http://x")`);
      expect(c.decision_comment).toBe(`'${start}1+1`);
    }
    expect(cells(row({ changed_by: '=cmd|calc' })).changed_by).toBe("'=cmd|calc");
  });

  it('leaves negative money amounts numeric but defuses a non-decimal "money" string', () => {
    expect(cells(row({ old_value: '-5.00' })).old_value).toBe('-5.00');
    expect(cells(row({ old_value: '-5.00+cmd' })).old_value).toBe("'-5.00+cmd");
    // Only money is exempt: the same text in a list field is defused.
    expect(cells(row({ value_kind: 'list', old_value: '-5.00' })).old_value).toBe("'-5.00");
  });

  it('renders null as an empty cell, lists joined with "; " and booleans as true/false', () => {
    const c = cells(row({
      value_kind: 'list',
      old_value: null,
      new_value: ['travel', 'software, SaaS', '=evil'],
      approval_ticket: null,
      ticket_missing: true,
      requires_approval: false,
      status: 'pending',
      decided_by: null,
      decided_at: null,
      decision_comment: null,
      policy_snapshot_id_after: null,
    }));
    expect(c).toMatchObject({
      old_value: '',
      new_value: 'travel; software, SaaS; =evil',
      approval_ticket: '',
      ticket_missing: 'true',
      requires_approval: 'false',
      decided_by: '',
      decided_at: '',
      decision_comment: '',
      policy_snapshot_id_after: '',
    });
  });

  it('defuses a list whose first item starts a formula', () => {
    expect(cells(row({ value_kind: 'list', new_value: ['@SUM(1)', 'ok'] })).new_value).toBe("'@SUM(1); ok");
  });

  it('writes boolean policy values as true/false', () => {
    const c = cells(row({ value_kind: 'boolean', old_value: true, new_value: false }));
    expect([c.old_value, c.new_value]).toEqual(['true', 'false']);
  });
});
