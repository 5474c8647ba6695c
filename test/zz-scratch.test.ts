import { it, expect } from 'vitest';
import { openTestEnv } from './support/engines.ts';
import { seedCorpus, snapshot, restore, verify, columnsOf, baseTables } from './support/tamper-corpus.ts';

for (const engine of ['pglite', 'postgres'] as const) {
  it(`seeds on ${engine}`, async () => {
    let t = performance.now();
    const env = await openTestEnv(engine);
    console.log(engine, 'open', performance.now() - t); t = performance.now();
    const c = await seedCorpus(env);
    console.log(engine, 'seed', performance.now() - t, c.txs.length, c.checkpointSizes.join(','), 'solo', c.solo.seq); t = performance.now();
    const r = await verify(env, c);
    console.log(engine, 'verify', performance.now() - t, r.findings, r.entries_checked); t = performance.now();
    await snapshot(env);
    console.log(engine, 'snapshot', performance.now() - t); t = performance.now();
    await restore(env);
    console.log(engine, 'restore', performance.now() - t); t = performance.now();
    expect((await verify(env, c)).ok).toBe(true);
    console.log(await baseTables(env));
    console.log((await columnsOf(env, 'transactions')).map((x) => `${x.column}:${x.type}:${x.udt}:${x.nullable}`).join(' '));
    console.log(JSON.stringify(c.txs.map((x) => [x.seq, x.violations, x.accounting_code_source, x.type])));
    await env.close();
  });
}
