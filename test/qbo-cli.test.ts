import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QboFake } from './support/qbo-fake.ts';

const BIN = join(import.meta.dirname, '../bin/spendtrail.js');
let home: string;
let fake: QboFake;

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: '',
    SPENDTRAIL_QBO_CLIENT_ID: fake.clientId,
    SPENDTRAIL_QBO_CLIENT_SECRET: fake.clientSecret,
    SPENDTRAIL_QBO_REDIRECT_URI: fake.redirectUri,
    SPENDTRAIL_QBO_AUTH_URL: `${fake.baseUrl}/connect/oauth2`,
    SPENDTRAIL_QBO_TOKEN_URL: fake.tokenUrl,
    SPENDTRAIL_QBO_BASE_URL: fake.baseUrl,
  };
  delete env.SPENDTRAIL_SECRET_KEY;
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, '--home', home, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

const payment = (i: number): string =>
  JSON.stringify({ external_id: `ch_${i}`, agent_id: 'bot1', timestamp: `2026-03-1${i}T10:00:00Z`, amount: `${i}0.25`, currency: 'USD', payment_rail: 'stripe', merchant: 'AWS', merchant_category: '4816', business_purpose: 'inference' });

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'spendtrail-qbo-cli-'));
  fake = await new QboFake({
    accounts: [
      { Id: '57', Name: 'Cloud infrastructure', AcctNum: '6400', AccountType: 'Expense' },
      { Id: '61', Name: 'Agent Card Clearing', AccountType: 'Credit Card' },
    ],
  }).start();
  expect((await cli('init', '--org-id', 'acme')).code).toBe(0);
  expect((await cli('agents', 'set', 'bot1', '--name', 'Bot', '--owner', 'alice@acme.test', '--cluster', 'ops')).code).toBe(0);
  expect((await cli('accounts', 'set', '6400', '--name', 'Cloud infrastructure')).code).toBe(0);
  expect((await cli('rules', 'set', '--kind', 'mcc', '--match', '4816', '--account', '6400')).code).toBe(0);
  const file = join(home, 'march.ndjson');
  writeFileSync(file, `${[1, 2, 3].map(payment).join('\n')}\n`);
  expect((await cli('record', file, '--no-progress')).stdout).toMatch(/3 recorded/);
}, 120_000);
afterAll(async () => {
  await fake.stop();
  rmSync(home, { recursive: true, force: true });
});

describe('spendtrail qbo', () => {
  let state = '';

  it('prints the consent link with client id, scope, redirect URI and state, and completes with the code and realm', async () => {
    const start = await cli('qbo', 'connect');
    expect(start.code, start.stderr).toBe(0);
    const link = new URL(/https?:\/\/\S+connect\/oauth2\S*/.exec(start.stdout)?.[0] ?? 'http://x');
    expect(link.searchParams.get('client_id')).toBe(fake.clientId);
    expect(link.searchParams.get('scope')).toBe('com.intuit.quickbooks.accounting');
    expect(link.searchParams.get('redirect_uri')).toBe(fake.redirectUri);
    state = link.searchParams.get('state') ?? '';
    expect(start.stdout).toContain(`--state ${state}`);

    const done = await cli('qbo', 'connect', '--code', fake.issueCode(), '--realm', fake.realmId, '--state', state);
    expect(done.stdout, done.stderr).toContain(`connected to QuickBooks company ${fake.realmId}`);
    // No SPENDTRAIL_SECRET_KEY: the token key was made in the home directory, for the owner only.
    expect(statSync(join(home, 'secret.key')).mode & 0o777).toBe(0o600);
  });

  it('names the unmapped accounts and posts nothing, then maps them from QuickBooks by number and name', async () => {
    const refused = await cli('qbo', 'sync', '--month', '2026-03');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/error ACCOUNT_NOT_MAPPED at accounts: no QuickBooks account is mapped for 2110 Agent card clearing \(3 lines\), 6400 Cloud infrastructure \(3 lines\)/);
    expect(fake.created).toHaveLength(0);

    const mapped = await cli('qbo', 'map', 'accounts', '--from-qbo');
    expect(mapped.stdout, mapped.stderr).toContain('mapped 6400 → 57 Cloud infrastructure (by number)');
    expect(mapped.stdout).toContain('mapped 2110 → 61 Agent Card Clearing (by name)');
  });

  it('posts the month once, reports progress, and posts nothing when run again', async () => {
    const first = await cli('qbo', 'sync', '--month', '2026-03');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('3 posted now, 0 already posted, 0 refused');
    expect(first.stderr).toContain('posting: 3/3 entries, 3 posted');
    expect(fake.created).toHaveLength(3);
    const again = await cli('qbo', 'sync', '--month', '2026-03', '--no-progress');
    expect(again.stdout).toContain('0 posted now, 3 already posted');
    expect(fake.created).toHaveLength(3);
    expect((await cli('qbo', 'status')).stdout).toContain('entries: 3 posted, 0 pending, 0 failed');
  });

  it('tells the user to connect again when QuickBooks revoked the connection', async () => {
    fake.revokeRefreshTokens();
    const r = await cli('qbo', 'sync', '--month', '2026-03');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error QBO_REAUTHORIZE: .*run `spendtrail qbo connect` to authorize Spendtrail again/m);
  });
});
