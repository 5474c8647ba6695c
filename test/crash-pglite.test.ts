/**
 * Crash on PGlite, the embedded default: the real server process on its data directory killed
 * with SIGKILL during continuous single-call ingest, then started again on the same files.
 * Every acknowledged write is there once, writes in doubt at most once, replays answer as
 * duplicates, verify passes, and the files the next start finds hold a log without gap or
 * repeat. (The CLI import cannot run beside a PGlite server: one process at a time.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rig, TrialResult } from './crash-harness.ts';
import { logShape, openPgliteRig, runSeed, shapeProblems, singleCallKillTrial, trialSeed, withPgliteDb } from './crash-harness.ts';

const SEED = runSeed();
console.log(`crash tests (PGlite): seed ${SEED} (CRASH_SEED=${SEED} to aim the kills the same way)`);

function expectNothingLost(r: TrialResult): void {
  expect(r.problems, `${r.scenario} #${r.trial} seed ${r.seed} at ${r.at}`).toEqual([]);
  expect(r.lost).toBe(0);
  expect(r.duplicated).toBe(0);
  expect(r.halfWritten).toBe(0);
  expect(r.verified).toBe(true);
}

describe('server killed with SIGKILL on PGlite (the embedded default)', () => {
  let rig: Rig | undefined;

  beforeAll(async () => {
    rig = await openPgliteRig('crash-pglite');
  }, 120_000);
  afterAll(async () => {
    await rig?.close();
  }, 60_000);

  it('keeps every acknowledged single call exactly once across a kill, and the log on disk has no gap', async () => {
    if (rig === undefined) throw new Error('no rig');
    const org = rig.orgs[0];
    if (org === undefined) throw new Error('no organisation');
    const r = await singleCallKillTrial(rig, org, { trial: 1, seed: trialSeed(SEED, 'pglite-single', 1), clients: 4, maxAcks: 60, maxExtraMs: 150, replays: 30 });
    expectNothingLost(r);
    expect(r.acked).toBeGreaterThan(0);
    // The files as the next start finds them: one position per entry, and the head agrees.
    await rig.server.stop();
    const shape = await withPgliteDb(rig, (db) => logShape(db, org.orgId));
    expect(shapeProblems(shape)).toEqual([]);
    expect(shape.positions).toBeGreaterThan(r.acked);
  }, 120_000);
});
