/**
 * `npm run soak`: the long crash and database-fault runs of docs/reliability.md, against the real
 * server process on 127.0.0.1. Prints one line per trial and a table at the end; exits 1 when any
 * trial lost, duplicated or half-wrote anything, failed verify, or answered other than cleanly.
 *
 *   CRASH_SEED=<n>            aim the faults as a previous run did (its seed is printed first)
 *   SOAK_TRIALS=20            trials of each kill scenario
 *   SOAK_PGLITE_TRIALS=20     single-call trials on PGlite (0 skips PGlite)
 *   SOAK_PGLITE_IMPORTS=10    API import trials on PGlite (one organisation: its log grows)
 *   SOAK_LARGE_LINES=1000000  lines of the large CLI import (0 skips it)
 *   SOAK_LARGE_KILLS=3        kills during the large import
 *   SOAK_OUTAGES=20           database connections cut through a loopback proxy
 *   SOAK_PG_RESTARTS=5        restarts of the machine's PostgreSQL under load (0 skips them)
 *   SOAK_PG_RESTART_FORCE=1   restart even when other sessions use the server (they will see errors)
 *   SOAK_ONLY=single,api,cli,large,pglite,outage,restart   a subset
 *
 * PostgreSQL restarts affect everything on the server: they wait for a moment when no other
 * session is connected (up to two minutes) and are skipped, loudly, when none comes.
 */
import type { Org, Rig, TrialResult } from '../../test/crash-harness.ts';
import {
  apiImportKillTrial,
  cliImportKillTrial,
  largeCliImportTrial,
  openPgliteRig,
  openPostgresRig,
  runSeed,
  singleCallKillTrial,
  sleep,
  trialSeed,
  waitFor,
} from '../../test/crash-harness.ts';
import { PG_URL, postgresAvailable } from '../../test/support/engines.ts';
import { TcpProxy, localCluster, otherSessions, outageTrial, restartPostgres } from '../../test/db-fault-harness.ts';

const env = process.env;
const num = (name: string, fallback: number): number => {
  const v = env[name];
  return v === undefined || v === '' ? fallback : Number(v);
};
const SEED = runSeed();
const TRIALS = num('SOAK_TRIALS', 20);
const PGLITE_TRIALS = num('SOAK_PGLITE_TRIALS', 20);
const PGLITE_IMPORTS = num('SOAK_PGLITE_IMPORTS', 10);
const LARGE_LINES = num('SOAK_LARGE_LINES', 1_000_000);
const LARGE_KILLS = num('SOAK_LARGE_KILLS', 3);
const OUTAGES = num('SOAK_OUTAGES', 20);
const PG_RESTARTS = num('SOAK_PG_RESTARTS', 5);
const ONLY = new Set((env.SOAK_ONLY ?? 'single,api,cli,large,pglite,outage,restart').split(',').map((s) => s.trim()));

const log = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

const results: TrialResult[] = [];
const skipped: string[] = [];

function report(r: TrialResult): void {
  results.push(r);
  const bad = r.problems.length > 0 || r.lost > 0 || r.duplicated > 0 || r.halfWritten > 0 || !r.verified;
  log(
    `${bad ? 'FAIL' : 'ok  '} ${r.engine} ${r.scenario} #${r.trial} seed ${r.seed} | ${r.at} | acked ${r.acked}, in doubt ${r.inDoubt} (${r.inDoubtWritten} written), ` +
      `lost ${r.lost}, dup ${r.duplicated}, half ${r.halfWritten}, verify ${r.verified ? 'ok' : 'FAILED'}, recovery ${r.recoveryMs} ms${r.errors === '' ? '' : ` | ${r.errors}`}`,
  );
  for (const p of r.problems.slice(0, 10)) log(`       ${p}`);
}

async function onPostgres(firstOrg: string, fn: (rig: Rig) => Promise<void>, options: Parameters<typeof openPostgresRig>[1] = {}): Promise<void> {
  const rig = await openPostgresRig(firstOrg, options);
  try {
    await fn(rig);
  } finally {
    await rig.close();
  }
}

const orgFor = async (rig: Rig, id: string, trial: number): Promise<Org> => (trial === 1 ? (rig.orgs[0] as Org) : rig.newOrg(id));

async function main(): Promise<void> {
  log(`soak: seed ${SEED} (CRASH_SEED=${SEED} to aim the faults the same way)`);
  const started = Date.now();
  const pg = await postgresAvailable();
  if (!pg) log('!!! PostgreSQL is unreachable: only the PGlite trials run');

  if (pg && ONLY.has('single')) {
    log(`\n== single-call ingest, server SIGKILL (PostgreSQL) × ${TRIALS}`);
    await onPostgres('soak-single-1', async (rig) => {
      for (let t = 1; t <= TRIALS; t++) {
        const org = await orgFor(rig, `soak-single-${t}`, t);
        report(await singleCallKillTrial(rig, org, { trial: t, seed: trialSeed(SEED, 'single', t), clients: 16, maxAcks: 3000, maxExtraMs: 500, replays: 300 }));
      }
    });
  }
  if (pg && ONLY.has('api')) {
    log(`\n== import via API, server SIGKILL (PostgreSQL) × ${TRIALS}`);
    await onPostgres('soak-api-1', async (rig) => {
      for (let t = 1; t <= TRIALS; t++) {
        const org = await orgFor(rig, `soak-api-${t}`, t);
        report(await apiImportKillTrial(rig, org, { trial: t, seed: trialSeed(SEED, 'api-import', t), lines: 20_000, chunk: 1000 }));
      }
    });
  }
  if (pg && ONLY.has('cli')) {
    log(`\n== import via CLI, CLI SIGKILL (PostgreSQL) × ${TRIALS}`);
    await onPostgres('soak-cli-1', async (rig) => {
      for (let t = 1; t <= TRIALS; t++) {
        const org = await orgFor(rig, `soak-cli-${t}`, t);
        report(await cliImportKillTrial(rig, org, { trial: t, seed: trialSeed(SEED, 'cli-import', t), lines: 20_000, chunk: 1000 }));
      }
    });
  }
  if (pg && ONLY.has('large') && LARGE_LINES > 0) {
    log(`\n== import of ${LARGE_LINES} lines via CLI, ${LARGE_KILLS} × CLI SIGKILL (PostgreSQL)`);
    await onPostgres('soak-large', async (rig) => {
      report(await largeCliImportTrial(rig, rig.orgs[0] as Org, { trial: 1, seed: trialSeed(SEED, 'large', 1), lines: LARGE_LINES, chunk: 2000, kills: LARGE_KILLS, log }));
    });
  }
  if (ONLY.has('pglite') && PGLITE_TRIALS > 0) {
    log(`\n== single-call ingest, server SIGKILL (PGlite) × ${PGLITE_TRIALS}`);
    const rig = await openPgliteRig('soak-pglite');
    try {
      for (let t = 1; t <= PGLITE_TRIALS; t++) {
        report(await singleCallKillTrial(rig, rig.orgs[0] as Org, { trial: t, seed: trialSeed(SEED, 'pglite-single', t), clients: 8, maxAcks: 600, maxExtraMs: 500, replays: 100 }));
      }
      log(`\n== import via API, server SIGKILL (PGlite) × ${PGLITE_IMPORTS}`);
      for (let t = 1; t <= PGLITE_IMPORTS; t++) {
        report(await apiImportKillTrial(rig, rig.orgs[0] as Org, { trial: t, seed: trialSeed(SEED, 'pglite-api-import', t), lines: 4000, chunk: 500 }));
      }
    } finally {
      await rig.close();
    }
  }
  if (pg && ONLY.has('outage') && OUTAGES > 0) {
    log(`\n== database connections cut under load (loopback proxy, PostgreSQL) × ${OUTAGES}`);
    const proxy = TcpProxy.forUrl(PG_URL);
    await proxy.start();
    try {
      await onPostgres(
        'soak-outage-1',
        async (rig) => {
          for (let t = 1; t <= OUTAGES; t++) {
            const org = await orgFor(rig, `soak-outage-${t}`, t);
            const seed = trialSeed(SEED, 'outage', t);
            const downMs = 200 + (seed % 2800);
            const outage = Object.assign(
              async () => {
                const s = Date.now();
                await proxy.cut();
                await sleep(downMs);
                await proxy.restore();
                return Date.now() - s;
              },
              { label: 'database connections cut (proxy)' },
            );
            report(await outageTrial(rig, org, outage, { trial: t, seed, clients: 12, minDelayMs: 1000, maxDelayMs: 4000, afterMs: 1500, importLines: 200_000, chunk: 500 }));
          }
        },
        { serverUrl: (u) => proxy.url(u) },
      );
    } finally {
      await proxy.close();
    }
  }
  if (pg && ONLY.has('restart') && PG_RESTARTS > 0) {
    const cluster = localCluster();
    if (cluster === undefined) skipped.push('PostgreSQL restarts: no local cluster under /etc/postgresql');
    else {
      log(`\n== PostgreSQL ${cluster.version}/${cluster.name} restarted under load × ${PG_RESTARTS}`);
      await onPostgres('soak-restart-1', async (rig) => {
        for (let t = 1; t <= PG_RESTARTS; t++) {
          const ours = [rig.databaseName ?? ''];
          let others: string[] = [];
          const quiet = env.SOAK_PG_RESTART_FORCE === '1' || (await waitFor(async () => (others = await otherSessions(ours)).length === 0, 120_000, 1000));
          if (!quiet) {
            skipped.push(`PostgreSQL restart #${t}: other sessions were connected (${others.join(', ')}); not restarted`);
            log(`!!! SKIPPED PostgreSQL restart #${t}: other sessions connected (${others.join(', ')})`);
            continue;
          }
          const org = await orgFor(rig, `soak-restart-${t}`, t);
          const outage = Object.assign(() => restartPostgres(cluster), { label: 'PostgreSQL restarted (pg_ctlcluster restart -m fast)' });
          report(await outageTrial(rig, org, outage, { trial: t, seed: trialSeed(SEED, 'restart', t), clients: 12, minDelayMs: 1000, maxDelayMs: 4000, afterMs: 2000, importLines: 200_000, chunk: 500 }));
        }
      });
    }
  }

  // The summary: one row per scenario.
  const by = new Map<string, TrialResult[]>();
  for (const r of results) {
    const k = `${r.scenario} (${r.engine})`;
    by.set(k, [...(by.get(k) ?? []), r]);
  }
  log(`\n| what was tried | trials | acknowledged | in doubt (written) | lost | duplicated | half-written | verify failed | errors answered | seeds |`);
  log('|---|---|---|---|---|---|---|---|---|---|');
  for (const [k, rs] of by) {
    const sum = (f: (r: TrialResult) => number): number => rs.reduce((a, r) => a + f(r), 0);
    const errors = new Map<string, number>();
    for (const r of rs) {
      for (const part of r.errors.split(', ').filter(Boolean)) {
        const m = /^(\d+)×(.*)$/.exec(part);
        if (m?.[1] !== undefined && m[2] !== undefined) errors.set(m[2], (errors.get(m[2]) ?? 0) + Number(m[1]));
      }
    }
    log(
      `| ${k} | ${rs.length} | ${sum((r) => r.acked)} | ${sum((r) => r.inDoubt)} (${sum((r) => r.inDoubtWritten)}) | ${sum((r) => r.lost)} | ${sum((r) => r.duplicated)} | ` +
        `${sum((r) => r.halfWritten)} | ${rs.filter((r) => !r.verified).length} | ${[...errors].map(([e, n]) => `${n}× ${e}`).join(', ') || '–'} | ${rs.map((r) => r.seed).join(' ')} |`,
    );
  }
  for (const s of skipped) log(`skipped: ${s}`);
  const failed = results.filter((r) => r.problems.length > 0 || r.lost > 0 || r.duplicated > 0 || r.halfWritten > 0 || !r.verified);
  log(`\nsoak: ${results.length} trials, ${failed.length} failed, seed ${SEED}, ${Math.round((Date.now() - started) / 1000)} s`);
  process.exitCode = failed.length > 0 ? 1 : 0;
}

main().catch((e: unknown) => {
  log(`soak: aborted: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 2;
});
