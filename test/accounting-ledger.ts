import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { AppDeps } from '../src/app/deps.ts';
import type { IdSource } from '../src/app/ports/id-source.ts';
import type { Principal } from '../src/app/principal.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { createOrg, issueApiKey, upsertAccount, upsertAgent, upsertRule } from '../src/app/setup.ts';
import type { TestEnv } from './support/engines.ts';
import { approverFor, establishPolicy, tx } from './support/fixtures.ts';

/**
 * A fixed ledger for the accounting exports: ids come from a counter and the clock is set, so
 * the same ledger (same tx ids, seqs and policy snapshots) is recorded on every engine and the
 * exports can be compared byte for byte with the golden files.
 */

export function countingIds(): IdSource {
  let u = 0;
  let s = 0;
  return {
    uuid: () => `00000000-0000-7000-8000-${(u += 1).toString(16).padStart(12, '0')}`,
    // Key ids are cut from the front of a secret, so the counter leads.
    secret: () => `${(s += 1).toString().padStart(8, '0')}-test-secret-0000000000000000`,
  };
}

const usdc = { currency: 'USDC', fx_rate: '1', fx_rate_source: 'peg: 1 USDC = 1 USD (treasury policy)', fx_rate_time: '2026-03-01T00:00:00Z' };

/**
 * Acme in New York: two agents, a chart, rules, policies and a March with card payments, a
 * refund, x402 micro-payments (one across UTC midnight but on the same New York day), an L402
 * payment on a rail its policy does not allow, an uncoded payment, a merchant name with a comma,
 * quotes and an accent, and payments either side of the month's bounds in New York time.
 */
export async function seedAccountingLedger(env: TestEnv): Promise<{ deps: AppDeps; admin: Principal; adminKey: string }> {
  const deps: AppDeps = { ...env.deps, ids: countingIds() };
  env.clock.set('2026-01-01T00:00:00.000Z');
  const { admin: key } = await createOrg(deps, { org_id: 'acme', name: 'Acme Corp', timezone: 'America/New_York' });
  const admin: Principal = { org_id: 'acme', principal: 'admin', roles: ['admin'], agent_id: null, key_id: key.key_id };
  await upsertAgent(deps, admin, { agent_id: 'support-bot', name: 'Support bot', owner: 'alice@acme.test', cluster: 'support' });
  await upsertAgent(deps, admin, { agent_id: 'research-bot', name: 'Research bot', owner: 'bob@acme.test', cluster: 'research' });
  await upsertAccount(deps, admin, { code: '6400', name: 'Cloud infrastructure' });
  await upsertAccount(deps, admin, { code: '6420', name: 'API services' });
  await upsertAccount(deps, admin, { code: '6450', name: 'Research data & tools' });
  await upsertRule(deps, admin, { kind: 'mcc', match: '4816', account_code: '6400' });
  await upsertRule(deps, admin, { kind: 'merchant', match: 'OpenAI', account_code: '6420' });
  await issueApiKey(deps, admin, { principal: approverFor('acme').principal, roles: ['approver'] });
  await establishPolicy(deps, admin, 'support-bot', {
    per_transaction_limit: '2500.00',
    daily_limit: '5000.00',
    monthly_limit: '20000.00',
    approval_threshold: '2000.00',
    valid_from: '2026-01-01T00:00:00Z',
  });
  await establishPolicy(deps, admin, 'research-bot', {
    per_transaction_limit: '500.00',
    daily_limit: '1000.00',
    monthly_limit: '5000.00',
    allowed_rails: ['x402', 'stripe'],
    valid_from: '2026-01-01T00:00:00Z',
  });
  env.clock.set('2026-04-02T12:00:00.000Z');
  const support = { agent_id: 'support-bot', payment_rail: 'stripe' };
  const research = { agent_id: 'research-bot', merchant: 'OpenRouter', merchant_category: null, payment_rail: 'x402', accounting_code: '6420', ...usdc };
  const items = [
    // 23:00 on 28 February in New York: before the month.
    tx({ ...support, external_id: 'feb_aws', timestamp: '2026-03-01T04:00:00Z', amount: '99.00' }),
    tx({ ...support, external_id: 'aws_1', timestamp: '2026-03-02T15:00:00Z', amount: '2100.00', approver: 'dave@acme.test', approval_ref: 'FIN-9' }),
    tx({ ...support, external_id: 'openai_1', timestamp: '2026-03-03T14:00:00Z', amount: '312.40', merchant: 'OpenAI', merchant_category: null }),
    tx({ ...research, external_id: 'x402_1', timestamp: '2026-03-04T13:00:00Z', amount: '0.250000' }),
    tx({ ...research, external_id: 'x402_2', timestamp: '2026-03-04T18:30:00Z', amount: '0.250000' }),
    tx({ ...research, external_id: 'x402_3', timestamp: '2026-03-04T21:45:00Z', amount: '0.120000' }),
    // 21:30 on 4 March in New York: the same roll-up as the three above.
    tx({ ...research, external_id: 'x402_4', timestamp: '2026-03-05T02:30:00Z', amount: '0.004000' }),
    tx({ ...support, external_id: 'openai_refund', type: 'refund', refund_of: 'openai_1', timestamp: '2026-03-05T16:00:00Z', amount: '-12.40', merchant: 'OpenAI', merchant_category: null }),
    tx({ ...research, external_id: 'x402_big', timestamp: '2026-03-06T15:00:00Z', amount: '5.000000' }),
    tx({ ...research, external_id: 'l402_1', timestamp: '2026-03-06T16:00:00Z', payment_rail: 'l402', merchant: 'Lightning Labs API', accounting_code: '6450', currency: 'SAT', amount: '1500.000', fx_rate: '0.0006' }),
    tx({ ...support, external_id: 'hetzner_1', timestamp: '2026-03-09T12:00:00Z', amount: '49.00', merchant: 'Hetzner', merchant_category: null }),
    tx({ ...support, external_id: 'cafe_1', timestamp: '2026-03-10T12:00:00Z', amount: '75.50', merchant: 'Café "Data", Inc.', merchant_category: null, accounting_code: '6450' }),
    // 23:30 on 31 March in New York: still March.
    tx({ ...support, external_id: 'aws_eom', timestamp: '2026-04-01T03:30:00Z', amount: '10.00' }),
    // Midnight on 1 April in New York: April.
    tx({ ...support, external_id: 'apr_aws', timestamp: '2026-04-01T04:00:00Z', amount: '99.00' }),
  ];
  const out = await recordTransactions(deps, admin, items, 'atomic');
  for (const o of out) if (!o.ok) throw new Error(`seed transaction refused: ${JSON.stringify(o)}`);
  return { deps, admin, adminKey: key.api_key };
}

const GOLDEN = fileURLToPath(new URL('./golden/accounting/', import.meta.url));

/**
 * Compares with the golden file; SPENDTRAIL_UPDATE_GOLDEN=1 rewrites it (review the diff).
 * Compared as bytes, so encodings and line ends count.
 */
export function expectGolden(name: string, bytes: Buffer): void {
  const path = `${GOLDEN}${name}`;
  if (process.env.SPENDTRAIL_UPDATE_GOLDEN === '1') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
    return;
  }
  if (!existsSync(path)) throw new Error(`no golden file ${path}: run with SPENDTRAIL_UPDATE_GOLDEN=1 and review it`);
  const want = readFileSync(path);
  expect(bytes.toString('latin1'), `${name} differs from its golden file`).toBe(want.toString('latin1'));
}

let hledgerChecked: boolean | undefined;

/** Whether the real hledger CLI is here; under CI its absence fails the run, elsewhere it is skipped loudly. */
export function hledgerAvailable(): boolean {
  if (hledgerChecked !== undefined) return hledgerChecked;
  if (spawnSync('hledger', ['--version'], { stdio: 'ignore' }).error === undefined) return (hledgerChecked = true);
  if (process.env.CI === 'true') throw new Error('hledger is required under CI to check the plain-text journal: apt-get install hledger');
  console.warn('\n!!! SKIPPED: hledger not installed: the hledger journal was not checked by hledger (apt-get install hledger).\n');
  return (hledgerChecked = false);
}
