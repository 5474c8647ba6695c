import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Role } from '../../src/app/principal.ts';
import type { ServerOptions } from '../../src/interfaces/http/server.ts';
import { buildServer } from '../../src/interfaces/http/server.ts';
import { openTestEnv } from './engines.ts';
import type { TestEnv } from './engines.ts';
import { seedOrg } from './fixtures.ts';
import type { Seeded } from './fixtures.ts';
import type { SignedIn } from './web.ts';
import { createUserWithPassword, getPage, postForm, signIn } from './web.ts';

/**
 * The people of the dashboard tests, one per role, as real users signing in with a password.
 * alice@acme.test owns support-bot (see seedOrg) and holds the approver role, so the
 * owner-may-not-approve rule can be seen from her side; pat holds policy_admin and approver.
 */
export const PEOPLE_OF_TESTS: Readonly<Record<string, readonly Role[]>> = {
  'pam@acme.test': ['policy_admin'],
  'abe@acme.test': ['approver'],
  'alice@acme.test': ['approver'],
  'pat@acme.test': ['policy_admin', 'approver'],
  'fin@acme.test': ['finance'],
  'aud@acme.test': ['auditor'],
  'root@acme.test': ['admin'],
};

export interface WebOrg {
  readonly env: TestEnv;
  readonly app: FastifyInstance;
  readonly org: Seeded;
  readonly as: Readonly<Record<string, SignedIn>>;
  get(path: string, who: string): Promise<LightMyRequestResponse>;
  /** A form post with the person's csrf token (pass `csrf: ''` in fields to send none). */
  post(path: string, who: string, fields?: Record<string, string | readonly string[]>): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/**
 * A seeded organisation on PGlite behind the real server, its people signed in. The clock is
 * set to `now` first and stays there (sessions idle out after 30 minutes of clock time).
 */
export async function openWebOrg(now = '2026-04-02T09:00:00Z', server: Partial<ServerOptions> = {}): Promise<WebOrg> {
  const env = await openTestEnv('pglite');
  env.clock.set(now);
  const org = await seedOrg(env.deps);
  const app = await buildServer(env.deps, { verifier: env.signer.note, ...server });
  const as: Record<string, SignedIn> = {};
  for (const [email, roles] of Object.entries(PEOPLE_OF_TESTS)) {
    const { password } = await createUserWithPassword(env.deps, org.admin, email, roles);
    as[email] = await signIn(app, email, password);
  }
  const who = (email: string): SignedIn => {
    const s = as[email];
    if (s === undefined) throw new Error(`no test person ${email}`);
    return s;
  };
  return {
    env,
    app,
    org,
    as,
    get: (path, email) => getPage(app, path, who(email).cookie),
    post: (path, email, fields = {}) => postForm(app, path, who(email).cookie, { csrf: who(email).csrf, ...fields }),
    close: async () => {
      await app.close();
      await env.close();
    },
  };
}

/** The text of a page without tags, whitespace collapsed: what a reader sees. */
export const textOf = (body: string): string =>
  body
    .replace(/<\/?(?:strong|b|em|span|code|a)\b[^>]*>/g, '')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
