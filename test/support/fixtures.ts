import { afterAll, beforeAll } from 'vitest';
import type { AppDeps } from '../../src/app/deps.ts';
import { openTestEnv, postgresAvailable } from './engines.ts';
import type { EngineName, TestEnv } from './engines.ts';
import type { Principal } from '../../src/app/principal.ts';
import { createOrg, issueApiKey, upsertAccount, upsertAgent, upsertRule } from '../../src/app/setup.ts';
import type { PolicyVersion } from '../../src/app/policy-changes.ts';
import { approveChange, setPolicy } from '../../src/app/policy-changes.ts';
import type { PolicyTerms } from '../../src/domain/policy/policy.ts';
import { SpendtrailError } from '../../src/domain/errors.ts';
import type { TransactionInput } from '../../src/domain/ledger/transaction.ts';
import { parseTransactionInput } from '../../src/app/transaction-input.ts';

export interface Seeded {
  readonly admin: Principal;
  readonly adminKey: string;
}

/** A small organisation: two agents in two clusters, three accounts, rules and policies. */
export async function seedOrg(deps: AppDeps, orgId = 'acme', timezone?: string): Promise<Seeded> {
  const { admin } = await createOrg(deps, { org_id: orgId, name: 'Acme Corp', ...(timezone === undefined ? {} : { timezone }) });
  const p: Principal = { org_id: orgId, principal: 'admin', roles: ['admin'], agent_id: null, key_id: admin.key_id };
  await upsertAgent(deps, p, { agent_id: 'support-bot', name: 'Support bot', owner: 'alice@acme.test', cluster: 'support' });
  await upsertAgent(deps, p, { agent_id: 'research-bot', name: 'Research bot', owner: 'bob@acme.test', cluster: 'research' });
  await upsertAccount(deps, p, { code: '6400', name: 'Cloud infrastructure' });
  await upsertAccount(deps, p, { code: '6420', name: 'API services' });
  await upsertAccount(deps, p, { code: '6999', name: 'Uncategorised agent spend' });
  await upsertRule(deps, p, { kind: 'mcc', match: '4816', account_code: '6400' });
  await upsertRule(deps, p, { kind: 'merchant', match: 'OpenAI', account_code: '6420' });
  // The second person who approves budgets holds a key with the role, as the log records it.
  await issueApiKey(deps, p, { principal: approverFor(orgId).principal, roles: ['approver'] });
  await establishPolicy(deps, p, 'support-bot', {
    per_transaction_limit: '2500.00',
    daily_limit: '5000.00',
    monthly_limit: '20000.00',
    approval_threshold: '2000.00',
    blocked_categories: ['7995'],
    valid_from: '2026-01-01T00:00:00Z',
  });
  await establishPolicy(deps, p, 'research-bot', {
    per_transaction_limit: '500.00',
    daily_limit: '1000.00',
    monthly_limit: '5000.00',
    allowed_rails: ['x402', 'stripe'],
    valid_from: '2026-01-01T00:00:00Z',
  });
  return { admin: p, adminKey: admin.api_key };
}

/** A second person with the approver role, for changes that wait for one. */
export const approverFor = (orgId: string): Principal => ({
  org_id: orgId,
  principal: 'controller@acme.test',
  roles: ['approver'],
  agent_id: null,
  key_id: null,
});

/**
 * Sets an agent's whole policy the way an organisation does: proposed with a justification and
 * a ticket, and approved by a second person when the change widens spending.
 */
export async function establishPolicy(deps: AppDeps, by: Principal, agentId: string, terms: PolicyTerms): Promise<PolicyVersion> {
  const r = await setPolicy(deps, by, agentId, terms, { justification: 'Budget agreed with finance', approval_ticket: 'FIN-1' });
  if (r.version !== null) return r.version;
  const approved = await approveChange(deps, approverFor(by.org_id), r.change.change_id, 'agreed');
  if (approved.version === null) throw new Error('approved change produced no version');
  return approved.version;
}

/** A person of the seeded organisation acting with the given roles (no key: the app trusts the Principal). */
export const person = (principal: string, ...roles: Principal['roles']): Principal => ({
  org_id: 'acme',
  principal,
  roles,
  agent_id: null,
  key_id: null,
});

/** The code and field of the SpendtrailError a call fails with; fails the test when the call succeeds. */
export async function errorOf(p: Promise<unknown>): Promise<{ code: string; field: string | undefined }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SpendtrailError) return { code: e.code, field: e.field };
    throw e;
  }
  throw new Error('expected the call to fail');
}

/** Just the code of the error a call fails with. */
export const codeOf = async (p: Promise<unknown>): Promise<string> => (await errorOf(p)).code;

let n = 0;

/** One transaction as a client sends it (the README's input contract), with a fresh external id. */
export function rawTx(over: Partial<Record<string, unknown>> = {}): Record<string, unknown> {
  n += 1;
  return {
    external_id: `ch_${n}_${Math.random().toString(36).slice(2, 8)}`,
    agent_id: 'support-bot',
    timestamp: '2026-03-12T10:00:00Z',
    amount: '21.00',
    currency: 'USD',
    payment_rail: 'stripe',
    merchant: 'AWS',
    merchant_category: '4816',
    business_purpose: 'Model inference for support',
    accounting_code: null,
    approver: null,
    approval_ref: null,
    ...over,
  };
}

export const tx = (over: Partial<Record<string, unknown>> = {}): TransactionInput => parseTransactionInput(rawTx(over));

/**
 * A seeded organisation on one engine for a describe block: opened before its tests, closed
 * after, and skipped (loudly, by postgresAvailable) when PostgreSQL is not there.
 */
export function seededSuite(engine: EngineName, onReady: (env: TestEnv, org: Seeded) => void, timezone?: string): { skipped(): boolean } {
  let skipped = false;
  let env: TestEnv | undefined;
  beforeAll(async () => {
    if (engine === 'postgres' && !(await postgresAvailable())) {
      skipped = true;
      return;
    }
    env = await openTestEnv(engine);
    onReady(env, await seedOrg(env.deps, 'acme', timezone));
  });
  afterAll(async () => {
    await env?.close();
  });
  return { skipped: () => skipped };
}
