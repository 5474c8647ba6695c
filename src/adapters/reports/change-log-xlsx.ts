import ExcelJS from 'exceljs';
import type { WriteStream } from 'node:fs';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Stream } from 'node:stream';
import type { ChangeLogRow, ChangeValue, ValueKind } from '../../app/ports/change-log.ts';
import type { ChangeLogColumn } from './change-log-csv.ts';
import { CHANGE_LOG_COLUMNS, DECIMAL, LIST_SEPARATOR } from './change-log-csv.ts';
import { defuseText } from './cell-text.ts';

export const CHANGE_LOG_SHEET = 'Policy changes';
export const DATE_FORMAT = 'yyyy-mm-dd hh:mm:ss';
/** What a null money value means in a policy: the limit is absent. */
export const NO_LIMIT = 'no limit';
/** What a null list means in a policy: no allow/deny list, so anything passes. */
export const ANY = 'any';

/** Character widths: ids fit a UUID, free text gets room to read without widening by hand. */
const WIDTHS: Record<ChangeLogColumn, number> = {
  change_id: 38, agent_id: 24, timestamp: 20, changed_by: 24, field_changed: 24, old_value: 22, new_value: 22,
  currency: 10, direction: 11, justification: 50, approval_ticket: 17, ticket_missing: 16, requires_approval: 19,
  status: 12, decided_by: 24, decided_at: 20, decision_comment: 40, policy_snapshot_id_before: 38,
  policy_snapshot_id_after: 38,
};

/**
 * Beyond 15 significant digits a double no longer holds every decimal, and spreadsheets only show 15:
 * such an amount is written as text so nothing is silently rounded.
 */
const MAX_EXACT_DIGITS = 15;

interface XCell {
  readonly value: string | number | boolean | Date | null;
  readonly numFmt?: string;
}

/**
 * Streams the change log into an XLSX workbook with typed cells (dates, numbers, booleans), so finance can
 * sort and sum without converting text. Rows are committed as they are written, so a long log is never held
 * in memory. A stream passed in is ended when the workbook is complete; when writing to a path and the rows
 * fail midway, the partial file is removed rather than left looking like a complete report.
 */
export async function writeChangeLogXlsx(
  rows: Iterable<ChangeLogRow> | AsyncIterable<ChangeLogRow>,
  out: NodeJS.WritableStream | string,
): Promise<void> {
  const file = typeof out === 'string' ? createWriteStream(out) : null;
  const stream: NodeJS.WritableStream = file ?? (out as NodeJS.WritableStream);
  // Without a listener a write error (missing directory, full disk, closed socket) would crash the process,
  // and exceljs's commit would wait forever for a 'finish' that never comes.
  let failure: Error | undefined;
  let onError: (e: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => {
    onError = (e) => reject((failure = e));
    stream.on('error', onError);
  });
  try {
    await Promise.race([failed, writeSheet(rows, stream, () => failure !== undefined)]);
  } catch (e) {
    if (file !== null) await discard(file);
    throw e;
  } finally {
    stream.removeListener('error', onError);
  }
}

async function writeSheet(
  rows: Iterable<ChangeLogRow> | AsyncIterable<ChangeLogRow>,
  stream: NodeJS.WritableStream,
  broken: () => boolean,
): Promise<void> {
  // exceljs types its option as the Stream class, but it only pipes its zip output into it: any writable works.
  const target = stream as unknown as Stream;
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: target, useStyles: true, useSharedStrings: false });
  // Views are written when the sheet opens, so the frozen header must be set here, not later.
  const ws = wb.addWorksheet(CHANGE_LOG_SHEET, { views: [{ state: 'frozen', ySplit: 1 }] });
  ws.columns = CHANGE_LOG_COLUMNS.map((c) => ({ header: c, key: c, width: WIDTHS[c] }));
  ws.autoFilter = { from: { row: 1, column: 1 }, to: { row: 1, column: CHANGE_LOG_COLUMNS.length } };
  const header = ws.getRow(1);
  header.font = { bold: true };
  header.commit();
  for await (const r of rows) {
    // The caller already has the stream's error; stop reading the (possibly long) row source.
    if (broken()) return;
    const cells = CHANGE_LOG_COLUMNS.map((c) => toCell(r, c));
    const row = ws.addRow(cells.map((x) => x.value));
    cells.forEach((x, i) => {
      if (x.numFmt !== undefined) row.getCell(i + 1).numFmt = x.numFmt;
    });
    row.commit();
  }
  ws.commit();
  await wb.commit();
}

/** Waits for the file to be closed first: the stream opens it asynchronously and could re-create it after rm. */
async function discard(file: WriteStream): Promise<void> {
  if (!file.closed) await new Promise<void>((resolve) => file.once('close', () => resolve()).destroy());
  await rm(file.path, { force: true });
}

function toCell(r: ChangeLogRow, c: ChangeLogColumn): XCell {
  if (c === 'old_value' || c === 'new_value') return valueCell(r.value_kind, r[c]);
  if (c === 'timestamp' || c === 'decided_at') return r[c] === null ? { value: null } : instantCell(r[c]);
  const v = r[c];
  if (v === null || typeof v === 'boolean') return { value: v };
  return text(v);
}

/** A changed policy value, typed by what the field holds rather than by how it is stored. */
function valueCell(kind: ValueKind, v: ChangeValue): XCell {
  if (v === null) {
    if (kind === 'money') return { value: NO_LIMIT };
    if (kind === 'list') return { value: ANY };
    return { value: null };
  }
  if (typeof v === 'boolean') return { value: v };
  if (typeof v !== 'string') return text(v.join(LIST_SEPARATOR));
  if (kind === 'money') return moneyCell(v);
  if (kind === 'instant') return instantCell(v);
  return text(v);
}

function moneyCell(v: string): XCell {
  if (!DECIMAL.test(v)) return text(v);
  const [whole = '', fraction = ''] = v.replace('-', '').split('.');
  if ((whole + fraction).replace(/^0+/, '').length > MAX_EXACT_DIGITS) return text(v);
  // Show as many decimals as the stored amount has: 2 for EUR, 0 for JPY, 3 for KWD.
  return { value: Number(v), numFmt: fraction.length > 0 ? `#,##0.${'0'.repeat(fraction.length)}` : '#,##0' };
}

/** exceljs converts a Date to a serial day number from its epoch milliseconds, so the cell is in UTC. */
function instantCell(v: string): XCell {
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? text(v) : { value: d, numFmt: DATE_FORMAT };
}

/**
 * A string cell is never evaluated, but "save as CSV" turns it back into a live formula: prefixing the
 * apostrophe, as the CSV export does, keeps it text through that round trip too.
 */
function text(v: string): XCell {
  return { value: defuseText(v) };
}
