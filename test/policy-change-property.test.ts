import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveChange, proposePolicyChange, rejectChange } from '../src/app/policy-changes.ts';
import type { Principal } from '../src/app/principal.ts';
import { listChanges } from '../src/app/change-history.ts';
import { showPolicy } from '../src/app/ledger-queries.ts';
import { createOrg, upsertAgent } from '../src/app/setup.ts';
import { verifyLog } from '../src/app/verify.ts';
import { SpendtrailError } from '../src/domain/errors.ts';
import { ENGINES, openTestEnv, postgresAvailable } from './support/engines.ts';
import type { EngineName, TestEnv } from './support/engines.ts';
import { establishPolicy } from './support/fixtures.ts';

type Op = { kind: 'propose'; limit: number } | { kind: 'approve'; pick: number } | { kind: 'reject'; pick: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('propose' as const), limit: fc.integer({ min: 10, max: 40 }).map((n) => n * 500) }),
  fc.record({ kind: fc.constant('approve' as const), pick: fc.nat(20) }),
  fc.record({ kind: fc.constant('reject' as const), pick: fc.nat(20) }),
);

/** What the rules say must happen, kept beside the product and compared after every step. */
interface Model {
  version: number;
  limit: number;
  changes: { id: string; base: number; target: number; state: 'pending' | 'applied' | 'rejected' | 'at_once' }[];
}

const money = (n: number): string => `${n}.00`;

async function codeOf(p: Promise<unknown>): Promise<string | null> {
  try {
    await p;
    return null;
  } catch (e) {
    if (e instanceof SpendtrailError) return e.code;
    throw e;
  }
}

describe.each(ENGINES)('policy in force under any sequence of proposals and decisions on %s', (engine: EngineName) => {
  let env: TestEnv;
  let skip = false;
  let n = 0;
  beforeAll(async () => {
    if (engine === 'postgres' && !(await postgresAvailable())) {
      skip = true;
      return;
    }
    env = await openTestEnv(engine);
  });
  afterAll(async () => {
    if (!skip) await env.close();
  });

  it('equals the last approved (or narrowing) version, and the log verifies', async (ctx) => {
    if (skip) return ctx.skip();
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 10 }), async (ops) => {
        n += 1;
        const orgId = `prop-${n}`;
        await createOrg(env.deps, { org_id: orgId, name: `Property ${n}` });
        const admin: Principal = { org_id: orgId, principal: 'operator@cli', roles: ['admin'], agent_id: null, key_id: null };
        const carol: Principal = { org_id: orgId, principal: 'carol@x.test', roles: ['policy_admin'], agent_id: null, key_id: null };
        const dave: Principal = { org_id: orgId, principal: 'dave@x.test', roles: ['approver'], agent_id: null, key_id: null };
        await upsertAgent(env.deps, admin, { agent_id: 'bot', name: 'Bot', owner: 'owner@x.test', cluster: 'c' });
        await establishPolicy(env.deps, admin, 'bot', { monthly_limit: money(5000) });
        const m: Model = { version: 1, limit: 5000, changes: [] };

        for (const o of ops) {
          if (o.kind === 'propose') {
            const call = proposePolicyChange(env.deps, carol, {
              agent_id: 'bot',
              changes: { monthly_limit: money(o.limit) },
              justification: 'property',
              approval_ticket: 'FIN-7',
            });
            if (o.limit === m.limit) {
              expect(await codeOf(call)).toBe('NO_CHANGE');
              continue;
            }
            const r = await call;
            if (o.limit > m.limit) {
              expect(r.change.status).toBe('pending');
              m.changes.push({ id: r.change.change_id, base: m.version, target: o.limit, state: 'pending' });
            } else {
              expect(r.change.status).toBe('applied');
              m.version += 1;
              m.limit = o.limit;
              m.changes.push({ id: r.change.change_id, base: m.version - 1, target: o.limit, state: 'at_once' });
            }
          } else if (m.changes.length > 0) {
            const c = m.changes[o.pick % m.changes.length] as Model['changes'][number];
            const call = o.kind === 'approve' ? approveChange(env.deps, dave, c.id) : rejectChange(env.deps, dave, c.id, 'no');
            const expected =
              c.state !== 'pending' ? 'CHANGE_NOT_PENDING' : o.kind === 'approve' && c.base !== m.version ? 'CHANGE_STALE' : null;
            expect(await codeOf(call)).toBe(expected);
            if (expected === null && o.kind === 'approve') {
              c.state = 'applied';
              m.version += 1;
              m.limit = c.target;
            } else if (expected === null) c.state = 'rejected';
          }
          const doc = (await showPolicy(env.deps, admin, 'bot')).document;
          expect([doc.version, doc.monthly_limit]).toEqual([m.version, money(m.limit)]);
        }
        // The change log tells the same story: every change in its state.
        const listed = await listChanges(env.deps, admin, { agent_id: 'bot' });
        const state = (c: Model['changes'][number]): string =>
          c.state === 'at_once' ? 'applied' : c.state === 'pending' && c.base !== m.version ? 'superseded' : c.state;
        expect(listed.slice(1).map((c) => [c.change_id, c.status])).toEqual(m.changes.map((c) => [c.id, state(c)]));
        expect((await verifyLog(env.deps, admin, env.signer.note)).findings).toEqual([]);
      }),
      { numRuns: engine === 'pglite' ? 25 : 15 },
    );
  }, 180_000);
});
