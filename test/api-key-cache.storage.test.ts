/**
 * The API-key cache: concurrent calls with one key share one lookup; a revocation made in this
 * process applies to the next call; one made by another process (another store object over the
 * same database) applies once the cached entry is older than its two-second window.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppDeps } from '../src/app/deps.ts';
import type { Principal } from '../src/app/principal.ts';
import { authenticate, issueApiKey, revokeApiKey } from '../src/app/setup.ts';
import { SpendtrailError } from '../src/domain/errors.ts';
import { openTestEnv, postgresAvailable } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { seedOrg } from './support/fixtures.ts';

describe('API-key cache on postgres', () => {
  let env: TestEnv;
  let admin: Principal;
  let skip = false;

  beforeAll(async () => {
    if (!(await postgresAvailable())) {
      skip = true;
      return;
    }
    env = await openTestEnv('postgres');
    admin = (await seedOrg(env.deps, 'acme')).admin;
  });
  afterAll(async () => {
    if (!skip) await env.close();
  });

  /** A store object of its own (as another process would have), counting its key lookups. */
  const instance = (): { deps: AppDeps; lookups: () => number } => {
    let n = 0;
    const store = Object.create(env.store) as typeof env.store;
    store.getApiKey = (id: string) => {
      n += 1;
      return env.store.getApiKey(id);
    };
    return { deps: { ...env.deps, store }, lookups: () => n };
  };
  const refused = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
      return 'accepted';
    } catch (e) {
      return e instanceof SpendtrailError ? e.code : String(e);
    }
  };

  it('shares one lookup among concurrent calls and applies revocations within its window', async (ctx) => {
    if (skip) return ctx.skip();
    const key = await issueApiKey(env.deps, admin, { principal: 'cached@acme.test', roles: ['auditor'] });
    const a = instance();
    const principals = await Promise.all(Array.from({ length: 20 }, () => authenticate(a.deps, key.api_key)));
    expect(principals.every((p) => p.principal === 'cached@acme.test')).toBe(true);
    expect(a.lookups()).toBe(1);
    // A wrong secret for a cached key id is still refused.
    expect(await refused(authenticate(a.deps, `${key.api_key.slice(0, -4)}AAAA`))).toBe('UNAUTHENTICATED');

    // Revoked by another process: this one may accept the key until its entry is two seconds old, not after.
    const b = instance();
    await authenticate(b.deps, key.api_key);
    await revokeApiKey(a.deps, admin, key.key_id);
    expect(await refused(authenticate(a.deps, key.api_key))).toBe('UNAUTHENTICATED');
    await new Promise((r) => setTimeout(r, 2100));
    expect(await refused(authenticate(b.deps, key.api_key))).toBe('UNAUTHENTICATED');
  });
});
