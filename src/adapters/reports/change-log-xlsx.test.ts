import ExcelJS from 'exceljs';
import { parse } from 'csv-parse/sync';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeLogRow } from '../../app/ports/change-log.ts';
import type { ChangeLogColumn } from './change-log-csv.ts';
import { CHANGE_LOG_COLUMNS } from './change-log-csv.ts';
import { CHANGE_LOG_SHEET, writeChangeLogXlsx } from './change-log-xlsx.ts';

const run = promisify(execFile);

const base: ChangeLogRow = {
  change_id: 'chg_1', agent_id: 'agt_travel', timestamp: '2026-03-01T09:15:42.789Z', changed_by: 'alice@example.com',
  field_changed: 'limits.per_transaction', value_kind: 'money', old_value: '5000.00', new_value: '15000.00',
  currency: 'EUR', direction: 'widens', justification: '=1+1, says "finance"', approval_ticket: null,
  ticket_missing: true, requires_approval: true, status: 'pending', decided_by: null, decided_at: null,
  decision_comment: null, policy_snapshot_id_before: 'snap_1', policy_snapshot_id_after: null, entries: [1],
};

const ROWS: readonly ChangeLogRow[] = [
  base,
  {
    ...base, change_id: 'chg_2', timestamp: '2026-03-02T08:00:00.000Z', field_changed: 'merchant_categories.allow',
    value_kind: 'list', old_value: ['travel'], new_value: ['travel', 'software'], justification: 'SaaS renewals',
    approval_ticket: 'FIN-7', ticket_missing: false, status: 'applied', decided_by: 'bob@example.com',
    decided_at: '2026-03-02T09:30:15.000Z', decision_comment: 'fine', policy_snapshot_id_after: 'snap_2',
  },
  {
    ...base, change_id: 'chg_3', field_changed: 'require_business_purpose', value_kind: 'boolean', old_value: true,
    new_value: false, justification: 'noise', status: 'rejected', decided_by: 'carol@example.com',
    decided_at: '2026-03-03T17:45:00.000Z', decision_comment: '-no',
  },
  {
    ...base, change_id: 'chg_4', field_changed: 'valid_until', value_kind: 'instant', old_value: '2026-06-30T23:59:59.000Z',
    new_value: '2026-12-31T23:59:59.000Z', justification: 'extend', direction: 'widens',
  },
  {
    ...base, change_id: 'chg_5', field_changed: 'limits.daily', currency: 'JPY', old_value: null, new_value: '1500000',
    direction: 'narrows', justification: 'cap it', requires_approval: false, status: 'superseded',
  },
  {
    ...base, change_id: 'chg_6', field_changed: 'merchant_categories.deny', value_kind: 'list', old_value: null,
    new_value: ['gambling'], direction: 'narrows', justification: 'deny list',
  },
  // 17 significant digits: a double would round it, so it must stay exact text.
  { ...base, change_id: 'chg_7', old_value: '12345678901234567.89', new_value: '1.5', justification: 'huge' },
];

/** Cells as LibreOffice shows them with the formats the workbook sets, in en-US; other columns follow `shown`. */
const SHOWN: readonly Partial<Record<ChangeLogColumn, string>>[] = [
  // LibreOffice truncates .789 s under hh:mm:ss (Excel would round to :43).
  { timestamp: '2026-03-01 09:15:42', old_value: '5,000.00', new_value: '15,000.00', justification: `'=1+1, says "finance"`,
    ticket_missing: 'TRUE', requires_approval: 'TRUE' },
  { old_value: 'travel', new_value: 'travel; software', ticket_missing: 'FALSE', decided_at: '2026-03-02 09:30:15' },
  { old_value: 'TRUE', new_value: 'FALSE', decided_at: '2026-03-03 17:45:00', decision_comment: "'-no" },
  { old_value: '2026-06-30 23:59:59', new_value: '2026-12-31 23:59:59' },
  { old_value: 'no limit', new_value: '1,500,000', requires_approval: 'FALSE' },
  { old_value: 'any', new_value: 'gambling' },
  { old_value: '12345678901234567.89', new_value: '1.5' },
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'change-log-xlsx-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(source: string | Buffer): Promise<ExcelJS.Worksheet> {
  const wb = new ExcelJS.Workbook();
  if (typeof source === 'string') await wb.xlsx.readFile(source);
  // exceljs declares its own `Buffer` interface, which Node 20's generic Buffer does not match by type.
  else await wb.xlsx.load(source as unknown as ExcelJS.Buffer);
  const ws = wb.getWorksheet(CHANGE_LOG_SHEET);
  if (ws === undefined) throw new Error(`no sheet "${CHANGE_LOG_SHEET}"`);
  return ws;
}

/** Whether LibreOffice can be run; under CI its absence fails the run (as PostgreSQL's does). */
function libreOfficeAvailable(): boolean {
  if (spawnSync('soffice', ['--version'], { stdio: 'ignore' }).error === undefined) return true;
  if (process.env.CI === 'true') throw new Error('LibreOffice (soffice) is required under CI to check the XLSX export');
  console.warn('\n!!! SKIPPED: LibreOffice (soffice) not installed: XLSX not checked in a real spreadsheet.\n');
  return false;
}

describe('change log XLSX', () => {
  it('writes typed cells under a bold, frozen, filterable header', async () => {
    const file = join(dir, 'typed.xlsx');
    await writeChangeLogXlsx(ROWS, file);
    const ws = await load(file);

    expect(ws.rowCount).toBe(ROWS.length + 1);
    expect(ws.getRow(1).values).toEqual([undefined, ...CHANGE_LOG_COLUMNS]);
    expect(ws.getRow(1).getCell(1).font?.bold).toBe(true);
    expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(ws.autoFilter).toBe('A1:S1');
    CHANGE_LOG_COLUMNS.forEach((name, i) => expect(ws.getColumn(i + 1).width).toBeGreaterThanOrEqual(name.length + 2));

    const at = (row: number, col: ChangeLogColumn): ExcelJS.Cell =>
      ws.getRow(row + 2).getCell(CHANGE_LOG_COLUMNS.indexOf(col) + 1);

    expect(at(0, 'timestamp').value).toEqual(new Date('2026-03-01T09:15:42.789Z'));
    expect(at(0, 'timestamp').numFmt).toBe('yyyy-mm-dd hh:mm:ss');
    expect(at(0, 'old_value').value).toBe(5000);
    expect(at(0, 'new_value').value).toBe(15000);
    expect(at(0, 'new_value').numFmt).toBe('#,##0.00');
    expect(at(0, 'justification').value).toBe(`'=1+1, says "finance"`);
    expect(at(0, 'ticket_missing').value).toBe(true);
    expect(at(0, 'decided_at').value).toBeNull();
    expect(at(0, 'approval_ticket').value).toBeNull();
    expect(at(1, 'new_value').value).toBe('travel; software');
    expect(at(1, 'decided_at').value).toEqual(new Date('2026-03-02T09:30:15.000Z'));
    expect([at(2, 'old_value').value, at(2, 'new_value').value]).toEqual([true, false]);
    expect(at(3, 'new_value').value).toEqual(new Date('2026-12-31T23:59:59.000Z'));
    expect(at(3, 'new_value').numFmt).toBe('yyyy-mm-dd hh:mm:ss');
    expect(at(4, 'old_value').value).toBe('no limit');
    expect(at(4, 'new_value').value).toBe(1500000);
    expect(at(4, 'new_value').numFmt).toBe('#,##0');
    expect(at(5, 'old_value').value).toBe('any');
    expect(at(6, 'old_value').value).toBe('12345678901234567.89');
    expect(at(6, 'new_value').numFmt).toBe('#,##0.0');
  });

  it('streams an async row source into a writable stream', async () => {
    async function* source(): AsyncGenerator<ChangeLogRow> {
      for (const r of ROWS.slice(0, 2)) yield await Promise.resolve(r);
    }
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    await writeChangeLogXlsx(source(), sink);
    const ws = await load(Buffer.concat(chunks));
    expect(ws.rowCount).toBe(3);
    expect(ws.getRow(3).getCell(1).value).toBe('chg_2');
  });

  it('removes the file instead of leaving a truncated report when the rows fail', async () => {
    const file = join(dir, 'broken.xlsx');
    async function* failing(): AsyncGenerator<ChangeLogRow> {
      yield await Promise.resolve(base);
      throw new Error('log read failed');
    }
    await expect(writeChangeLogXlsx(failing(), file)).rejects.toThrow('log read failed');
    expect(existsSync(file)).toBe(false);
  });

  it('rejects, rather than crashing or hanging, when the file cannot be written', async () => {
    await expect(writeChangeLogXlsx(ROWS, join(dir, 'no-such-dir', 'x.xlsx'))).rejects.toThrow(/ENOENT/);
  });

  it('opens in LibreOffice with the values finance should see', { timeout: 120_000 }, async (ctx) => {
    if (!libreOfficeAvailable()) return ctx.skip();
    const file = join(dir, 'changes.xlsx');
    await writeChangeLogXlsx(ROWS, file);
    // A fresh profile per run: a shared one is locked by any other soffice running.
    const profile = pathToFileURL(join(dir, 'lo-profile')).href;
    // UTF-8, comma-separated, "save cell contents as shown" (last token) so formats apply, in a pinned
    // locale: under de_DE LibreOffice writes 15.000,00 and WAHR.
    const filter = 'csv:Text - txt - csv (StarCalc):44,34,76,1,,1033,false,true,true';
    await run('soffice', [`-env:UserInstallation=${profile}`, '--headless', '--convert-to', filter, '--outdir', dir, file], {
      timeout: 100_000,
      env: { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8', LANGUAGE: '' },
    });
    const table: string[][] = parse(await readFile(join(dir, 'changes.csv'), 'utf8'));

    expect(table[0]).toEqual([...CHANGE_LOG_COLUMNS]);
    expect(table).toHaveLength(ROWS.length + 1);
    ROWS.forEach((r, i) => {
      const expected = CHANGE_LOG_COLUMNS.map((c) => SHOWN[i]![c] ?? shown(c, r[c]));
      expect({ change_id: r.change_id, cells: table[i + 1] }).toEqual({ change_id: r.change_id, cells: expected });
    });
  });
});

/** How a column without a SHOWN entry appears: null empty, booleans as LibreOffice names them, instants formatted. */
function shown(column: ChangeLogColumn, v: ChangeLogRow[keyof ChangeLogRow]): string {
  if (v === null) return '';
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (typeof v !== 'string') throw new Error(`${column}: ${JSON.stringify(v)} needs an explicit SHOWN entry`);
  if (column === 'timestamp' || column === 'decided_at') return v.slice(0, 19).replace('T', ' ');
  return v;
}
