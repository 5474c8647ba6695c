// Issue 9: "first start on the embedded default, demo month loaded: ≤ 10 s from `npm start` to
// serving". Each run starts `node bin/spendtrail.js serve` (what `npm start` runs) with a fresh,
// empty SPENDTRAIL_HOME and no DATABASE_URL, so the server takes the embedded default: PGlite
// runs initdb in <home>/db, migrates, loads the demo month and only then listens. The bench polls
// GET /v1/health on 127.0.0.1 until it answers 200, samples the server's RSS from /proc, and
// stops it. Run on its own with BENCH_ONLY=start (see bench/run.ts).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { procMemory } from './import-memory.ts';
import { fmtInt, procCpuSeconds, sleep } from './support.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const CLI = join(ROOT, 'bin', 'spendtrail.js');
const POLL_MS = 25;
const GIVE_UP_MS = 120_000;
/** After serving, how long the server keeps running so the work it starts then (summary catch-up, first export round) shows in its RSS. */
const SETTLE_MS = 3_000;
export const FIRST_START_TARGET_MS = 10_000;

export interface StartRun {
  /** Spawn to the first 200 from /v1/health. */
  readonly serving_ms: number;
  /** Spawn to the server's "first start: creating the demo organisation" line: Node, the TypeScript loader and the modules, PGlite's initdb and migrations. */
  readonly seeding_from_ms: number | null;
  /** Spawn to its "listening" line. */
  readonly listening_ms: number | null;
  /** RSS high-water mark (VmHWM) when it first served, and after SETTLE_MS more. */
  readonly rss_peak_serving_mb: number;
  readonly rss_peak_settled_mb: number;
  /** CPU seconds (user + system) the server had used when it first served: on a busy machine wall time stretches, this does not. */
  readonly cpu_serving_s: number;
  /** Whether TypeScript was compiled afresh (no transform cache), as on the first start after a clone. */
  readonly cold_cache: boolean;
}

export interface FirstStartResult {
  readonly runs: readonly StartRun[];
  readonly median_ms: number;
  readonly cold: StartRun | null;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  srv.close();
  await once(srv, 'close');
  return port;
}

async function healthy(port: number): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/v1/health`, { signal: AbortSignal.timeout(1_000) });
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}

async function oneStart(coldCache: boolean): Promise<StartRun> {
  const home = mkdtempSync(join(os.tmpdir(), 'spendtrail-bench-start-'));
  const port = await freePort();
  // Only what `npm start` on a fresh machine would see: no database URL, no key, a fresh home.
  const env: NodeJS.ProcessEnv = { ...process.env, SPENDTRAIL_HOME: home, PORT: String(port), HOST: '127.0.0.1' };
  for (const k of ['DATABASE_URL', 'SPENDTRAIL_SIGNING_KEY', 'SPENDTRAIL_SIGNING_KEY_FILE', 'SPENDTRAIL_ORG', 'SPENDTRAIL_API_KEY']) delete env[k];
  if (coldCache) env.TSX_DISABLE_CACHE = '1';
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, 'serve'], { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid ?? -1;
  let seeding: number | null = null;
  let listening: number | null = null;
  let stderr = '';
  let exited = false;
  const orphan = (): void => void child.kill('SIGKILL');
  process.once('exit', orphan);
  child.once('exit', () => {
    exited = true;
    process.off('exit', orphan);
  });
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    const at = performance.now() - t0;
    if (seeding === null && d.includes('first start: creating the demo organisation')) seeding = at;
    if (listening === null && d.includes('listening on')) listening = at;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  let hwm = 0;
  const sample = (): void => {
    const m = procMemory(pid);
    if (m !== null) hwm = Math.max(hwm, m.hwm_mb);
  };
  try {
    let servingMs = -1;
    while (servingMs < 0) {
      if (exited) throw new Error(`spendtrail serve exited before serving: ${stderr.trim()}`);
      if (performance.now() - t0 > GIVE_UP_MS) throw new Error(`spendtrail serve did not serve within ${GIVE_UP_MS / 1000} s`);
      sample();
      if (await healthy(port)) servingMs = performance.now() - t0;
      else await sleep(POLL_MS);
    }
    sample();
    const atServing = hwm;
    const cpuServing = procCpuSeconds(pid);
    for (let waited = 0; waited < SETTLE_MS && !exited; waited += 100) {
      await sleep(100);
      sample();
    }
    return { serving_ms: servingMs, cpu_serving_s: cpuServing, seeding_from_ms: seeding, listening_ms: listening, rss_peak_serving_mb: atServing, rss_peak_settled_mb: hwm, cold_cache: coldCache };
  } finally {
    if (!exited) {
      const gone = once(child, 'exit');
      child.kill('SIGTERM');
      await Promise.race([gone, sleep(10_000)]);
      if (!exited) child.kill('SIGKILL');
    }
    rmSync(home, { recursive: true, force: true });
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

/** `repeats` starts with the transform cache warm (as every start after the first is), then one without it. */
export async function sectionFirstStart(log: (s: string) => void, repeats = 3, cold = true): Promise<FirstStartResult> {
  log(`First start: ${repeats} × \`spendtrail serve\` on a fresh embedded directory, until GET /v1/health answers`);
  // Fills the TypeScript transform cache, so the timed warm runs do not depend on what ran before.
  if (repeats > 0) await oneStart(false);
  const runs: StartRun[] = [];
  for (let i = 0; i < repeats; i++) {
    const r = await oneStart(false);
    runs.push(r);
    log(`   run ${i + 1}: serving after ${fmtInt(r.serving_ms)} ms, ${r.cpu_serving_s.toFixed(1)} s CPU (demo seeding from ${fmtInt(r.seeding_from_ms ?? 0)} ms), peak RSS ${fmtInt(r.rss_peak_serving_mb)} MB, ${fmtInt(r.rss_peak_settled_mb)} MB ${SETTLE_MS / 1000} s later`);
  }
  let coldRun: StartRun | null = null;
  if (cold) {
    coldRun = await oneStart(true);
    log(`   without the transform cache: serving after ${fmtInt(coldRun.serving_ms)} ms, peak RSS ${fmtInt(coldRun.rss_peak_settled_mb)} MB`);
  }
  return { runs, median_ms: median(runs.map((r) => r.serving_ms)), cold: coldRun };
}

export function renderFirstStart(r: FirstStartResult): string {
  const verdict = (ok: boolean): string => (ok ? '**pass**' : '**FAIL**');
  const s = (ms: number | null): string => (ms === null ? '–' : `${(ms / 1000).toFixed(1)} s`);
  const peak = Math.max(...r.runs.map((x) => x.rss_peak_settled_mb), 0);
  const rows = r.runs.map(
    (x, i) =>
      `| run ${i + 1} | ${s(x.seeding_from_ms)} | ${s(x.listening_ms)} | ${s(x.serving_ms)} | ${x.cpu_serving_s.toFixed(1)} s | ${fmtInt(x.rss_peak_serving_mb)} MB | ${fmtInt(x.rss_peak_settled_mb)} MB |`,
  );
  if (r.cold !== null) {
    const x = r.cold;
    rows.push(`| no transform cache | ${s(x.seeding_from_ms)} | ${s(x.listening_ms)} | ${s(x.serving_ms)} | ${x.cpu_serving_s.toFixed(1)} s | ${fmtInt(x.rss_peak_serving_mb)} MB | ${fmtInt(x.rss_peak_settled_mb)} MB |`);
  }
  return `
## First start on the embedded default

\`node bin/spendtrail.js serve\` — what \`npm start\` runs, without npm's own start-up — with an empty \`SPENDTRAIL_HOME\`
and no \`DATABASE_URL\`: PGlite creates its directory (initdb), the migrations run, the demo organisation and its month of
transactions are recorded, then the API listens. Timed from spawning the process to the first 200 from \`GET /v1/health\`
(polled every ${POLL_MS} ms on 127.0.0.1); RSS is the server's high-water mark (VmHWM) from \`/proc\`. A fresh directory for each
run; one untimed start first fills tsx's TypeScript transform cache, as any earlier run on the machine would have.

| Figure | Measured | Baseline (same run) | Target | Result |
|---|---:|---:|---|---|
| Start to serving, median of ${r.runs.length} | ${s(r.median_ms)} | – | ≤ ${FIRST_START_TARGET_MS / 1000} s | ${verdict(r.median_ms <= FIRST_START_TARGET_MS)} |
| CPU used by the server until serving, median | ${median(r.runs.map((x) => x.cpu_serving_s)).toFixed(1)} s | – | report | – |
| Slowest of the ${r.runs.length} | ${s(Math.max(...r.runs.map((x) => x.serving_ms)))} | – | report | – |
| Peak RSS of the server | ${fmtInt(peak)} MB | – | report | – |
${r.cold === null ? '' : `| Start to serving without the transform cache (first start after a clone) | ${s(r.cold.serving_ms)} | – | report | – |\n`}
| run | demo seeding starts | listening | serving | server CPU until serving | peak RSS at serving | ${SETTLE_MS / 1000} s later |
|---|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

"Demo seeding starts" is when the server prints that it creates the demo organisation: everything before it is Node,
the TypeScript loader, loading the modules, PGlite's initdb and the migrations; from there to "listening" is the demo month.
Between "listening" and the first answer the server's one thread is already busy with what it starts on listening (the first
audit-export round and the summary catch-up for the demo month, on the same embedded engine). The server's CPU time until
serving is the figure to compare across runs when the machine is shared: wall time stretches with the load, CPU time does not.
`;
}

// Standalone: node --import tsx bench/first-start.ts [repeats]
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const T0 = performance.now();
  const log = (s: string): void => console.log(`[${((performance.now() - T0) / 1000).toFixed(1).padStart(6)}s] ${s}`);
  console.log(renderFirstStart(await sectionFirstStart(log, Number(process.argv[2] ?? 3))));
}
