import ExcelJS from 'exceljs';
import type { Stream } from 'node:stream';
import type { AgentStatement, StatementRun } from '../../app/agent-statements.ts';
import { findCurrency } from '../../domain/money/currency.ts';
import { NO_TRANSACTIONS, describePolicy, monthlyNote } from '../../domain/statement/statement.ts';
import type { StatementHeader, StatementLine } from '../../domain/statement/statement.ts';
import type { StatementTotals } from '../../domain/statement/totals.ts';
import { DECIMAL, LIST_SEPARATOR } from './change-log-csv.ts';
import { DATE_FORMAT } from './change-log-xlsx.ts';
import { defuseText } from './cell-text.ts';

/**
 * The statement as an XLSX workbook, one sheet per agent. Each sheet opens with the agent, the
 * period and the policy versions in force, then a frozen, filterable header over one row per
 * transaction (dates as dates, amounts as numbers with their currency's decimals), then the
 * totals: SUMIF/SUM formulas over the lines whose cached results are the exact totals, so a
 * spreadsheet that recalculates and one that only reads show the same figures to the cent.
 * Rows are committed as they are written, so a long statement is never held in memory.
 */
export const STATEMENT_XLSX_COLUMNS = [
  { key: 'date', header: 'Date', width: 20 },
  { key: 'type', header: 'Type', width: 10 },
  { key: 'merchant', header: 'Merchant', width: 28 },
  { key: 'merchant_category', header: 'MCC', width: 7 },
  { key: 'gl_account', header: 'GL account', width: 12 },
  { key: 'gl_account_name', header: 'GL account name', width: 24 },
  { key: 'business_purpose', header: 'Business purpose', width: 40 },
  { key: 'approver', header: 'Approver', width: 26 },
  { key: 'amount', header: 'Amount', width: 15 },
  { key: 'currency', header: 'Currency', width: 9 },
  { key: 'reporting_amount', header: 'Amount (reporting)', width: 18 },
  { key: 'violations', header: 'Violations', width: 28 },
  { key: 'refund_of', header: 'Refund of (transaction id)', width: 38 },
  { key: 'refund_of_date', header: 'Refunded payment date', width: 22 },
  { key: 'tx_id', header: 'Transaction id', width: 38 },
  { key: 'policy_snapshot_id', header: 'Policy snapshot id', width: 40 },
] as const;

type ColumnKey = (typeof STATEMENT_XLSX_COLUMNS)[number]['key'];
const col = (k: ColumnKey): number => STATEMENT_XLSX_COLUMNS.findIndex((c) => c.key === k) + 1;
const letter = (k: ColumnKey): string => String.fromCharCode(64 + col(k));

/** Beyond 15 significant digits a double no longer holds every decimal: such an amount is written as text. */
const MAX_EXACT_DIGITS = 15;

/** Excel's limits on sheet names: 31 characters, none of []:*?/\, no leading or trailing apostrophe. */
const SHEET_NAME_MAX = 31;
const SHEET_NAME_BAD = /[[\]:*?/\\]/g;

type Value = string | number | Date | null | { formula: string; result: number | string };

interface XCell {
  readonly value: Value;
  readonly numFmt?: string;
}

/**
 * A string cell is never evaluated, but "save as CSV" turns `=HYPERLINK(...)` back into a live
 * formula: the apostrophe prefix (as in the CSV export) keeps it text through that round trip.
 */
function safeText(v: string | null): XCell {
  if (v === null) return { value: null };
  return { value: defuseText(v) };
}

const moneyFormat = (decimals: number): string => (decimals > 0 ? `#,##0.${'0'.repeat(decimals)}` : '#,##0');

/** An exact decimal as a number cell when a double holds it exactly, else as text. */
function moneyCell(v: string): XCell & { readonly exact: boolean } {
  if (!DECIMAL.test(v)) return { ...safeText(v), exact: false };
  const [whole = '', fraction = ''] = v.replace('-', '').split('.');
  if ((whole + fraction).replace(/^0+/, '').length > MAX_EXACT_DIGITS) return { value: v, exact: false };
  return { value: Number(v), numFmt: moneyFormat(fraction.length), exact: true };
}

/** A local wall-clock time "YYYY-MM-DD HH:MM:SS" as a date cell showing exactly that (spreadsheets have no zones). */
function localDateCell(local: string | null): XCell {
  if (local === null) return { value: null };
  const [d = '', t = ''] = local.split(' ');
  const [y, mo, da] = d.split('-').map(Number) as [number, number, number];
  const [h, mi, s] = t.split(':').map(Number) as [number, number, number];
  return { value: new Date(Date.UTC(y, mo - 1, da, h, mi, s)), numFmt: DATE_FORMAT };
}

/**
 * Sheet names for agents, in order: valid for Excel (at most 31 characters, none of []:*?/\,
 * no apostrophe at either end, not the reserved "History") and unique ignoring case, as Excel
 * compares them; a clash gets a "~2", "~3", … suffix within the 31 characters.
 */
export function sheetNames(names: readonly string[]): string[] {
  const used = new Set<string>();
  return names.map((raw) => {
    let base = raw.replace(SHEET_NAME_BAD, '_').replace(/^'+|'+$/g, '').trim();
    if (base === '' || base.toLowerCase() === 'history') base = `${base || 'agent'}_`;
    let name = base.slice(0, SHEET_NAME_MAX);
    for (let n = 2; used.has(name.toLowerCase()); n++) {
      const suffix = `~${n}`;
      name = `${base.slice(0, SHEET_NAME_MAX - suffix.length)}${suffix}`;
    }
    used.add(name.toLowerCase());
    return name;
  });
}

/**
 * A GL code can stand as a SUMIF criterion only when the match is exact: plain digits or a
 * letter-led word (no wildcard, operator, date- or number-like text), not TRUE/FALSE, and no
 * other code of the sheet equal to it ignoring case (SUMIF ignores case). Others get a value.
 */
function criterionSafe(code: string, all: readonly (string | null)[]): boolean {
  if (!/^(?:[1-9][0-9]{0,14}|[A-Za-z][A-Za-z0-9_]{0,31})$/.test(code)) return false;
  if (/^(true|false)$/i.test(code)) return false;
  return all.filter((c) => c !== null && c.toLowerCase() === code.toLowerCase()).length === 1;
}

function lineCells(l: StatementLine): Record<ColumnKey, XCell> {
  return {
    date: localDateCell(l.local_time),
    type: { value: l.type },
    merchant: safeText(l.merchant),
    merchant_category: safeText(l.merchant_category),
    gl_account: safeText(l.gl_account),
    gl_account_name: safeText(l.gl_account_name),
    business_purpose: safeText(l.business_purpose),
    approver: safeText(l.approver === null ? null : l.approved_after_the_fact ? `${l.approver} (after the fact)` : l.approver),
    amount: moneyCell(l.amount),
    currency: { value: l.currency },
    reporting_amount: moneyCell(l.reporting_amount),
    violations: { value: l.violations.length === 0 ? null : l.violations.join(LIST_SEPARATOR) },
    refund_of: { value: l.refund_of?.tx_id ?? null },
    refund_of_date: localDateCell(l.refund_of?.local_time ?? null),
    tx_id: { value: l.tx_id },
    policy_snapshot_id: { value: l.policy_snapshot_id },
  };
}

/** Writes the workbook to `out` and ends it; rejects if reading the lines or writing fails. */
export async function writeStatementXlsx(run: StatementRun, out: NodeJS.WritableStream): Promise<void> {
  // Without a listener a write error (missing directory, closed socket) would crash the process,
  // and exceljs's commit would wait forever for a 'finish' that never comes.
  let failure: Error | undefined;
  let onError: (e: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => {
    onError = (e) => reject((failure = e));
    out.on('error', onError);
  });
  try {
    await Promise.race([failed, writeWorkbook(run, out, () => failure !== undefined)]);
  } finally {
    out.removeListener('error', onError);
  }
}

async function writeWorkbook(run: StatementRun, out: NodeJS.WritableStream, broken: () => boolean): Promise<void> {
  // exceljs types its option as the Stream class, but it only pipes its zip output into it: any writable works.
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out as unknown as Stream, useStyles: true, useSharedStrings: false });
  wb.creator = 'spendtrail';
  wb.created = new Date(run.generated_at);
  wb.modified = new Date(run.generated_at);
  const names = sheetNames(run.statements.map((s) => s.header.agent.agent_id));
  for (const [i, s] of run.statements.entries()) {
    await writeSheet(wb, names[i] ?? `agent ${i + 1}`, s, broken);
    if (broken()) return;
  }
  await wb.commit();
}

type Sheet = ExcelJS.Worksheet;

function put(ws: Sheet, cells: Partial<Record<ColumnKey, XCell>>, style?: Partial<ExcelJS.Font>): number {
  const values: Value[] = STATEMENT_XLSX_COLUMNS.map((c) => cells[c.key]?.value ?? null);
  const row = ws.addRow(values);
  for (const c of STATEMENT_XLSX_COLUMNS) {
    const fmt = cells[c.key]?.numFmt;
    if (fmt !== undefined) row.getCell(col(c.key)).numFmt = fmt;
  }
  if (style !== undefined) row.font = style;
  row.commit();
  return row.number;
}

/** A label in the first column and a value beside it, for the opening block. */
function pair(ws: Sheet, label: string, value: string): void {
  const row = ws.addRow([label, safeText(value).value]);
  row.getCell(1).font = { bold: true };
  row.commit();
}

function openingRows(h: StatementHeader): [string, string][] {
  const rows: [string, string][] = [
    ['Organisation', `${h.org.name} (${h.org.org_id})`],
    ['Agent', `${h.agent.agent_id} — ${h.agent.name}`],
    ['Owner', h.agent.owner],
    ['Cluster', h.agent.cluster],
    ['Period', h.period.label],
    ['Currency', `Amounts in ${h.org.reporting_currency}; original amounts in their own currency`],
  ];
  if (h.policies.length === 0) rows.push(['Policy in force', 'No policy was in force during this period']);
  for (const p of h.policies) rows.push(['Policy in force', describePolicy(p, h.period.timezone)]);
  rows.push(['Generated', `${h.generated_at} (log tree size ${h.as_of_tree_size})`]);
  return rows;
}

async function writeSheet(wb: ExcelJS.stream.xlsx.WorkbookWriter, name: string, s: AgentStatement, broken: () => boolean): Promise<void> {
  const h = s.header;
  const opening = openingRows(h);
  // Title, the opening block, a blank row, then the header: views are written when the sheet
  // opens, so the frozen row must be known now.
  const headerRow = 1 + opening.length + 2;
  const ws = wb.addWorksheet(name, {
    views: [{ state: 'frozen', ySplit: headerRow }],
    pageSetup: { orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0 },
  });
  ws.columns = STATEMENT_XLSX_COLUMNS.map((c) => ({ key: c.key, width: c.width }));
  ws.autoFilter = { from: { row: headerRow, column: 1 }, to: { row: headerRow, column: STATEMENT_XLSX_COLUMNS.length } };
  const title = ws.addRow(['Agent spend statement']);
  title.font = { bold: true, size: 14 };
  title.commit();
  for (const [label, value] of opening) pair(ws, label, value);
  ws.addRow([]).commit();
  const header = ws.addRow(STATEMENT_XLSX_COLUMNS.map((c) => (c.key === 'reporting_amount' ? `Amount (${h.org.reporting_currency})` : c.header)));
  header.font = { bold: true };
  header.commit();

  let first = 0;
  let last = 0;
  let exact = true;
  for await (const l of s.lines()) {
    // The caller already has the stream's error; stop reading the (possibly long) statement.
    if (broken()) return;
    const reporting = moneyCell(l.reporting_amount);
    exact &&= reporting.exact;
    last = put(ws, { ...lineCells(l), reporting_amount: reporting });
    if (first === 0) first = last;
  }
  if (first === 0) put(ws, { date: { value: NO_TRANSACTIONS } }, { italic: true });
  ws.addRow([]).commit();
  // Formulas only over a real range of numbers; otherwise the exact values themselves.
  writeTotals(ws, s.totals(), first === 0 || !exact ? null : { first, last }, h.org.reporting_currency);
  ws.commit();
}

function writeTotals(ws: Sheet, t: StatementTotals, lines: { first: number; last: number } | null, currency: string): void {
  const decimals = findCurrency(currency)?.exponent ?? 2;
  const range = (k: ColumnKey): string => `${letter(k)}$${lines?.first ?? 0}:${letter(k)}$${lines?.last ?? 0}`;
  const amount = letter('reporting_amount');
  /** The exact total as a formula's cached result when the formula is sound, else as the value itself. */
  const figure = (exactTotal: string, formula: string | null): XCell => {
    const m = moneyCell(exactTotal);
    if (formula === null || !m.exact) return m;
    return { value: { formula, result: m.value as number }, numFmt: moneyFormat(decimals) };
  };
  const overLines = (formula: string): string | null => (lines === null ? null : formula);
  const label = (text: string): XCell => ({ value: text });

  put(ws, { date: label(`Totals (${currency})`) }, { bold: true });
  const sumType = (type: string): string => `SUMIF(${range('type')},"${type}",${range('reporting_amount')})`;
  put(ws, { date: label(`Payments (${t.payments.count})`), reporting_amount: figure(t.payments.amount, overLines(sumType('payment'))) });
  put(ws, {
    date: label(`Refunds and reversals (${t.refunds.count})`),
    reporting_amount: figure(t.refunds.amount, overLines(`${sumType('refund')}+${sumType('reversal')}`)),
  });
  put(ws, { date: label(`Net (${t.net.count} transactions)`), reporting_amount: figure(t.net.amount, overLines(`SUM(${range('reporting_amount')})`)) }, { bold: true });

  ws.addRow([]).commit();
  let row = put(ws, { date: label('By GL account'), gl_account: label('GL account'), gl_account_name: label('Name') }, { bold: true });
  const codes = t.by_gl_account.map((g) => g.gl_account);
  for (const g of t.by_gl_account) {
    const at = row + 1;
    const formula =
      g.gl_account === null
        ? `SUMIF(${range('gl_account')},"",${range('reporting_amount')})`
        : criterionSafe(g.gl_account, codes)
          ? `SUMIF(${range('gl_account')},${letter('gl_account')}${at},${range('reporting_amount')})`
          : null;
    row = put(ws, {
      date: label(`${g.count} transaction${g.count === 1 ? '' : 's'}`),
      gl_account: g.gl_account === null ? label('(uncoded)') : safeText(g.gl_account),
      gl_account_name: safeText(g.gl_account === null ? 'Uncoded' : g.name),
      reporting_amount: figure(g.amount, formula === null ? null : overLines(formula)),
    });
  }

  ws.addRow([]).commit();
  put(ws, { date: label('Budget (payments, gross)') }, { bold: true });
  if (!t.budget.has_policy) put(ws, { date: label('No policy: there are no limits to compare with') });
  for (const m of t.budget.monthly) {
    const limit = m.limit === null ? null : moneyCell(m.limit);
    const used = moneyCell(m.used);
    const limitRow = put(ws, { date: label(`Monthly limit ${m.month}`), reporting_amount: limit ?? label('no limit') });
    const usedRow = put(ws, { date: label(`Spent in ${m.month}`), reporting_amount: used });
    if (m.remaining !== null) {
      put(ws, {
        date: label(`Remaining in ${m.month}`),
        reporting_amount: figure(m.remaining, limit?.exact === true && used.exact ? `${amount}${limitRow}-${amount}${usedRow}` : null),
        violations: label(monthlyNote(m.limit, m.remaining, m.partial)),
      });
    } else if (m.partial) {
      put(ws, { date: label(`(${m.month}: the period covers part of this month only)`) });
    }
  }
  const d = t.budget.daily;
  if (d.peak !== null) {
    put(ws, {
      date: label(`Highest daily spend ${d.peak.day}`),
      reporting_amount: moneyCell(d.peak.used),
      violations: label(d.peak.limit === null ? 'no daily limit' : `daily limit ${d.peak.limit}`),
    });
  }
  for (const o of d.over_limit) {
    put(ws, {
      date: label(`Over the daily limit on ${o.day}`),
      reporting_amount: moneyCell(o.used),
      violations: label(`daily limit ${o.limit ?? ''}`),
    });
  }
  if (d.peak !== null && d.over_limit.length === 0) put(ws, { date: label('No day went over its daily limit') });
}
