import PDFDocument from 'pdfkit';
import { finished } from 'node:stream/promises';
import type { AgentStatement, StatementRun } from '../../app/agent-statements.ts';
import { localDateTime } from '../../domain/statement/period.ts';
import type { StatementHeader, StatementLine } from '../../domain/statement/statement.ts';
import { NO_TRANSACTIONS, describePolicy, monthlyNote } from '../../domain/statement/statement.ts';
import type { StatementTotals } from '../../domain/statement/totals.ts';
import { combineTotals } from '../../domain/statement/totals.ts';
import { formatAmount, toWinAnsi } from './summary-pdf.ts';

/**
 * The statement as a PDF to read and file: landscape pages, each agent's statement starting on
 * a new page with its opening context, a table of every transaction (the header repeated on
 * every page), and the totals at the end; for a cluster a last page totals the agents. Every
 * page carries "Page n of N". Text is never cut where it matters: merchant, purpose, approver
 * and violations wrap within their column (up to three lines) and amounts shrink to fit.
 *
 * Like the summary PDF it uses only pdfkit's built-in Helvetica (nothing to embed, the same
 * bytes for the same statement), which encodes WinAnsi only: all text goes through `toWinAnsi`,
 * so characters outside it print as "?" here while the CSV and XLSX keep them exactly.
 */
export type Paper = 'letter' | 'a4';

export interface StatementPdfOptions {
  readonly paper?: Paper | undefined;
}

/** Landscape page sizes in PostScript points. */
const PAPER: Readonly<Record<Paper, readonly [number, number]>> = {
  letter: [792, 612],
  a4: [841.89, 595.28],
};

const MARGIN = 36;
const FOOTER = 18;
const REGULAR = 'Helvetica';
const BOLD = 'Helvetica-Bold';
const OBLIQUE = 'Helvetica-Oblique';
const INK = '#111111';
const MUTED = '#666666';
const RULE = '#c8c8c8';
const ALERT = '#b3261e';
const ELLIPSIS = '...';
/** No cell shows more than this much raw text; the exports hold the rest. */
const MAX_FIELD = 600;
const MAX_WRAP = 3;

interface Style {
  readonly font: string;
  readonly size: number;
  readonly color: string;
}
const st = (font: string, size: number, color = INK): Style => ({ font, size, color });
const TITLE = st(BOLD, 16);
const SUBTITLE = st(REGULAR, 10);
const LABEL = st(BOLD, 8.5);
const VALUE = st(REGULAR, 8.5);
const SMALL = st(REGULAR, 7, MUTED);
const HEAD = st(BOLD, 7.5);
const CELL = st(REGULAR, 7.5);
const NOTE = st(OBLIQUE, 7, MUTED);
const SECTION = st(BOLD, 10);
const pitch = (s: Style): number => Math.ceil(s.size * 1.3);

/** Table columns as fractions of the text width, so Letter and A4 keep the same proportions. */
const COLUMNS = [
  { key: 'date', title: 'Date', share: 0.095, align: 'left' },
  { key: 'ref', title: 'Ref', share: 0.055, align: 'left' },
  { key: 'merchant', title: 'Merchant', share: 0.14, align: 'left' },
  { key: 'mcc', title: 'MCC', share: 0.04, align: 'left' },
  { key: 'gl', title: 'GL account', share: 0.11, align: 'left' },
  { key: 'purpose', title: 'Business purpose', share: 0.175, align: 'left' },
  { key: 'approver', title: 'Approver', share: 0.09, align: 'left' },
  { key: 'amount', title: 'Amount', share: 0.1, align: 'right' },
  { key: 'reporting', title: 'Reporting', share: 0.09, align: 'right' },
  { key: 'violations', title: 'Violations', share: 0.105, align: 'left' },
] as const;
type ColumnKey = (typeof COLUMNS)[number]['key'];
const PAD = 4;

type Doc = PDFKit.PDFDocument;

function use(doc: Doc, s: Style): void {
  doc.font(s.font).fontSize(s.size).fillColor(s.color);
}

function truncate(doc: Doc, text: string, width: number): string {
  if (doc.widthOfString(text) <= width) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (doc.widthOfString(text.slice(0, mid).trimEnd() + ELLIPSIS) <= width) lo = mid;
    else hi = mid - 1;
  }
  return text.slice(0, lo).trimEnd() + ELLIPSIS;
}

const clean = (raw: string): string => toWinAnsi(raw.slice(0, MAX_FIELD));

/** One line at (x, y) within width; `lineBreak: false` keeps pdfkit from adding pages on its own. */
function draw(doc: Doc, raw: string, x: number, y: number, width: number, s: Style, align: 'left' | 'right' = 'left'): void {
  use(doc, s);
  const text = truncate(doc, clean(raw), width);
  doc.text(text, align === 'right' ? x + width - doc.widthOfString(text) : x, y, { lineBreak: false });
}

/** A figure shrinks (to 5 pt) before it is ever cut: a cut amount would misstate it. */
function drawFigure(doc: Doc, raw: string, x: number, y: number, width: number, s: Style): void {
  const text = clean(raw);
  let size = s.size;
  use(doc, s);
  while (size > 5 && doc.widthOfString(text) > width) {
    size -= 0.5;
    doc.fontSize(size);
  }
  draw(doc, text, x, y, width, { ...s, size }, 'right');
}

/** Greedy word wrap in style `s` to at most `max` lines, the last one truncated if the text goes on. */
function wrap(doc: Doc, raw: string, width: number, s: Style, max = MAX_WRAP): string[] {
  use(doc, s);
  const words = clean(raw).split(' ');
  const lines: string[] = [];
  let current = '';
  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? '';
    const next = current === '' ? word : `${current} ${word}`;
    if (doc.widthOfString(next) <= width) {
      current = next;
      continue;
    }
    if (lines.length === max - 1) return [...lines, truncate(doc, [current, ...words.slice(i)].filter((w) => w !== '').join(' '), width)];
    if (current !== '') {
      lines.push(current);
      current = '';
      i -= 1;
      continue;
    }
    // A single word wider than the column (an id, a URL) is split where it overflows rather than overprinting.
    let cut = word.length - 1;
    while (cut > 1 && doc.widthOfString(word.slice(0, cut)) > width) cut -= 1;
    lines.push(word.slice(0, cut));
    words[i] = word.slice(cut);
    i -= 1;
  }
  return current === '' && lines.length > 0 ? lines : [...lines, current];
}

function rule(doc: Doc, x: number, y: number, width: number): void {
  doc.save().moveTo(x, y).lineTo(x + width, y).lineWidth(0.5).strokeColor(RULE).stroke().restore();
}

interface Cell {
  readonly lines: readonly string[];
  readonly style: Style;
  readonly figure?: boolean;
}

/** Lays out pages: `y` moves down; `ensure` starts a new page (with the running header) when needed. */
class Layout {
  readonly left = MARGIN;
  readonly width: number;
  readonly top = MARGIN;
  readonly bottom: number;
  y = MARGIN;
  /** What continuation pages repeat at their top: the running title and, inside the table, its header. */
  running: string | null = null;
  inTable = false;
  private readonly columns: { key: ColumnKey; x: number; w: number; title: string; align: 'left' | 'right' }[];

  constructor(
    readonly doc: Doc,
    private readonly size: readonly [number, number],
  ) {
    this.width = size[0] - 2 * MARGIN;
    this.bottom = size[1] - MARGIN - FOOTER;
    let x = this.left;
    this.columns = COLUMNS.map((c) => {
      const w = c.share * this.width;
      const placed = { key: c.key, x, w, title: c.title as string, align: c.align };
      x += w;
      return placed;
    });
  }

  newPage(): void {
    this.doc.addPage({ size: [this.size[0], this.size[1]], margin: MARGIN });
    this.y = this.top;
    if (this.running !== null) {
      draw(this.doc, this.running, this.left, this.y, this.width, SMALL);
      this.y += pitch(SMALL) + 4;
    }
    if (this.inTable) this.tableHeader();
  }

  ensure(height: number): void {
    if (this.y + height > this.bottom) this.newPage();
  }

  column(key: ColumnKey): { x: number; w: number } {
    const c = this.columns.find((x) => x.key === key);
    return { x: c?.x ?? this.left, w: c?.w ?? this.width };
  }

  tableHeader(): void {
    for (const c of this.columns) draw(this.doc, c.title, c.x, this.y, c.w - PAD, HEAD, c.align);
    this.y += pitch(HEAD);
    rule(this.doc, this.left, this.y - 2, this.width);
    this.y += 2;
  }

  /** One table row; the cells are already wrapped. Returns nothing: `y` moves below it. */
  row(cells: Partial<Record<ColumnKey, Cell>>, note: string | null): void {
    const lines = Math.max(1, ...Object.values(cells).map((c) => c.lines.length));
    const height = lines * pitch(CELL) + (note === null ? 0 : pitch(NOTE)) + 2;
    this.ensure(height);
    for (const c of this.columns) {
      const cell = cells[c.key];
      if (cell === undefined) continue;
      cell.lines.forEach((text, i) => {
        const y = this.y + i * pitch(CELL);
        if (cell.figure === true) drawFigure(this.doc, text, c.x, y, c.w - PAD, cell.style);
        else draw(this.doc, text, c.x, y, c.w - PAD, cell.style, c.align);
      });
    }
    if (note !== null) {
      const from = this.column('merchant');
      const to = this.column('approver');
      draw(this.doc, note, from.x, this.y + lines * pitch(CELL), to.x + to.w - from.x, NOTE);
    }
    this.y += height;
    rule(this.doc, this.left, this.y - 1.5, this.width);
  }
}

/**
 * A short reference to a transaction for the eye: its last 8 hex digits, the random end of
 * the id (time-ordered ids share their first digits across a whole month).
 */
const refOf = (txId: string): string => txId.slice(-8);

function lineCells(L: Layout, l: StatementLine): Partial<Record<ColumnKey, Cell>> {
  const w = (k: ColumnKey): number => L.column(k).w - PAD;
  const text = (k: ColumnKey, v: string | null, s: Style = CELL): Cell => ({ lines: v === null || v === '' ? [] : wrap(L.doc, v, w(k), s), style: s });
  const approver = l.approver === null ? null : l.approved_after_the_fact ? `${l.approver} (after the fact)` : l.approver;
  const gl = l.gl_account === null ? 'uncoded' : l.gl_account_name === null ? l.gl_account : `${l.gl_account} ${l.gl_account_name}`;
  const violations = l.violations.length === 0 ? null : l.violations.map((v) => v.replace(/_/g, ' ')).join(', ');
  return {
    date: { lines: [l.local_time.slice(0, 16)], style: CELL },
    ref: { lines: [refOf(l.tx_id)], style: st(REGULAR, 7, MUTED) },
    merchant: text('merchant', l.type === 'payment' ? l.merchant : `${l.merchant} (${l.type})`),
    mcc: text('mcc', l.merchant_category),
    gl: text('gl', gl, l.gl_account === null ? st(BOLD, 7.5, ALERT) : CELL),
    purpose: text('purpose', l.business_purpose),
    approver: text('approver', approver),
    amount: { lines: [`${formatAmount(l.amount)} ${l.currency}`], style: CELL, figure: true },
    reporting: { lines: [formatAmount(l.reporting_amount)], style: CELL, figure: true },
    violations: text('violations', violations, st(BOLD, 7.5, ALERT)),
  };
}

/** The line under a refund that points at the payment it gives money back for. */
function refundNote(l: StatementLine): string | null {
  const r = l.refund_of;
  if (r === null) return null;
  if (r.local_time === null) return `-> ${l.type} of payment ${r.tx_id}`;
  const where = r.in_period ? '' : ', before this period';
  return `-> ${l.type} of the payment of ${r.local_time.slice(0, 16)} to ${r.merchant ?? ''}, ${formatAmount(r.amount ?? '')} ${r.currency} (ref ${refOf(r.tx_id)}${where})`;
}

function opening(L: Layout, h: StatementHeader): void {
  const { doc, left, width } = L;
  draw(doc, 'Agent spend statement', left, L.y, width, TITLE);
  L.y += pitch(TITLE) + 2;
  draw(doc, `${h.org.name} - ${h.period.label}`, left, L.y, width, SUBTITLE);
  L.y += pitch(SUBTITLE) + 6;
  const pairs: [string, string][] = [
    ['Agent', `${h.agent.agent_id} - ${h.agent.name}`],
    ['Owner', h.agent.owner],
    ['Cluster', h.agent.cluster],
    ['Period', h.period.label],
    ['Currency', `amounts in ${h.org.reporting_currency} (reporting); the Amount column is in the original currency`],
  ];
  const labelW = 80;
  for (const [label, value] of pairs) {
    draw(doc, label, left, L.y, labelW, LABEL);
    draw(doc, value, left + labelW, L.y, width - labelW, VALUE);
    L.y += pitch(VALUE);
  }
  draw(doc, h.policies.length > 1 ? 'Policies in force' : 'Policy in force', left, L.y, labelW, LABEL);
  if (h.policies.length === 0) {
    draw(doc, 'No policy was in force during this period', left + labelW, L.y, width - labelW, VALUE);
    L.y += pitch(VALUE);
  }
  for (const p of h.policies) {
    for (const line of wrap(doc, describePolicy(p, h.period.timezone), width - labelW, VALUE, 2)) {
      L.ensure(pitch(VALUE));
      draw(doc, line, left + labelW, L.y, width - labelW, VALUE);
      L.y += pitch(VALUE);
    }
  }
  L.y += 8;
}

function totalsBlock(L: Layout, h: StatementHeader, t: StatementTotals): void {
  const { doc, left } = L;
  const cur = t.currency;
  const labelW = 260;
  const amountW = 110;
  const line = (label: string, amount: string | null, style: Style = VALUE, note?: string): void => {
    L.ensure(pitch(style));
    draw(doc, label, left, L.y, labelW - PAD, style);
    if (amount !== null) drawFigure(doc, `${formatAmount(amount)} ${cur}`, left + labelW, L.y, amountW, style);
    if (note !== undefined) draw(doc, note, left + labelW + amountW + 12, L.y, L.width - labelW - amountW - 12, SMALL);
    L.y += pitch(style);
  };
  const heading = (text: string): void => {
    // A heading never sits alone at the foot of a page.
    L.ensure(pitch(SECTION) + 3 * pitch(VALUE));
    L.y += 6;
    draw(doc, text, left, L.y, L.width, SECTION);
    L.y += pitch(SECTION) + 2;
  };
  heading(`Totals for ${h.agent.agent_id}, ${h.period.label}`);
  line(`Payments (${t.payments.count})`, t.payments.amount);
  line(`Refunds and reversals (${t.refunds.count})`, t.refunds.amount);
  line(`Net (${t.net.count} transactions)`, t.net.amount, st(BOLD, 9));
  if (t.with_violations > 0) line(`Transactions with a violation: ${t.with_violations}`, null, st(BOLD, 8.5, ALERT));

  heading('By GL account');
  if (t.by_gl_account.length === 0) line('No spend in the period.', null, st(OBLIQUE, 8.5, MUTED));
  for (const g of t.by_gl_account) {
    const name = g.gl_account === null ? 'Uncoded' : `${g.gl_account} ${g.name ?? ''}`.trim();
    line(`${name} (${g.count})`, g.amount);
  }

  heading('Budget used (gross payments) against the limits');
  if (!t.budget.has_policy) line('No policy: there are no limits to compare with.', null);
  for (const m of t.budget.monthly) {
    line(`Month ${m.month}${m.limit === null ? '' : `, limit ${formatAmount(m.limit)} ${cur}`}`, m.used, VALUE, monthlyNote(m.limit, m.remaining === null ? null : formatAmount(m.remaining), m.partial));
  }
  const d = t.budget.daily;
  if (d.peak !== null) {
    line(`Highest day ${d.peak.day}${d.peak.limit === null ? '' : `, limit ${formatAmount(d.peak.limit)} ${cur}`}`, d.peak.used, VALUE, `${d.days_with_spend} day(s) with spend`);
  }
  for (const o of d.over_limit) line(`Over the daily limit on ${o.day}, limit ${formatAmount(o.limit ?? '')} ${cur}`, o.used, st(REGULAR, 8.5, ALERT));
  if (d.peak !== null && d.over_limit.length === 0 && t.budget.has_policy) line('No day went over its daily limit.', null);
}

async function agentPages(L: Layout, s: AgentStatement, first: boolean, failure: () => Error | undefined): Promise<StatementTotals> {
  const h = s.header;
  L.running = null;
  L.inTable = false;
  if (!first) L.newPage();
  L.running = `Agent spend statement - ${h.agent.agent_id} - ${h.period.label} (continued)`;
  opening(L, h);
  L.ensure(pitch(HEAD) + 2 * pitch(CELL));
  L.tableHeader();
  L.inTable = true;
  let n = 0;
  for await (const l of s.lines()) {
    // The output already failed: stop reading the (possibly long) statement.
    const e = failure();
    if (e !== undefined) throw e;
    L.row(lineCells(L, l), refundNote(l));
    n += 1;
  }
  L.inTable = false;
  if (n === 0) {
    draw(L.doc, NO_TRANSACTIONS, L.left, L.y + 2, L.width, st(OBLIQUE, 9, MUTED));
    L.y += pitch(VALUE) + 4;
  }
  const t = s.totals();
  totalsBlock(L, h, t);
  return t;
}

function clusterPage(L: Layout, run: StatementRun, totals: readonly StatementTotals[]): void {
  L.running = null;
  L.newPage();
  L.running = `Cluster ${run.cluster ?? ''} - ${run.period.label} (continued)`;
  const { doc, left, width } = L;
  const cur = run.org.reporting_currency;
  draw(doc, `Cluster ${run.cluster ?? ''}: totals by agent`, left, L.y, width, TITLE);
  L.y += pitch(TITLE) + 2;
  draw(doc, `${run.org.name} - ${run.period.label} - amounts in ${cur}`, left, L.y, width, SUBTITLE);
  L.y += pitch(SUBTITLE) + 8;
  const cols = [left, left + width * 0.4, left + width * 0.6, left + width * 0.8];
  const w = width * 0.2 - PAD;
  const head = ['Agent', 'Payments', 'Refunds', 'Net'];
  head.forEach((t, i) => draw(doc, t, cols[i] ?? left, L.y, i === 0 ? width * 0.4 - PAD : w, HEAD, i === 0 ? 'left' : 'right'));
  L.y += pitch(HEAD) + 2;
  const row = (name: string, t: { payments: { amount: string }; refunds: { amount: string }; net: { amount: string } }, s: Style): void => {
    L.ensure(pitch(s));
    draw(doc, name, left, L.y, width * 0.4 - PAD, s);
    [t.payments.amount, t.refunds.amount, t.net.amount].forEach((a, i) => drawFigure(doc, formatAmount(a), cols[i + 1] ?? left, L.y, w, s));
    L.y += pitch(s);
    rule(doc, left, L.y - 2, width);
  };
  run.statements.forEach((s, i) => {
    const t = totals[i];
    if (t !== undefined) row(`${s.header.agent.agent_id} - ${s.header.agent.name}`, t, VALUE);
  });
  row(`Cluster total (${run.statements.length} agents)`, combineTotals(totals, cur), st(BOLD, 9));
}

function footers(doc: Doc, run: StatementRun, size: readonly [number, number]): void {
  const range = doc.bufferedPageRange();
  const width = size[0] - 2 * MARGIN;
  const y = size[1] - MARGIN - FOOTER + 8;
  const left = `${run.org.name} - generated ${localDateTime(run.generated_at, run.period.timezone)} ${run.period.timezone} - log tree size ${run.as_of_tree_size}`;
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    rule(doc, MARGIN, y - 4, width);
    draw(doc, left, MARGIN, y, width * 0.75, SMALL);
    draw(doc, `Page ${i - range.start + 1} of ${range.count}`, MARGIN + width * 0.75, y, width * 0.25, SMALL, 'right');
  }
}

/** Renders the statement into `out` and ends it; rejects if reading the lines or writing fails. */
export async function writeStatementPdf(run: StatementRun, out: NodeJS.WritableStream, opts: StatementPdfOptions = {}): Promise<void> {
  const size = PAPER[opts.paper ?? 'letter'];
  const date = new Date(run.generated_at);
  const who = run.cluster === null ? (run.statements[0]?.header.agent.agent_id ?? '') : `cluster ${run.cluster}`;
  const doc = new PDFDocument({
    size: [size[0], size[1]],
    margin: MARGIN,
    // Pages stay open until the end so each can carry "Page n of N".
    bufferPages: true,
    info: {
      Title: `Agent spend statement - ${who} - ${run.period.key}`,
      Subject: run.org.name.slice(0, 200),
      Creator: 'spendtrail',
      CreationDate: date,
      ModDate: date,
    },
  });
  doc.pipe(out);
  const done = finished(out);
  // A write error (missing directory, closed socket) must stop the reading, not crash the process.
  let failure: Error | undefined;
  done.catch((e: unknown) => {
    failure = e instanceof Error ? e : new Error(String(e));
  });
  try {
    const L = new Layout(doc, size);
    const totals: StatementTotals[] = [];
    for (const [i, s] of run.statements.entries()) {
      totals.push(await agentPages(L, s, i === 0, () => failure));
    }
    if (run.cluster !== null) clusterPage(L, run, totals);
    footers(doc, run, size);
  } catch (e) {
    doc.unpipe(out);
    const err = e instanceof Error ? e : new Error(String(e));
    (out as NodeJS.WritableStream & { destroy?: (e: Error) => void }).destroy?.(err);
    await done.catch(() => undefined);
    throw err;
  }
  doc.end();
  await done;
}
