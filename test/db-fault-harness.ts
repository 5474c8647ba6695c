/**
 * Database faults under load, against the real server process: the database going away (a
 * loopback TCP proxy in front of PostgreSQL that the test cuts and restores, or, in the soak
 * only, a real `pg_ctlcluster … restart`). Clients keep a record of every acknowledged write and
 * honour 503 by retrying; afterwards every acknowledged write is stored once, nothing else but
 * writes in doubt, verify passes, and the server never restarted.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import pg from 'pg';
import { PG_URL } from './support/engines.ts';
import type { Org, Rig, TrialResult } from './crash-harness.ts';
import {
  AckBook,
  ImportBook,
  apiImport,
  logShape,
  rng,
  send,
  shapeProblems,
  singleCallLoad,
  sleep,
  storedSql,
  verifyApi,
  waitFor,
} from './crash-harness.ts';
import type { LoadControl } from './crash-harness.ts';

/**
 * A loopback TCP proxy to PostgreSQL. `cut()` drops every connection through it and refuses new
 * ones, as a database that crashed or restarted does to its clients; `restore()` lets them in
 * again on the same port. Only the connections of whoever uses the proxy's port are affected.
 */
export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  private server: net.Server | null = null;
  port = 0;

  constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {}

  static forUrl(url: string): TcpProxy {
    const u = new URL(url);
    return new TcpProxy(u.hostname, Number(u.port || '5432'));
  }

  /** The URL to give the server: the same database, through the proxy. */
  url(databaseUrl: string): string {
    const u = new URL(databaseUrl);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  async start(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.upstreamPort, this.upstreamHost);
      this.sockets.add(client);
      this.sockets.add(upstream);
      const end = (): void => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const a = server.address();
    if (a !== null && typeof a === 'object') this.port = a.port;
    this.server = server;
  }

  /** Every connection through the proxy is reset, and new ones are refused until restore(). */
  async cut(): Promise<void> {
    const s = this.server;
    this.server = null;
    for (const x of this.sockets) x.resetAndDestroy();
    this.sockets.clear();
    if (s !== null) await new Promise<void>((r) => s.close(() => r()));
  }

  restore(): Promise<void> {
    return this.start();
  }

  async close(): Promise<void> {
    await this.cut();
  }
}

/** The PostgreSQL cluster of this machine, as `pg_ctlcluster` names it (e.g. "15 main"). */
export function localCluster(): { version: string; name: string } | undefined {
  try {
    const versions = readdirSync('/etc/postgresql');
    const version = versions[0];
    if (version === undefined) return undefined;
    const names = readdirSync(`/etc/postgresql/${version}`);
    return names.includes('main') ? { version, name: 'main' } : undefined;
  } catch {
    return undefined;
  }
}

/** Restarts the local PostgreSQL cluster (fast shutdown: sessions are terminated), in ms. */
export function restartPostgres(cluster: { version: string; name: string }): Promise<number> {
  const t = Date.now();
  return new Promise((resolve, reject) => {
    execFile('pg_ctlcluster', ['--skip-systemctl-redirect', cluster.version, cluster.name, 'restart', '-m', 'fast'], { timeout: 120_000 }, (err, _o, stderr) => {
      if (err !== null) reject(new Error(`pg_ctlcluster restart failed: ${err.message} ${stderr}`));
      else resolve(Date.now() - t);
    });
  });
}

/**
 * Other people's sessions on the shared PostgreSQL server: client backends not connected to
 * one of `ours`. A restart would break their tests, so the soak waits for a quiet server.
 */
export async function otherSessions(ours: readonly string[]): Promise<string[]> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    const r = await c.query<{ datname: string | null; application_name: string; n: string }>(
      `select datname, application_name, count(*) as n from pg_stat_activity
       where backend_type = 'client backend' and pid <> pg_backend_pid() and not (datname = any($1::text[]))
       group by 1, 2`,
      [ours],
    );
    return r.rows.map((x) => `${x.n} on ${x.datname ?? '?'}${x.application_name === '' ? '' : ` (${x.application_name})`}`);
  } finally {
    await c.end();
  }
}

export type Outage = (() => Promise<number>) & { readonly label: string };

/**
 * Load through an outage: `clients` single-call clients and one import client run; after a
 * random delay `outage()` takes the database away and brings it back; the load goes on for
 * `afterMs`, then stops. Clients retry 503 answers; a broken connection (the server gone) or any
 * other error answer is a problem. Then: every acknowledged write stored once, the import's
 * chunks whole, verify passes, and the server process is the one that started.
 */
export async function outageTrial(
  rig: Rig,
  org: Org,
  outage: Outage,
  o: { readonly trial: number; readonly seed: number; readonly clients: number; readonly minDelayMs: number; readonly maxDelayMs: number; readonly afterMs: number; readonly importLines: number; readonly chunk: number },
): Promise<TrialResult> {
  const db = rig.db;
  if (db === undefined) throw new Error('outage trials need PostgreSQL');
  const r = rng(o.seed);
  const prefix = `o${o.trial}-${o.seed.toString(36)}`;
  const book = new AckBook();
  const imports = new ImportBook(`${prefix}-imp`, o.importLines, o.chunk);
  const control: LoadControl = { stopped: false, url: rig.server.url };
  const pid = rig.server.pid;
  const delay = r.int(o.minDelayMs, o.maxDelayMs);
  const load = singleCallLoad({ control, key: org.adminKey, clients: o.clients, prefix, book, retry503: true });
  const importing = apiImport({ control, key: org.adminKey, book: imports, from: 0, expect: () => 'either', retry503: true });
  await sleep(delay);
  const ackedBefore = book.acked.size;
  const outageMs = await outage();
  const back = Date.now();
  // Recovery: the first acknowledgement after the database is back.
  const base = book.acked.size;
  const recovered = await waitFor(() => book.acked.size > base, 60_000, 5);
  const recoveryMs = Date.now() - back;
  await sleep(o.afterMs);
  control.stopped = true;
  await Promise.all([load, importing]);

  const problems: string[] = [...book.problems, ...imports.problems];
  if (!recovered) problems.push('no write was acknowledged within 60 s of the database coming back');
  if (!rig.server.alive || rig.server.pid !== pid) problems.push('the server process died');
  const answers = new Map<string, number>();
  for (const [k, n] of [...book.errors, ...imports.errors]) answers.set(k, (answers.get(k) ?? 0) + n);
  for (const [k, n] of answers) if (k !== '503 STORE_UNAVAILABLE') problems.push(`${n} answers ${k}: not a clean 503 STORE_UNAVAILABLE`);
  // Writes still in doubt (a 503 and then the stop) are sent once more: written or not, never twice.
  for (const [ext, body] of [...book.uncertain]) {
    const res = await send(control.url, 'POST', '/v1/transactions', org.adminKey, body);
    if (res.kind !== 'answer' || (res.status !== 201 && res.status !== 200)) problems.push(`resending ${ext}: ${JSON.stringify(res).slice(0, 200)}`);
    else book.ack(ext, (res.body as { transaction: { tx_id: string } }).transaction.tx_id, 'resend');
  }
  const stored = await storedSql(db, org.orgId, prefix);
  let lost = 0;
  let duplicated = 0;
  let halfWritten = 0;
  for (const [ext, txId] of book.acked) {
    const s = stored.get(ext);
    if (s === undefined) {
      lost++;
      problems.push(`acknowledged ${ext} is missing`);
    } else if (s.txId !== txId) {
      duplicated++;
      problems.push(`acknowledged ${ext} as ${txId}, stored as ${s.txId}`);
    }
  }
  for (const [k, ids] of imports.acked) {
    ids.forEach((id, j) => {
      const ext = imports.ext(k * imports.chunk + j);
      const s = stored.get(ext);
      if (s === undefined) {
        lost++;
        problems.push(`acknowledged import line ${ext} is missing`);
      } else if (s.txId !== id) {
        duplicated++;
        problems.push(`import line ${ext} acknowledged as ${id}, stored as ${s.txId}`);
      }
    });
  }
  for (const [ext, s] of stored) {
    if (s.rows !== 1) {
      duplicated++;
      problems.push(`${ext} stored ${s.rows} times`);
    }
    if (book.acked.has(ext) || ext.startsWith(imports.prefix)) continue;
    halfWritten++;
    problems.push(`${ext} stored but never acknowledged`);
  }
  // Import lines: whole acknowledged chunks, and the chunk stopped at (if any) whole or absent.
  for (let k = 0; k < imports.chunks; k++) {
    const size = Math.min(imports.lines, (k + 1) * imports.chunk) - k * imports.chunk;
    let n = 0;
    for (let j = 0; j < size; j++) if (stored.has(imports.ext(k * imports.chunk + j))) n++;
    if (n !== 0 && n !== size) {
      halfWritten += n;
      problems.push(`import chunk ${k}: ${n} of ${size} lines stored`);
    }
    if (n !== 0 && !imports.acked.has(k) && k !== imports.inFlight) {
      halfWritten += n;
      problems.push(`import chunk ${k} stored but never acknowledged nor in flight`);
    }
  }
  problems.push(...shapeProblems(await logShape(db, org.orgId)));
  const v = await verifyApi(control.url, org.adminKey);
  if (!v.ok) problems.push(`verify failed: ${v.detail}`);
  const merged = new Map<string, number>();
  for (const [k, n] of [...book.errors, ...imports.errors]) merged.set(k, (merged.get(k) ?? 0) + n);
  const errors = [...merged].map(([k, n]) => `${n}×${k}`).join(', ');
  return {
    scenario: outage.label,
    engine: rig.engine,
    trial: o.trial,
    seed: o.seed,
    at: `after ${delay} ms (${ackedBefore} acks), down ${outageMs} ms`,
    acked: book.acked.size + imports.ackedLines(),
    inDoubt: 0,
    inDoubtWritten: 0,
    lost,
    duplicated,
    halfWritten,
    replayed: 0,
    verified: v.ok,
    recoveryMs,
    errors,
    problems,
  };
}
