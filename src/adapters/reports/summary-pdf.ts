import PDFDocument from 'pdfkit';
import { FLAG_LABELS, monthLabel } from '../../domain/summary/rules.ts';
import type { ComplianceFlags, ExceptionKind, SignedSummary, SpendLine, SummaryDocument, SummaryException } from '../../domain/summary/summary.ts';
import { localDay, parseInstant } from '../../domain/time.ts';

/**
 * The monthly compliance summary as a one-page PDF for a CFO: status first, then the figures,
 * where the money went, what needs a look, and who signed. Whatever the size of the data the
 * result is exactly one page: every list is cut to a fixed budget and summarised by a count,
 * every piece of text is drawn on one line (pdfkit's `lineBreak: false`, which never starts a
 * page) and truncated to its column, and the page count is checked before the file is closed.
 *
 * Only pdfkit's built-in fonts are used (nothing to embed, output is small and deterministic);
 * they encode WinAnsi only, so all text goes through `toWinAnsi` first.
 */
export type Paper = 'letter' | 'a4';

export interface SummaryPdfOptions {
  readonly paper?: Paper;
}

/** Page sizes in PostScript points, as pdfkit and pdfinfo report them. */
const PAPER: Readonly<Record<Paper, readonly [number, number]>> = {
  letter: [612, 792],
  a4: [595.28, 841.89],
};

const MARGIN = 40;
const GAP = 12;

const REGULAR = 'Helvetica';
const BOLD = 'Helvetica-Bold';
const MONO = 'Courier';

const INK = '#111111';
const MUTED = '#666666';
const RULE = '#c8c8c8';
const GREEN = '#1b7f3b';
/** Amber-red: alarming enough to stop a reader, distinct from the green for the colour-blind by its text. */
const AMBER_RED = '#c8471b';
const BAR = '#4a6fa5';

interface Style {
  readonly font: string;
  readonly size: number;
  readonly color: string;
}

const st = (font: string, size: number, color = INK): Style => ({ font, size, color });

const TITLE = st(BOLD, 18);
const ORG = st(REGULAR, 12);
const LINE = st(REGULAR, 10);
const SMALL = st(REGULAR, 7.5, MUTED);
const HEADING = st(BOLD, 9.5);
const BODY = st(REGULAR, 8.5);
const CODE = st(MONO, 7);

/**
 * pdfkit puts the baseline one ascent below the y it is given; Helvetica's ascent and cap
 * height are both 0.718 em, so capitals fill exactly [y, y + 0.718 size].
 */
const ASCENT = 0.718;

/** Line pitch for a style: the font size plus a little leading. */
const pitch = (s: Style): number => Math.ceil(s.size * 1.25);

/** List budgets: what a reader takes in at a glance; the rest is counted and left to the JSON export. */
/** Lines under the badge: the seven flag reasons, a couple of them wrapped. */
const MAX_REASON_LINES = 9;
const MAX_CHANGES = 3;
const GL_BARS = 6;
const MAX_EXCEPTIONS = 8;
const MAX_AGENTS = 5;
/** No line is wider than ~200 characters; cutting raw text first keeps a megabyte `detail` cheap. */
const MAX_FIELD = 600;
const ELLIPSIS = '...';

// ---------------------------------------------------------------------------------------------
// Text: WinAnsi and exact decimal strings.

/** The characters WinAnsi (CP1252) has in 0x80-0x9F; pdfkit's built-in fonts map these itself. */
const WIN_ANSI_HIGH = new Set('€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ');

/**
 * Text the built-in fonts can draw: control characters (tabs, newlines) become spaces, since
 * each field is one line; anything outside WinAnsi becomes "?" (pdfkit would otherwise write
 * a broken glyph code). NFC first so "e" + combining diaeresis still shows as "ë".
 */
export function toWinAnsi(text: string): string {
  let out = '';
  for (const ch of text.normalize('NFC')) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x20 || (c >= 0x7f && c < 0xa0)) out += ' ';
    else if (c <= 0xff || WIN_ANSI_HIGH.has(ch)) out += ch;
    else out += '?';
  }
  return out;
}

const PLAIN_DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/** Groups an integer's digits by thousands from the right, on the text (no number involved). */
function groupDigits(digits: string): string {
  const groups: string[] = [];
  for (let end = digits.length; end > 0; end -= 3) groups.unshift(digits.slice(Math.max(0, end - 3), end));
  return groups.join(',');
}

/**
 * "1234567.80" -> "1,234,567.80": the decimals exactly as written, never through a JS number
 * (amounts can exceed 2^53 minor units). Text that is not a plain decimal is shown as it is.
 */
export function formatAmount(amount: string): string {
  const m = PLAIN_DECIMAL.exec(amount);
  if (m === null) return amount;
  const [, sign = '', int = '', frac] = m;
  return `${sign}${groupDigits(int)}${frac === undefined ? '' : `.${frac}`}`;
}

const formatCount = (n: number): string => formatAmount(String(n));

const plural = (n: number, word: string): string => `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`;

/** An exact decimal as an integer and a scale, for ordering and summing without rounding. */
interface Exact {
  readonly units: bigint;
  readonly scale: number;
}

const ZERO: Exact = { units: 0n, scale: 0 };

/** Unparsable amounts count as zero: they are still shown as written, only not ranked or summed. */
function exact(amount: string | null): Exact {
  const m = amount === null ? null : PLAIN_DECIMAL.exec(amount);
  if (m === null) return ZERO;
  const [, sign = '', int = '0', frac = ''] = m;
  return { units: BigInt(`${sign}${int}${frac}`), scale: frac.length };
}

const rescale = (a: Exact, scale: number): bigint => a.units * 10n ** BigInt(scale - a.scale);

function compareExact(a: Exact, b: Exact): number {
  const scale = Math.max(a.scale, b.scale);
  const x = rescale(a, scale);
  const y = rescale(b, scale);
  return x < y ? -1 : x > y ? 1 : 0;
}

function sumExact(values: readonly Exact[]): Exact {
  const scale = Math.max(0, ...values.map((v) => v.scale));
  return { units: values.reduce((acc, v) => acc + rescale(v, scale), 0n), scale };
}

function exactToString(a: Exact): string {
  const negative = a.units < 0n;
  const digits = (negative ? -a.units : a.units).toString().padStart(a.scale + 1, '0');
  const int = digits.slice(0, digits.length - a.scale);
  const frac = a.scale > 0 ? `.${digits.slice(digits.length - a.scale)}` : '';
  return `${negative ? '-' : ''}${int}${frac}`;
}

/** a / max in [0, 1] for a bar's length: bigint division keeps it right for any magnitude. */
function fraction(a: Exact, max: Exact): number {
  const scale = Math.max(a.scale, max.scale);
  const num = rescale(a, scale);
  const den = rescale(max, scale);
  if (num <= 0n || den <= 0n) return 0;
  return Math.min(1, Number((num * 1000n) / den) / 1000);
}

// ---------------------------------------------------------------------------------------------
// Drawing primitives. Every string goes through `draw`, which sanitises and never wraps.

type Doc = PDFKit.PDFDocument;
type Align = 'left' | 'right';

function use(doc: Doc, s: Style): void {
  doc.font(s.font).fontSize(s.size).fillColor(s.color);
}

/** The longest prefix of `text` that fits `width` with "..." after it (binary search on length). */
function truncate(doc: Doc, text: string, width: number): string {
  if (doc.widthOfString(text) <= width) return text;
  if (doc.widthOfString(ELLIPSIS) > width) return '';
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (doc.widthOfString(text.slice(0, mid).trimEnd() + ELLIPSIS) <= width) lo = mid;
    else hi = mid - 1;
  }
  return text.slice(0, lo).trimEnd() + ELLIPSIS;
}

/**
 * Draws one line of text at (x, y) (top of the line) within `width`, truncated to fit.
 * `lineBreak: false` with no width keeps pdfkit's line wrapper, the only thing that adds
 * pages on its own, out of the picture. Returns the width drawn.
 */
function draw(doc: Doc, raw: string, x: number, y: number, width: number, s: Style, align: Align = 'left'): number {
  use(doc, s);
  const text = truncate(doc, toWinAnsi(raw.slice(0, MAX_FIELD)), width);
  const w = doc.widthOfString(text);
  doc.text(text, align === 'right' ? x + width - w : x, y, { lineBreak: false });
  return w;
}

/**
 * For figures and hashes, where a cut would change the meaning: shrink the type until the
 * text fits (down to `minSize`), and only truncate if even that is too wide.
 */
function drawFigure(doc: Doc, raw: string, x: number, y: number, width: number, s: Style, minSize: number, align: Align = 'left'): void {
  const text = toWinAnsi(raw.slice(0, MAX_FIELD));
  let size = s.size;
  use(doc, s);
  while (size > minSize && doc.widthOfString(text) > width) {
    size = Math.max(minSize, size - 0.5);
    doc.fontSize(size);
  }
  // Keep the baseline where the full-size text would sit, so shrunk figures stay in line.
  draw(doc, text, x, y + (s.size - size) * ASCENT, width, { ...s, size }, align);
}

function rule(doc: Doc, x: number, y: number, width: number): void {
  doc.save().moveTo(x, y).lineTo(x + width, y).lineWidth(0.5).strokeColor(RULE).stroke().restore();
}

/** Content box of the page; `y` advances as sections are laid out top to bottom. */
interface Frame {
  readonly doc: Doc;
  readonly left: number;
  readonly width: number;
  readonly top: number;
  readonly bottom: number;
}

// ---------------------------------------------------------------------------------------------
// Sections. Each takes the y it starts at and returns the y below it.

function header(f: Frame, s: SignedSummary, y0: number): number {
  const d = s.document;
  const { doc, left, width } = f;
  let y = y0;
  draw(doc, 'Agent spend compliance summary', left, y, width, TITLE);
  y += pitch(TITLE) + 2;
  draw(doc, d.org_name, left, y, width, ORG);
  y += pitch(ORG) + 2;
  headline(doc, d, left, y, width);
  y += pitch(LINE);
  const exactPeriod = `${d.period_start} to ${d.period_end}, time zone ${d.timezone}  |  generated ${d.generated_at}  |  ${d.summary_id}`;
  draw(doc, exactPeriod, left, y, width, SMALL);
  y += pitch(SMALL);
  for (const line of capList(d.changes_from_previous, MAX_CHANGES, 'more changes')) {
    draw(doc, `Change: ${line}`, left, y, width, SMALL);
    y += pitch(SMALL);
  }
  return y;
}

/**
 * "March 2026 | Cluster x | Version 3, replaces version 2": period and version are drawn first
 * and in full; the cluster (a free-form name) gets the room between them and is the one cut.
 */
function headline(doc: Doc, d: SummaryDocument, x: number, y: number, width: number): void {
  const cluster = d.cluster === null ? 'All agents' : `Cluster ${d.cluster}`;
  const version = d.supersedes === null ? `Version ${d.version}` : `Version ${d.version}, replaces version ${d.supersedes.version}`;
  const sep = '   |   ';
  const period = `${monthLabel(d.period)}${sep}`;
  use(doc, LINE);
  const room = width - doc.widthOfString(toWinAnsi(period)) - doc.widthOfString(`${sep}${version}`);
  draw(doc, `${period}${truncate(doc, toWinAnsi(cluster.slice(0, MAX_FIELD)), room)}${sep}${version}`, x, y, width, LINE);
}

/** At most `max` lines; when there are more, the last one says how many were left out. */
function capList(lines: readonly string[], max: number, what: string): string[] {
  if (lines.length <= max) return [...lines];
  return [...lines.slice(0, max - 1), `... and ${lines.length - (max - 1)} ${what}`];
}

function statusAndFigures(f: Frame, d: SummaryDocument, y0: number): number {
  const half = (f.width - GAP) / 2;
  const left = statusBlock(f, d, f.left, y0, half);
  const right = keyFigures(f, d, f.left + half + GAP, y0, half);
  return Math.max(left, right);
}

const BADGE_HEIGHT = 40;

function statusBlock(f: Frame, d: SummaryDocument, x: number, y0: number, width: number): number {
  const { doc } = f;
  const ok = d.status === 'COMPLIANT';
  const color = ok ? GREEN : AMBER_RED;
  doc.save().roundedRect(x, y0, width, BADGE_HEIGHT, 5).fillColor(color).fill().restore();
  const badge = st(BOLD, 24, '#ffffff');
  // Centre the capitals in the badge (the label has no descenders).
  use(doc, badge);
  const label = ok ? 'COMPLIANT' : 'NEEDS REVIEW';
  const w = doc.widthOfString(label);
  draw(doc, label, x + (width - w) / 2, y0 + (BADGE_HEIGHT - badge.size * ASCENT) / 2, width, badge);
  let y = y0 + BADGE_HEIGHT + 5;
  const reasonStyle = st(REGULAR, 8.5, color);
  use(doc, reasonStyle);
  for (const line of reasonLines(doc, d.status_reasons, width, MAX_REASON_LINES)) {
    draw(doc, line, x, y, width, reasonStyle);
    y += pitch(BODY);
  }
  return y;
}

/**
 * The status reasons as bulleted lines, each wrapped to at most two lines (a reason cut short
 * would misstate it), within `budget` lines; a reason that no longer fits is counted instead.
 */
function reasonLines(doc: Doc, reasons: readonly string[], width: number, budget: number): string[] {
  const out: string[] = [];
  const indent = '   ';
  for (let i = 0; i < reasons.length; i++) {
    // Wrapped as if every line were indented, so the indented continuation still fits.
    const wrapped = wrap(doc, `- ${toWinAnsi((reasons[i] ?? '').slice(0, MAX_FIELD))}`, width - doc.widthOfString(indent), 2);
    // Keep one line free for the "more" note while later reasons might not fit.
    const room = budget - out.length - (i < reasons.length - 1 ? 1 : 0);
    if (wrapped.length > room) {
      out.push(`... and ${reasons.length - i} more reasons`);
      break;
    }
    out.push(...wrapped.map((l, j) => (j === 0 ? l : `${indent}${l}`)));
  }
  return out;
}

/** Greedy word wrap in the current font to at most `maxLines` lines; the last one is truncated. */
function wrap(doc: Doc, text: string, width: number, maxLines: number): string[] {
  const lines: string[] = [];
  let current = '';
  const words = text.split(' ');
  for (let i = 0; i < words.length; i++) {
    const next = current === '' ? (words[i] ?? '') : `${current} ${words[i] ?? ''}`;
    if (current === '' || doc.widthOfString(next) <= width) {
      current = next;
      continue;
    }
    if (lines.length === maxLines - 1) return [...lines, truncate(doc, words.slice(i).reduce((a, w) => `${a} ${w}`, current), width)];
    lines.push(current);
    current = words[i] ?? '';
  }
  return [...lines, truncate(doc, current, width)];
}

function keyFigures(f: Frame, d: SummaryDocument, x: number, y0: number, width: number): number {
  const { doc } = f;
  const cur = d.currency;
  let y = y0;
  draw(doc, 'Total spend (net of refunds)', x, y, width, SMALL);
  y += pitch(SMALL);
  drawFigure(doc, `${formatAmount(d.total_spend)} ${cur}`, x, y, width, st(BOLD, 20), 7);
  y += 26;
  const cell = (width - GAP) / 2;
  const cells: readonly (readonly [string, string])[] = [
    ['Transactions', formatCount(d.total_transactions)],
    ['Agents monitored', formatCount(d.agents_monitored)],
    ['Refunds', `${formatAmount(d.total_refunds)} ${cur}`],
    ['Exceptions', formatCount(d.exceptions_total)],
  ];
  cells.forEach(([label, value], i) => {
    const cx = x + (i % 2) * (cell + GAP);
    const cy = y + Math.floor(i / 2) * 28;
    draw(doc, label, cx, cy, cell, SMALL);
    drawFigure(doc, value, cx, cy + pitch(SMALL), cell, st(BOLD, 13), 6);
  });
  return y + 2 * 28;
}

function breakdowns(f: Frame, d: SummaryDocument, y0: number): number {
  const half = (f.width - GAP) / 2;
  const left = glChart(f, d, f.left, y0, half);
  const right = flagTable(f, d.compliance_flags, f.left + half + GAP, y0, half);
  return Math.max(left, right);
}

const ROW = 13;

/** Top accounts by amount, the rest summed as one "Other" bar so the chart never grows. */
export function glBars(lines: readonly SpendLine[]): { readonly name: string; readonly amount: string }[] {
  const ranked = rankByAmount(lines);
  if (ranked.length <= GL_BARS + 1) return ranked.map((l) => ({ name: l.name, amount: l.amount }));
  const rest = ranked.slice(GL_BARS);
  const other = exactToString(sumExact(rest.map((l) => exact(l.amount))));
  return [
    ...ranked.slice(0, GL_BARS).map((l) => ({ name: l.name, amount: l.amount })),
    { name: `Other (${formatCount(rest.length)} accounts)`, amount: other },
  ];
}

/** Largest amount first; name then key break ties so the order never depends on input order. */
function rankByAmount<T extends SpendLine>(lines: readonly T[]): T[] {
  const keyed = lines.map((l) => ({ l, a: exact(l.amount) }));
  keyed.sort((p, q) => compareExact(q.a, p.a) || cmp(p.l.name, q.l.name) || cmp(p.l.key, q.l.key));
  return keyed.map((k) => k.l);
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function glChart(f: Frame, d: SummaryDocument, x: number, y0: number, width: number): number {
  const { doc } = f;
  draw(doc, `Spend by GL account (${d.currency})`, x, y0, width, HEADING);
  let y = y0 + pitch(HEADING) + 3;
  const bars = glBars(d.spend_by_gl_account);
  if (bars.length === 0) {
    draw(doc, 'No spend in the period.', x, y, width, st(REGULAR, 8.5, MUTED));
    return y + ROW;
  }
  const max = bars.map((b) => exact(b.amount)).reduce((m, a) => (compareExact(a, m) > 0 ? a : m), ZERO);
  const labelW = width * 0.34;
  use(doc, BODY);
  const amountW = Math.min(width * 0.36, Math.max(...bars.map((b) => doc.widthOfString(toWinAnsi(formatAmount(b.amount))))));
  const barW = width - labelW - amountW - 8;
  for (const b of bars) {
    draw(doc, b.name, x, y, labelW - 4, BODY);
    const len = barW * fraction(exact(b.amount), max);
    if (len > 0) doc.save().rect(x + labelW, y + 0.5, Math.max(len, 1), 8).fillColor(BAR).fill().restore();
    drawFigure(doc, formatAmount(b.amount), x + width - amountW, y, amountW, BODY, 5, 'right');
    y += ROW;
  }
  return y;
}

function flagTable(f: Frame, flags: ComplianceFlags, x: number, y0: number, width: number): number {
  const { doc } = f;
  draw(doc, 'Compliance flags', x, y0, width, HEADING);
  let y = y0 + pitch(HEADING) + 3;
  const countW = 60;
  for (const key of Object.keys(FLAG_LABELS) as (keyof ComplianceFlags)[]) {
    const n = flags[key];
    // Non-zero counts are what the reader must act on: bold and in the alarm colour.
    const hot = n > 0;
    draw(doc, FLAG_LABELS[key], x, y, width - countW, hot ? st(BOLD, 8.5) : st(REGULAR, 8.5, MUTED));
    drawFigure(doc, formatCount(n), x + width - countW, y, countW, hot ? st(BOLD, 9, AMBER_RED) : st(REGULAR, 8.5, MUTED), 5, 'right');
    rule(doc, x, y + ROW - 2.5, width);
    y += ROW;
  }
  return y;
}

/** Control failures before money findings: an unreliable log or an unapproved change taints everything. */
const SEVERITY: Readonly<Record<ExceptionKind, number>> = {
  integrity_failure: 0,
  unapproved_policy_change: 1,
  segregation_of_duties: 2,
  missing_approval: 3,
  violation: 4,
};

const KIND_LABEL: Readonly<Record<ExceptionKind, string>> = {
  integrity_failure: 'Integrity failure',
  unapproved_policy_change: 'Unapproved policy change',
  segregation_of_duties: 'Segregation of duties',
  missing_approval: 'Missing approval',
  violation: 'Violation',
};

/**
 * The exceptions a CFO should see first: most severe kind, then largest amount, then earliest.
 * Only the first `n` are needed, so the sort works on precomputed keys (10,000 is no strain).
 */
export function topExceptions(all: readonly SummaryException[], n: number): SummaryException[] {
  const keyed = all.map((e) => ({ e, a: exact(e.amount) }));
  keyed.sort(
    (p, q) =>
      SEVERITY[p.e.kind] - SEVERITY[q.e.kind] ||
      compareExact(q.a, p.a) ||
      cmp(p.e.at ?? '', q.e.at ?? '') ||
      cmp(p.e.tx_id ?? p.e.change_id ?? '', q.e.tx_id ?? q.e.change_id ?? ''),
  );
  return keyed.slice(0, n).map((k) => k.e);
}

/** The calendar day in the summary's time zone (what the period is cut by); raw text if unparsable. */
function dayOf(at: string | null, timeZone: string): string {
  if (at === null) return '-';
  try {
    return localDay(parseInstant(at, 'at'), timeZone);
  } catch {
    return at.slice(0, 10);
  }
}

function describe(e: SummaryException): string {
  const what = e.violations.length > 0 ? e.violations.map((v) => v.replace(/_/g, ' ')).join(', ') : KIND_LABEL[e.kind];
  return e.detail === '' ? what : `${what}: ${e.detail}`;
}

/** The exceptions block, with as many lines as fit above `limit` (never more than MAX_EXCEPTIONS). */
function exceptionList(f: Frame, d: SummaryDocument, y0: number, limit: number): number {
  const { doc, left, width } = f;
  const line = pitch(BODY);
  const room = Math.floor((limit - y0 - pitch(HEADING) - 3) / line) - 1;
  const shown = topExceptions(d.exceptions, Math.max(0, Math.min(MAX_EXCEPTIONS, room)));
  draw(doc, `Top exceptions (${formatCount(d.exceptions_total)} in total)`, left, y0, width, HEADING);
  let y = y0 + pitch(HEADING) + 3;
  if (d.exceptions_total === 0) {
    draw(doc, 'None.', left, y, width, st(REGULAR, 8.5, MUTED));
    return y + line;
  }
  const names = new Map(d.spend_by_agent.map((a) => [a.key, a.name]));
  use(doc, BODY);
  const amounts = shown.map((e) => (e.amount === null ? '' : `${formatAmount(e.amount)} ${d.currency}`));
  // The amount column is as wide as the widest amount shown, so figures are never cut.
  const amountW = Math.min(width * 0.4, Math.max(0, ...amounts.map((a) => doc.widthOfString(toWinAnsi(a)))));
  const dateW = 48;
  const agentW = 120;
  shown.forEach((e, i) => {
    const agent = e.agent_id === null ? '-' : (names.get(e.agent_id) ?? e.agent_id);
    draw(doc, dayOf(e.at, d.timezone), left, y, dateW, BODY);
    draw(doc, agent, left + dateW, y, agentW - 6, BODY);
    drawFigure(doc, amounts[i] ?? '', left + dateW + agentW, y, amountW, BODY, 5, 'right');
    const descX = left + dateW + agentW + amountW + 10;
    draw(doc, describe(e), descX, y, left + width - descX, BODY);
    y += line;
  });
  const more = d.exceptions_total - shown.length;
  if (more > 0) {
    draw(doc, `... and ${formatCount(more)} more exceptions (see the JSON export)`, left, y, width, st(REGULAR, 8.5, MUTED));
    y += line;
  }
  return y;
}

/** Top agents by spend, with as many rows as fit above `limit`; nothing when fewer than two fit. */
function agentList(f: Frame, d: SummaryDocument, y0: number, limit: number): number {
  const { doc, left, width } = f;
  const line = pitch(BODY);
  const rows = Math.min(MAX_AGENTS, d.spend_by_agent.length, Math.floor((limit - y0 - pitch(HEADING) - 3) / line) - 1);
  if (rows < 2) return y0;
  draw(doc, `Spend by agent (top ${rows} of ${formatCount(d.spend_by_agent.length)})`, left, y0, width, HEADING);
  let y = y0 + pitch(HEADING) + 3;
  // Column edges as fractions of the width, so Letter and A4 keep the same proportions.
  const at = (p: number): number => left + width * p;
  for (const a of rankByAmount(d.spend_by_agent).slice(0, rows)) {
    draw(doc, a.name, at(0), y, width * 0.36 - 6, BODY);
    draw(doc, a.cluster, at(0.36), y, width * 0.16 - 6, st(REGULAR, 8.5, MUTED));
    draw(doc, `${formatCount(a.transactions)} tx`, at(0.52), y, width * 0.1 - 6, BODY);
    draw(doc, plural(a.violations, 'violation'), at(0.62), y, width * 0.14 - 6, a.violations > 0 ? st(BOLD, 8.5, AMBER_RED) : BODY);
    drawFigure(doc, `${formatAmount(a.amount)} ${d.currency}`, at(0.76), y, width * 0.24, BODY, 5, 'right');
    y += line;
  }
  return y;
}

const SIGN = st(BOLD, 11);

/** The footer's height: three monospace lines, a gap and the sign-off line. */
const FOOTER_HEIGHT = 3 * pitch(CODE) + 10 + pitch(SIGN) + 6;

/** Checkpoint and hashes in monospace (copied by auditors), then the sign-off, pinned to the page bottom. */
function footer(f: Frame, s: SignedSummary): void {
  const { doc, left, width } = f;
  const d = s.document;
  let y = f.bottom - FOOTER_HEIGHT;
  rule(doc, left, y, width);
  y += 6;
  const mono = [
    `Checkpoint: tree size ${d.checkpoint.tree_size}  root ${d.checkpoint.root}`,
    `Summary hash: ${s.summary_hash}`,
    d.supersedes === null
      ? `Summary id: ${d.summary_id}  version ${d.version}`
      : `Replaces: ${d.supersedes.summary_id} version ${d.supersedes.version}  hash ${d.supersedes.summary_hash}`,
  ];
  for (const text of mono) {
    drawFigure(doc, text, left, y, width, CODE, 4.5);
    y += pitch(CODE);
  }
  y += 10;
  draw(doc, signOff(s), left, y, width, s.signed_off_by === null ? st(REGULAR, 11) : SIGN);
}

export const BLANK_SIGN_OFF = 'Reviewed and signed off by: ______________________________   Date: ________________';

function signOff(s: SignedSummary): string {
  if (s.signed_off_by === null) return BLANK_SIGN_OFF;
  const at = s.signed_off_at === null ? 'an unrecorded time' : readableInstant(s.signed_off_at);
  return `Signed off by ${s.signed_off_by} at ${at}`;
}

/** "2026-04-02T10:15:00.000Z" -> "2026-04-02 10:15 UTC"; anything else is shown as written. */
function readableInstant(iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?Z$/.exec(iso);
  return m === null ? iso : `${m[1]} ${m[2]} UTC`;
}

// ---------------------------------------------------------------------------------------------

/** `generated_at` as the PDF's creation date, so the same summary always gives the same bytes. */
function creationDate(d: SummaryDocument): Date {
  const t = Date.parse(d.generated_at);
  return new Date(Number.isNaN(t) ? 0 : t);
}

function layout(f: Frame, s: SignedSummary): void {
  const d = s.document;
  let y = header(f, s, f.top);
  y = statusAndFigures(f, d, y + GAP);
  y = breakdowns(f, d, y + GAP);
  const limit = f.bottom - FOOTER_HEIGHT - GAP;
  y = exceptionList(f, d, y + GAP, limit);
  agentList(f, d, y + GAP, limit);
  footer(f, s);
}

/** Renders the signed summary as a one-page PDF (Letter by default). */
export async function renderSummaryPdf(s: SignedSummary, opts: SummaryPdfOptions = {}): Promise<Buffer> {
  const [pageW, pageH] = PAPER[opts.paper ?? 'letter'];
  const date = creationDate(s.document);
  const doc = new PDFDocument({
    size: [pageW, pageH],
    margin: MARGIN,
    bufferPages: true,
    info: {
      Title: `Agent spend compliance summary - ${s.document.org_name.slice(0, 200)} - ${s.document.period}`,
      Subject: s.document.summary_id,
      Creator: 'spendtrail',
      CreationDate: date,
      ModDate: date,
    },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  layout({ doc, left: MARGIN, width: pageW - 2 * MARGIN, top: MARGIN, bottom: pageH - MARGIN }, s);
  // A second page would mean a layout bug; refuse to hand out a document that breaks the promise.
  const pages = doc.bufferedPageRange().count;
  doc.end();
  const pdf = await done;
  if (pages !== 1) throw new Error(`summary PDF came out as ${pages} pages; it must be one`);
  return pdf;
}
