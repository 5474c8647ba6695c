/**
 * Concurrency: 50 writers recording batches and 50 authorizers asking for budget on one agent,
 * all at once (some authorizers settle their allowed hold right away by recording the payment).
 * Afterwards, computed from the tables independently of the product's own code: allowed holds
 * plus recorded spend never exceed the daily limit, the log verifies, and the Merkle root
 * recomputed serially from the stored leaves is the root of the newest signed checkpoint.
 * On PGlite the single connection serialises the units of work; the invariants are the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizeResult } from '../src/app/authorize.ts';
import { authorize } from '../src/app/authorize.ts';
import type { Principal } from '../src/app/principal.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { upsertAgent } from '../src/app/setup.ts';
import { verifyLog } from '../src/app/verify.ts';
import { openCheckpoint } from '../src/domain/checkpoint/checkpoint.ts';
import { rootOf } from '../src/domain/merkle/tree-hash.ts';
import { ENGINES, postgresAvailable } from './support/engines.ts';
import type { EngineName, TestEnv } from './support/engines.ts';
import type { Seeded } from './support/fixtures.ts';
import { establishPolicy, seedOrg, tx } from './support/fixtures.ts';
import { openSerializedEnv, toBuf } from './support/tamper-corpus.ts';

const ORG = 'acme';
const DAY = '2026-03-20';
const DAILY_LIMIT_MINOR = 100_000n; // 1000.00
// Recorded before the rush, without authorizations: the remaining 300.00 is gone within the first
// wave of concurrent authorizers, so a missing agent lock would show as overspend.
const BASE_MINOR = 70_000n;
const WRITERS = 50;
const AUTHORIZERS = 50;

describe.each(ENGINES)('concurrency on %s', (engine: EngineName) => {
  let env: TestEnv;
  let org: Seeded;
  let skip = false;
  const agent: Principal = { org_id: ORG, principal: 'conc-bot-key', roles: ['agent'], agent_id: 'conc-bot', key_id: null };

  beforeAll(async () => {
    if (engine === 'postgres' && !(await postgresAvailable())) {
      skip = true;
      return;
    }
    env = await openSerializedEnv(engine);
    org = await seedOrg(env.deps, ORG);
    await upsertAgent(env.deps, org.admin, { agent_id: 'conc-bot', name: 'Concurrent bot', owner: 'eve@acme.test', cluster: 'load' });
    await establishPolicy(env.deps, org.admin, 'conc-bot', {
      per_transaction_limit: '100.00',
      daily_limit: '1000.00',
      monthly_limit: '20000.00',
      valid_from: '2026-01-01T00:00:00Z',
    });
  });
  afterAll(async () => {
    if (!skip) await env.close();
  });

  it('keeps allowed holds plus recorded spend within the daily limit, verifies, and agrees with the signed root', async (ctx) => {
    if (skip) return ctx.skip();
    env.clock.set(`${DAY}T12:00:00.000Z`);
    const base = await recordTransactions(
      env.deps,
      agent,
      Array.from({ length: 7 }, (_, i) => tx({ agent_id: 'conc-bot', external_id: `conc_base_${i}`, amount: '100.00', timestamp: `${DAY}T08:0${i}:00Z` })),
    );
    expect(base.every((o) => o.ok && o.result.transaction.violations.length === 0)).toBe(true);

    let writtenByWriters = 0;
    const writer = async (i: number): Promise<void> => {
      const size = 1 + (i % 5);
      writtenByWriters += size;
      const batch = Array.from({ length: size }, (_, j) =>
        i % 10 === 9 && j === 0
          ? // conc-bot spend on another day: the same agent's rows, a different daily window.
            tx({ agent_id: 'conc-bot', external_id: `w_${i}_${j}`, amount: '99.00', timestamp: '2026-03-19T10:00:00Z' })
          : tx({
              agent_id: i % 2 === 0 ? 'support-bot' : 'research-bot',
              payment_rail: i % 2 === 0 ? 'stripe' : 'x402',
              external_id: `w_${i}_${j}`,
              amount: `${(i * 7 + j) % 90 + 1}.25`,
              timestamp: `${DAY}T1${j}:${String(i % 60).padStart(2, '0')}:00Z`,
            }),
      );
      const out = await recordTransactions(env.deps, org.admin, batch);
      expect(out.map((o) => o.ok && o.result.status)).toEqual(batch.map(() => 'recorded'));
    };

    const decisions: { amount: bigint; result: AuthorizeResult }[] = [];
    let settled = 0;
    const authorizer = async (i: number): Promise<void> => {
      const amount = BigInt(10 + ((i * 37) % 91)); // 10..100 whole dollars
      const result = await authorize(env.deps, agent, {
        agent_id: 'conc-bot',
        amount: `${amount}.00`,
        currency: 'USD',
        merchant: 'AWS',
        merchant_category: '4816',
        payment_rail: 'stripe',
        business_purpose: 'Load test',
      });
      decisions.push({ amount: amount * 100n, result });
      if (result.decision === 'allow' && i % 2 === 0) {
        // The payment goes through: recorded with its authorization, which settles the hold.
        const [o] = await recordTransactions(env.deps, agent, [
          tx({ agent_id: 'conc-bot', external_id: `settle_${i}`, amount: `${amount}.00`, timestamp: `${DAY}T12:00:00Z`, authorization_id: result.authorization_id }),
        ]);
        expect(o?.ok).toBe(true);
        settled++;
      }
    };

    const tasks: Promise<void>[] = [];
    for (let i = 0; i < Math.max(WRITERS, AUTHORIZERS); i++) {
      if (i < AUTHORIZERS) tasks.push(authorizer(i));
      if (i < WRITERS) tasks.push(writer(i));
    }
    await Promise.all(tasks);
    expect(decisions).toHaveLength(AUTHORIZERS);

    // Independently of the product's code: the budget as the tables hold it.
    const auths = await env.sql(
      `select amount_minor, decision, status, reasons::text as reasons, settled_tx_id::text as settled_tx_id from authorizations
        where org_id = $1 and agent_id = 'conc-bot' and day = $2`,
      [ORG, DAY],
    );
    expect(auths).toHaveLength(AUTHORIZERS);
    const minor = (v: unknown): bigint => BigInt(String(v));
    const allowed = auths.filter((a) => a.decision === 'allow');
    const held = allowed.filter((a) => a.status === 'held').reduce((s, a) => s + minor(a.amount_minor), 0n);
    const [rec] = await env.sql(
      `select coalesce(sum(reporting_minor), 0) as total, count(*) as n from transactions
        where org_id = $1 and agent_id = 'conc-bot' and ts >= $2::timestamptz and ts < $3::timestamptz`,
      [ORG, `${DAY}T00:00:00Z`, '2026-03-21T00:00:00Z'],
    );
    const recorded = minor(rec?.total);
    expect(held + recorded).toBeLessThanOrEqual(DAILY_LIMIT_MINOR);
    // Stronger: every allow ever given (held or since settled) plus the unauthorized base.
    const everAllowed = allowed.reduce((s, a) => s + minor(a.amount_minor), 0n);
    expect(everAllowed + BASE_MINOR).toBeLessThanOrEqual(DAILY_LIMIT_MINOR);
    expect(recorded).toBe(BASE_MINOR + allowed.filter((a) => a.status === 'settled').reduce((s, a) => s + minor(a.amount_minor), 0n));
    expect(allowed.filter((a) => a.status === 'settled')).toHaveLength(settled);
    expect(Number(rec?.n)).toBe(base.length + settled);
    // Not vacuous: the limit bound, and nothing was refused while it still had room for it.
    const overBudget = auths.filter((a) => a.decision === 'deny' && String(a.reasons).includes('daily_budget_exceeded'));
    expect(overBudget.length).toBeGreaterThan(0);
    expect(auths.every((a) => a.decision === 'allow' || a.decision === 'deny')).toBe(true);
    const headroom = DAILY_LIMIT_MINOR - held - recorded;
    const smallestRefused = overBudget.reduce((m, a) => (minor(a.amount_minor) < m ? minor(a.amount_minor) : m), DAILY_LIMIT_MINOR);
    expect(headroom).toBeLessThan(smallestRefused);
    // The product's answers agree with the rows.
    expect(decisions.filter((d) => d.result.decision === 'allow').reduce((s, d) => s + d.amount, 0n)).toBe(everAllowed);

    const report = await verifyLog(env.deps, org.admin, env.signer.note);
    expect(report.findings).toEqual([]);
    expect(report.ok).toBe(true);

    // The tree, recomputed serially from the stored order of both entry tables.
    const leaves = await env.sql(
      `select seq, leaf_hash from log_entries where org_id = $1 union all
       select seq, leaf_hash from transactions where org_id = $1 order by seq`,
      [ORG],
    );
    expect(leaves.map((l) => Number(l.seq))).toEqual(leaves.map((_, i) => i)); // dense: no gap, no duplicate
    const [txCount] = await env.sql(`select count(*) as n from transactions where org_id = $1`, [ORG]);
    expect(Number(txCount?.n)).toBe(base.length + writtenByWriters + settled);
    const [latest] = await env.sql(`select tree_size, root, note from checkpoints where org_id = $1 order by tree_size desc limit 1`, [ORG]);
    const root = rootOf(leaves.map((l) => toBuf(l.leaf_hash)));
    expect(Number(latest?.tree_size)).toBe(leaves.length);
    expect(toBuf(latest?.root).equals(root)).toBe(true);
    const signed = openCheckpoint(String(latest?.note), env.signer.note);
    expect(signed.size).toBe(leaves.length);
    expect(signed.root.equals(root)).toBe(true);
    expect(report.root).toBe(root.toString('base64'));
  });
});
