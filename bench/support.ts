import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';

export const PG_URL = process.env.BENCH_PG_URL ?? process.env.SPENDTRAIL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * A fresh database for one section. (A fresh schema, as the storage tests use, does not work
 * while another schema of the same database holds the migration tables: Kysely's migrator
 * looks for its tables in any schema and then queries them unqualified. A database of its own
 * also keeps the bench from meeting other test runs' schemas.)
 */
export async function freshDatabase(prefix: string): Promise<{ name: string; url: string }> {
  const name = `spendtrail_bench_${prefix}_${randomBytes(4).toString('hex')}`;
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`create database ${name}`);
  } finally {
    await c.end();
  }
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return { name, url: u.toString() };
}

export async function dropDatabases(names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    for (const n of names) await c.query(`drop database if exists ${n} with (force)`);
  } finally {
    await c.end();
  }
}

export async function pgQuery<R = Record<string, unknown>>(url: string, text: string, params: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as R[];
  } finally {
    await c.end();
  }
}

const TICK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** user+system CPU seconds of one process, from /proc (Linux); 0 where unavailable. */
export function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds used so far by every process named `postgres` on this machine (server and
 * backends). Differences over a section say how busy the database was; backends that exit
 * in between take their time with them, and other clients of the server count too.
 */
export function postgresCpuSeconds(): number {
  let total = 0;
  let dirs: string[];
  try {
    dirs = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return 0;
  }
  for (const d of dirs) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (comm !== 'postgres') continue;
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(f[11]) + Number(f[12])) / TICK;
    } catch {
      // the process went away
    }
  }
  return total;
}

/** Samples CPU for this process, the given child processes and PostgreSQL over a span. */
export class CpuMeter {
  private readonly t0 = performance.now();
  private readonly self0 = process.cpuUsage();
  private readonly pg0 = postgresCpuSeconds();
  private readonly kids0: number[];

  constructor(private readonly kids: readonly number[] = []) {
    this.kids0 = kids.map(procCpuSeconds);
  }

  stop(): CpuSplit {
    const wall = (performance.now() - this.t0) / 1000;
    const u = process.cpuUsage(this.self0);
    return {
      wall_s: wall,
      self_s: (u.user + u.system) / 1e6,
      children_s: this.kids.reduce((s, pid, i) => s + procCpuSeconds(pid) - (this.kids0[i] ?? 0), 0),
      postgres_s: postgresCpuSeconds() - this.pg0,
    };
  }
}

export interface CpuSplit {
  readonly wall_s: number;
  readonly self_s: number;
  readonly children_s: number;
  readonly postgres_s: number;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Samples RSS every `everyMs` and keeps the peak. */
export class RssSampler {
  peak = process.memoryUsage().rss;
  readonly start = this.peak;
  private readonly timer: NodeJS.Timeout;
  constructor(everyMs = 100) {
    this.timer = setInterval(() => {
      const r = process.memoryUsage().rss;
      if (r > this.peak) this.peak = r;
    }, everyMs);
    this.timer.unref();
  }
  stop(): number {
    clearInterval(this.timer);
    const r = process.memoryUsage().rss;
    if (r > this.peak) this.peak = r;
    return this.peak;
  }
}

export const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
export const mb = (bytes: number): number => bytes / (1024 * 1024);
