/**
 * Role × page matrix for the dashboard. The routes come from the server itself (an onRoute hook
 * in the dashboard plugin), so a page added without a row here fails the first test. Every GET
 * is opened by every role, signed out, and with a disabled user's, an idle-expired and a signed-out
 * session; every POST is sent by a role that may not use it, and by one that may but without
 * the csrf token, with a wrong one, and from another origin. None of the allowed POSTs is carried
 * out here: the page tests do that with real data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildServer } from '../src/interfaces/http/server.ts';
import { dashboardRoutes, WEB_HEADERS } from '../src/interfaces/web/plugin.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { generateSummary } from '../src/app/summaries.ts';
import { disableUser } from '../src/app/users.ts';
import { issueApiKey } from '../src/app/setup.ts';
import type { Principal, Role } from '../src/app/principal.ts';
import { openTestEnv } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { seedOrg, tx } from './support/fixtures.ts';
import type { SignedIn } from './support/web.ts';
import { createUserWithPassword, getPage, postForm, postLogin, signIn, signInWithKey } from './support/web.ts';

type Access = 'public' | readonly Role[];
const PEOPLE: readonly Role[] = ['policy_admin', 'approver', 'finance', 'auditor'];
const EXPORTERS: readonly Role[] = ['finance', 'auditor'];

/** Every dashboard route: who may use it, and (for GET) the URL to open. `:tx`, `:summary` are filled from fixtures. */
const MATRIX: Record<string, { access: Access; url?: string }> = {
  'GET /assets/:name': { access: 'public', url: '/assets/app.css' },
  'GET /login': { access: 'public' },
  'POST /login': { access: 'public' },
  'POST /login/key': { access: 'public' },
  'POST /logout': { access: PEOPLE },
  'GET /': { access: PEOPLE },
  'POST /verify': { access: ['auditor'] },
  'GET /ledger': { access: PEOPLE, url: '/ledger?violation=blocked_category' },
  'GET /ledger.csv': { access: PEOPLE },
  'GET /ledger/:tx_id': { access: PEOPLE, url: '/ledger/:tx' },
  'GET /policies': { access: PEOPLE },
  'GET /policies/:agent_id': { access: PEOPLE, url: '/policies/support-bot' },
  'POST /policies/:agent_id/changes': { access: ['policy_admin'] },
  'GET /approvals': { access: PEOPLE },
  'POST /approvals/:change_id/approve': { access: ['approver'] },
  'POST /approvals/:change_id/reject': { access: ['approver', 'policy_admin'] },
  'POST /approvals/spend': { access: ['approver'] },
  'GET /summaries': { access: PEOPLE },
  'GET /summaries/:id': { access: PEOPLE, url: '/summaries/:summary' },
  'GET /summaries/:id/pdf': { access: PEOPLE, url: '/summaries/:summary/pdf' },
  'POST /summaries/:id/sign-off': { access: ['finance'] },
  'POST /summaries': { access: ['finance'] },
  'GET /exports': { access: EXPORTERS },
  'GET /exports/ledger.csv': { access: EXPORTERS, url: '/exports/ledger.csv?month=2026-03' },
  'GET /exports/ledger.xlsx': { access: EXPORTERS, url: '/exports/ledger.xlsx?month=2026-03' },
  'GET /exports/policy-changes': { access: EXPORTERS, url: '/exports/policy-changes?format=csv' },
  'GET /exports/evidence.zip': { access: EXPORTERS, url: '/exports/evidence.zip?month=2026-03' },
  'GET /exports/accounting': { access: EXPORTERS, url: '/exports/accounting?month=2026-03&format=hledger' },
  'GET /users': { access: ['admin'] },
  'POST /users': { access: ['admin'] },
  'POST /users/roles': { access: ['admin'] },
  'POST /users/disable': { access: ['admin'] },
};

const ROLES: readonly Role[] = ['admin', 'policy_admin', 'approver', 'finance', 'auditor'];
const may = (access: Access, role: Role): boolean => access === 'public' || role === 'admin' || access.includes(role);

let env: TestEnv;
let app: FastifyInstance;
let admin: Principal;
const as = new Map<string, SignedIn>();
const dead = new Map<string, SignedIn>();
let fill: Record<string, string> = {};

beforeAll(async () => {
  env = await openTestEnv('pglite');
  const seeded = await seedOrg(env.deps);
  admin = seeded.admin;
  env.clock.set('2026-03-20T12:00:00Z');
  const out = await recordTransactions(env.deps, admin, [
    tx({ merchant: 'Lucky Casino', merchant_category: '7995', accounting_code: '6999', amount: '12.00', timestamp: '2026-03-16T10:00:00Z' }),
    tx({ amount: '30.00', timestamp: '2026-03-15T10:00:00Z' }),
  ]);
  const first = out[0];
  if (first === undefined || !first.ok || first.result.status !== 'recorded') throw new Error('fixture not recorded');
  env.clock.set('2026-04-10T12:00:00Z');
  const { summary } = await generateSummary(env.deps, admin, { month: '2026-03' }, { verifier: env.signer.note });
  fill = { ':tx': first.result.transaction.tx_id, ':summary': summary.document.summary_id };
  app = await buildServer(env.deps, { verifier: env.signer.note });
  for (const role of ROLES) {
    await createUserWithPassword(env.deps, admin, `${role}@acme.test`, [role]);
    as.set(role, await signIn(app, `${role}@acme.test`, 'correct horse battery staple'));
  }
  as.set('admin by API key', await signInWithKey(app, seeded.adminKey));

  const { user } = await createUserWithPassword(env.deps, admin, 'leaver@acme.test', ['finance']);
  dead.set('disabled user', await signIn(app, 'leaver@acme.test', 'correct horse battery staple'));
  await disableUser(env.deps, admin, user.user_id);
  await createUserWithPassword(env.deps, admin, 'idle@acme.test', ['finance']);
  const idle = await signIn(app, 'idle@acme.test', 'correct horse battery staple');
  // Idle for 31 minutes: moved back in the database rather than moving everyone's clock.
  await env.sql(`update web_sessions set last_seen_at = last_seen_at - interval '31 minutes', created_at = created_at - interval '31 minutes' where principal = 'idle@acme.test'`);
  dead.set('idle-expired session', idle);
  await createUserWithPassword(env.deps, admin, 'out@acme.test', ['finance']);
  const out2 = await signIn(app, 'out@acme.test', 'correct horse battery staple');
  expect((await postForm(app, '/logout', out2.cookie, { csrf: out2.csrf })).statusCode).toBe(303);
  dead.set('signed-out session', out2);
  dead.set('no session', { cookie: '', csrf: '' });
  dead.set('made-up token', { cookie: `spendtrail_session=${'A'.repeat(43)}`, csrf: 'x' });
}, 120_000);
afterAll(async () => {
  await app?.close();
  await env?.close();
});

const key = (r: { method: string; url: string }): string => `${r.method} ${r.url}`;
const urlOf = (k: string): string => {
  const row = MATRIX[k];
  let u = row?.url ?? k.split(' ')[1] ?? '/';
  for (const [p, v] of Object.entries(fill)) u = u.replace(p, v);
  return u;
};
const getRoutes = (): string[] => Object.keys(MATRIX).filter((k) => k.startsWith('GET '));
const postRoutes = (): string[] => Object.keys(MATRIX).filter((k) => k.startsWith('POST ') && MATRIX[k]?.access !== 'public');

function expectHeaders(res: LightMyRequestResponse, what: string): void {
  for (const [h, v] of Object.entries(WEB_HEADERS)) expect(res.headers[h], `${what}: ${h}`).toBe(v);
  expect(String(res.headers['content-security-policy'])).toContain("script-src 'self'");
  expect(String(res.headers['content-security-policy'])).not.toContain('unsafe-inline');
}

describe('role × page matrix', () => {
  it('has a row for every dashboard route the server registers, and no row for a route that does not exist', async () => {
    await app.ready();
    const registered = dashboardRoutes(app).map(key).sort();
    expect(registered.length).toBeGreaterThan(20);
    expect(registered).toEqual(Object.keys(MATRIX).sort());
  });

  it('lets each role open exactly the pages its roles allow (200), refuses the rest (403)', async () => {
    const wrong: string[] = [];
    for (const [who, s] of as) {
      const role: Role = who === 'admin by API key' ? 'admin' : (who as Role);
      for (const k of getRoutes()) {
        const res = await getPage(app, urlOf(k), s.cookie);
        const want = may(MATRIX[k]!.access, role) ? 200 : 403;
        if (res.statusCode !== want) wrong.push(`${who} ${k}: ${res.statusCode}, expected ${want} ${res.statusCode >= 400 ? res.body.slice(res.body.indexOf('role="alert"'), res.body.indexOf('role="alert"') + 200) : ''}`);
        expectHeaders(res, `${who} ${k}`);
      }
    }
    expect(wrong).toEqual([]);
  }, 300_000);

  it('sends signed-out, disabled, expired and ended sessions to /login from every page', async () => {
    const wrong: string[] = [];
    for (const [who, s] of dead) {
      for (const k of getRoutes()) {
        const url = urlOf(k);
        const res = await getPage(app, url, s.cookie);
        if (MATRIX[k]!.access === 'public') {
          if (res.statusCode !== 200) wrong.push(`${who} ${k}: ${res.statusCode}`);
        } else if (res.statusCode !== 303 || res.headers.location !== `/login?next=${encodeURIComponent(url)}`) {
          wrong.push(`${who} ${k}: ${res.statusCode} → ${String(res.headers.location)}`);
        }
        expectHeaders(res, `${who} ${k}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('refuses every form post: wrong role, no csrf, wrong csrf, another origin (403), or no session (401)', async () => {
    const wrong: string[] = [];
    const expectStatus = (what: string, res: LightMyRequestResponse, want: number): void => {
      if (res.statusCode !== want) wrong.push(`${what}: ${res.statusCode}, expected ${want}`);
    };
    for (const k of postRoutes()) {
      const access = MATRIX[k]!.access as readonly Role[];
      const url = urlOf(k).replace(/:[a-z_]+/g, 'x');
      for (const role of ROLES.filter((r) => !may(access, r))) {
        const s = as.get(role)!;
        expectStatus(`${role} ${k}`, await postForm(app, url, s.cookie, { csrf: s.csrf }), 403);
      }
      const allowed = as.get(ROLES.find((r) => r !== 'admin' && may(access, r)) ?? 'admin')!;
      expectStatus(`${k} without csrf`, await postForm(app, url, allowed.cookie, {}), 403);
      expectStatus(`${k} wrong csrf`, await postForm(app, url, allowed.cookie, { csrf: `${allowed.csrf.slice(1)}x` }), 403);
      expectStatus(`${k} cross-origin`, await postForm(app, url, allowed.cookie, { csrf: allowed.csrf }, { origin: 'https://evil.example' }), 403);
      expectStatus(`${k} cross-site referer`, await postForm(app, url, allowed.cookie, { csrf: allowed.csrf }, { referer: 'https://evil.example/x' }), 403);
      for (const [who, s] of dead) {
        const res = await postForm(app, url, s.cookie, { csrf: s.csrf });
        // Signing out without a live session changes nothing and just lands on the sign-in page.
        if (k === 'POST /logout') expectStatus(`${who} ${k}`, res, res.headers.location === '/login' ? 303 : -1);
        else expectStatus(`${who} ${k}`, res, 401);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('refuses an agent key at the API-key sign-in, with no session cookie', async () => {
    const agent = await issueApiKey(env.deps, admin, { principal: 'support-bot@agents', roles: ['agent'], agent_id: 'support-bot' });
    const res = await postLogin(app, '/login/key', { api_key: agent.api_key });
    expect(res.statusCode).toBe(403);
    expect(String(res.headers['set-cookie'] ?? '')).not.toMatch(/spendtrail_session=[^;]/);
    expectHeaders(res, 'agent key sign-in');
  });
});
