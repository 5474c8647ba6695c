import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '../bin/spendtrail.js');
let home: string;

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, '--home', home, ...args], { env: { ...process.env, DATABASE_URL: '' }, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

const line = (i: number, over: Record<string, unknown> = {}): string =>
  JSON.stringify({
    external_id: `ch_${i}`,
    agent_id: 'bot1',
    timestamp: `2026-03-${String(1 + (i % 28)).padStart(2, '0')}T10:${String(i % 60).padStart(2, '0')}:00Z`,
    amount: `${i}.50`,
    currency: 'USD',
    payment_rail: 'stripe',
    merchant: 'AWS',
    merchant_category: '4816',
    business_purpose: 'inference',
    ...over,
  });

const usdc = (i: number, amount: string): string =>
  line(1000 + i, { payment_rail: 'x402', currency: 'USDC', amount, merchant: 'OpenRouter', merchant_category: null, accounting_code: '6400', fx_rate: '1', fx_rate_source: 'peg', fx_rate_time: '2026-03-01T00:00:00Z', timestamp: `2026-03-20T1${i}:00:00Z` });

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'spendtrail-accounting-cli-'));
  expect((await cli('init', '--org-id', 'acme')).code).toBe(0);
  expect((await cli('agents', 'set', 'bot1', '--name', 'Bot', '--owner', 'alice@acme.test', '--cluster', 'ops')).code).toBe(0);
  expect((await cli('accounts', 'set', '6400', '--name', 'Cloud infrastructure')).code).toBe(0);
  expect((await cli('rules', 'set', '--kind', 'mcc', '--match', '4816', '--account', '6400')).code).toBe(0);
  // 160 card payments (320 journal lines: more than one Xero file), three x402 micro-payments, one uncoded payment.
  const lines = [
    ...Array.from({ length: 160 }, (_, i) => line(i + 1)),
    usdc(1, '0.250000'),
    usdc(2, '0.300000'),
    usdc(3, '0.004000'),
    line(999, { merchant: 'Hetzner', merchant_category: null, amount: '49.00' }),
  ];
  const file = join(home, 'march.ndjson');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const rec = await cli('record', file, '--no-progress');
  expect(rec.stdout, rec.stderr).toMatch(/164 recorded/);
}, 120_000);
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('spendtrail accounting export', () => {
  it('refuses a month with an uncoded payment, saying how many', async () => {
    const r = await cli('accounting', 'export', '--format', 'xero', '--month', '2026-03');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error UNCODED_TRANSACTIONS: 1 transaction has no GL code/);
  });

  it('writes a Xero export of more than 300 lines as several files and the drill-down into a directory', async () => {
    const out = join(home, 'xero/');
    const r = await cli('accounting', 'export', '--format', 'xero', '--month', '2026-03', '--uncoded', 'suspense', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/xero: 162 entries, 324 lines from 164 transactions/);
    expect(r.stdout).toMatch(/1 roll-ups of 3 micro-payments; 1 uncoded \(posted to suspense\)/);
    expect(readdirSync(out).sort()).toEqual(['spendtrail-acme-2026-03-part1-of-2.csv', 'spendtrail-acme-2026-03-part2-of-2.csv', 'spendtrail-acme-2026-03-rollups.csv']);
    let lines = 0;
    for (const f of ['part1-of-2', 'part2-of-2']) {
      const rows = parse<Record<string, string>>(readFileSync(join(out, `spendtrail-acme-2026-03-${f}.csv`), 'utf8'), { columns: true });
      expect(rows.length).toBeLessThanOrEqual(300);
      lines += rows.length;
    }
    expect(lines).toBe(324);
    const drill = parse<Record<string, string>>(readFileSync(join(out, 'spendtrail-acme-2026-03-rollups.csv'), 'utf8'), { columns: true });
    expect(drill.map((d) => d.amount)).toEqual(['0.250000', '0.300000', '0.004000']);
  });

  it('without --out, writes one journal to stdout and the report to stderr', async () => {
    const r = await cli('accounting', 'export', '--format', 'iif', '--month', '2026-03', '--uncoded', 'suspense');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.startsWith('!TRNS\tTRNSID\tTRNSTYPE')).toBe(true);
    expect(r.stderr).toMatch(/iif: 162 entries/);
    expect(r.stderr).toMatch(/roll-up drill-down not written/);
    const several = await cli('accounting', 'export', '--format', 'xero', '--month', '2026-03', '--uncoded', 'suspense');
    expect(several.code).toBe(1);
    expect(several.stderr).toMatch(/error VALIDATION_FAILED at out: the export is 2 files/);
  });

  it('names the drill-down after a journal file given with --out, and posts every payment one by one with --no-rollup', async () => {
    const target = join(home, 'books', 'march.journal');
    const r = await cli('accounting', 'export', '--format', 'hledger', '--from', '2026-03-01', '--to', '2026-04-01', '--uncoded', 'suspense', '--out', target);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(target) && existsSync(join(home, 'books', 'march-rollups.csv'))).toBe(true);
    const flat = await cli('accounting', 'export', '--format', 'hledger', '--month', '2026-03', '--uncoded', 'suspense', '--no-rollup');
    // The 0.004 USDC payment is worth 0.00 USD in the ledger: nothing to post, and counted as such.
    expect(flat.stderr).toMatch(/163 posted one by one; 0 roll-ups of 0 micro-payments; 1 uncoded \(posted to suspense\); 1 worth 0, not posted/);
  });

  it('reads settings from a file and refuses what it does not know, naming the field', async () => {
    const good = join(home, 'settings.json');
    writeFileSync(good, JSON.stringify({ uncoded: 'suspense', suspense_account: { code: '9999', name: 'Suspense' }, rollup: { below: '0.30' } }));
    const r = await cli('accounting', 'export', '--format', 'netsuite', '--month', '2026-03', '--settings', good);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('9999 Suspense');
    expect(r.stderr).toMatch(/1 roll-ups of 2 micro-payments/);
    const bad = join(home, 'bad.json');
    writeFileSync(bad, JSON.stringify({ uncoded: 'suspense', xero: { taxrate: 'GST' } }));
    const refused = await cli('accounting', 'export', '--format', 'xero', '--month', '2026-03', '--settings', bad);
    expect(refused.stderr).toMatch(/^error UNKNOWN_FIELD at settings\.xero\.taxrate/);
    const clash = await cli('accounting', 'export', '--format', 'xero', '--month', '2026-03', '--no-rollup', '--rollup-below', '2.00');
    expect(clash.stderr).toMatch(/^error VALIDATION_FAILED at rollup/);
  });

  it('says when a period has nothing to export', async () => {
    const r = await cli('accounting', 'export', '--format', 'iif', '--month', '2026-05');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error NOTHING_TO_EXPORT: no transactions in the organisation/);
  });
});
