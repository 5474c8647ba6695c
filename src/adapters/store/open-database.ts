import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite, type PGliteOptions } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { PGliteDialect } from './pglite-dialect.ts';

export type Engine = 'postgres' | 'pglite';

export interface OpenedDatabase {
  readonly db: Kysely<unknown>;
  readonly engine: Engine;
  /** The pg pool, for COPY and other driver-level work; absent on PGlite. */
  readonly pool: pg.Pool | undefined;
}

/**
 * Engine settings for PGlite, on top of its own defaults.
 *
 * shared_buffers: PGlite allocates the buffer pool inside its WebAssembly memory and touches
 * all of it at start, so the whole pool counts in the process's RSS from the first second and
 * the memory is never given back. PostgreSQL's default of 128 MB put an opened directory at
 * about 410 MB RSS and a 100k-transaction import at 530 MB; 32 MB saves about 95 MB of RSS.
 * Pages that do not fit stay in the operating system's page cache behind the data files, and
 * bulk ingest measured no slower (it appends; the hot index pages fit).
 */
export const PGLITE_SETTINGS: Readonly<Record<string, string>> = { shared_buffers: '32MB' };

/** `-c name=value` pairs, as both the server and initdb take them. */
const settingArgs = (): string[] => Object.entries(PGLITE_SETTINGS).flatMap(([k, v]) => ['-c', `${k}=${v}`]);

/**
 * Options for every PGlite instance. The settings go on the command line, where they override
 * postgresql.conf, so that directories created before them get them too; initdb receives them
 * as well, so that the bootstrap of a new directory runs with the same bounded pool.
 *
 * Durability: PGlite starts PostgreSQL with fsync off (`-F`), and its Node filesystem has no
 * fsync to call anyway, so a commit is acknowledged once its WAL is written to the operating
 * system: it survives the process being killed, not a power cut. `relaxedDurability` is not used: on this filesystem it
 * only stops awaiting a sync that does nothing, and elsewhere it would acknowledge a commit
 * before it is stored.
 */
export function pgliteOptions(): PGliteOptions {
  const args = settingArgs();
  return { startParams: [...PGlite.defaultStartParams, ...args], initDbStartParams: args };
}

/**
 * One factory picks the engine: a `postgres://` URL means PostgreSQL, anything else is a
 * directory for the embedded PGlite engine (`memory://` keeps it in memory, for tests).
 */
export async function openDatabase(location: string, options: { poolSize?: number } = {}): Promise<OpenedDatabase> {
  if (/^postgres(ql)?:\/\//.test(location)) {
    const pool = new pg.Pool({ connectionString: location, max: options.poolSize ?? 10 });
    // A dropped idle connection must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    return { db: new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) }), engine: 'postgres', pool };
  }
  const pglite = location === 'memory://' ? await openPglite(undefined) : await openPgliteDirectory(location);
  return { db: new Kysely<unknown>({ dialect: new PGliteDialect(pglite) }), engine: 'pglite', pool: undefined };
}

async function openPglite(dataDir: string | undefined): Promise<PGlite> {
  const pglite = new PGlite(dataDir, pgliteOptions());
  await pglite.waitReady;
  return pglite;
}

/**
 * Opens a PGlite directory, creating it first if need be. PGlite creates a database with a
 * second engine instance that runs initdb, and the instance it returns keeps that one's memory
 * reachable (about 400 MB of RSS) for as long as it is open. Closing it once the directory
 * exists and opening the directory again lets that memory be collected, so a process that
 * created its database runs in the same memory as one that opened an existing one.
 */
async function openPgliteDirectory(dir: string): Promise<PGlite> {
  const exists = existsSync(join(dir, 'PG_VERSION'));
  mkdirSync(dir, { recursive: true });
  if (!exists) await (await openPglite(dir)).close();
  return openPglite(dir);
}
