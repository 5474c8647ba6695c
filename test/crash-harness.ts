/**
 * The machinery of the crash and database-fault runs: the real server process (bin/spendtrail.js
 * serve) on a database of its own, clients that keep a record of every acknowledged write, a
 * seeded random source for the kill points, and the checks made after every restart. Used by
 * test/crash.test.ts (a few trials in `npm test`) and scripts/soak/run.ts (`npm run soak`).
 * Everything talks to 127.0.0.1 only, and every wait is bounded.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { PG_URL } from './support/engines.ts';
import type { Principal } from '../src/app/principal.ts';
import { approveChange, setPolicy } from '../src/app/policy-changes.ts';
import { createOrg, issueApiKey, upsertAgent } from '../src/app/setup.ts';
import { openRuntime } from '../src/interfaces/runtime.ts';
import type { Runtime } from '../src/interfaces/runtime.ts';

export const BIN = join(import.meta.dirname, '../bin/spendtrail.js');

// ---------------------------------------------------------------------------------------------
// Seeded randomness: the kill points of a run are reproducible from the seed it prints (the
// load itself is timing-dependent, so a seed fixes where a kill is aimed, not every interleaving).

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number;
}

/** mulberry32: small, fast, and good enough to spread kill points. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)) };
}

/** The seed of one trial, derived from the run's seed, the scenario and the trial number. */
export function trialSeed(runSeed: number, scenario: string, trial: number): number {
  let h = (runSeed ^ 0x9e3779b9) >>> 0;
  for (const c of `${scenario}#${trial}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

/** A run's seed: CRASH_SEED when given (to replay a run), else a fresh one. */
export function runSeed(env: NodeJS.ProcessEnv = process.env): number {
  const given = env.CRASH_SEED;
  if (given !== undefined && given !== '') return Number(given) >>> 0;
  return randomBytes(4).readUInt32BE(0);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `done` every `everyMs` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(done: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------
// The server process.

export interface ServerOptions {
  readonly home: string;
  /** A postgres:// URL, or '' for the embedded PGlite database in <home>/db. */
  readonly databaseUrl: string;
  readonly env?: Readonly<Record<string, string>>;
}

/** `spendtrail serve` as an operator starts it, on an ephemeral loopback port. */
export class ServerProcess {
  private out = '';
  private err = '';
  private exitCode: number | null | undefined = undefined;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly startedAt: number,
  ) {
    child.stdout?.on('data', (b: Buffer) => {
      this.out += b.toString('utf8');
    });
    child.stderr?.on('data', (b: Buffer) => {
      this.err = (this.err + b.toString('utf8')).slice(-20_000);
    });
    this.exited = new Promise((resolve) =>
      child.on('exit', (code) => {
        this.exitCode = code;
        resolve();
      }),
    );
  }

  url = '';
  /** Milliseconds from spawn to listening. */
  readyMs = 0;

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.exitCode === undefined;
  }

  get stderr(): string {
    return this.err;
  }

  static async start(o: ServerOptions, timeoutMs = 60_000): Promise<ServerProcess> {
    const child = spawn(process.execPath, [BIN, '--home', o.home, 'serve', '--port', '0', '--host', '127.0.0.1', '--no-demo'], {
      env: { ...process.env, DATABASE_URL: o.databaseUrl, SPENDTRAIL_EXPORT: 'off', SPENDTRAIL_LOG: '', ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const s = new ServerProcess(child, Date.now());
    const ok = await waitFor(() => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(s.out);
      if (m?.[1] !== undefined) s.url = m[1];
      return s.url !== '' || !s.alive;
    }, timeoutMs);
    if (!ok || !s.alive) {
      child.kill('SIGKILL');
      throw new Error(`the server did not start (${ok ? `exit ${String(s.exitCode)}` : 'timeout'}): ${s.err.slice(-2000)}`);
    }
    s.readyMs = Date.now() - s.startedAt;
    return s;
  }

  /** SIGKILL: no handler runs, nothing is flushed or closed. Resolves once the process is gone. */
  async kill9(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** A graceful stop (SIGTERM), falling back to SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

/** Runs the CLI to completion. */
export function cli(home: string, databaseUrl: string, args: readonly string[], timeoutMs = 600_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, '--home', home, ...args],
      { env: { ...process.env, DATABASE_URL: databaseUrl }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr }),
    );
  });
}

// ---------------------------------------------------------------------------------------------
// HTTP, as a client on another machine sees it: an answer, or a broken connection.

export type Reply =
  | { readonly kind: 'answer'; readonly status: number; readonly body: unknown }
  | { readonly kind: 'network'; readonly error: string };

export async function send(base: string, method: 'GET' | 'POST', path: string, key: string, body?: unknown, timeoutMs = 120_000): Promise<Reply> {
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
    return { kind: 'answer', status: res.status, body: parsed };
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return { kind: 'network', error: cause?.code ?? cause?.message ?? (e as Error).message };
  }
}

/** The error code of an error answer, or '' when there is none. */
export function errorCode(body: unknown): string {
  const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
  return typeof code === 'string' ? code : '';
}

interface TxResult {
  readonly status: 'recorded' | 'duplicate';
  readonly transaction: { readonly tx_id: string; readonly external_id: string };
}

const asTxResult = (body: unknown): TxResult => body as TxResult;

// ---------------------------------------------------------------------------------------------
// Test data: one agent with a policy, transactions with predictable external ids.

export const AGENT = 'crash-bot';

export interface Org {
  readonly orgId: string;
  readonly adminKey: string;
}

/** An organisation with one agent under a policy (approved by a second person, as required). */
export async function seedOrg(rt: Runtime, orgId: string): Promise<Org> {
  const { admin } = await createOrg(rt.deps, { org_id: orgId, name: `Crash ${orgId}` });
  const by: Principal = { org_id: orgId, principal: 'admin@crash.test', roles: ['admin'], agent_id: null, key_id: admin.key_id };
  const approver: Principal = { org_id: orgId, principal: 'controller@crash.test', roles: ['approver'], agent_id: null, key_id: null };
  await issueApiKey(rt.deps, by, { principal: approver.principal, roles: ['approver'] });
  await upsertAgent(rt.deps, by, { agent_id: AGENT, name: 'Crash bot', owner: 'owner@crash.test', cluster: 'crash' });
  const r = await setPolicy(
    rt.deps,
    by,
    AGENT,
    { per_transaction_limit: '50.00', daily_limit: '5000000.00', monthly_limit: '50000000.00', valid_from: '2026-01-01T00:00:00Z' },
    { justification: 'Crash testing budget', approval_ticket: 'FIN-1' },
  );
  if (r.version === null) await approveChange(rt.deps, approver, r.change.change_id, 'agreed');
  return { orgId, adminKey: admin.api_key };
}

/** When every transaction of a run happened: an hour before it started, in the current month. */
const WHEN = new Date(Math.max(Date.now() - 3_600_000, Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1))).toISOString();

/** One transaction of the input contract; `i` fixes its amount, so a replay is byte-identical. */
export function txBody(externalId: string, i: number): Record<string, unknown> {
  return {
    external_id: externalId,
    agent_id: AGENT,
    timestamp: WHEN,
    // Every 17th is over the per-transaction limit: violations are recorded with the rest.
    amount: `${(i % 17 === 16 ? 60 : (i % 40) + 1)}.${String(i % 100).padStart(2, '0')}`,
    currency: 'USD',
    payment_rail: 'stripe',
    merchant: 'AWS',
    merchant_category: '4816',
    business_purpose: 'Model inference',
  };
}

// ---------------------------------------------------------------------------------------------
// What the clients know: which writes were acknowledged, which are in doubt.

export class AckBook {
  /** external_id -> tx_id, for every 2xx answer. */
  readonly acked = new Map<string, string>();
  /** Sent, no answer (the connection broke): written or not, the store must say one or the other. */
  readonly uncertain = new Map<string, Record<string, unknown>>();
  readonly bodies = new Map<string, Record<string, unknown>>();
  readonly problems: string[] = [];
  /** Error answers by status and code, e.g. "503 STORE_UNAVAILABLE". */
  readonly errors = new Map<string, number>();

  ack(externalId: string, txId: string, how: string): void {
    const before = this.acked.get(externalId);
    if (before !== undefined && before !== txId) this.problems.push(`${how}: ${externalId} acknowledged as ${before} and later as ${txId}`);
    this.acked.set(externalId, txId);
    this.uncertain.delete(externalId);
  }

  error(status: number, code: string): void {
    const k = `${status} ${code}`;
    this.errors.set(k, (this.errors.get(k) ?? 0) + 1);
  }
}

export interface LoadControl {
  stopped: boolean;
  /** The server to talk to now. */
  url: string;
}

/**
 * Continuous single-call ingest: `clients` concurrent clients, each posting fresh transactions
 * one at a time until stopped. A connection that breaks leaves its transaction in doubt and ends
 * that client (the server is gone). With `retry503`, a 503 answer is retried after a pause, as
 * a client that honours it would; otherwise any error answer is a problem.
 */
export async function singleCallLoad(o: {
  readonly control: LoadControl;
  readonly key: string;
  readonly clients: number;
  readonly prefix: string;
  readonly book: AckBook;
  readonly retry503?: boolean;
}): Promise<void> {
  const client = async (c: number): Promise<void> => {
    for (let n = 0; !o.control.stopped; n++) {
      const ext = `${o.prefix}-c${c}-${n}`;
      const body = txBody(ext, c * 100_003 + n);
      o.book.bodies.set(ext, body);
      for (;;) {
        const r = await send(o.control.url, 'POST', '/v1/transactions', o.key, body);
        if (r.kind === 'network') {
          o.book.uncertain.set(ext, body);
          if (o.retry503 === true) o.book.problems.push(`client ${c}: the connection broke (${r.error}): the server went away`);
          return;
        }
        if (r.status === 201 || r.status === 200) {
          const res = asTxResult(r.body);
          // A fresh id (first attempt or a retry after a refusal that wrote nothing) is recorded now.
          if (res.status !== 'recorded' && !o.book.uncertain.has(ext)) o.book.problems.push(`${ext}: a fresh transaction came back as ${res.status}`);
          o.book.ack(ext, res.transaction.tx_id, 'single call');
          break;
        }
        o.book.error(r.status, errorCode(r.body));
        if (o.retry503 === true && r.status >= 500) {
          // Refused: "not applied", but a commit whose answer was lost may have gone through; the
          // retry tells which (201, or 200 as a duplicate). Answers other than 503 are counted
          // (and judged by the caller) but retried too, so that recovery can still be seen.
          o.book.uncertain.set(ext, body);
          await sleep(100);
          if (o.control.stopped) return;
          continue;
        }
        o.book.problems.push(`${ext}: answered ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: o.clients }, (_, c) => client(c)));
}

/** A file of `lines` transactions sent as batches of `chunk`, each all or nothing. */
export class ImportBook {
  /** Chunk index -> tx_ids of its lines, for every 2xx answer. */
  readonly acked = new Map<number, string[]>();
  /** The chunk whose request broke, if any. */
  inFlight: number | null = null;
  /** When each acknowledgement came (ms since the epoch), in order. */
  readonly ackTimes: number[] = [];
  readonly problems: string[] = [];
  readonly errors = new Map<string, number>();

  constructor(
    readonly prefix: string,
    readonly lines: number,
    readonly chunk: number,
  ) {}

  get chunks(): number {
    return Math.ceil(this.lines / this.chunk);
  }

  ext(line: number): string {
    return `${this.prefix}-${String(line).padStart(7, '0')}`;
  }

  body(k: number): { transactions: Record<string, unknown>[] } {
    const from = k * this.chunk;
    const to = Math.min(this.lines, from + this.chunk);
    return { transactions: Array.from({ length: to - from }, (_, j) => txBody(this.ext(from + j), from + j)) };
  }

  /** Lines of the chunks acknowledged so far (a contiguous prefix when sent in order). */
  ackedLines(): number {
    let n = 0;
    for (const k of this.acked.keys()) n += Math.min(this.lines, (k + 1) * this.chunk) - k * this.chunk;
    return n;
  }
}

/**
 * Sends chunks `from`..end in order, one request at a time, as an import client does. Returns
 * 'done', or 'interrupted' when a connection broke (the chunk is then `book.inFlight`). The
 * results of every chunk must be all `recorded` or, for a replay, all `duplicate`: a mix would
 * mean part of an all-or-nothing chunk was written before.
 */
export async function apiImport(o: {
  readonly control: LoadControl;
  readonly key: string;
  readonly book: ImportBook;
  readonly from: number;
  readonly expect: (k: number) => 'recorded' | 'duplicate' | 'either';
  readonly retry503?: boolean;
}): Promise<'done' | 'interrupted' | 'stopped'> {
  const b = o.book;
  for (let k = o.from; k < b.chunks; k++) {
    if (o.control.stopped) return 'stopped';
    const body = b.body(k);
    for (;;) {
      b.inFlight = k;
      const r = await send(o.control.url, 'POST', '/v1/transactions/batch', o.key, body);
      if (r.kind === 'network') {
        if (o.retry503 === true) b.problems.push(`chunk ${k}: the connection broke (${r.error}): the server went away`);
        return 'interrupted';
      }
      if (r.status === 201) {
        const results = (r.body as { results: (TxResult | null)[] }).results;
        const statuses = new Set(results.map((x) => x?.status ?? 'missing'));
        const want = o.expect(k);
        if (statuses.size !== 1 || (want !== 'either' && !statuses.has(want))) {
          b.problems.push(`chunk ${k}: results ${[...statuses].join('+')}, expected ${want === 'either' ? 'all recorded or all duplicate' : `all ${want}`}`);
        }
        const ids = results.map((x) => x?.transaction.tx_id ?? '');
        const before = b.acked.get(k);
        if (before !== undefined && before.join() !== ids.join()) b.problems.push(`chunk ${k}: a replay answered other tx_ids than the first acknowledgement`);
        b.acked.set(k, ids);
        b.ackTimes.push(Date.now());
        b.inFlight = null;
        break;
      }
      const code = errorCode(r.body);
      b.errors.set(`${r.status} ${code}`, (b.errors.get(`${r.status} ${code}`) ?? 0) + 1);
      if (o.retry503 === true && r.status >= 500) {
        await sleep(100);
        if (o.control.stopped) return 'stopped';
        continue;
      }
      b.problems.push(`chunk ${k}: answered ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      return 'interrupted';
    }
  }
  return 'done';
}

// ---------------------------------------------------------------------------------------------
// What is stored, read back after a restart.

export interface Stored {
  readonly txId: string;
  /** How many rows carry this external id (the unique index allows one per rail). */
  readonly rows: number;
}

/** Every stored transaction of an organisation whose external id starts with `prefix` (SQL). */
export async function storedSql(db: Kysely<unknown>, orgId: string, prefix: string): Promise<Map<string, Stored>> {
  const r = await sql<{ external_id: string; tx_id: string; n: string | number }>`
    select external_id, min(tx_id::text) as tx_id, count(*) as n from transactions
    where org_id = ${orgId} and starts_with(external_id, ${prefix}) group by external_id`.execute(db);
  return new Map(r.rows.map((x) => [x.external_id, { txId: x.tx_id, rows: Number(x.n) }]));
}

/** The same, read through the API (GET /v1/transactions, every page). */
export async function storedApi(url: string, key: string, prefix: string): Promise<Map<string, Stored>> {
  const out = new Map<string, Stored>();
  let cursor: string | null = null;
  do {
    const r = await send(url, 'GET', `/v1/transactions?agent_id=${AGENT}&limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`, key);
    if (r.kind !== 'answer' || r.status !== 200) throw new Error(`listing transactions failed: ${JSON.stringify(r)}`);
    const page = r.body as { transactions: { external_id: string; tx_id: string }[]; next_cursor: string | null };
    for (const t of page.transactions) {
      if (!t.external_id.startsWith(prefix)) continue;
      const before = out.get(t.external_id);
      out.set(t.external_id, { txId: before?.txId ?? t.tx_id, rows: (before?.rows ?? 0) + 1 });
    }
    cursor = page.next_cursor;
  } while (cursor !== null);
  return out;
}

export interface LogShape {
  /** Log positions used by entries and transactions together. */
  readonly positions: number;
  readonly distinct: number;
  readonly maxSeq: number;
  readonly treeSize: number;
  readonly latestCheckpoint: number;
}

/**
 * The log as stored: every transaction and every other entry holds one position, positions run
 * 0..size-1 without a gap or a repeat, and the tree head and checkpoints agree with that size.
 */
export async function logShape(db: Kysely<unknown>, orgId: string): Promise<LogShape> {
  const r = await sql<{ positions: string | number; distinct_seqs: string | number; max_seq: string | number | null }>`
    with s as (select seq from log_entries where org_id = ${orgId} union all select seq from transactions where org_id = ${orgId})
    select count(*) as positions, count(distinct seq) as distinct_seqs, max(seq) as max_seq from s`.execute(db);
  const h = await sql<{ size: string | number }>`select size from tree_heads where org_id = ${orgId}`.execute(db);
  const c = await sql<{ m: string | number | null }>`select max(tree_size) as m from checkpoints where org_id = ${orgId}`.execute(db);
  const x = r.rows[0];
  return {
    positions: Number(x?.positions ?? 0),
    distinct: Number(x?.distinct_seqs ?? 0),
    maxSeq: x?.max_seq === null || x?.max_seq === undefined ? -1 : Number(x.max_seq),
    treeSize: Number(h.rows[0]?.size ?? 0),
    latestCheckpoint: Number(c.rows[0]?.m ?? 0),
  };
}

/** What is wrong with a log shape, if anything. */
export function shapeProblems(s: LogShape): string[] {
  const p: string[] = [];
  if (s.distinct !== s.positions) p.push(`${s.positions - s.distinct} log positions used twice`);
  if (s.maxSeq + 1 !== s.positions) p.push(`log positions 0..${s.maxSeq} hold ${s.positions} entries: a gap`);
  if (s.treeSize !== s.positions) p.push(`the tree head says ${s.treeSize} entries, the tables hold ${s.positions}`);
  if (s.latestCheckpoint > s.treeSize) p.push(`a checkpoint at ${s.latestCheckpoint} is beyond the tree (${s.treeSize})`);
  return p;
}

/** POST /v1/verify; the findings when it fails. */
export async function verifyApi(url: string, key: string): Promise<{ ok: boolean; entries: number; detail: string }> {
  const r = await send(url, 'POST', '/v1/verify', key, {}, 600_000);
  if (r.kind !== 'answer' || r.status !== 200) return { ok: false, entries: 0, detail: JSON.stringify(r).slice(0, 500) };
  const b = r.body as { ok: boolean; entries_checked: number; findings: unknown[] };
  return { ok: b.ok, entries: b.entries_checked, detail: b.ok ? '' : JSON.stringify(b.findings.slice(0, 3)) };
}

// ---------------------------------------------------------------------------------------------
// Rigs: a server on its own database, restartable.

export type Engine = 'postgres' | 'pglite';

export interface Rig {
  readonly engine: Engine;
  readonly home: string;
  /** postgres:// URL the server is given, or '' for PGlite. */
  readonly databaseUrl: string;
  /** The PostgreSQL database made for the rig, and its URL for direct connections. */
  readonly databaseName: string | undefined;
  readonly directUrl: string | undefined;
  server: ServerProcess;
  /** SQL on the database while the server runs (PostgreSQL only). */
  readonly db: Kysely<unknown> | undefined;
  /** A new organisation (PostgreSQL: at any time; PGlite: only the one made at open). */
  newOrg(orgId: string): Promise<Org>;
  readonly orgs: Org[];
  /** Starts the server again on the same database; resolves when it listens. */
  restart(): Promise<number>;
  close(): Promise<void>;
}

/** A database URL with another database name. */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Creates a database of its own on the test server; returns its URL and how to drop it. */
export async function createDatabase(prefix: string): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(PG_URL, name),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * A server on a fresh PostgreSQL database (created here, dropped by close). `serverUrl` turns the
 * database's URL into the one the server is given (through a proxy, with session options).
 */
export async function openPostgresRig(firstOrg: string, options: { serverUrl?: (url: string) => string; env?: Record<string, string> } = {}): Promise<Rig> {
  const home = mkdtempSync(join(tmpdir(), 'spendtrail-crash-'));
  const database = await createDatabase('st_crash');
  const url = options.serverUrl === undefined ? database.url : options.serverUrl(database.url);
  const rt = await openRuntime({ db: database.url, home });
  // The harness's own connections must survive a database restart without ending the process.
  rt.store.pool?.on('error', () => undefined);
  const orgs: Org[] = [await seedOrg(rt, firstOrg)];
  const start = (): Promise<ServerProcess> => ServerProcess.start({ home, databaseUrl: url, ...(options.env === undefined ? {} : { env: options.env }) });
  const rig: Rig = {
    engine: 'postgres',
    home,
    databaseUrl: url,
    databaseName: database.name,
    directUrl: database.url,
    server: await start(),
    db: rt.store.kysely,
    orgs,
    newOrg: async (orgId) => {
      const o = await seedOrg(rt, orgId);
      orgs.push(o);
      return o;
    },
    restart: async () => {
      const t = Date.now();
      rig.server = await start();
      return Date.now() - t;
    },
    close: async () => {
      await rig.server.stop();
      await rt.close();
      await database.drop();
      rmSync(home, { recursive: true, force: true });
    },
  };
  return rig;
}

/** A server on the embedded PGlite database in a fresh home directory. */
export async function openPgliteRig(orgId: string): Promise<Rig> {
  const home = mkdtempSync(join(tmpdir(), 'spendtrail-crash-pglite-'));
  // The organisation is made before the server holds the directory (one process at a time).
  const rt = await openRuntime({ db: join(home, 'db'), home });
  const orgs = [await seedOrg(rt, orgId)];
  await rt.close();
  const start = (): Promise<ServerProcess> => ServerProcess.start({ home, databaseUrl: '' });
  const rig: Rig = {
    engine: 'pglite',
    home,
    databaseUrl: '',
    databaseName: undefined,
    directUrl: undefined,
    server: await start(),
    db: undefined,
    orgs,
    newOrg: () => Promise.reject(new Error('PGlite rigs have one organisation')),
    restart: async () => {
      const t = Date.now();
      rig.server = await start();
      return Date.now() - t;
    },
    close: async () => {
      await rig.server.stop();
      rmSync(home, { recursive: true, force: true });
    },
  };
  return rig;
}

/** Opens a stopped PGlite rig's database in this process, for the SQL checks. */
export async function withPgliteDb<T>(rig: Rig, fn: (db: Kysely<unknown>) => Promise<T>): Promise<T> {
  if (rig.server.alive) throw new Error('stop the server first: PGlite is one process at a time');
  const rt = await openRuntime({ db: join(rig.home, 'db'), home: rig.home });
  try {
    return await fn(rt.store.kysely);
  } finally {
    await rt.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Trials.

export interface TrialResult {
  readonly scenario: string;
  readonly engine: Engine;
  readonly trial: number;
  readonly seed: number;
  /** Where the fault was aimed, in words ("after 37 acks + 12 ms"). */
  readonly at: string;
  /** Writes acknowledged before the fault. */
  readonly acked: number;
  /** Writes in doubt at the fault (sent, no answer), and how many of them the store held. */
  readonly inDoubt: number;
  readonly inDoubtWritten: number;
  /** Acknowledged writes missing after the restart (must be 0). */
  readonly lost: number;
  /** External ids stored more than once, or acknowledged under two tx ids (must be 0). */
  readonly duplicated: number;
  /** Stored writes nobody sent or that broke an all-or-nothing unit (must be 0). */
  readonly halfWritten: number;
  /** Replays of acknowledged writes after the restart, all answered as duplicates. */
  readonly replayed: number;
  readonly verified: boolean;
  readonly recoveryMs: number;
  readonly errors: string;
  readonly problems: string[];
}

/** Compares what is stored with what the clients were told. */
function audit(
  stored: Map<string, Stored>,
  acked: ReadonlyMap<string, string>,
  inDoubt: ReadonlySet<string>,
): { lost: number; duplicated: number; halfWritten: number; inDoubtWritten: number; problems: string[] } {
  const problems: string[] = [];
  let lost = 0;
  let duplicated = 0;
  let halfWritten = 0;
  let inDoubtWritten = 0;
  for (const [ext, txId] of acked) {
    const s = stored.get(ext);
    if (s === undefined) {
      lost++;
      if (lost <= 5) problems.push(`acknowledged ${ext} (${txId}) is missing`);
    } else if (s.txId !== txId) {
      duplicated++;
      problems.push(`acknowledged ${ext} as ${txId}, stored as ${s.txId}`);
    }
  }
  for (const [ext, s] of stored) {
    if (s.rows !== 1) {
      duplicated++;
      problems.push(`${ext} stored ${s.rows} times`);
    }
    if (acked.has(ext)) continue;
    if (inDoubt.has(ext)) inDoubtWritten++;
    else {
      halfWritten++;
      if (halfWritten <= 5) problems.push(`${ext} is stored but was never acknowledged nor in doubt`);
    }
  }
  return { lost, duplicated, halfWritten, inDoubtWritten, problems };
}

async function readStored(rig: Rig, org: Org, prefix: string): Promise<Map<string, Stored>> {
  return rig.db === undefined ? storedApi(rig.server.url, org.adminKey, prefix) : storedSql(rig.db, org.orgId, prefix);
}

async function shapeOf(rig: Rig, org: Org): Promise<string[]> {
  return rig.db === undefined ? [] : shapeProblems(await logShape(rig.db, org.orgId));
}

const errorsText = (...maps: ReadonlyMap<string, number>[]): string => {
  const all = new Map<string, number>();
  for (const m of maps) for (const [k, v] of m) all.set(k, (all.get(k) ?? 0) + v);
  return [...all].map(([k, v]) => `${v}×${k}`).join(', ');
};

/** Replays up to `max` acknowledged single calls: each must answer 200 duplicate with its tx_id. */
async function replayAcked(url: string, key: string, book: AckBook, r: Rng, max: number, problems: string[]): Promise<number> {
  const all = [...book.acked];
  const pick = all.length <= max ? all : Array.from({ length: max }, () => all[r.int(0, all.length - 1)] as [string, string]);
  let n = 0;
  await Promise.all(
    [0, 1, 2, 3].map(async (lane) => {
      for (let i = lane; i < pick.length; i += 4) {
        const [ext, txId] = pick[i] as [string, string];
        const res = await send(url, 'POST', '/v1/transactions', key, book.bodies.get(ext));
        n++;
        if (res.kind !== 'answer' || res.status !== 200 || asTxResult(res.body).status !== 'duplicate' || asTxResult(res.body).transaction.tx_id !== txId) {
          problems.push(`replay of acknowledged ${ext}: ${JSON.stringify(res).slice(0, 200)}`);
        }
      }
    }),
  );
  return n;
}

/**
 * Single-call ingest killed: `clients` clients post continuously; once a random number of writes
 * is acknowledged (and a random few ms more) the server gets SIGKILL. After the restart every
 * acknowledged write must be there once with the tx_id it was acknowledged with, nothing else
 * may be stored but the writes in doubt, resending those answers 201 or 200 (never a conflict),
 * replays of acknowledged writes answer as duplicates, and verify passes.
 */
export async function singleCallKillTrial(
  rig: Rig,
  org: Org,
  o: { readonly trial: number; readonly seed: number; readonly clients: number; readonly maxAcks: number; readonly maxExtraMs: number; readonly replays: number },
): Promise<TrialResult> {
  const r = rng(o.seed);
  const prefix = `s${o.trial}-${o.seed.toString(36)}`;
  const book = new AckBook();
  const control: LoadControl = { stopped: false, url: rig.server.url };
  const killAfter = r.int(1, o.maxAcks);
  const extra = r.int(0, o.maxExtraMs);
  const load = singleCallLoad({ control, key: org.adminKey, clients: o.clients, prefix, book });
  let loadEnded = false;
  void load.finally(() => {
    loadEnded = true;
  });
  await waitFor(() => book.acked.size >= killAfter || loadEnded, 120_000);
  await sleep(extra);
  const problems: string[] = [];
  if (loadEnded) problems.push(`the load ended before the kill: ${book.problems.join('; ')}`);
  await rig.server.kill9();
  await load;
  const ackedAtKill = new Map(book.acked);
  const inDoubt = new Set(book.uncertain.keys());
  const recoveryMs = await rig.restart();

  // Before anyone resends anything: what the crash left.
  const left = await readStored(rig, org, prefix);
  const a = audit(left, ackedAtKill, inDoubt);
  problems.push(...a.problems, ...(await shapeOf(rig, org)));
  // Resume: the writes in doubt are sent again. One the crash left stored answers 200 as a
  // duplicate of the stored id; one it did not is recorded now (201). Never a conflict.
  control.url = rig.server.url;
  for (const [ext, body] of [...book.uncertain]) {
    const res = await send(control.url, 'POST', '/v1/transactions', org.adminKey, body);
    const was = left.get(ext);
    const want = was === undefined ? 201 : 200;
    if (res.kind !== 'answer' || res.status !== want || (was !== undefined && asTxResult(res.body).transaction.tx_id !== was.txId)) {
      problems.push(`resending ${ext} (${was === undefined ? 'not stored' : 'stored'} after the crash): ${JSON.stringify(res).slice(0, 200)}`);
    } else book.ack(ext, asTxResult(res.body).transaction.tx_id, 'resend');
  }
  const replayed = await replayAcked(control.url, org.adminKey, book, r, o.replays, problems);
  const after = audit(await readStored(rig, org, prefix), book.acked, new Set());
  problems.push(...after.problems, ...book.problems, ...(await shapeOf(rig, org)));
  const v = await verifyApi(control.url, org.adminKey);
  if (!v.ok) problems.push(`verify failed: ${v.detail}`);
  return {
    scenario: 'single-call ingest, server SIGKILL',
    engine: rig.engine,
    trial: o.trial,
    seed: o.seed,
    at: `after ${killAfter} acks + ${extra} ms`,
    acked: ackedAtKill.size,
    inDoubt: inDoubt.size,
    inDoubtWritten: a.inDoubtWritten,
    lost: a.lost + after.lost,
    duplicated: a.duplicated + after.duplicated,
    halfWritten: a.halfWritten + after.halfWritten,
    replayed,
    verified: v.ok,
    recoveryMs,
    errors: errorsText(book.errors),
    problems,
  };
}

/** How long a chunk takes, from the times chunks were seen to commit (a guess before two have). */
function chunkMs(times: readonly number[], started: number): number {
  const n = times.length;
  const last = times[n - 1];
  const first = times[0];
  if (n >= 2 && last !== undefined && first !== undefined) return (last - first) / (n - 1);
  if (n === 1 && first !== undefined) return Math.min(1000, first - started);
  return 100;
}

/** Which lines of an import are stored: must be whole acknowledged chunks, plus at most the one in flight, whole. */
function importProblems(book: ImportBook, stored: Map<string, Stored>): { lost: number; halfWritten: number; duplicated: number; inFlightWritten: boolean; problems: string[] } {
  const problems: string[] = [];
  let lost = 0;
  let halfWritten = 0;
  let duplicated = 0;
  const storedOf = (k: number): number => {
    let n = 0;
    for (let line = k * book.chunk; line < Math.min(book.lines, (k + 1) * book.chunk); line++) if (stored.has(book.ext(line))) n++;
    return n;
  };
  const size = (k: number): number => Math.min(book.lines, (k + 1) * book.chunk) - k * book.chunk;
  let inFlightWritten = false;
  for (let k = 0; k < book.chunks; k++) {
    const n = storedOf(k);
    const ids = book.acked.get(k);
    if (ids !== undefined) {
      if (n !== size(k)) {
        lost += size(k) - n;
        problems.push(`acknowledged chunk ${k}: ${size(k) - n} of ${size(k)} lines missing`);
      }
      ids.forEach((id, j) => {
        const s = stored.get(book.ext(k * book.chunk + j));
        if (s !== undefined && s.txId !== id) {
          duplicated++;
          problems.push(`line ${k * book.chunk + j}: acknowledged as ${id}, stored as ${s.txId}`);
        }
      });
    } else if (k === book.inFlight) {
      if (n !== 0 && n !== size(k)) {
        halfWritten += n;
        problems.push(`chunk ${k} in flight at the kill is half-written: ${n} of ${size(k)} lines`);
      }
      inFlightWritten = n === size(k);
    } else if (n !== 0) {
      halfWritten += n;
      problems.push(`chunk ${k} was never sent, yet ${n} of its lines are stored`);
    }
  }
  for (const [ext, s] of stored) {
    if (s.rows !== 1) {
      duplicated++;
      problems.push(`${ext} stored ${s.rows} times`);
    }
  }
  return { lost, halfWritten, duplicated, inFlightWritten, problems };
}

/**
 * An import through the API (POST /v1/transactions/batch, chunk after chunk) with the server
 * killed after a random number of chunks plus a random part of the next one. After the restart
 * the stored lines are exactly the acknowledged chunks plus, whole or not at all, the one in
 * flight; the client resumes by replaying its last acknowledged chunk (all duplicates) and
 * going on from the one in flight; at the end every line is stored once and verify passes.
 */
export async function apiImportKillTrial(
  rig: Rig,
  org: Org,
  o: { readonly trial: number; readonly seed: number; readonly lines: number; readonly chunk: number },
): Promise<TrialResult> {
  const r = rng(o.seed);
  const book = new ImportBook(`i${o.trial}-${o.seed.toString(36)}`, o.lines, o.chunk);
  const control: LoadControl = { stopped: false, url: rig.server.url };
  // The kill lands after a random number of chunks, a random share of one chunk's time later.
  const killAfterChunks = r.int(0, Math.max(0, book.chunks - 2));
  const into = r.next();
  let outcome: string | null = null;
  const started = Date.now();
  const run = apiImport({ control, key: org.adminKey, book, from: 0, expect: () => 'recorded' }).then((x) => {
    outcome = x;
  });
  await waitFor(() => book.acked.size >= killAfterChunks || outcome !== null, 300_000, 2);
  const extra = Math.round(into * chunkMs(book.ackTimes, started));
  await sleep(extra);
  const problems: string[] = [];
  if (outcome !== null) problems.push(`the import ended (${String(outcome)}) before the kill: ${book.problems.join('; ')}`);
  await rig.server.kill9();
  await run;
  const ackedAtKill = book.ackedLines();
  const inFlight = book.inFlight;
  const recoveryMs = await rig.restart();
  control.url = rig.server.url;

  const a = importProblems(book, await readStored(rig, org, book.prefix));
  problems.push(...a.problems, ...(await shapeOf(rig, org)));
  // Resume: replay the last acknowledged chunk (all duplicates), then go on from the one in flight.
  const lastAcked = Math.max(-1, ...book.acked.keys());
  const from = lastAcked >= 0 ? lastAcked : 0;
  const resumed = await apiImport({
    control,
    key: org.adminKey,
    book,
    from,
    // The chunk in flight at the kill: a duplicate if the crash left it stored, else recorded now.
    expect: (k) => (k <= lastAcked || (k === inFlight && a.inFlightWritten) ? 'duplicate' : 'recorded'),
  });
  if (resumed !== 'done') problems.push(`the resumed import did not finish: ${resumed}`);
  const replayedLines = lastAcked >= 0 ? Math.min(book.lines, (lastAcked + 1) * book.chunk) - lastAcked * book.chunk : 0;
  const stored = await readStored(rig, org, book.prefix);
  const after = importProblems(book, stored);
  if (stored.size !== book.lines) problems.push(`after the resume ${stored.size} of ${book.lines} lines are stored`);
  problems.push(...book.problems, ...after.problems, ...(await shapeOf(rig, org)));
  const v = await verifyApi(control.url, org.adminKey);
  if (!v.ok) problems.push(`verify failed: ${v.detail}`);
  return {
    scenario: 'import via API (batches), server SIGKILL',
    engine: rig.engine,
    trial: o.trial,
    seed: o.seed,
    at: `after ${killAfterChunks} chunks + ${extra} ms`,
    acked: ackedAtKill,
    inDoubt: inFlight === null ? 0 : Math.min(book.lines, (inFlight + 1) * book.chunk) - inFlight * book.chunk,
    inDoubtWritten: a.inFlightWritten && inFlight !== null ? Math.min(book.lines, (inFlight + 1) * book.chunk) - inFlight * book.chunk : 0,
    lost: a.lost + after.lost,
    duplicated: a.duplicated + after.duplicated,
    halfWritten: a.halfWritten + after.halfWritten,
    replayed: replayedLines,
    verified: v.ok,
    recoveryMs,
    errors: errorsText(book.errors),
    problems,
  };
}

/** Writes an NDJSON file of `lines` transactions with the ImportBook's external ids. */
export function writeImportFile(path: string, book: ImportBook): void {
  const out: string[] = [];
  for (let i = 0; i < book.lines; i++) out.push(JSON.stringify(txBody(book.ext(i), i)));
  writeFileSync(path, `${out.join('\n')}\n`);
}

/**
 * `spendtrail record file --chunk N` (the CLI writes to the database itself) killed with SIGKILL
 * once a random number of chunks has committed, plus a random few ms. What it left must be a
 * prefix of whole chunks (nothing half-written) and verify; re-running the same command must
 * report the committed lines as already recorded, record the rest, and leave each line once.
 * PostgreSQL only: PGlite is one process at a time, and the server holds it.
 */
export async function cliImportKillTrial(
  rig: Rig,
  org: Org,
  o: { readonly trial: number; readonly seed: number; readonly lines: number; readonly chunk: number },
): Promise<TrialResult> {
  const db = rig.db;
  if (db === undefined) throw new Error('the CLI import trial needs PostgreSQL');
  const r = rng(o.seed);
  const book = new ImportBook(`f${o.trial}-${o.seed.toString(36)}`, o.lines, o.chunk);
  const file = join(rig.home, `${book.prefix}.ndjson`);
  writeImportFile(file, book);
  // The kill lands after a random number of chunks, a random share of one chunk's time later.
  const killAfterChunks = r.int(0, Math.max(0, book.chunks - 2));
  const into = r.next();
  const args = ['--home', rig.home, '--org', org.orgId, 'record', file, '--chunk', String(o.chunk), '--no-progress'];
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, DATABASE_URL: rig.databaseUrl }, stdio: 'ignore' });
  let exit: string | null = null;
  const exited = new Promise<void>((res) =>
    child.on('exit', (code, signal) => {
      exit = signal ?? String(code);
      res();
    }),
  );
  const commits: number[] = [];
  let seen = 0;
  const count = async (): Promise<number> => {
    const n = Number((await sql<{ n: string }>`select count(*) as n from transactions where org_id = ${org.orgId}`.execute(db)).rows[0]?.n ?? 0);
    if (n > seen) commits.push(Date.now());
    seen = n;
    return n;
  };
  const started = Date.now();
  await waitFor(async () => exit !== null || (await count()) >= killAfterChunks * o.chunk, 300_000, 5);
  const extra = Math.round(into * chunkMs(commits, started));
  await sleep(extra);
  const problems: string[] = [];
  child.kill('SIGKILL');
  await exited;
  if (exit !== 'SIGKILL') problems.push(`the import ended (${String(exit)}) before the kill`);
  const stored = await storedSql(db, org.orgId, book.prefix);
  // Committed chunks are a prefix of the file, whole: lines 0..c-1 and nothing else.
  const c = stored.size;
  let halfWritten = 0;
  if (c % o.chunk !== 0 && c !== o.lines) {
    halfWritten += c % o.chunk;
    problems.push(`${c} lines stored: not a whole number of ${o.chunk}-line chunks`);
  }
  for (let i = 0; i < c; i++) {
    if (!stored.has(book.ext(i))) {
      halfWritten++;
      if (halfWritten <= 5) problems.push(`line ${i} missing from the committed prefix of ${c} lines`);
    }
  }
  problems.push(...shapeProblems(await logShape(db, org.orgId)));
  const v1 = await verifyApi(rig.server.url, org.adminKey);
  if (!v1.ok) problems.push(`verify after the kill failed: ${v1.detail}`);
  // Resume: the same command again.
  const t = Date.now();
  const again = await cli(rig.home, rig.databaseUrl, ['--org', org.orgId, 'record', file, '--chunk', String(o.chunk), '--no-progress']);
  const recoveryMs = Date.now() - t;
  const want = `${o.lines} lines: ${o.lines - c} recorded, ${c} already recorded`;
  if (again.code !== 0 || !again.stdout.includes(want)) problems.push(`resume: expected "${want}", got ${again.code}: ${again.stdout.trim()} ${again.stderr.trim()}`);
  const final = await storedSql(db, org.orgId, book.prefix);
  let duplicated = 0;
  for (const [ext, s] of final) if (s.rows !== 1) {
    duplicated++;
    problems.push(`${ext} stored ${s.rows} times`);
  }
  for (const [ext, s] of stored) if (final.get(ext)?.txId !== s.txId) {
    duplicated++;
    problems.push(`${ext} changed tx_id across the resume`);
  }
  const lost = o.lines - final.size;
  if (lost !== 0) problems.push(`after the resume ${final.size} of ${o.lines} lines are stored`);
  problems.push(...shapeProblems(await logShape(db, org.orgId)));
  const v = await verifyApi(rig.server.url, org.adminKey);
  if (!v.ok) problems.push(`verify failed: ${v.detail}`);
  rmSync(file, { force: true });
  return {
    scenario: 'import via CLI (record --chunk), CLI SIGKILL',
    engine: rig.engine,
    trial: o.trial,
    seed: o.seed,
    at: `after ${killAfterChunks} chunks + ${extra} ms`,
    acked: c,
    inDoubt: 0,
    inDoubtWritten: 0,
    lost: Math.max(0, lost),
    duplicated,
    halfWritten,
    replayed: c,
    verified: v.ok && v1.ok,
    recoveryMs,
    errors: '',
    problems,
  };
}

/** Streams an NDJSON file of `lines` transactions with the ImportBook's external ids. */
export async function streamImportFile(path: string, book: ImportBook): Promise<void> {
  const out = createWriteStream(path);
  const block = 10_000;
  for (let i = 0; i < book.lines; i += block) {
    const text: string[] = [];
    for (let j = i; j < Math.min(book.lines, i + block); j++) text.push(JSON.stringify(txBody(book.ext(j), j)));
    if (!out.write(`${text.join('\n')}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** How much of an import is stored, in aggregate (cheap on a million rows). */
async function importPrefix(db: Kysely<unknown>, orgId: string, book: ImportBook): Promise<{ rows: number; distinct: number; last: string | null }> {
  const r = await sql<{ n: string | number; d: string | number; last: string | null }>`
    select count(*) as n, count(distinct external_id) as d, max(external_id) as last from transactions
    where org_id = ${orgId} and starts_with(external_id, ${book.prefix})`.execute(db);
  const x = r.rows[0];
  return { rows: Number(x?.n ?? 0), distinct: Number(x?.d ?? 0), last: x?.last ?? null };
}

/**
 * A large file (a million lines in the soak) imported with `spendtrail record --chunk N`, the CLI
 * killed with SIGKILL `kills` times at seeded random points and the same command run again each
 * time, until it completes. After every kill the stored lines are a prefix of whole chunks
 * (count, distinct count and the last id agree; ids are zero-padded) and the log has no gap;
 * every rerun reports the lines committed before as already recorded; at the end every line is
 * stored once and verify passes.
 */
export async function largeCliImportTrial(
  rig: Rig,
  org: Org,
  o: { readonly trial: number; readonly seed: number; readonly lines: number; readonly chunk: number; readonly kills: number; readonly log?: (s: string) => void },
): Promise<TrialResult> {
  const db = rig.db;
  if (db === undefined) throw new Error('the CLI import trial needs PostgreSQL');
  const r = rng(o.seed);
  const book = new ImportBook(`L${o.trial}-${o.seed.toString(36)}`, o.lines, o.chunk);
  const file = join(rig.home, `${book.prefix}.ndjson`);
  await streamImportFile(file, book);
  const problems: string[] = [];
  const points: string[] = [];
  let halfWritten = 0;
  let duplicated = 0;
  let before = 0;
  const args = ['--home', rig.home, '--org', org.orgId, 'record', file, '--chunk', String(o.chunk), '--no-progress'];
  const started = Date.now();
  for (let run = 0; run <= o.kills; run++) {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, DATABASE_URL: rig.databaseUrl }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString('utf8')).slice(-4000)));
    let exit: string | null = null;
    const exited = new Promise<void>((res) =>
      child.on('exit', (code, signal) => {
        exit = signal ?? String(code);
        res();
      }),
    );
    if (run < o.kills) {
      // Kill once a random share of what is left has committed, so every run makes progress.
      const left = book.chunks - before / o.chunk;
      const grow = r.int(1, Math.max(1, Math.floor((2 * left) / (o.kills - run + 1)) - 1)) * o.chunk;
      const extra = r.int(0, 1000);
      const count = async (): Promise<number> =>
        Number((await sql<{ n: string }>`select count(*) as n from transactions where org_id = ${org.orgId}`.execute(db)).rows[0]?.n ?? 0);
      const base = await count();
      await waitFor(async () => exit !== null || (await count()) - base >= grow, 1_800_000, 500);
      await sleep(extra);
      child.kill('SIGKILL');
      await exited;
      if (exit !== 'SIGKILL') problems.push(`run ${run}: the import ended (${String(exit)}) before the kill`);
      const p = await importPrefix(db, org.orgId, book);
      points.push(`+${grow / o.chunk} chunks +${extra} ms → ${p.rows}`);
      if (p.distinct !== p.rows) {
        duplicated += p.rows - p.distinct;
        problems.push(`run ${run}: ${p.rows - p.distinct} lines stored twice`);
      }
      if ((p.rows % o.chunk !== 0 && p.rows !== o.lines) || (p.rows > 0 && p.last !== book.ext(p.rows - 1))) {
        halfWritten++;
        problems.push(`run ${run}: ${p.rows} lines stored, last ${p.last ?? '-'}: not a prefix of whole ${o.chunk}-line chunks`);
      }
      if (p.rows < before) problems.push(`run ${run}: ${before - p.rows} committed lines disappeared`);
      problems.push(...shapeProblems(await logShape(db, org.orgId)).map((x) => `run ${run}: ${x}`));
      o.log?.(`  large import: run ${run} killed at ${p.rows} of ${o.lines} lines (${Math.round((Date.now() - started) / 1000)} s)`);
      const want = `${o.lines} lines`;
      if (stdout.includes(want)) problems.push(`run ${run}: finished before the kill`);
      before = p.rows;
    } else {
      await exited;
      const want = `${o.lines} lines: ${o.lines - before} recorded, ${before} already recorded`;
      if (exit !== '0' || !stdout.includes(want)) problems.push(`last run: expected "${want}", got ${String(exit)}: ${stdout.trim()} ${stderr.trim()}`);
    }
  }
  const p = await importPrefix(db, org.orgId, book);
  if (p.rows !== o.lines || p.distinct !== o.lines) problems.push(`at the end ${p.rows} rows, ${p.distinct} distinct, of ${o.lines} lines`);
  problems.push(...shapeProblems(await logShape(db, org.orgId)));
  const t = Date.now();
  const v = await verifyApi(rig.server.url, org.adminKey);
  o.log?.(`  large import: verify of ${v.entries} entries ${v.ok ? 'passed' : 'FAILED'} in ${Math.round((Date.now() - t) / 1000)} s`);
  if (!v.ok) problems.push(`verify failed: ${v.detail}`);
  rmSync(file, { force: true });
  return {
    scenario: `import of ${o.lines.toLocaleString('en')} lines via CLI, ${o.kills} × CLI SIGKILL`,
    engine: rig.engine,
    trial: o.trial,
    seed: o.seed,
    at: points.join('; '),
    acked: before,
    inDoubt: 0,
    inDoubtWritten: 0,
    lost: Math.max(0, o.lines - p.rows),
    duplicated,
    halfWritten,
    replayed: before,
    verified: v.ok,
    recoveryMs: Date.now() - started,
    errors: '',
    problems,
  };
}
