import { KyselyStore } from './kysely-store.ts';
import { migrateToLatest } from './migrate.ts';
import { openDatabase } from './open-database.ts';

/** Opens the database at `location` (postgres:// URL or PGlite directory) and migrates it. */
export async function createStore(location: string, options: { poolSize?: number } = {}): Promise<KyselyStore> {
  const opened = await openDatabase(location, options);
  await migrateToLatest(opened.db);
  return new KyselyStore(opened.db, opened.engine, opened.pool);
}
