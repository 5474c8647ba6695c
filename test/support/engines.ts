import pg from 'pg';
import { randomBytes } from 'node:crypto';
import type { AppDeps } from '../../src/app/deps.ts';
import type { Clock } from '../../src/app/ports/clock.ts';
import { randomIds } from '../../src/app/ports/id-source.ts';
import { createStore } from '../../src/adapters/store/create-store.ts';
import type { KyselyStore } from '../../src/adapters/store/kysely-store.ts';
import type { LoadedSigner } from '../../src/adapters/signing/note-signer.ts';
import { ephemeralSigner } from '../../src/adapters/signing/note-signer.ts';

export const PG_URL = process.env.SPENDTRAIL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type EngineName = 'pglite' | 'postgres';

let pgReachable: Promise<boolean> | undefined;

/** Whether the PostgreSQL test server answers; under CI a missing server fails the run. */
export function postgresAvailable(): Promise<boolean> {
  pgReachable ??= (async () => {
    const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
    try {
      await c.connect();
      await c.end();
      return true;
    } catch (e) {
      if (process.env.CI === 'true') throw new Error(`PostgreSQL at ${PG_URL} is required under CI: ${(e as Error).message}`);
      console.warn(`\n!!! SKIPPED: PostgreSQL at ${PG_URL} is unreachable; the PostgreSQL half of the storage suite went untested.\n`);
      return false;
    }
  })();
  return pgReachable;
}

export const ENGINES: readonly EngineName[] = ['pglite', 'postgres'];

/** A settable clock for tests. */
export class TestClock implements Clock {
  constructor(public current = new Date('2026-03-01T00:00:00.000Z')) {}
  now(): Date {
    return new Date(this.current);
  }
  set(iso: string): void {
    this.current = new Date(iso);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export interface TestEnv {
  readonly engine: EngineName;
  readonly store: KyselyStore;
  readonly deps: AppDeps;
  readonly clock: TestClock;
  readonly signer: LoadedSigner;
  /** Raw SQL as someone with database access would type it. */
  sql(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/** A fresh, migrated database on the given engine: PGlite in memory, or a new PostgreSQL schema. */
export async function openTestEnv(engine: EngineName): Promise<TestEnv> {
  const clock = new TestClock();
  const signer = ephemeralSigner();
  if (engine === 'pglite') {
    const store = await createStore('memory://');
    return {
      engine,
      store,
      clock,
      signer,
      deps: { store, clock, ids: randomIds, signer },
      sql: async (text, params) => {
        const { sql } = await import('kysely');
        const r = await sql.raw(bind(text, params ?? [])).execute(store.kysely);
        return r.rows as Record<string, unknown>[];
      },
      close: () => store.close(),
    };
  }
  const schema = `st_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const url = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const store = await createStore(url, { poolSize: 12 });
  const raw = new pg.Pool({ connectionString: url, max: 2 });
  return {
    engine,
    store,
    clock,
    signer,
    deps: { store, clock, ids: randomIds, signer },
    sql: async (text, params) => (await raw.query(text, params)).rows as Record<string, unknown>[],
    close: async () => {
      await store.close();
      await raw.query(`drop schema ${schema} cascade`);
      await raw.end();
    },
  };
}

/** PGlite's raw path takes no parameters: inline them as literals (tests only, trusted values). */
function bind(text: string, params: unknown[]): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => {
    const v = params[Number(n) - 1];
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'number' || typeof v === 'bigint') return String(v);
    return `'${(typeof v === 'string' ? v : JSON.stringify(v)).replace(/'/g, "''")}'`;
  });
}
