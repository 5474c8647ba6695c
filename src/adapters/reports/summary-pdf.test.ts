import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Violation } from '../../domain/policy/violation.ts';
import { FLAG_LABELS, summaryHash, summaryStatus } from '../../domain/summary/rules.ts';
import type {
  AgentLine, ComplianceFlags, SignedSummary, SpendLine, SummaryDocument, SummaryException,
} from '../../domain/summary/summary.ts';
import type { Paper } from './summary-pdf.ts';
import { BLANK_SIGN_OFF, formatAmount, glBars, renderSummaryPdf, toWinAnsi, topExceptions } from './summary-pdf.ts';

const run = promisify(execFile);

// ---------------------------------------------------------------------------------------------
// Fixtures

const NO_FLAGS: ComplianceFlags = {
  policy_violations: 0, over_limit_transactions: 0, unauthorized_category_purchases: 0, unapproved_policy_changes: 0,
  missing_approvals: 0, segregation_of_duties_findings: 0, integrity_failures: 0,
};

const agent = (i: number, over: Partial<AgentLine> = {}): AgentLine => ({
  key: `agt_${i}`, name: `Agent ${i}`, amount: `${1000 + i}.00`, transactions: 10 + i, cluster: 'travel',
  violations: 0, monthly_limit: '5000.00', ...over,
});

const gl = (i: number, amount: string): SpendLine => ({
  key: `6${String(i).padStart(3, '0')}`, name: `GL ${6000 + i} Account`, amount, transactions: i + 1,
});

const exception = (i: number, over: Partial<SummaryException> = {}): SummaryException => ({
  kind: 'violation', agent_id: 'agt_1', at: `2026-03-${String((i % 28) + 1).padStart(2, '0')}T12:00:00.000Z`,
  amount: `${100 + i}.50`, tx_id: `tx_${i}`, change_id: null, violations: ['over_limit'] as Violation[],
  entries: [i], detail: `payment ${i}`, ...over,
});

/** Builds a document whose status and hash agree with its flags, as the use case would. */
function summary(doc: Draft, signer: string | null): SignedSummary {
  const { status, reasons } = summaryStatus(doc.compliance_flags);
  // Unless a test says otherwise, every exception of the fixture is listed.
  const document: SummaryDocument = { ...doc, exceptions_total: doc.exceptions_total ?? doc.exceptions.length, status, status_reasons: reasons };
  return {
    document, summary_hash: summaryHash(document), signed_off_by: signer,
    signed_off_at: signer === null ? null : '2026-04-02T10:15:00.000Z',
  };
}

type Draft = Omit<SummaryDocument, 'status' | 'status_reasons' | 'exceptions_total'> & { exceptions_total?: number };

const BASE: Draft = {
  summary_id: 'sum_2026_03_travel', version: 2, org_id: 'org_acme', org_name: 'Acme Robotics GmbH', period: '2026-03',
  period_start: '2026-02-28T23:00:00.000Z', period_end: '2026-03-31T22:00:00.000Z', timezone: 'Europe/Berlin',
  cluster: 'travel', generated_at: '2026-04-01T06:00:00.000Z', currency: 'EUR', agents_monitored: 6,
  total_spend: '12345.67', total_spend_usd: null, total_refunds: '210.00', total_transactions: 1234,
  compliance_flags: { ...NO_FLAGS, policy_violations: 12, over_limit_transactions: 3, missing_approvals: 1 },
  // Nine accounts: the chart shows six and sums three as "Other".
  spend_by_gl_account: ['4000.00', '3000.00', '2000.00', '1500.00', '900.00', '500.00', '200.00', '150.00', '95.67']
    .map((a, i) => gl(i, a)),
  spend_by_rail: [{ key: 'card', name: 'Card', amount: '12345.67', transactions: 1234 }],
  spend_by_agent: [1, 2, 3, 4, 5, 6].map((i) => agent(i, { violations: i % 2 })),
  exceptions: Array.from({ length: 12 }, (_, i) => exception(i)),
  checkpoint: { tree_size: 48213, root: 'a3f1c9e07b2d4c5a8e6f10b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6' },
  supersedes: { summary_id: 'sum_2026_03_travel', version: 1, summary_hash: 'sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f0' },
  changes_from_previous: ['transactions 1230 -> 1234', 'total spend 12000.00 -> 12345.67 EUR', 'Missing approvals 0 -> 1', '2 new exception(s)'],
};

const SMALL = summary(BASE, 'Jane Doe');

const CLEAN = summary({
  ...BASE, cluster: null, version: 1, supersedes: null, changes_from_previous: [], compliance_flags: NO_FLAGS,
  exceptions: [], spend_by_agent: BASE.spend_by_agent.map((a) => ({ ...a, violations: 0 })),
}, null);

/** What a renderer must survive: empty lists, negative and unparsable amounts, a bad time zone and date. */
const ODD: SignedSummary = (() => {
  const s = summary({
    ...BASE, timezone: 'Not/AZone', spend_by_agent: [agent(1)], changes_from_previous: [],
    spend_by_gl_account: [gl(1, '-50.00'), gl(2, 'n/a'), gl(3, '0')],
    exceptions: [exception(1, { amount: 'lots', at: 'yesterday', agent_id: 'agt_unknown', violations: [], detail: '' })],
  }, null);
  return { ...s, document: { ...s.document, status_reasons: [] } };
})();

const ZOE = "Zoë's agent 🤖";
const HUGE_TOTAL = '123456789012345678.99';

let hugeFixture: SignedSummary | undefined;
/** Built once, on first use: hashing 10,000 exceptions is the slow part. */
const huge = (): SignedSummary => (hugeFixture ??= buildHuge());

/** 500 agents, 10,000 exceptions, 40 GL accounts, long and non-WinAnsi text, amounts beyond 2^53 minor units. */
function buildHuge(): SignedSummary {
  const agents = Array.from({ length: 500 }, (_, i) =>
    agent(i, { name: i === 0 ? ZOE : `Procurement agent ${i} ${'with a very long descriptive name '.repeat(3)}`, violations: i % 7 }));
  const kinds = (i: number): Partial<SummaryException> =>
    i < 3 ? { kind: 'integrity_failure', agent_id: null, amount: null, tx_id: null, violations: [], detail: `entry ${i} hash mismatch` }
      : i < 6 ? { kind: 'unapproved_policy_change', agent_id: 'agt_0', amount: null, tx_id: null, change_id: `chg_${i}`, violations: [],
        detail: `limit raised 😱\nwithout approval ${'x'.repeat(5000)}` }
        : { agent_id: `agt_${i % 500}`, amount: `${i}9876543210987.${String(i % 100).padStart(2, '0')}`,
          violations: ['over_limit', 'blocked_category', 'missing_purpose', 'uncoded'] as Violation[], detail: '漢字 '.repeat(200) };
  return summary({
    ...BASE, org_name: `Consolidated Holdings ${'International '.repeat(20)}`, cluster: `cluster-${'ü'.repeat(300)}`,
    agents_monitored: 500, total_spend: HUGE_TOTAL, total_refunds: '98765432109876543.21', total_transactions: 9_876_543,
    compliance_flags: {
      policy_violations: 9994, over_limit_transactions: 9994, unauthorized_category_purchases: 9994, unapproved_policy_changes: 3,
      missing_approvals: 0, segregation_of_duties_findings: 0, integrity_failures: 3,
    },
    spend_by_gl_account: Array.from({ length: 40 }, (_, i) => gl(i, `${(i + 1) * 1000}123456789012.3${i % 10}`)),
    spend_by_agent: agents,
    exceptions: Array.from({ length: 10_000 }, (_, i) => exception(i, kinds(i))),
    changes_from_previous: Array.from({ length: 30 }, (_, i) => `change ${i} ${'→ '.repeat(100)}`),
  }, `Dr. Łukasz Nowak-${'Ж'.repeat(10)}`);
}

// ---------------------------------------------------------------------------------------------
// Pure helpers

describe('summary PDF helpers', () => {
  it('groups thousands on the text, keeping every decimal, even beyond 2^53', () => {
    expect(formatAmount('12345.67')).toBe('12,345.67');
    expect(formatAmount(HUGE_TOTAL)).toBe('123,456,789,012,345,678.99');
    expect(formatAmount('-1234.5')).toBe('-1,234.5');
    expect(formatAmount('1000')).toBe('1,000');
    expect(formatAmount('999.000001')).toBe('999.000001');
    expect(formatAmount('0.05')).toBe('0.05');
    expect(formatAmount('n/a')).toBe('n/a');
  });

  it('maps text to WinAnsi: "?" for what the built-in fonts lack, spaces for control characters', () => {
    expect(toWinAnsi(ZOE)).toBe("Zoë's agent ?");
    expect(toWinAnsi('a\nb\tc')).toBe('a b c');
    expect(toWinAnsi('€ – “quoted” …')).toBe('€ – “quoted” …');
    expect(toWinAnsi('漢字 → Ж')).toBe('?? ? ?');
    expect(toWinAnsi('e\u0308')).toBe('ë');
    expect(toWinAnsi('\u0085')).toBe(' ');
  });

  it('charts the top six GL accounts and sums the rest exactly as "Other"', () => {
    const bars = glBars(huge().document.spend_by_gl_account);
    expect(bars).toHaveLength(7);
    expect(bars[0]).toEqual({ name: 'GL 6039 Account', amount: '40000123456789012.39' });
    // Accounts 0..33: sum of (i+1)*1000 * 10^12 + 123456789012 * 34 + 0.3x for x = i mod 10.
    const expected = (BigInt(595_000) * 10n ** 12n + 123456789012n * 34n) * 100n
      + BigInt(Array.from({ length: 34 }, (_, i) => 30 + (i % 10)).reduce((a, b) => a + b, 0));
    expect(bars[6]).toEqual({ name: 'Other (34 accounts)', amount: `${expected / 100n}.${String(expected % 100n).padStart(2, '0')}` });
    expect(glBars(BASE.spend_by_gl_account.slice(0, 7)).map((b) => b.name)).not.toContain('Other');
  });

  it('lists exceptions by severity, then by exact amount (beyond double precision), then time', () => {
    const e = [
      exception(1, { amount: '9007199254740993.01' }),
      exception(2, { amount: '9007199254740993.02' }),
      exception(3, { kind: 'integrity_failure', amount: null }),
      exception(4, { kind: 'unapproved_policy_change', amount: null }),
      exception(5, { amount: '5.00', at: '2026-03-02T00:00:00.000Z' }),
      exception(6, { amount: '5.00', at: '2026-03-01T00:00:00.000Z' }),
    ];
    expect(Number('9007199254740993.01')).toBe(Number('9007199254740993.02'));
    expect(topExceptions(e, 10).map((x) => x.tx_id)).toEqual(['tx_3', 'tx_4', 'tx_2', 'tx_1', 'tx_6', 'tx_5']);
    expect(topExceptions(e, 2)).toHaveLength(2);
  });

  it('renders 500 agents and 10,000 exceptions as a single page on both papers (checked in the PDF itself)', async () => {
    for (const paper of ['letter', 'a4'] as const) {
      const started = performance.now();
      const pdf = await renderSummaryPdf(huge(), { paper });
      const ms = performance.now() - started;
      console.log(`summary PDF, huge fixture (500 agents, 10,000 exceptions, 40 GL accounts) on ${paper}: ${ms.toFixed(0)} ms, ${pdf.length} bytes`);
      // pdfkit writes page objects uncompressed: one /Type /Page and a page tree counting one.
      const raw = pdf.toString('latin1');
      expect(raw.match(/\/Type \/Page\b(?!s)/g)).toHaveLength(1);
      expect(raw).toMatch(/\/Count 1\b/);
    }
  });

  it('renders odd data (empty lists, negative and unparsable amounts, a bad time zone) rather than throwing', async () => {
    const pdf = await renderSummaryPdf(ODD);
    expect(pdf.toString('latin1').match(/\/Type \/Page\b(?!s)/g)).toHaveLength(1);
  });

  it('is deterministic: the same summary gives the same bytes', async () => {
    const [a, b] = await Promise.all([renderSummaryPdf(SMALL), renderSummaryPdf(SMALL)]);
    expect(a.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(a.equals(b)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// The real thing, checked with poppler

const TOOLS = ['pdfinfo', 'pdftotext', 'pdftoppm'] as const;
let popplerChecked: boolean | undefined;

/** Whether poppler's tools can be run; under CI their absence fails the run instead of skipping. */
function popplerAvailable(): boolean {
  if (popplerChecked !== undefined) return popplerChecked;
  const missing = TOOLS.filter((t) => spawnSync(t, ['-v'], { stdio: 'ignore' }).error !== undefined);
  if (missing.length > 0 && process.env.CI === 'true') {
    throw new Error(`poppler-utils (${missing.join(', ')}) is required under CI to check the summary PDF`);
  }
  if (missing.length > 0) {
    console.warn('\n!!! SKIPPED: summary PDF tests: poppler-utils (pdftotext/pdfinfo/pdftoppm) not installed: PDF not checked\n');
  }
  popplerChecked = missing.length === 0;
  return popplerChecked;
}

interface Word {
  readonly text: string;
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

interface Inspected {
  readonly info: string;
  readonly text: string;
  /** Every word with its box in points, from the top left, as poppler places it. */
  readonly words: readonly Word[];
  readonly pngs: readonly string[];
  readonly png: { readonly width: number; readonly height: number };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'summary-pdf-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes the PDF and reads it back the way a person's viewer would: metadata, text, pixels. */
async function inspect(pdf: Buffer, name: string): Promise<Inspected> {
  const file = join(dir, `${name}.pdf`);
  await writeFile(file, pdf);
  const info = (await run('pdfinfo', [file])).stdout;
  const text = (await run('pdftotext', ['-layout', '-enc', 'UTF-8', file, '-'], { maxBuffer: 16 << 20 })).stdout;
  const bbox = (await run('pdftotext', ['-bbox', file, '-'], { maxBuffer: 16 << 20 })).stdout;
  const prefix = join(dir, `${name}-page`);
  await run('pdftoppm', ['-r', '50', '-png', file, prefix]);
  const pngs = (await readdir(dir)).filter((f) => f.startsWith(`${name}-page`) && f.endsWith('.png'));
  const head = await readFile(join(dir, pngs[0] ?? 'missing.png'));
  // PNG IHDR: width and height are the big-endian words at bytes 16 and 20.
  return { info, text, words: parseWords(bbox), pngs, png: { width: head.readUInt32BE(16), height: head.readUInt32BE(20) } };
}

const WORD = /<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<\/word>/g;

function parseWords(html: string): Word[] {
  return [...html.matchAll(WORD)].map((m) => ({
    text: m[5]!, x0: Number(m[1]), y0: Number(m[2]), x1: Number(m[3]), y1: Number(m[4]),
  }));
}

/** Words closer than this overlap: poppler's boxes of neighbouring words on a line may touch. */
const TOUCH = 0.5;
const MARGIN = 40;

/**
 * The layout holds: every word lies within the page margins (nothing cut off or drawn off the
 * page) and no two words overlap (no section ran into the next or into the footer).
 */
function expectLaidOut(words: readonly Word[], paper: Paper): void {
  const { w, h } = SIZES[paper];
  expect(words.length).toBeGreaterThan(50);
  const outside = words.filter((o) => o.x0 < MARGIN - TOUCH || o.y0 < MARGIN - TOUCH || o.x1 > w - MARGIN + TOUCH || o.y1 > h - MARGIN + TOUCH);
  expect(outside).toEqual([]);
  const overlaps: string[] = [];
  words.forEach((a, i) => {
    for (const b of words.slice(i + 1)) {
      if (a.x0 < b.x1 - TOUCH && b.x0 < a.x1 - TOUCH && a.y0 < b.y1 - TOUCH && b.y0 < a.y1 - TOUCH) overlaps.push(`"${a.text}" / "${b.text}"`);
    }
  });
  expect(overlaps).toEqual([]);
}

const SIZES: Readonly<Record<Paper, { readonly pts: RegExp; readonly w: number; readonly h: number }>> = {
  letter: { pts: /Page size:\s+612 x 792 pts/, w: 612, h: 792 },
  a4: { pts: /Page size:\s+595\.28 x 841\.89 pts/, w: 595.28, h: 841.89 },
};

/** One page of the right size, which renders to exactly one 50 dpi image of that size. */
function expectOnePage(r: Inspected, paper: Paper): void {
  expect(r.info).toMatch(/^Pages:\s+1$/m);
  expect(r.info).toMatch(SIZES[paper].pts);
  expect(r.pngs).toHaveLength(1);
  expect(Math.abs(r.png.width - (SIZES[paper].w / 72) * 50)).toBeLessThanOrEqual(1);
  expect(Math.abs(r.png.height - (SIZES[paper].h / 72) * 50)).toBeLessThanOrEqual(1);
  // pdftotext separates pages with a form feed: one page, one trailing feed at most.
  expect(r.text.split('\f').filter((p) => p.trim() !== '')).toHaveLength(1);
  expectLaidOut(r.words, paper);
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function expectFlags(text: string, flags: ComplianceFlags): void {
  for (const k of Object.keys(FLAG_LABELS) as (keyof ComplianceFlags)[]) {
    expect(text).toMatch(new RegExp(`${escape(FLAG_LABELS[k])}\\s+${escape(formatAmount(String(flags[k])))}(\\s|$)`, 'm'));
  }
}

describe.each(['letter', 'a4'] as const)('summary PDF on %s paper', (paper) => {
  it('shows a signed NEEDS REVIEW summary with its figures, flags, exceptions and sign-off', async (ctx) => {
    if (!popplerAvailable()) return ctx.skip();
    const r = await inspect(await renderSummaryPdf(SMALL, { paper }), `small-${paper}`);
    expectOnePage(r, paper);
    const t = r.text;
    expect(t).toContain('Agent spend compliance summary');
    expect(t).toContain('Acme Robotics GmbH');
    expect(t).toContain('NEEDS REVIEW');
    expect(t).not.toContain('COMPLIANT');
    expect(t).toContain('12 transactions with a policy violation');
    expect(t).toContain('12,345.67 EUR');
    expect(t).toContain('210.00 EUR');
    expect(t).toMatch(/Transactions[\s\S]*1,234/);
    expectFlags(t, SMALL.document.compliance_flags);
    expect(t).toContain('March 2026');
    expect(t).toContain('2026-02-28T23:00:00.000Z to 2026-03-31T22:00:00.000Z, time zone Europe/Berlin');
    expect(t).toContain('Cluster travel');
    expect(t).toContain('Version 2, replaces version 1');
    expect(t).toContain('Change: transactions 1230 -> 1234');
    expect(t).toContain('... and 2 more changes');
    expect(t).toContain('Other (3 accounts)');
    expect(t).toContain('4,000.00');
    expect(t).toContain('... and 4 more exceptions (see the JSON export)');
    // The largest exception (tx_11, 111.50) comes first, on its Berlin calendar day.
    expect(t).toMatch(/2026-03-12\s+Agent 1\s+111\.50 EUR\s+over limit: payment 11/);
    expect(t).toContain('tree size 48213');
    expect(t).toContain(SMALL.document.checkpoint.root);
    expect(t).toContain(SMALL.summary_hash);
    expect(t).toContain('Signed off by Jane Doe at 2026-04-02 10:15 UTC');
    expect(t).not.toContain('Reviewed and signed off by');
  });

  it('shows a clean, unsigned summary as COMPLIANT for all agents, with a blank sign-off line', async (ctx) => {
    if (!popplerAvailable()) return ctx.skip();
    const r = await inspect(await renderSummaryPdf(CLEAN, { paper }), `clean-${paper}`);
    expectOnePage(r, paper);
    expect(r.text).toContain('COMPLIANT');
    expect(r.text).not.toContain('NEEDS REVIEW');
    // Wrapped onto two lines in the narrower A4 column (the key figures sit beside it), so only the order of the words is checked.
    expect(r.text).toMatch(/no violations, no unapproved changes, no findings,\s[\s\S]*?integrity\s[\s\S]*?verified/);
    expect(r.text).toContain('All agents');
    expect(r.text).toContain('Version 1');
    expect(r.text).not.toContain('replaces version');
    expectFlags(r.text, NO_FLAGS);
    expect(r.text).toMatch(/Top exceptions \(0 in total\)\s+None\./);
    expect(r.text).toMatch(/Reviewed and signed off by:\s+_{20,}\s+Date:\s+_{10,}/);
    expect(BLANK_SIGN_OFF).toMatch(/^Reviewed and signed off by: _+ {3}Date: _+$/);
    expect(r.text).not.toContain('Signed off by');
  });

  it('shows odd data as written, within the layout', async (ctx) => {
    if (!popplerAvailable()) return ctx.skip();
    const r = await inspect(await renderSummaryPdf(ODD, { paper }), `odd-${paper}`);
    expectOnePage(r, paper);
    expect(r.text).toMatch(/GL 6001 Account\s+-50\.00/);
    expect(r.text).toMatch(/GL 6002 Account\s+n\/a/);
    expect(r.text).toMatch(/yesterday\s+agt_unknown\s+lots EUR\s+Violation/);
  });

  it('keeps 500 agents and 10,000 exceptions on one page, summarised and cut to fit', async (ctx) => {
    if (!popplerAvailable()) return ctx.skip();
    const s = huge();
    const r = await inspect(await renderSummaryPdf(s, { paper }), `huge-${paper}`);
    expectOnePage(r, paper);
    const t = r.text;
    expect(t).toContain('NEEDS REVIEW');
    expect(t).toContain(`${formatAmount(HUGE_TOTAL)} EUR`);
    expect(t).toContain('98,765,432,109,876,543.21 EUR');
    expect(t).toMatch(/Transactions[\s\S]*9,876,543/);
    expectFlags(t, s.document.compliance_flags);
    expect(t).toContain('March 2026');
    expect(t).toContain('Cluster cluster-üüü');
    expect(t).toContain('Other (34 accounts)');
    expect(t).toContain('Top exceptions (10,000 in total)');
    expect(t).toContain('... and 9,992 more exceptions (see the JSON export)');
    // Integrity failures first, then the unapproved changes, whose agent's emoji became "?".
    expect(t).toMatch(/Integrity failure: entry 0 hash mismatch/);
    expect(t).toContain("Zoë's agent ?");
    expect(t).toMatch(/Unapproved policy change: limit raised \? w[a-z ]*\.\.\./);
    expect(t).toContain('... and 28 more changes');
    expect(t).toContain('tree size 48213');
    expect(t).toContain(s.summary_hash);
    expect(t).toContain('Signed off by Dr. ?ukasz Nowak-?????????? at 2026-04-02 10:15 UTC');
    // Text wider than its column is cut with "..." rather than run off the page.
    expect(t).toMatch(/Consolidated Holdings (International )+Int?e?r?n?a?t?i?o?n?a?l?\.\.\./);
    expect(t).not.toContain('International '.repeat(20));
  });
});
