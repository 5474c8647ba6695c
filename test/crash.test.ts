/**
 * Crash: the real server process (and the CLI importer) killed with SIGKILL at seeded random
 * points while clients write, then started again. After each restart every acknowledged write
 * is stored exactly once with the id it was acknowledged with, nothing else is stored but the
 * writes in doubt at the kill (whole, or not at all), resending and replaying answer as
 * duplicates instead of writing twice, the log has no gap or repeat, and verify passes.
 *
 * PostgreSQL here, PGlite in crash-pglite.test.ts. One trial of each kind here; `npm run soak`
 * runs twenty of each and more (docs/reliability.md). The run's seed is printed;
 * CRASH_SEED=<seed> aims the kills the same way again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable } from './support/engines.ts';
import type { Rig, TrialResult } from './crash-harness.ts';
import { apiImportKillTrial, cliImportKillTrial, openPostgresRig, runSeed, singleCallKillTrial, trialSeed } from './crash-harness.ts';

const SEED = runSeed();
console.log(`crash tests: seed ${SEED} (CRASH_SEED=${SEED} to aim the kills the same way)`);

/** What every trial must show, whatever the scenario. */
function expectNothingLost(r: TrialResult): void {
  expect(r.problems, `${r.scenario} #${r.trial} seed ${r.seed} at ${r.at}`).toEqual([]);
  expect(r.lost).toBe(0);
  expect(r.duplicated).toBe(0);
  expect(r.halfWritten).toBe(0);
  expect(r.verified).toBe(true);
}

describe('server killed with SIGKILL on PostgreSQL', () => {
  let rig: Rig | undefined;
  let skip = false;

  beforeAll(async () => {
    if (!(await postgresAvailable())) {
      skip = true;
      return;
    }
    rig = await openPostgresRig('crash-single-1');
  }, 120_000);
  afterAll(async () => {
    await rig?.close();
  }, 60_000);

  it('keeps every acknowledged single call exactly once across a kill, and writes in doubt at most once', async (ctx) => {
    if (skip || rig === undefined) return ctx.skip();
    const org = rig.orgs[0];
    if (org === undefined) throw new Error('no organisation');
    const r = await singleCallKillTrial(rig, org, { trial: 1, seed: trialSeed(SEED, 'single', 1), clients: 6, maxAcks: 80, maxExtraMs: 150, replays: 40 });
    expectNothingLost(r);
    // The kill came in the middle of the load: writes were acknowledged and some were in flight.
    expect(r.acked).toBeGreaterThan(0);
    expect(r.inDoubt).toBeGreaterThan(0);
    expect(r.replayed).toBeGreaterThan(0);
  }, 120_000);

  it('resumes an API import killed mid-file: acknowledged chunks replay as duplicates, the chunk in flight is whole or absent', async (ctx) => {
    if (skip || rig === undefined) return ctx.skip();
    const org = await rig.newOrg('crash-import-api');
    const r = await apiImportKillTrial(rig, org, { trial: 1, seed: trialSeed(SEED, 'api-import', 1), lines: 3000, chunk: 250 });
    expectNothingLost(r);
    expect(r.inDoubt).toBeGreaterThan(0);
  }, 120_000);

  it('leaves whole chunks when the CLI import is killed, and the same command again records the rest once', async (ctx) => {
    if (skip || rig === undefined) return ctx.skip();
    const org = await rig.newOrg('crash-import-cli');
    const r = await cliImportKillTrial(rig, org, { trial: 1, seed: trialSeed(SEED, 'cli-import', 1), lines: 3000, chunk: 250 });
    expectNothingLost(r);
  }, 120_000);
});
