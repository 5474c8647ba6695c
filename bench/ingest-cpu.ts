// CPU per transaction of the batch ingest, for before/after comparisons on a busy machine where
// wall-clock rates are noise: `node --import tsx bench/ingest-cpu.ts [count] [chunk]`.
// Records `count` transactions of the bench workload into a fresh PostgreSQL database, then
// prints Node's CPU (process.cpuUsage) and the CPU of this database's own backends (from /proc,
// so other clients of the server do not count) per 1,000 transactions, and verifies the log.
import { ephemeralSigner } from '../src/adapters/signing/note-signer.ts';
import { createStore } from '../src/adapters/store/create-store.ts';
import type { AppDeps } from '../src/app/deps.ts';
import { systemClock } from '../src/app/ports/clock.ts';
import { randomIds } from '../src/app/ports/id-source.ts';
import { ingest, verifyAll } from './ingest.ts';
import { dropDatabases, freshDatabase, pgQuery, procCpuSeconds } from './support.ts';
import { Workload, seedBenchOrg } from './workload.ts';

const count = Number(process.argv[2] ?? 20_000);
const chunk = Number(process.argv[3] ?? 5000);
const { name, url } = await freshDatabase('cpu');
const backends = async (): Promise<number[]> =>
  (await pgQuery<{ pid: number }>(url, 'select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()')).map((r) => r.pid);
try {
  const store = await createStore(url);
  const signer = ephemeralSigner('spendtrail.bench');
  const deps: AppDeps = { store, clock: systemClock, ids: randomIds, signer };
  const { operator } = await seedBenchOrg(deps);
  const pg0 = new Map((await backends()).map((pid) => [pid, procCpuSeconds(pid)]));
  const cpu0 = process.cpuUsage();
  const stats = await ingest(deps, operator, new Workload(count), chunk, () => undefined);
  const cpu = process.cpuUsage(cpu0);
  // Backends opened during the run count from zero (their start-up is part of the ingest).
  const pgS = (await backends()).reduce((s, pid) => s + procCpuSeconds(pid) - (pg0.get(pid) ?? 0), 0);
  const nodeMs = (cpu.user + cpu.system) / 1000;
  const per = (ms: number): string => ((ms * 1000) / count).toFixed(0);
  const verify = await verifyAll(deps, operator, signer.note);
  await store.close();
  console.log(
    JSON.stringify({
      count,
      chunk,
      tx_per_s: Math.round(count / (stats.wall_ms / 1000)),
      node_cpu_ms_per_1k: Number(per(nodeMs)),
      pg_cpu_ms_per_1k: Number(per(pgS * 1000)),
      parse_ms: Math.round(stats.parse_ms),
      js_ms: Math.round(stats.js_ms),
      db_wait_ms: Math.round(stats.db_wait_ms),
      begin_commit_ms: Math.round(stats.begin_commit_ms),
      top_calls: stats.top_calls.slice(0, 5).map((c) => `${c.name} ${Math.round(c.ms)}`),
      verify_ok: verify.ok,
    }),
  );
  if (!verify.ok) process.exitCode = 1;
} finally {
  await dropDatabases([name]);
}
