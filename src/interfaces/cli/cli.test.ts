import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import canonicalizeRef from 'canonicalize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGlite } from '@electric-sql/pglite';

const BIN = join(import.meta.dirname, '../../../bin/spendtrail.js');
let home: string;
let approverKey: string;

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, '--home', home, ...args], { env: { ...process.env, DATABASE_URL: '' }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

const line = (i: number, over: Record<string, unknown> = {}): string =>
  JSON.stringify({
    external_id: `ch_${i}`,
    agent_id: 'bot1',
    timestamp: `2026-03-${String(10 + (i % 10)).padStart(2, '0')}T10:00:00Z`,
    amount: `${i}.50`,
    currency: 'USD',
    payment_rail: 'stripe',
    merchant: 'AWS',
    merchant_category: '4816',
    business_purpose: 'inference',
    ...over,
  });

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'spendtrail-cli-'));
  const init = await cli('init', '--org-id', 'acme');
  expect(init.stdout).toMatch(/admin API key \(shown once\): st_/);
  expect((await cli('agents', 'set', 'bot1', '--name', 'Bot', '--owner', 'alice@acme.test', '--cluster', 'ops')).code).toBe(0);
  expect((await cli('accounts', 'set', '6400', '--name', 'Cloud infrastructure')).code).toBe(0);
  expect((await cli('rules', 'set', '--kind', 'mcc', '--match', '4816', '--account', '6400')).code).toBe(0);
  const set = await cli('policy', 'set', 'bot1', '--per-transaction', '100', '--daily', '150', '--monthly', '2000', '--valid-from', '2026-01-01T00:00:00Z', '--justification', 'Initial budget', '--ticket', 'FIN-1');
  // A first policy widens spending: it waits for a second person, who approves with their own key.
  const changeId = /change ([0-9a-f-]{36}) is pending/.exec(set.stdout)?.[1];
  expect(changeId, set.stdout + set.stderr).toBeDefined();
  const key = await cli('keys', 'create', '--principal', 'dave@acme.test', '--roles', 'approver');
  approverKey = /: (st_\S+)$/m.exec(key.stdout)?.[1] ?? '';
  const approved = await cli('--api-key', approverKey, 'policy', 'approve', changeId ?? '', '--comment', 'as planned');
  expect(approved.stdout, approved.stderr).toMatch(/APPLIED[\s\S]*decided by dave@acme\.test/);
}, 120_000);
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('spendtrail CLI', () => {
  it('prints a policy whose snapshot id anyone can recompute', async () => {
    const shown = await cli('policy', 'show', 'bot1', '--json');
    const doc: unknown = JSON.parse(shown.stdout);
    const recomputed = `sha256:${createHash('sha256').update(canonicalizeRef(doc) ?? '').digest('hex')}`;
    const table = await cli('policy', 'show', 'bot1');
    expect(table.stdout).toContain(`policy_snapshot_id: ${recomputed}`);
  });

  it('imports NDJSON, stops at a bad line naming it, and resumes without duplicates', async () => {
    const file = join(home, 'in.ndjson');
    const good = Array.from({ length: 5 }, (_, i) => line(i + 1));
    writeFileSync(file, [...good, line(6, { amount: 6.5 }), line(7)].join('\n'));
    const bad = await cli('record', file, '--chunk', '5', '--no-progress');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('error INVALID_AMOUNT at line 6.amount');
    expect(bad.stderr).toContain('"recorded":5');
    writeFileSync(file, [...good, line(6), line(7)].join('\n'));
    const again = await cli('record', file, '--no-progress');
    expect(again.stdout).toContain('7 lines: 2 recorded, 5 already recorded');
  });

  it('imports CSV with the same field names', async () => {
    const file = join(home, 'in.csv');
    writeFileSync(file, 'external_id,agent_id,timestamp,amount,currency,payment_rail,merchant,merchant_category,business_purpose\r\ncsv_1,bot1,2026-03-21T09:00:00Z,120.00,USD,card,"Acme, Inc.",5734,licences\r\n');
    const r = await cli('record', file, '--no-progress');
    expect(r.stdout).toContain('1 lines: 1 recorded');
    const ledger = await cli('ledger', '--agent', 'bot1', '--violation', 'over_limit', '--format', 'json');
    const rows = JSON.parse(ledger.stdout) as { external_id: string; accounting_code: string | null; violations: string[] }[];
    expect(rows.map((r) => r.external_id)).toEqual(['csv_1']);
    expect(rows[0]?.violations).toEqual(['over_limit', 'uncoded']);
  });

  it('answers authorize with a decision and a non-zero exit on deny', async () => {
    const deny = await cli('authorize', '--agent', 'bot1', '--amount', '500', '--merchant', 'AWS', '--mcc', '4816', '--rail', 'stripe', '--purpose', 'x', '--json');
    expect(deny.code).toBe(3);
    expect(JSON.parse(deny.stdout)).toMatchObject({ decision: 'deny', reasons: ['over_limit', 'daily_budget_exceeded'] });
  });

  it('verifies, then fails naming the entry after a tamper behind its back', async () => {
    const ok = await cli('verify');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^OK: \d+ entries/);
    const db = new PGlite(join(home, 'db'));
    await db.exec(`alter table transactions disable trigger user; update transactions set amount = '0.50' where external_id = 'ch_3'`);
    const seq = (await db.query<{ seq: number }>(`select seq from transactions where external_id = 'ch_3'`)).rows[0]?.seq;
    await db.close();
    const bad = await cli('verify');
    expect(bad.code).toBe(1);
    expect(bad.stdout, bad.stdout).toContain(`first bad entry: ${seq}`);
  });

  it('refuses an approval by the proposer, and lists the change log as CSV', async () => {
    const raise = await cli('--api-key', approverKey, 'policy', 'propose', 'bot1', '--set', 'monthly_limit=2500', '--justification', 'more', '--ticket', 'FIN-2');
    // dave holds only the approver role: proposing needs policy_admin.
    expect(raise.code).toBe(1);
    expect(raise.stderr).toContain('error FORBIDDEN');
    const mine = await cli('policy', 'propose', 'bot1', '--set', 'monthly_limit=2500', '--justification', 'More research', '--ticket', 'https://jira.example/browse/FIN-3', '--json');
    const id = (JSON.parse(mine.stdout) as { change: { change_id: string } }).change.change_id;
    const self = await cli('policy', 'approve', id);
    expect(self.code).toBe(1);
    expect(self.stderr).toContain('error SEGREGATION_OF_DUTIES');
    const csv = await cli('policy', 'history', '--agent', 'bot1', '--format', 'csv');
    const lines = csv.stdout.trim().split('\r\n');
    expect(lines[0]).toMatch(/^change_id,agent_id,timestamp,changed_by,field_changed,old_value,new_value/);
    expect(lines.some((l) => l.includes(`${id},bot1,`) && l.includes(',monthly_limit,2000.00,2500.00,USD,widens,More research,https://jira.example/browse/FIN-3,'))).toBe(true);
  });

  it('explains a missing organisation instead of crashing', async () => {
    const r = await cli('--org', 'nope', 'ledger');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error ORG_NOT_FOUND');
  });
});
