import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestEnv } from '../../test/support/engines.ts';
import type { TestEnv } from '../../test/support/engines.ts';
import { seedOrg, tx } from '../../test/support/fixtures.ts';
import type { Seeded } from '../../test/support/fixtures.ts';
import { TransactionBatcher } from './transaction-batcher.ts';
import { verifyLog } from './verify.ts';

let env: TestEnv;
let org: Seeded;

beforeAll(async () => {
  env = await openTestEnv('pglite');
  org = await seedOrg(env.deps);
});
afterAll(() => env.close());

describe('group commit of single calls', () => {
  it('commits concurrent calls together and gives each its own result or error', async () => {
    const batcher = new TransactionBatcher(env.deps);
    const checkpointsBefore = (await env.store.listCheckpoints('acme')).length;
    const inputs = Array.from({ length: 120 }, (_, i) => tx({ external_id: `gc_${i}`, amount: '1.00' }));
    inputs[57] = tx({ external_id: 'gc_bad', agent_id: 'ghost-bot' });
    const settled = await Promise.allSettled(inputs.map((t) => batcher.submit(org.admin, t)));
    const failed = settled.filter((s) => s.status === 'rejected');
    expect(failed).toHaveLength(1);
    expect((failed[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'AGENT_NOT_FOUND', field: 'agent_id' });
    const ok = settled.filter((s): s is PromiseFulfilledResult<Awaited<ReturnType<TransactionBatcher['submit']>>> => s.status === 'fulfilled');
    expect(new Set(ok.map((s) => s.value.transaction.tx_id)).size).toBe(119);
    const commits = (await env.store.listCheckpoints('acme')).length - checkpointsBefore;
    // The first call commits alone; everything that queued behind it shares the next commits.
    expect(commits).toBeLessThanOrEqual(3);
    expect((await verifyLog(env.deps, org.admin, env.signer.note)).ok).toBe(true);
  });

  it('returns the original to a replay queued in the same group', async () => {
    const batcher = new TransactionBatcher(env.deps);
    const t = tx({ external_id: 'gc_twice' });
    const [a, b] = await Promise.all([batcher.submit(org.admin, t), batcher.submit(org.admin, t)]);
    expect(a.transaction.tx_id).toBe(b.transaction.tx_id);
    expect([a.status, b.status].sort()).toEqual(['duplicate', 'recorded']);
  });
});
