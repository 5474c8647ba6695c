import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from './server.ts';
import { ENGINES } from '../../../test/support/engines.ts';
import type { TestEnv } from '../../../test/support/engines.ts';
import { rawTx, seededSuite } from '../../../test/support/fixtures.ts';
import type { Seeded } from '../../../test/support/fixtures.ts';
import { caller, issueKey } from '../../../test/support/http.ts';

/**
 * The monthly compliance summary API end to end over HTTP: real API keys issued through the
 * API, the same server the product runs, on PGlite and on PostgreSQL. The use case and the PDF
 * renderer have their own tests; these check what a client sees — statuses, error codes and
 * fields, that the figures are the ones the client recorded, that sign-off is once and by
 * finance only, and that late data makes a new version without touching the signed one.
 *
 * Tests of one engine share one organisation and run in order: the first generates the
 * summary the later ones read, sign and supersede. The clock stays in April 2026 so every
 * recorded March transaction is in the past and March is a finished month.
 */

const FLAG_KEYS = [
  'policy_violations',
  'over_limit_transactions',
  'unauthorized_category_purchases',
  'unapproved_policy_changes',
  'missing_approvals',
  'segregation_of_duties_findings',
  'integrity_failures',
];

interface Line {
  key: string;
  name: string;
  amount: string;
  transactions: number;
}
interface Summary {
  summary_id: string;
  version: number;
  period: string;
  cluster: string | null;
  currency: string;
  agents_monitored: number;
  total_spend: string;
  total_spend_usd: string | null;
  total_transactions: number;
  compliance_flags: Record<string, number>;
  status: string;
  status_reasons: string[];
  signed_off_by: string | null;
  signed_off_at: string | null;
  spend_by_gl_account: Line[];
  spend_by_rail: Line[];
  spend_by_agent: (Line & { cluster: string; violations: number })[];
  exceptions: { kind: string; tx_id: string | null; entries: number[]; violations: string[] }[];
  checkpoint: { tree_size: number; root: string };
  summary_hash: string;
  supersedes: { summary_id: string; version: number; summary_hash: string } | null;
  changes_from_previous: string[];
}
interface Recorded {
  tx_id: string;
  agent_id: string;
  amount: string;
  payment_rail: string;
  accounting_code: string | null;
  violations: string[];
}

/** "1234.5" -> 123450n: the test's own exact arithmetic on two-decimal amounts. */
const cents = (amount: string): bigint => {
  const [int = '0', frac = ''] = amount.split('.');
  return BigInt(int) * 100n + BigInt(frac.padEnd(2, '0').slice(0, 2));
};
const money = (c: bigint): string => `${c / 100n}.${String(c % 100n).padStart(2, '0')}`;
/** 318675n -> "3,186.75": thousands separators as the PDF prints them, written independently of the renderer. */
const grouped = (c: bigint): string => {
  const [int = '', frac = ''] = money(c).split('.');
  return `${int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${frac}`;
};

/** Expected breakdown lines (key -> amount and count) from what the test recorded. */
function linesBy(txs: readonly Recorded[], key: (t: Recorded) => string): Map<string, { amount: string; transactions: number }> {
  const acc = new Map<string, { c: bigint; n: number }>();
  for (const t of txs) {
    const k = key(t);
    const have = acc.get(k) ?? { c: 0n, n: 0 };
    acc.set(k, { c: have.c + cents(t.amount), n: have.n + 1 });
  }
  return new Map([...acc].map(([k, v]) => [k, { amount: money(v.c), transactions: v.n }]));
}
const asMap = (lines: readonly Line[]): Map<string, { amount: string; transactions: number }> =>
  new Map(lines.map((l) => [l.key, { amount: l.amount, transactions: l.transactions }]));

/**
 * The text of a PDF as poppler's pdftotext reads it, or null when pdftotext is not installed
 * (said loudly; under CI a missing pdftotext fails the test instead).
 */
function pdfText(pdf: Buffer): string | null {
  if (spawnSync('pdftotext', ['-v']).error !== undefined) {
    if (process.env.CI === 'true') throw new Error('pdftotext (poppler-utils) is required under CI to check the PDF text');
    console.warn('\n!!! SKIPPED: pdftotext is not on PATH; the text of the summary PDF went unchecked.\n');
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), 'summary-pdf-'));
  try {
    const file = join(dir, 'summary.pdf');
    writeFileSync(file, pdf);
    const out = spawnSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' });
    if (out.status !== 0) throw new Error(`pdftotext failed: ${out.stderr}`);
    return out.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.each(ENGINES)('monthly compliance summaries over HTTP on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  let app: FastifyInstance | undefined;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });

  /** API keys by person; filled in through POST /v1/api-keys before the tests. */
  const key = { admin: '', fiona: '', frank: '', approver: '', auditor: '', bot: '' };
  const FIONA = 'fiona@acme.test';
  /** Transactions recorded in March, as the API returned them. */
  const recorded: Recorded[] = [];
  /** The first version of March's summary, once generated. */
  let first: Summary | undefined;

  const call = caller(() => app);
  const generate = (by: string, body: Record<string, unknown>) => call('POST', '/v1/summaries', by, body);
  const firstSummary = (): Summary => {
    // Later tests build on the summary the first test made; without it they cannot mean anything.
    if (first === undefined) throw new Error('the first summary was not generated');
    return first;
  };
  const expectError = (r: LightMyRequestResponse, status: number, code: string, field?: string, name?: string): void => {
    expect(r.statusCode, name).toBe(status);
    const error = r.json<{ error: { code: string; field?: string } }>().error;
    expect(error.code, name).toBe(code);
    if (field !== undefined) expect(error.field, name).toBe(field);
  };

  beforeAll(async () => {
    // seededSuite's beforeAll ran first (hooks run in order) and decided whether to skip.
    if (suite.skipped()) return;
    app = await buildServer(env.deps, { verifier: env.signer.note });
    key.admin = org.adminKey;
    const issue = (principal: string, roles: string[], agentId?: string): Promise<string> => issueKey(call, key.admin, principal, roles, agentId);
    key.fiona = await issue(FIONA, ['finance']);
    key.frank = await issue('frank@acme.test', ['finance']);
    key.approver = await issue('dave@acme.test', ['approver']);
    key.auditor = await issue('erin@acme.test', ['auditor']);
    key.bot = await issue('support-bot@agents', ['agent'], 'support-bot');

    // Generation happens in April: every March transaction below is in the past.
    env.clock.set('2026-04-02T09:00:00.000Z');
    const batch = await call('POST', '/v1/transactions/batch', key.admin, {
      transactions: [
        rawTx({ agent_id: 'support-bot', amount: '21.00', timestamp: '2026-03-10T10:00:00Z', merchant: 'AWS', merchant_category: '4816', payment_rail: 'stripe' }),
        rawTx({ agent_id: 'support-bot', amount: '120.50', timestamp: '2026-03-11T10:00:00Z', merchant: 'OpenAI', merchant_category: '7372', payment_rail: 'stripe' }),
        rawTx({ agent_id: 'research-bot', amount: '45.25', timestamp: '2026-03-12T10:00:00Z', merchant: 'OpenAI', merchant_category: '7372', payment_rail: 'x402' }),
        // Over support-bot's per-transaction limit of 2500.00: the month needs review.
        rawTx({ agent_id: 'support-bot', amount: '3000.00', timestamp: '2026-03-20T10:00:00Z', merchant: 'AWS', merchant_category: '4816', payment_rail: 'stripe' }),
      ],
    });
    expect(batch.statusCode).toBe(201);
    const results = batch.json<{ results: ({ status: string; transaction: Recorded } | null)[] }>().results;
    for (const r of results) {
      expect(r?.status).toBe('recorded');
      if (r !== null) recorded.push(r.transaction);
    }
  });
  afterAll(async () => {
    // Registered after seededSuite's afterAll, so it runs before the database closes.
    await app?.close();
  });

  it('generates March as NEEDS_REVIEW with the figures the client recorded, and returns the same summary when nothing changed', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    env.clock.set('2026-04-02T10:00:00.000Z');
    expect(recorded).toHaveLength(4);
    const overLimit = recorded.find((t) => t.amount === '3000.00');
    // The premise of NEEDS_REVIEW: the ledger itself flagged the payment over the limit.
    expect(overLimit?.violations).toContain('over_limit');

    const r = await generate(key.fiona, { month: '2026-03' });
    expect(r.statusCode).toBe(201);
    const s = r.json<Summary>();
    for (const field of [
      'period', 'agents_monitored', 'total_spend', 'total_spend_usd', 'total_transactions', 'compliance_flags', 'status', 'status_reasons',
      'signed_off_by', 'spend_by_gl_account', 'spend_by_rail', 'spend_by_agent', 'exceptions', 'checkpoint', 'summary_hash',
    ]) {
      expect(s, field).toHaveProperty(field);
    }
    expect(s.period).toBe('2026-03');
    expect(s.version).toBe(1);
    expect(s.cluster).toBeNull();
    expect(s.supersedes).toBeNull();

    // Every agent of the organisation is in scope when no cluster is asked for.
    const agents = await call('GET', '/v1/agents', key.fiona);
    expect(agents.statusCode).toBe(200);
    expect(s.agents_monitored).toBe(agents.json<{ agents: unknown[] }>().agents.length);

    const total = recorded.reduce((c, t) => c + cents(t.amount), 0n);
    expect(s.total_transactions).toBe(recorded.length);
    expect(s.total_spend).toBe(money(total));
    // The organisation reports in USD, so the USD figure is the same one.
    expect(s.currency).toBe('USD');
    expect(s.total_spend_usd).toBe(money(total));

    expect(Object.keys(s.compliance_flags).sort()).toEqual([...FLAG_KEYS].sort());
    const flagged = recorded.filter((t) => t.violations.length > 0);
    expect(s.compliance_flags.policy_violations).toBe(flagged.length);
    expect(s.compliance_flags.over_limit_transactions).toBe(
      recorded.filter((t) => t.violations.some((v) => ['over_limit', 'daily_budget_exceeded', 'monthly_budget_exceeded'].includes(v))).length,
    );
    expect(s.compliance_flags.missing_approvals).toBe(recorded.filter((t) => t.violations.includes('missing_approval')).length);
    expect(s.compliance_flags.unauthorized_category_purchases).toBe(recorded.filter((t) => t.violations.includes('blocked_category')).length);
    // Nothing tampered with the log between recording and generating.
    expect(s.compliance_flags.integrity_failures).toBe(0);
    expect(s.status).toBe('NEEDS_REVIEW');
    expect(s.status_reasons.length).toBeGreaterThan(0);
    expect(s.status_reasons.some((reason) => reason.includes('over-limit'))).toBe(true);
    expect(s.signed_off_by).toBeNull();
    expect(s.signed_off_at).toBeNull();

    expect(asMap(s.spend_by_rail)).toEqual(linesBy(recorded, (t) => t.payment_rail));
    expect(asMap(s.spend_by_gl_account)).toEqual(linesBy(recorded, (t) => t.accounting_code ?? 'uncoded'));
    const byAgent = linesBy(recorded, (t) => t.agent_id);
    for (const a of s.spend_by_agent) {
      expect({ amount: a.amount, transactions: a.transactions }, a.key).toEqual(byAgent.get(a.key) ?? { amount: '0.00', transactions: 0 });
    }
    expect(s.spend_by_agent.find((a) => a.key === 'support-bot')?.violations).toBe(flagged.filter((t) => t.agent_id === 'support-bot').length);

    // Every flagged transaction is an exception pointing at its log entry.
    for (const t of flagged) expect(s.exceptions.map((e) => e.tx_id)).toContain(t.tx_id);
    expect(s.exceptions.find((e) => e.tx_id === overLimit?.tx_id)?.violations).toContain('over_limit');
    for (const e of s.exceptions) {
      expect(Array.isArray(e.entries)).toBe(true);
      expect(e.entries.every((n) => Number.isInteger(n) && n >= 0)).toBe(true);
    }
    expect(s.exceptions.length).toBeGreaterThanOrEqual(flagged.length);

    // The figures were read at a signed checkpoint of the log the transactions are in.
    expect(s.checkpoint.tree_size).toBeGreaterThan(0);
    expect(s.checkpoint.root).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(s.summary_hash).toMatch(/\S/);
    first = s;

    // The same month again with nothing new is the summary already made, not a new version.
    env.clock.set('2026-04-02T10:05:00.000Z');
    const again = await generate(key.fiona, { month: '2026-03' });
    expect(again.statusCode).toBe(200);
    expect(again.json<Summary>()).toMatchObject({ summary_id: s.summary_id, version: 1, summary_hash: s.summary_hash });
  });

  it('refuses bad months, unknown clusters, unknown fields and callers without the finance role', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    env.clock.set('2026-04-02T11:00:00.000Z');
    const cases: [string, () => Promise<LightMyRequestResponse>, number, string, string | undefined][] = [
      ['month 13', () => generate(key.fiona, { month: '2026-13' }), 400, 'VALIDATION_FAILED', 'month'],
      // May 2026 has not begun on the test clock.
      ['a future month', () => generate(key.fiona, { month: '2026-05' }), 400, 'VALIDATION_FAILED', 'month'],
      ['an unknown cluster', () => generate(key.fiona, { month: '2026-03', cluster: 'nope' }), 404, 'CLUSTER_NOT_FOUND', 'cluster'],
      ['an agent key', () => generate(key.bot, { month: '2026-03' }), 403, 'FORBIDDEN', undefined],
      ['an approver', () => generate(key.approver, { month: '2026-03' }), 403, 'FORBIDDEN', undefined],
      ['an unknown field', () => generate(key.fiona, { month: '2026-03', colour: 'blue' }), 400, 'UNKNOWN_FIELD', 'colour'],
    ];
    for (const [name, send, status, code, field] of cases) expectError(await send(), status, code, field, name);
    // The list's month filter is checked the same way.
    expectError(await call('GET', '/v1/summaries?month=2026-13', key.auditor), 400, 'VALIDATION_FAILED', 'month');
    // None of the refusals made a summary: March still has exactly the one version.
    const list = await call('GET', '/v1/summaries?month=2026-03', key.auditor);
    expect(list.statusCode).toBe(200);
    expect(list.json<{ summaries: Summary[] }>().summaries.map((x) => x.summary_id)).toEqual([firstSummary().summary_id]);
  });

  it('serves the summary as a one-page PDF on letter or A4 and refuses other formats, papers and ids', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const s = firstSummary();
    const pdf = await call('GET', `/v1/summaries/${s.summary_id}?format=pdf`, key.auditor);
    expect(pdf.statusCode).toBe(200);
    expect(pdf.headers['content-type']).toContain('application/pdf');
    expect(pdf.rawPayload.subarray(0, 5).toString('latin1')).toBe('%PDF-');

    const a4 = await call('GET', `/v1/summaries/${s.summary_id}?format=pdf&paper=a4`, key.auditor);
    expect(a4.statusCode).toBe(200);
    expect(a4.headers['content-type']).toContain('application/pdf');
    expect(a4.rawPayload.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    // A4 and letter differ in page size, so the bytes differ.
    expect(a4.rawPayload.equals(pdf.rawPayload)).toBe(false);

    expectError(await call('GET', `/v1/summaries/${s.summary_id}?format=pdf&paper=legal`, key.auditor), 400, 'VALIDATION_FAILED', 'paper');
    expectError(await call('GET', `/v1/summaries/${s.summary_id}?format=xml`, key.auditor), 400, 'VALIDATION_FAILED', 'format');
    expectError(await call('GET', '/v1/summaries/00000000-0000-4000-8000-000000000000', key.auditor), 404, 'SUMMARY_NOT_FOUND', 'summary_id');
    expectError(await call('GET', '/v1/summaries/00000000-0000-4000-8000-000000000000?format=pdf', key.auditor), 404, 'SUMMARY_NOT_FOUND', 'summary_id');

    // What a reader sees on the page: the status and the total, with thousands separators.
    const text = pdfText(pdf.rawPayload);
    if (text === null) return;
    expect(text).toContain('NEEDS REVIEW');
    // The test's total has four integer digits, so the separator is really exercised.
    expect(grouped(cents(s.total_spend))).toContain(',');
    expect(text).toContain(`${grouped(cents(s.total_spend))} ${s.currency}`);
    // Not signed yet: the page leaves the sign-off line blank.
    expect(text).not.toContain('Signed off by');
  });

  it('lets finance sign off once, refuses an approver and a second sign-off, and shows the sign-off to an auditor', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const s = firstSummary();
    env.clock.set('2026-04-03T10:00:00.000Z');
    const url = `/v1/summaries/${s.summary_id}/sign-off`;
    expectError(await call('POST', url, key.approver), 403, 'FORBIDDEN');
    expectError(await call('POST', url, key.bot), 403, 'FORBIDDEN');

    const ok = await call('POST', url, key.fiona);
    expect(ok.statusCode).toBe(200);
    const signed = ok.json<Summary>();
    expect(signed).toMatchObject({ summary_id: s.summary_id, signed_off_by: FIONA, summary_hash: s.summary_hash });
    // Signed at the time on the clock.
    expect(new Date(signed.signed_off_at ?? '').toISOString()).toBe('2026-04-03T10:00:00.000Z');

    env.clock.set('2026-04-03T11:00:00.000Z');
    expectError(await call('POST', url, key.frank), 409, 'SUMMARY_ALREADY_SIGNED', 'summary_id');

    const shown = await call('GET', `/v1/summaries/${s.summary_id}`, key.auditor);
    expect(shown.statusCode).toBe(200);
    // Still fiona's sign-off, at its original time: the refused second one left no trace.
    expect(shown.json<Summary>()).toMatchObject({ summary_id: s.summary_id, signed_off_by: FIONA, signed_off_at: signed.signed_off_at, summary_hash: s.summary_hash });

    // The PDF served after sign-off names who signed, so the printed page is evidence too.
    const pdf = await call('GET', `/v1/summaries/${s.summary_id}?format=pdf`, key.auditor);
    expect(pdf.statusCode).toBe(200);
    const text = pdfText(pdf.rawPayload);
    if (text !== null) expect(text).toContain(`Signed off by ${FIONA}`);
  });

  it('makes version 2 when late data arrives, keeping version 1 with its sign-off and its original figures', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const s = firstSummary();
    env.clock.set('2026-04-05T09:00:00.000Z');
    // A March payment reported in April, by the agent itself.
    const late = await call('POST', '/v1/transactions', key.bot, rawTx({ agent_id: 'support-bot', amount: '75.00', timestamp: '2026-03-25T10:00:00Z' }));
    expect(late.statusCode).toBe(201);
    const lateTx = late.json<{ transaction: Recorded }>().transaction;
    const all = [...recorded, lateTx];

    env.clock.set('2026-04-05T10:00:00.000Z');
    const r = await generate(key.fiona, { month: '2026-03' });
    expect(r.statusCode).toBe(201);
    const v2 = r.json<Summary>();
    expect(v2.summary_id).not.toBe(s.summary_id);
    expect(v2.version).toBe(2);
    expect(v2.supersedes).toEqual({ summary_id: s.summary_id, version: 1, summary_hash: s.summary_hash });
    expect(v2.total_transactions).toBe(all.length);
    expect(v2.total_spend).toBe(money(all.reduce((c, t) => c + cents(t.amount), 0n)));
    expect(v2.changes_from_previous.length).toBeGreaterThan(0);
    // The change in the count is named, with both figures.
    expect(v2.changes_from_previous.some((c) => c.includes(String(recorded.length)) && c.includes(String(all.length)))).toBe(true);
    // A new version is not signed just because its predecessor was.
    expect(v2.signed_off_by).toBeNull();

    const list = await call('GET', '/v1/summaries?month=2026-03', key.auditor);
    expect(list.statusCode).toBe(200);
    const versions = list.json<{ summaries: Summary[] }>().summaries;
    expect(versions.map((x) => [x.summary_id, x.version])).toEqual([
      [s.summary_id, 1],
      [v2.summary_id, 2],
    ]);
    expect(versions[0]).toMatchObject({ signed_off_by: FIONA, total_transactions: recorded.length, summary_hash: s.summary_hash });
    expect(versions[1]).toMatchObject({ signed_off_by: null, total_transactions: all.length });

    const v1 = await call('GET', `/v1/summaries/${s.summary_id}`, key.auditor);
    expect(v1.statusCode).toBe(200);
    expect(v1.json<Summary>()).toMatchObject({ version: 1, signed_off_by: FIONA, total_transactions: recorded.length, total_spend: s.total_spend });
  });

  it('lists no deliveries for a summary made on request, to finance and auditors only', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const s = firstSummary();
    // Nothing is configured to deliver, and deliveries are queued only for scheduled runs.
    const r = await call('GET', `/v1/summaries/${s.summary_id}/deliveries`, key.auditor);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ deliveries: [] });
    expectError(await call('GET', `/v1/summaries/${s.summary_id}/deliveries`, key.bot), 403, 'FORBIDDEN');
  });

  it('documents the summary paths in OpenAPI', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    if (app === undefined) throw new Error('server not built');
    const r = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(r.statusCode).toBe(200);
    expect(Object.keys(r.json<{ paths: Record<string, unknown> }>().paths)).toEqual(
      expect.arrayContaining(['/v1/summaries', '/v1/summaries/{id}', '/v1/summaries/{id}/sign-off', '/v1/summaries/{id}/deliveries']),
    );
  });
});
