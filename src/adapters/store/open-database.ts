import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
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
  if (location !== 'memory://') mkdirSync(location, { recursive: true });
  const pglite = new PGlite(location === 'memory://' ? undefined : location);
  await pglite.waitReady;
  return { db: new Kysely<unknown>({ dialect: new PGliteDialect(pglite) }), engine: 'pglite', pool: undefined };
}
