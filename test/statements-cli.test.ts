import ExcelJS from 'exceljs';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from './statements-tools.ts';

/**
 * `spendtrail statement` as an operator runs it, against an embedded database in a temporary
 * home, in an organisation whose time zone is not UTC: the month is cut at Berlin midnight.
 */
const BIN = join(import.meta.dirname, '../bin/spendtrail.js');
let home: string;

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, '--home', home, ...args], { env: { ...process.env, DATABASE_URL: '' }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

const line = (id: string, agent: string, timestamp: string, amount: string, merchant = 'AWS'): string =>
  JSON.stringify({ external_id: id, agent_id: agent, timestamp, amount, currency: 'EUR', payment_rail: 'stripe', merchant, merchant_category: '4816', business_purpose: 'inference' });

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'spendtrail-statement-cli-'));
  expect((await cli('init', '--org-id', 'acme', '--currency', 'EUR', '--timezone', 'Europe/Berlin')).code).toBe(0);
  expect((await cli('agents', 'set', 'bot1', '--name', 'Bot one', '--owner', 'alice@acme.test', '--cluster', 'ops')).code).toBe(0);
  expect((await cli('agents', 'set', 'bot2', '--name', 'Bot two', '--owner', 'bob@acme.test', '--cluster', 'ops')).code).toBe(0);
  const file = join(home, 'march.ndjson');
  writeFileSync(
    file,
    [
      // 00:30 on 1 March in Berlin: in March there, although it is still February in UTC.
      line('m1', 'bot1', '2026-02-28T23:30:00Z', '10.00'),
      line('m2', 'bot1', '2026-03-15T12:00:00Z', '20.50', 'Hetzner'),
      // 00:30 on 1 April in Berlin (summer time): April's.
      line('m3', 'bot1', '2026-03-31T22:30:00Z', '99.00'),
      line('m4', 'bot2', '2026-03-10T09:00:00Z', '5.25'),
    ].join('\n'),
  );
  expect((await cli('record', file, '--no-progress')).code).toBe(0);
}, 180_000);
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('spendtrail statement', () => {
  it("prints an agent's month as CSV, cut in the organisation's time zone", async () => {
    const r = await cli('statement', '--agent', 'bot1', '--month', '2026-03');
    expect(r.code, r.stderr).toBe(0);
    const rows = parseCsv(r.stdout);
    expect(rows.filter((x) => x.record_type === 'transaction').map((x) => [x.date, x.merchant, x.reporting_amount])).toEqual([
      ['2026-03-01 00:30:00', 'AWS', '10.00'],
      ['2026-03-15 13:00:00', 'Hetzner', '20.50'],
    ]);
    expect(rows.find((x) => x.record_type === 'total_net')).toMatchObject({ reporting_amount: '30.50', reporting_currency: 'EUR', timezone: 'Europe/Berlin' });
  });

  it('writes a cluster as an XLSX file with a sheet per agent, and a PDF from --from/--to', async () => {
    const xlsx = join(home, 'ops.xlsx');
    const x = await cli('statement', '--cluster', 'ops', '--month', '2026-03', '--out', xlsx);
    expect(x.code, x.stderr).toBe(0);
    expect(x.stdout).toContain('statement of cluster ops (2 agents), March 2026 (2026-03-01 to 2026-03-31, Europe/Berlin): 3 transactions, net 35.75 EUR');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(xlsx);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['bot1', 'bot2']);

    const pdf = join(home, 'bot1.pdf');
    const p = await cli('statement', '--agent', 'bot1', '--from', '2026-03-01', '--to', '2026-04-02', '--out', pdf);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toContain('2026-03-01 to 2026-04-01 (Europe/Berlin): 3 transactions, net 129.50 EUR');
    expect(readFileSync(pdf).subarray(0, 5).toString('latin1')).toBe('%PDF-');
  });

  it('refuses with a code, and leaves no file behind when it cannot write one', async () => {
    const noOut = await cli('statement', '--agent', 'bot1', '--month', '2026-03', '--format', 'pdf');
    expect(noOut.code).toBe(1);
    expect(noOut.stderr).toContain('error VALIDATION_FAILED at out');
    const missing = join(home, 'no-such-dir', 'x.xlsx');
    const bad = await cli('statement', '--agent', 'bot1', '--month', '2026-03', '--out', missing);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/ENOENT/);
    expect(existsSync(missing)).toBe(false);
    const unknown = await cli('statement', '--agent', 'nobody', '--month', '2026-03');
    expect(unknown.stderr).toContain('error AGENT_NOT_FOUND at agent_id');
  });

  it("refuses an agent key another agent's statement", async () => {
    const issued = await cli('keys', 'create', '--principal', 'bot2@agents', '--roles', 'agent', '--agent', 'bot2');
    const secret = /: (st_\S+)$/m.exec(issued.stdout)?.[1] ?? '';
    expect(secret).not.toBe('');
    const other = await cli('--api-key', secret, 'statement', '--agent', 'bot1', '--month', '2026-03');
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('error FORBIDDEN');
    const own = await cli('--api-key', secret, 'statement', '--agent', 'bot2', '--month', '2026-03');
    expect(own.code, own.stderr).toBe(0);
    expect(parseCsv(own.stdout).find((x) => x.record_type === 'total_net')?.reporting_amount).toBe('5.25');
  });
});
