/**
 * Authorizations asked at the same moment are decided in groups (one unit of work for many
 * calls). Within a group: each agent's limit still holds across the calls, a bad call fails
 * alone, an id asked twice fails only the second asker, and the holds are the database's — a
 * fresh process state (no queue, no cached configuration) counts them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizeInput, AuthorizeResult } from '../src/app/authorize.ts';
import { authorize } from '../src/app/authorize.ts';
import type { AppDeps } from '../src/app/deps.ts';
import type { Principal } from '../src/app/principal.ts';
import { upsertAgent } from '../src/app/setup.ts';
import { SpendtrailError } from '../src/domain/errors.ts';
import { ENGINES, openTestEnv, postgresAvailable } from './support/engines.ts';
import type { EngineName, TestEnv } from './support/engines.ts';
import { establishPolicy, seedOrg } from './support/fixtures.ts';

const AGENTS = ['g-bot-1', 'g-bot-2', 'g-bot-3'];
const agentKey = (agent: string): Principal => ({ org_id: 'acme', principal: `${agent}-key`, roles: ['agent'], agent_id: agent, key_id: null });
const ask = (agent: string, amount: string, extra: Partial<AuthorizeInput> = {}): AuthorizeInput => ({
  agent_id: agent,
  amount,
  currency: 'USD',
  merchant: 'OpenAI',
  merchant_category: '5734',
  payment_rail: 'stripe',
  business_purpose: 'Model inference',
  ...extra,
});
const codeOf = (r: PromiseSettledResult<AuthorizeResult>): string =>
  r.status === 'fulfilled' ? r.value.decision : r.reason instanceof SpendtrailError ? r.reason.code : String(r.reason);

describe.each(ENGINES)('grouped authorizations on %s', (engine: EngineName) => {
  let env: TestEnv;
  let skip = false;

  beforeAll(async () => {
    if (engine === 'postgres' && !(await postgresAvailable())) {
      skip = true;
      return;
    }
    env = await openTestEnv(engine);
    const org = await seedOrg(env.deps, 'acme');
    env.clock.set('2026-03-20T12:00:00.000Z');
    for (const a of AGENTS) {
      await upsertAgent(env.deps, org.admin, { agent_id: a, name: a, owner: 'owner@acme.test', cluster: 'load' });
      await establishPolicy(env.deps, org.admin, a, { per_transaction_limit: '100.00', daily_limit: '100.00', monthly_limit: '5000.00', valid_from: '2026-01-01T00:00:00Z' });
    }
  });
  afterAll(async () => {
    if (!skip) await env.close();
  });

  it('keeps every agent within its limit, fails bad calls alone, and leaves the holds to the database', async (ctx) => {
    if (skip) return ctx.skip();
    // Ten asks of 30.00 per agent, interleaved, all at once: three fit in 100.00, the rest must not.
    const calls: Promise<AuthorizeResult>[] = [];
    for (let i = 0; i < 10; i++) for (const a of AGENTS) calls.push(authorize(env.deps, agentKey(a), ask(a, '30.00')));
    const bad = [
      authorize(env.deps, agentKey('g-bot-1'), ask('g-bot-1', '5.00', { currency: 'EUR' })),
      authorize(env.deps, agentKey('ghost-bot'), ask('ghost-bot', '5.00')),
      authorize(env.deps, agentKey('g-bot-2'), ask('g-bot-2', '0.00')),
    ];
    // Settled together: a refusal that arrives while the good calls are awaited is still handled.
    const [settled, badSettled] = await Promise.all([Promise.allSettled(calls), Promise.allSettled(bad)]);

    expect(badSettled.map(codeOf)).toEqual(['CURRENCY_MISMATCH', 'AGENT_NOT_FOUND', 'INVALID_AMOUNT']);
    expect(settled.every((s) => s.status === 'fulfilled')).toBe(true);
    for (const [k, a] of AGENTS.entries()) {
      const mine = settled.filter((_, i) => i % AGENTS.length === k).map(codeOf);
      expect(mine.filter((d) => d === 'allow')).toHaveLength(3);
      expect(mine.filter((d) => d !== 'allow').every((d) => d === 'deny')).toBe(true);
      const [held] = await env.sql(`select coalesce(sum(amount_minor), 0)::text as s from authorizations where agent_id = $1 and status = 'held'`, [a]);
      expect(BigInt(held?.s as string)).toBeLessThanOrEqual(10_000n);
    }

    // One id asked twice in one group (a Stripe retry racing its original): the group cannot
    // commit as a whole, so its calls are decided one by one and only the second asker fails.
    const pinned = '7f0e8a52-9d1c-4c1e-8f5e-2b7a3c4d5e6f';
    const pinnedDeps: AppDeps = { ...env.deps, ids: { uuid: () => pinned, secret: () => env.deps.ids.secret() } };
    const twice = await Promise.allSettled([
      authorize(env.deps, agentKey('g-bot-2'), ask('g-bot-2', '1.00')),
      authorize(env.deps, agentKey('g-bot-2'), ask('g-bot-2', '1.00')),
      authorize(pinnedDeps, agentKey('g-bot-3'), ask('g-bot-3', '1.00')),
      authorize(pinnedDeps, agentKey('g-bot-3'), ask('g-bot-3', '1.00')),
      authorize(env.deps, agentKey('g-bot-2'), ask('g-bot-2', '1.00')),
    ]);
    expect(twice.map(codeOf)).toEqual(['allow', 'allow', 'allow', 'IDEMPOTENCY_CONFLICT', 'allow']);

    // A fresh process state: another store object over the same database has no queue and no
    // cached configuration; the holds it counts are the committed ones.
    const fresh: AppDeps = { ...env.deps, store: Object.create(env.store) as typeof env.store };
    const after = await authorize(fresh, agentKey('g-bot-1'), ask('g-bot-1', '10.01'));
    expect(after.decision).toBe('deny');
    const fits = await authorize(fresh, agentKey('g-bot-1'), ask('g-bot-1', '10.00'));
    expect(fits.decision).toBe('allow');
  });
});
