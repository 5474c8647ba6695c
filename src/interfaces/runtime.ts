import { join, resolve } from 'node:path';
import type { AppDeps } from '../app/deps.ts';
import { systemClock } from '../app/ports/clock.ts';
import { randomIds } from '../app/ports/id-source.ts';
import type { LoadedSigner } from '../adapters/signing/note-signer.ts';
import { loadSigner } from '../adapters/signing/note-signer.ts';
import { createStore } from '../adapters/store/create-store.ts';
import type { KyselyStore } from '../adapters/store/kysely-store.ts';

export interface RuntimeOptions {
  /** postgres:// URL, or a PGlite directory; default: DATABASE_URL, else <home>/db. */
  readonly db?: string | undefined;
  /** Where the embedded database and the checkpoint key live; default SPENDTRAIL_HOME or ./.spendtrail. */
  readonly home?: string | undefined;
  readonly createKey?: boolean;
}

export interface Runtime {
  readonly deps: AppDeps;
  readonly store: KyselyStore;
  readonly signer: LoadedSigner;
  readonly home: string;
  readonly location: string;
  close(): Promise<void>;
}

/** The composition root: picks the engine, migrates, loads the checkpoint key. */
export async function openRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const home = resolve(options.home ?? process.env.SPENDTRAIL_HOME ?? '.spendtrail');
  // An empty DATABASE_URL means unset, as in most twelve-factor tools.
  const location = options.db ?? (process.env.DATABASE_URL || undefined) ?? join(home, 'db');
  const signer = loadSigner({
    keyFile: process.env.SPENDTRAIL_SIGNING_KEY_FILE ?? join(home, 'checkpoint.key'),
    name: process.env.SPENDTRAIL_LOG_NAME ?? 'spendtrail.local',
    create: options.createKey ?? true,
    env: process.env,
  });
  const store = await createStore(location);
  const deps: AppDeps = { store, clock: systemClock, ids: randomIds, signer };
  return { deps, store, signer, home, location, close: () => store.close() };
}

/** A URL with its password masked, for printing. */
export const redactUrl = (u: string): string => u.replace(/(postgres(?:ql)?:\/\/[^:/@]+):[^@]*@/, '$1:***@');
