import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { Migrator } from 'kysely';
import { SpendtrailError } from '../../domain/errors.ts';
import * as m001 from './migrations/001-ledger.ts';

/** Forward-only migrations, listed in code so a bundled install cannot miss a file. */
const MIGRATIONS: Record<string, Migration> = {
  '001-ledger': m001,
};

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(MIGRATIONS) };

export async function migrateToLatest(db: Kysely<unknown>): Promise<string[]> {
  const migrator = new Migrator({ db, provider, migrationTableName: 'spendtrail_migrations', migrationLockTableName: 'spendtrail_migrations_lock' });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    throw new SpendtrailError('STORE_UNAVAILABLE', `database migration failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
