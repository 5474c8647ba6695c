import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { Migrator, sql } from 'kysely';
import { SpendtrailError } from '../../domain/errors.ts';
import * as m001 from './migrations/001-ledger.ts';
import * as m002 from './migrations/002-hot-paths.ts';
import * as m003 from './migrations/003-change-control.ts';
import * as m004 from './migrations/004-summaries.ts';
import * as m005 from './migrations/005-audit-export.ts';
import * as m006 from './migrations/006-rails.ts';
import * as m007 from './migrations/007-qbo-sync.ts';
import * as m008 from './migrations/008-web-users.ts';
import * as m009 from './migrations/009-verified-frontier.ts';
import * as m010 from './migrations/010-summary-rollups.ts';

/** Forward-only migrations, listed in code so a bundled install cannot miss a file. */
const MIGRATIONS: Record<string, Migration> = {
  '001-ledger': m001,
  '002-hot-paths': m002,
  '003-change-control': m003,
  '004-summaries': m004,
  '005-audit-export': m005,
  '006-rails': m006,
  '007-qbo-sync': m007,
  '008-web-users': m008,
  '009-verified-frontier': m009,
  '010-summary-rollups': m010,
};

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(MIGRATIONS) };

export async function migrateToLatest(db: Kysely<unknown>): Promise<string[]> {
  // Pin the bookkeeping tables to the schema in use: otherwise Kysely looks for them in every
  // schema of the database and a deployment with one schema per tenant (or test) gets confused.
  const schema = (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]?.s ?? 'public';
  const migrator = new Migrator({
    db,
    provider,
    migrationTableSchema: schema,
    migrationTableName: 'spendtrail_migrations',
    migrationLockTableName: 'spendtrail_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    throw new SpendtrailError('STORE_UNAVAILABLE', `database migration failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
