import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import ExcelJS from 'exceljs';
import { parse } from 'csv-parse/sync';
import { strFromU8, unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAccountingFiles } from '../src/adapters/accounting/index.ts';
import { exportAccounting } from '../src/app/accounting-export.ts';
import { openStatements } from '../src/app/agent-statements.ts';
import { changeLogRows, listChanges } from '../src/app/change-history.ts';
import { listLedger } from '../src/app/ledger-queries.ts';
import { proposePolicyChange } from '../src/app/policy-changes.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { changeLogCsvHeader, changeLogCsvRow } from '../src/adapters/reports/change-log-csv.ts';
import { writeChangeLogXlsx } from '../src/adapters/reports/change-log-xlsx.ts';
import { ledgerCsvHeader, ledgerCsvRow } from '../src/adapters/reports/ledger-csv.ts';
import { writeStatementCsv } from '../src/adapters/reports/statement-csv.ts';
import { writeStatementXlsx } from '../src/adapters/reports/statement-xlsx.ts';
import { FORMULA_START, csvTextCell, defuseText } from '../src/adapters/reports/cell-text.ts';
import { openTestEnv } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { person, seedOrg, tx } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';
import { collect, libreOfficeAvailable } from './statements-tools.ts';

/**
 * CSV and XLSX formula injection: merchant names, purposes and justifications that a
 * spreadsheet would run as formulas go through every writer (ledger CSV, change log CSV and
 * XLSX, statement CSV and XLSX, Xero and NetSuite CSVs) and must come out as text, while the
 * amounts (a refund's "-12.50") stay numbers. The files are then opened in real LibreOffice with
 * formula evaluation on; a control file with the same text not defused shows that it would run.
 */
const HYPERLINK = '=HYPERLINK("http://x","y")';
const AT_SUM = '@SUM(1+1)';
const PLUS = '+1+cmd|\' /C calc\'!A0';
const MINUS = '-2+3';
const TAB = '\tx=1';
const INJECTIONS = [HYPERLINK, AT_SUM, PLUS, MINUS];

const run = promisify(execFile);
const finance = person('fiona@acme.test', 'finance');
const auditor = person('audrey@acme.test', 'auditor');
const PLAIN_NUMBER = /^-?\d+(?:\.\d+)?$/;

let env: TestEnv;
let org: Seeded;
let dir: string;
const files = new Map<string, Buffer>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bad-input-sheets-'));
  env = await openTestEnv('pglite');
  org = await seedOrg(env.deps);
  env.clock.set('2026-04-02T12:00:00Z');
  const base = { agent_id: 'support-bot', payment_rail: 'stripe', merchant_category: '4816' } as const;
  await recordTransactions(
    env.deps,
    org.admin,
    [
      tx({ ...base, external_id: 'inj_1', timestamp: '2026-03-10T10:00:00Z', amount: '21.00', merchant: HYPERLINK, business_purpose: AT_SUM }),
      tx({ ...base, external_id: 'inj_2', timestamp: '2026-03-11T10:00:00Z', amount: '30.00', merchant: AT_SUM, business_purpose: MINUS, approval_ref: PLUS }),
      tx({ ...base, external_id: 'inj_3', timestamp: '2026-03-12T10:00:00Z', amount: '5.00', merchant: PLUS, business_purpose: TAB }),
      tx({ ...base, external_id: HYPERLINK, timestamp: '2026-03-13T10:00:00Z', amount: '-12.50', type: 'refund', refund_of: 'inj_1', merchant: MINUS, business_purpose: HYPERLINK }),
    ],
    'atomic',
  );
  await proposePolicyChange(env.deps, org.admin, { agent_id: 'support-bot', changes: { daily_limit: '4000.00', blocked_merchants: [HYPERLINK, AT_SUM] }, justification: HYPERLINK, approval_ticket: 'FIN-7' });

  const ledger = await listLedger(env.deps, finance, { agent_id: 'support-bot' });
  files.set('ledger.csv', Buffer.from(ledgerCsvHeader() + ledger.transactions.map(ledgerCsvRow).join('')));
  const changes = changeLogRows(await listChanges(env.deps, auditor, { agent_id: 'support-bot' }));
  files.set('change-log.csv', Buffer.from(changeLogCsvHeader() + changes.map(changeLogCsvRow).join('')));
  files.set('change-log.xlsx', await collect((out) => writeChangeLogXlsx(changes, out)));
  const statement = () => openStatements(env.deps, finance, { agent_id: 'support-bot', period: { month: '2026-03' } });
  files.set('statement.csv', await collect(async (out) => writeStatementCsv(await statement(), out)));
  files.set('statement.xlsx', await collect(async (out) => writeStatementXlsx(await statement(), out)));
  for (const format of ['xero', 'netsuite'] as const) {
    const x = await exportAccounting(env.deps, finance, { format, month: '2026-03', settings: { uncoded: 'suspense', netsuite: { subsidiary: '=Acme' } } }, writeAccountingFiles);
    for (const f of x.files) files.set(`${format}-${f.name}`, f.bytes);
  }
}, 120_000);
afterAll(async () => {
  await env.close();
  await rm(dir, { recursive: true, force: true });
});

const csvFiles = (): [string, Buffer][] => [...files].filter(([name]) => name.endsWith('.csv'));
const xlsxFiles = (): [string, Buffer][] => [...files].filter(([name]) => name.endsWith('.xlsx'));

/** Every cell of a workbook: its text when a string, its formula when one, else a number. */
async function workbookCells(bytes: Buffer): Promise<{ texts: string[]; formulas: string[]; numbers: number[] }> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(bytes as unknown as ArrayBuffer);
  const out = { texts: [] as string[], formulas: [] as string[], numbers: [] as number[] };
  wb.eachSheet((ws) =>
    ws.eachRow((row) =>
      row.eachCell((c) => {
        const v = c.value;
        if (typeof v === 'string') out.texts.push(v);
        else if (typeof v === 'number') out.numbers.push(v);
        else if (v !== null && typeof v === 'object' && 'formula' in v) out.formulas.push(String(v.formula));
        else if (v !== null && typeof v === 'object' && 'sharedFormula' in v) out.formulas.push(String(v.sharedFormula));
      }),
    ),
  );
  return out;
}

describe('the one rule for spreadsheet text', () => {
  it('prefixes exactly the OWASP starting characters, and quotes what RFC 4180 needs', () => {
    for (const s of ['=1', '+1', '-1', '@x', '\tx', '\rx']) expect(defuseText(s)).toBe(`'${s}`);
    for (const s of ['AWS', "'=1", ' =1', 'x=1', '', '1', '\u00ff=']) expect(defuseText(s)).toBe(s);
    expect(csvTextCell(HYPERLINK)).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csvTextCell('a,b')).toBe('"a,b"');
    expect(csvTextCell(AT_SUM)).toBe(`'${AT_SUM}`);
  });
});

describe('formula injection through every CSV and XLSX writer', () => {
  it('writes the expected files', () => {
    expect([...files.keys()].sort()).toEqual(
      expect.arrayContaining(['change-log.csv', 'change-log.xlsx', 'ledger.csv', 'statement.csv', 'statement.xlsx', 'netsuite-spendtrail-acme-2026-03.csv', 'xero-spendtrail-acme-2026-03.csv']),
    );
  });

  it('no CSV cell starts a formula unless it is a plain number, and the injected text is there defused', () => {
    for (const [name, bytes] of csvFiles()) {
      const rows: string[][] = parse(bytes.toString('utf8'), { relax_column_count: true });
      const cells = rows.flat();
      const live = cells.filter((c) => FORMULA_START.test(c) && !PLAIN_NUMBER.test(c));
      expect(live, name).toEqual([]);
      // Each file carries the injected texts (the Xero narration inside a longer text, which is safe as it is).
      expect(cells.some((c) => INJECTIONS.some((i) => c.includes(i))), name).toBe(true);
    }
    const ledger = parse<Record<string, string>>(files.get('ledger.csv')?.toString('utf8') ?? '', { columns: true });
    expect(ledger.map((r) => r.merchant).sort()).toEqual(INJECTIONS.map((i) => `'${i}`).sort());
    expect(ledger.find((r) => r.type === 'refund')).toMatchObject({ amount: '-12.50', reporting_amount: '-12.50', external_id: `'${HYPERLINK}`, business_purpose: `'${HYPERLINK}` });
    const statement = parse<Record<string, string>>(files.get('statement.csv')?.toString('utf8') ?? '', { columns: true });
    const refund = statement.find((r) => r.record_type === 'transaction' && r.type === 'refund');
    expect(refund).toMatchObject({ merchant: `'${MINUS}`, amount: '-12.50', reporting_amount: '-12.50' });
  });

  it('writes injected text as string cells and amounts as numbers in every XLSX', async () => {
    for (const [name, bytes] of xlsxFiles()) {
      const cells = await workbookCells(bytes);
      expect(cells.formulas.filter((f) => /HYPERLINK|1\+1|cmd/i.test(f)), name).toEqual([]);
      expect(cells.texts.filter((t) => FORMULA_START.test(t)), name).toEqual([]);
      expect(cells.texts.some((t) => t.includes(HYPERLINK)), name).toBe(true);
    }
    const statement = await workbookCells(files.get('statement.xlsx') ?? Buffer.alloc(0));
    expect(statement.texts).toEqual(expect.arrayContaining(INJECTIONS.map((i) => `'${i}`)));
    expect(statement.numbers).toEqual(expect.arrayContaining([21, 30, 5, -12.5]));
  });

  it('opens every file in LibreOffice with formulas evaluated: the injected cells stay text, the amounts numbers', { timeout: 300_000 }, async (ctx) => {
    if (!libreOfficeAvailable()) return ctx.skip();
    // The control: the same cells not defused become live formulas, so the check below can fail.
    const control = `merchant,amount\r\n"${HYPERLINK.replace(/"/g, '""')}",-12.50\r\n`;
    const inputs = [...csvFiles(), ['control.csv', Buffer.from(control)] as [string, Buffer]];
    const csvDir = join(dir, 'csv');
    const xlsxDir = join(dir, 'xlsx');
    const outDir = join(dir, 'out');
    for (const [name, bytes] of inputs) await writeFileIn(csvDir, name, bytes);
    for (const [name, bytes] of xlsxFiles()) await writeFileIn(xlsxDir, name, bytes);
    const env2 = { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8', LANGUAGE: '' };
    const profile = pathToFileURL(join(dir, 'lo-profile')).href;
    // CSV import: comma, double quote, UTF-8, from line 1, en-US, quoted fields not forced to text,
    // special numbers detected, … , token 13: evaluate formulas.
    const csvFilter = 'CSV:44,34,76,1,,1033,false,true,false,false,false,-1,true';
    await run('soffice', [`-env:UserInstallation=${profile}`, '--headless', `--infilter=${csvFilter}`, '--convert-to', 'xlsx', '--outdir', join(outDir, 'csv'), ...inputs.map(([n]) => join(csvDir, n))], { timeout: 240_000, env: env2 });
    await run('soffice', [`-env:UserInstallation=${profile}`, '--headless', '--convert-to', 'xlsx', '--outdir', join(outDir, 'xlsx'), ...xlsxFiles().map(([n]) => join(xlsxDir, n))], { timeout: 240_000, env: env2 });

    const opened = async (sub: string, name: string) => sheetXml(await readFile(join(outDir, sub, name.replace(/\.csv$/, '.xlsx'))));
    const ctl = await opened('csv', 'control.csv');
    expect(ctl.formulas.some((f) => f.includes('HYPERLINK')), 'LibreOffice did not evaluate the control formula').toBe(true);
    expect(ctl.numbers).toContain(-12.5);

    const converted: [string, string][] = [...csvFiles().map(([n]): [string, string] => ['csv', n]), ...xlsxFiles().map(([n]): [string, string] => ['xlsx', n])];
    for (const [sub, file] of converted) {
      const name = `${sub}/${file}`;
      const got = await opened(sub, file);
      expect(got.formulas.filter((f) => /HYPERLINK|1\+1|cmd/i.test(f)), name).toEqual([]);
      expect(got.texts.some((t) => INJECTIONS.some((i) => t.includes(i.slice(1)))), name).toBe(true);
      if (file === 'ledger.csv' || file.startsWith('statement')) expect(got.numbers, name).toContain(-12.5);
    }
  });
});

async function writeFileIn(d: string, name: string, bytes: Buffer): Promise<void> {
  await mkdir(d, { recursive: true });
  await writeFile(join(d, name), bytes);
}

const unescapeXml = (s: string): string =>
  s.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n))).replace(/&amp;/g, '&');

/** The cells of the sheets of a workbook as LibreOffice saved it: formulas (<f>), shared or inline strings, numbers. */
function sheetXml(xlsx: Buffer): { formulas: string[]; texts: string[]; numbers: number[] } {
  const zip = unzipSync(new Uint8Array(xlsx));
  const shared = [...strFromU8(zip['xl/sharedStrings.xml'] ?? new Uint8Array()).matchAll(/<si>([\s\S]*?)<\/si>/g)].map((m) =>
    unescapeXml([...(m[1] ?? '').matchAll(/<t[^>]*>([\s\S]*?)<\/t>/g)].map((t) => t[1] ?? '').join('')),
  );
  const out = { formulas: [] as string[], texts: [] as string[], numbers: [] as number[] };
  for (const name of Object.keys(zip).filter((n) => /^xl\/worksheets\/sheet\d+\.xml$/.test(n))) {
    const xml = strFromU8(zip[name] ?? new Uint8Array());
    for (const c of xml.matchAll(/<c ([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)) {
      const attrs = c[1] ?? '';
      const body = c[2] ?? '';
      const f = /<f[^>]*>([\s\S]*?)<\/f>/.exec(body);
      const v = /<v>([\s\S]*?)<\/v>/.exec(body)?.[1];
      if (f !== null) out.formulas.push(unescapeXml(f[1] ?? ''));
      else if (/t="s"/.test(attrs) && v !== undefined) out.texts.push(shared[Number(v)] ?? '');
      else if (/t="inlineStr"/.test(attrs)) out.texts.push(unescapeXml(/<t[^>]*>([\s\S]*?)<\/t>/.exec(body)?.[1] ?? ''));
      else if (v !== undefined && (/t="n"/.test(attrs) || !/t="/.test(attrs))) out.numbers.push(Number(v));
    }
  }
  return out;
}
