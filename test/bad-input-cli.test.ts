import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importTransactions } from '../src/app/import-transactions.ts';
import type { ImportRow } from '../src/app/import-transactions.ts';
import { mapRows, parseColumnMapping } from '../src/adapters/import/column-mapping.ts';
import { readCsv, readJsonArray, readNdjson } from '../src/adapters/import/transaction-file.ts';
import { SpendtrailError } from '../src/domain/errors.ts';
import { openTestEnv } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { rawTx, seedOrg } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';
import { INVALID_UTF8, jsonWithRawBytes } from './support/bad-input-corpus.ts';

/**
 * The bad-input corpus through the file importer (`spendtrail record` NDJSON and CSV, `import
 * --mapping`): bytes that are not UTF-8, lone surrogates, NUL bytes, BOMs, CRLF. A bad file
 * stops with a code and the line (and field) at fault and records nothing; BOMs and CRLF are
 * read as the same file without them. In-process on PGlite for the whole corpus, then a few
 * cases through the real CLI binary.
 */
const nl = (lines: (string | Buffer)[], eol = '\n'): Buffer => Buffer.concat(lines.flatMap((l, i) => [Buffer.isBuffer(l) ? l : Buffer.from(l, 'utf8'), ...(i < lines.length - 1 ? [Buffer.from(eol)] : [])]));
const json = (over: Record<string, unknown> = {}): string => JSON.stringify(rawTx(over));

const CSV_HEADER = 'external_id,agent_id,timestamp,amount,currency,payment_rail,merchant,merchant_category';
let csvNo = 0;
const csvLine = (merchant: string | Buffer = 'AWS', amount = '21.00'): Buffer => {
  csvNo += 1;
  const m = Buffer.isBuffer(merchant) ? merchant : Buffer.from(merchant, 'utf8');
  return Buffer.concat([Buffer.from(`csv_${csvNo}_${Math.random().toString(36).slice(2, 8)},support-bot,2026-03-12T10:00:00Z,${amount},USD,stripe,`), m, Buffer.from(',4816')]);
};

const MAPPING = parseColumnMapping({
  format: 'csv',
  fields: { external_id: 'ID', agent_id: { value: 'support-bot' }, timestamp: 'When', amount: 'Amount', currency: 'Currency', payment_rail: { value: 'card' }, merchant: 'Merchant' },
  amount: { unit: 'decimal', sign: 'payments_negative' },
});
let mapNo = 0;
const mappedLine = (merchant: string | Buffer = 'AWS', amount = '-21.00'): Buffer => {
  mapNo += 1;
  return Buffer.concat([Buffer.from(`m_${mapNo}_${Math.random().toString(36).slice(2, 8)},2026-03-12T10:00:00Z,${amount},USD,`), Buffer.isBuffer(merchant) ? merchant : Buffer.from(merchant, 'utf8')]);
};
const MAPPED_HEADER = 'ID,When,Amount,Currency,Merchant';

type Reader = (bytes: Buffer) => AsyncIterable<ImportRow>;
const ndjson: Reader = (b) => readNdjson(Readable.from([b]));
const csv: Reader = (b) => readCsv(Readable.from([b]));
const mapped: Reader = (b) => mapRows(readCsv(Readable.from([b]), { keepSource: true }), MAPPING);
const jsonArray: Reader = (b) => readJsonArray(Readable.from([b]));
/** The same file delivered a few bytes at a time: characters and line ends split across chunks. */
const trickle =
  (read: (r: Readable) => AsyncIterable<ImportRow>): Reader =>
  (b) =>
    read(Readable.from(Array.from({ length: Math.ceil(b.length / 3) }, (_, i) => b.subarray(i * 3, i * 3 + 3))));

interface Refusal {
  readonly name: string;
  readonly read: Reader;
  readonly bytes: Buffer;
  readonly code: string;
  readonly field: string | undefined;
}

const refusals: Refusal[] = [
  ...INVALID_UTF8.map(([name, b]): Refusal => ({ name: `NDJSON: ${name} in a merchant`, read: ndjson, bytes: nl([json(), jsonWithRawBytes(rawTx(), 'merchant', b)]), code: 'VALIDATION_FAILED', field: 'line 2' })),
  ...INVALID_UTF8.map(([name, b]): Refusal => ({ name: `NDJSON in 3-byte chunks: ${name}`, read: trickle((r) => readNdjson(r)), bytes: nl([json(), json(), jsonWithRawBytes(rawTx(), 'merchant', b)]), code: 'VALIDATION_FAILED', field: 'line 3' })),
  { name: 'NDJSON: a lone high surrogate escape', read: ndjson, bytes: nl([json(), json({ merchant: 'AWS' }).replace('"AWS"', '"AWS\\ud800"')]), code: 'VALIDATION_FAILED', field: 'line 2.merchant' },
  { name: 'NDJSON: a lone low surrogate escape', read: ndjson, bytes: nl([json(), json({ business_purpose: 'x' }).replace('"x"', '"\\udc00x"')]), code: 'VALIDATION_FAILED', field: 'line 2.business_purpose' },
  { name: 'NDJSON: a raw NUL byte inside a string', read: ndjson, bytes: nl([json(), jsonWithRawBytes(rawTx(), 'merchant', Buffer.from([0]))]), code: 'VALIDATION_FAILED', field: 'line 2' },
  { name: 'NDJSON: a \\u0000 escape', read: ndjson, bytes: nl([json(), json({ merchant: 'A\u0000B' })]), code: 'VALIDATION_FAILED', field: 'line 2.merchant' },
  { name: 'NDJSON: an escape character (ANSI colour)', read: ndjson, bytes: nl([json(), json({ merchant: '\u001b[31mAWS' })]), code: 'VALIDATION_FAILED', field: 'line 2.merchant' },
  { name: 'NDJSON: a BOM at the start of line 2', read: ndjson, bytes: nl([json(), `\ufeff${json()}`]), code: 'VALIDATION_FAILED', field: 'line 2' },
  { name: 'NDJSON: UTF-16 with a BOM', read: ndjson, bytes: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(json(), 'utf16le')]), code: 'VALIDATION_FAILED', field: 'line 1' },
  { name: 'NDJSON: CR-only line ends (one long line)', read: ndjson, bytes: nl([json(), json()], '\r'), code: 'VALIDATION_FAILED', field: 'line 1' },
  { name: 'NDJSON: a truncated line', read: ndjson, bytes: nl([json(), json().slice(0, 40)]), code: 'VALIDATION_FAILED', field: 'line 2' },
  { name: 'NDJSON: an array on a line', read: ndjson, bytes: nl([json(), '[]']), code: 'VALIDATION_FAILED', field: 'line 2' },
  { name: 'NDJSON: an amount as a float', read: ndjson, bytes: nl([json(), json({ amount: 21.5 })]), code: 'INVALID_AMOUNT', field: 'line 2.amount' },
  { name: 'NDJSON: an amount as exponent', read: ndjson, bytes: nl([json(), json({ amount: '1e3' })]), code: 'INVALID_AMOUNT', field: 'line 2.amount' },
  { name: 'NDJSON: a 40-digit amount', read: ndjson, bytes: nl([json(), json({ amount: '1'.repeat(40) })]), code: 'INVALID_AMOUNT', field: 'line 2.amount' },
  { name: 'NDJSON: an unknown currency', read: ndjson, bytes: nl([json(), json({ currency: 'XYZ' })]), code: 'UNKNOWN_CURRENCY', field: 'line 2.currency' },
  { name: 'NDJSON: deep nesting', read: ndjson, bytes: nl([json(), `${'['.repeat(50_000)}${']'.repeat(50_000)}`]), code: 'VALIDATION_FAILED', field: 'line 2' },
  ...INVALID_UTF8.map(([name, b]): Refusal => ({ name: `CSV: ${name} in a merchant`, read: csv, bytes: nl([CSV_HEADER, csvLine(), csvLine(b)], '\r\n'), code: 'VALIDATION_FAILED', field: 'line 3' })),
  ...INVALID_UTF8.map(([name, b]): Refusal => ({ name: `CSV in 3-byte chunks: ${name}`, read: trickle((r) => readCsv(r)), bytes: nl([CSV_HEADER, csvLine(), csvLine(b)], '\r\n'), code: 'VALIDATION_FAILED', field: 'line 3' })),
  { name: 'CSV: a NUL byte in a merchant', read: csv, bytes: nl([CSV_HEADER, csvLine(), csvLine(Buffer.from('A\u0000B'))]), code: 'VALIDATION_FAILED', field: 'line 3.merchant' },
  { name: 'CSV: a BEL in a merchant', read: csv, bytes: nl([CSV_HEADER, csvLine(), csvLine('A\u0007B')]), code: 'VALIDATION_FAILED', field: 'line 3.merchant' },
  { name: 'CSV: an unclosed quote', read: csv, bytes: nl([CSV_HEADER, csvLine(), csvLine('"AWS')]), code: 'VALIDATION_FAILED', field: 'line 3' },
  { name: 'CSV: a missing column', read: csv, bytes: nl([CSV_HEADER, csvLine(), 'x,support-bot,2026-03-12T10:00:00Z,1.00,USD,stripe']), code: 'VALIDATION_FAILED', field: 'line 3' },
  { name: 'CSV: an amount with a thousands separator', read: csv, bytes: nl([CSV_HEADER, csvLine(), csvLine('AWS', '"1,000.00"')]), code: 'INVALID_AMOUNT', field: 'line 3.amount' },
  { name: 'CSV: an amount in exponent form', read: csv, bytes: nl([CSV_HEADER, csvLine(), csvLine('AWS', '1E3')]), code: 'INVALID_AMOUNT', field: 'line 3.amount' },
  ...INVALID_UTF8.map(([name, b]): Refusal => ({ name: `mapped CSV: ${name}`, read: mapped, bytes: nl([MAPPED_HEADER, mappedLine(), mappedLine(b)], '\r\n'), code: 'VALIDATION_FAILED', field: 'line 3' })),
  { name: 'mapped CSV: a NUL byte', read: mapped, bytes: nl([MAPPED_HEADER, mappedLine(), mappedLine(Buffer.from('A\u0000B'))]), code: 'VALIDATION_FAILED', field: 'line 3.merchant' },
  { name: 'mapped CSV: an amount in exponent form', read: mapped, bytes: nl([MAPPED_HEADER, mappedLine(), mappedLine('AWS', '-1e3')]), code: 'INVALID_AMOUNT', field: 'line 3.amount' },
  { name: 'mapped CSV: a currency symbol', read: mapped, bytes: nl([MAPPED_HEADER, mappedLine(), mappedLine('AWS', '-$21.00')]), code: 'INVALID_AMOUNT', field: 'line 3.amount' },
  { name: 'JSON array: invalid UTF-8', read: jsonArray, bytes: Buffer.concat([Buffer.from('['), jsonWithRawBytes(rawTx(), 'merchant', Buffer.from([0xff])), Buffer.from(']')]), code: 'MALFORMED_PAYLOAD', field: undefined },
  { name: 'JSON array: a lone surrogate escape in element 2', read: jsonArray, bytes: Buffer.from(`[${json()},${json({ merchant: 'AWS' }).replace('"AWS"', '"\\ud800"')}]`), code: 'VALIDATION_FAILED', field: 'line 2.merchant' },
];

/** Files that differ from a plain one only in encoding details: read as the same transactions. */
const accepted: { name: string; read: Reader; bytes: () => Buffer; lines: number }[] = [
  { name: 'NDJSON with a BOM', read: ndjson, bytes: () => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), nl([json(), json()])]), lines: 2 },
  { name: 'NDJSON with CRLF and a trailing CRLF', read: ndjson, bytes: () => nl([json(), json(), ''], '\r\n'), lines: 2 },
  { name: 'NDJSON in 3-byte chunks with multi-byte characters', read: trickle((r) => readNdjson(r)), bytes: () => nl([json({ merchant: 'Caf\u00e9 \u{1F4B8} \u4e2d' }), json({ merchant: '\u00e9\u00e9\u00e9' })], '\r\n'), lines: 2 },
  { name: 'CSV with a BOM and CRLF', read: csv, bytes: () => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), nl([CSV_HEADER, csvLine(), csvLine()], '\r\n')]), lines: 2 },
  { name: 'CSV in 3-byte chunks with multi-byte characters', read: trickle((r) => readCsv(r)), bytes: () => nl([CSV_HEADER, csvLine('Caf\u00e9 \u{1F4B8}'), csvLine('\u4e2d\u6587')], '\r\n'), lines: 2 },
  { name: 'CSV with a formula as a merchant (stored as text)', read: csv, bytes: () => nl([CSV_HEADER, csvLine('"=HYPERLINK(""http://x"",""y"")"'), csvLine('@SUM(1+1)')]), lines: 2 },
  { name: 'mapped CSV with a BOM', read: mapped, bytes: () => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), nl([MAPPED_HEADER, mappedLine(), mappedLine()], '\r\n')]), lines: 2 },
];

describe('bad input through the file importer (PGlite)', () => {
  let env: TestEnv;
  let org: Seeded;
  beforeAll(async () => {
    env = await openTestEnv('pglite');
    org = await seedOrg(env.deps);
  });
  afterAll(async () => {
    await env.close();
  });

  const counts = async () => ({
    ...(await env.store.entryStats('acme')),
    transactions: Number((await env.sql('select count(*)::int as n from transactions'))[0]?.n),
    rail_payloads: Number((await env.sql('select count(*)::int as n from rail_payloads'))[0]?.n),
  });

  it.each(refusals)('$name: refused with $code at $field, nothing recorded', async ({ read, bytes, code, field }) => {
    const before = await counts();
    let error: unknown;
    try {
      await importTransactions(env.deps, org.admin, read(bytes));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SpendtrailError);
    const e = error as SpendtrailError;
    expect({ code: e.code, field: e.field }, e.message).toEqual({ code, field });
    expect(await counts()).toEqual(before);
  });

  it.each(accepted)('$name: read as the plain file', async ({ read, bytes, lines }) => {
    const before = await counts();
    const file = bytes();
    const r = await importTransactions(env.deps, org.admin, read(file));
    expect(r).toEqual({ lines, recorded: lines, duplicates: 0 });
    expect((await counts()).transactions).toBe(before.transactions + lines);
    // The same file again records nothing new.
    expect(await importTransactions(env.deps, org.admin, read(file))).toEqual({ lines, recorded: 0, duplicates: lines });
  });

  it('keeps text byte for byte: a merchant read from CRLF NDJSON has no stray CR, a CSV formula is stored as written', async () => {
    const id = `crlf_${Date.now()}`;
    await importTransactions(env.deps, org.admin, ndjson(nl([json({ external_id: id, merchant: 'Caf\u00e9' }), ''], '\r\n')));
    const [a] = await env.store.findTransactionsByExternal('acme', [{ payment_rail: 'stripe', external_id: id }]);
    expect(a?.record.merchant).toBe('Caf\u00e9');
    const formula = `form_${Date.now()}`;
    await importTransactions(env.deps, org.admin, csv(nl([CSV_HEADER, Buffer.from(`${formula},support-bot,2026-03-12T10:00:00Z,1.00,USD,stripe,"=HYPERLINK(""http://x"",""y"")",4816`)])));
    const [b] = await env.store.findTransactionsByExternal('acme', [{ payment_rail: 'stripe', external_id: formula }]);
    expect(b?.record.merchant).toBe('=HYPERLINK("http://x","y")');
  });
});

describe('bad input through the spendtrail CLI', () => {
  const BIN = join(import.meta.dirname, '../bin/spendtrail.js');
  let home = '';
  const cli = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, [BIN, '--home', home, ...args], { env: { ...process.env, DATABASE_URL: '' }, timeout: 120_000 }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
      });
    });
  const line = (i: number, merchant: string | Buffer = 'AWS'): Buffer =>
    jsonWithRawBytes({ external_id: `cli_${i}`, agent_id: 'bot1', timestamp: '2026-03-12T10:00:00Z', amount: '1.00', currency: 'USD', payment_rail: 'stripe', business_purpose: 'x' }, 'merchant', Buffer.isBuffer(merchant) ? merchant : Buffer.from(merchant));

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'spendtrail-bad-input-'));
    expect((await cli('init', '--org-id', 'acme')).code).toBe(0);
    expect((await cli('agents', 'set', 'bot1', '--name', 'Bot', '--owner', 'alice@acme.test', '--cluster', 'ops')).code).toBe(0);
  }, 180_000);
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('stops at bytes that are not UTF-8 naming the line (record NDJSON and CSV, import --mapping), records nothing, then imports the corrected file', { timeout: 300_000 }, async () => {
    const cases: [string, Buffer, string][] = [
      ['in.ndjson', nl([line(1), line(2, Buffer.from([0xc0, 0xaf]))]), 'error VALIDATION_FAILED at line 2: line 2 is not UTF-8 text'],
      ['in.csv', nl([`${CSV_HEADER}`, Buffer.from('cli_1,bot1,2026-03-12T10:00:00Z,1.00,USD,stripe,AWS,4816'), Buffer.concat([Buffer.from('cli_2,bot1,2026-03-12T10:00:00Z,1.00,USD,stripe,A'), Buffer.from([0xff]), Buffer.from(',4816')])], '\r\n'), 'error VALIDATION_FAILED at line 3: line 3 of the file is not UTF-8 text'],
    ];
    for (const [name, bytes, message] of cases) {
      const file = join(home, name);
      writeFileSync(file, bytes);
      const r = await cli('record', file, '--no-progress');
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(message);
    }
    const mappingFile = join(home, 'mapping.json');
    writeFileSync(mappingFile, JSON.stringify({ format: 'csv', fields: { external_id: 'ID', agent_id: { value: 'bot1' }, timestamp: 'When', amount: 'Amount', currency: 'Currency', payment_rail: { value: 'card' }, merchant: 'Merchant' } }));
    const exportFile = join(home, 'export.csv');
    writeFileSync(exportFile, nl([MAPPED_HEADER, Buffer.from('m1,2026-03-12T10:00:00Z,1.00,USD,AWS'), Buffer.concat([Buffer.from('m2,2026-03-12T10:00:00Z,1.00,USD,A'), Buffer.from([0xed, 0xa0, 0x80])])], '\r\n'));
    const mappedRun = await cli('import', exportFile, '--mapping', mappingFile);
    expect(mappedRun.code, mappedRun.stderr).toBe(1);
    expect(mappedRun.stderr).toContain('error VALIDATION_FAILED at line 3');
    // Nothing of the refused files was recorded: the corrected ones record every line.
    const ndjsonFile = join(home, 'ok.ndjson');
    writeFileSync(ndjsonFile, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), nl([line(1), line(2, 'Caf\u00e9'), Buffer.alloc(0)], '\r\n')]));
    const ok = await cli('record', ndjsonFile, '--no-progress');
    expect(ok.stdout, ok.stderr).toContain('2 lines: 2 recorded, 0 already recorded');
  });
});
