import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/interfaces/http/server.ts';
import { issueApiKey, revokeApiKey } from '../src/app/setup.ts';
import { checkPassword, createUser, disableUser, hashPassword, setUserRoles } from '../src/app/users.ts';
import { verifyLog } from '../src/app/verify.ts';
import type { Principal } from '../src/app/principal.ts';
import { openTestEnv } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { seedOrg } from './support/fixtures.ts';
import { createUserWithPassword, getPage, loginToken, postForm, postLogin, SAME_ORIGIN, signIn, signInWithKey } from './support/web.ts';

let env: TestEnv;
let app: FastifyInstance;
let admin: Principal;
let adminKey: string;

beforeAll(async () => {
  env = await openTestEnv('pglite');
  const seeded = await seedOrg(env.deps);
  admin = seeded.admin;
  adminKey = seeded.adminKey;
  app = await buildServer(env.deps, { verifier: env.signer.note, secureCookies: true });
});
afterAll(async () => {
  await app?.close();
  await env?.close();
});

const setCookies = (h: string | string[] | number | undefined): string[] => (h === undefined ? [] : Array.isArray(h) ? h : [String(h)]);

describe('passwords', () => {
  it('hashes with scrypt N=2^15, r=8, p=1 and a 16-byte salt, parameters in the string', async () => {
    const h = await hashPassword('correct horse battery staple');
    const [name, n, r, p, salt, key] = h.split('$');
    expect([name, n, r, p]).toEqual(['scrypt', '32768', '8', '1']);
    expect(Buffer.from(salt ?? '', 'base64url')).toHaveLength(16);
    expect(Buffer.from(key ?? '', 'base64url')).toHaveLength(32);
    expect(await checkPassword('correct horse battery staple', h)).toBe(true);
    expect(await checkPassword('correct horse battery stapler', h)).toBe(false);
    // Two hashes of one password differ (salted).
    expect(await hashPassword('correct horse battery staple')).not.toBe(h);
  });

  it('refuses passwords under 12 characters, agent roles and duplicate emails, naming the field', async () => {
    await expect(createUser(env.deps, admin, { email: 'short@acme.test', roles: ['finance'], password: 'elevenchars' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'password' });
    await expect(createUser(env.deps, admin, { email: 'bot@acme.test', roles: ['agent'], password: 'long enough password' })).rejects.toMatchObject({ field: 'roles[0]' });
    await createUser(env.deps, admin, { email: 'Dup@Acme.test', roles: ['finance'], password: 'long enough password' });
    await expect(createUser(env.deps, admin, { email: 'dup@acme.test', roles: ['auditor'], password: 'long enough password' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'email' });
  });

  it('generates a password when none is given, and it signs in', async () => {
    const { user, password } = await createUser(env.deps, admin, { email: 'gen@acme.test', roles: ['auditor'] });
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(user.email).toBe('gen@acme.test');
    const s = await signIn(app, 'gen@acme.test', password as string);
    expect((await getPage(app, '/', s.cookie)).statusCode).toBe(200);
  });
});

describe('sign-in', () => {
  it('signs in with email and password: a new HttpOnly, SameSite=Strict, Secure cookie holding 32 random bytes', async () => {
    await createUserWithPassword(env.deps, admin, 'fiona@acme.test', ['finance']);
    const res = await postLogin(app, '/login', { email: 'FIONA@acme.test', password: 'correct horse battery staple', next: '/ledger' });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/ledger');
    const line = setCookies(res.headers['set-cookie']).find((l) => l.startsWith('spendtrail_session='));
    expect(line).toMatch(/HttpOnly/);
    expect(line).toMatch(/SameSite=Strict/);
    expect(line).toMatch(/Secure/);
    const token = decodeURIComponent(/^spendtrail_session=([^;]+)/.exec(line ?? '')?.[1] ?? '');
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    // Only the token's hash is stored.
    const stored = await env.sql(`select token_hash from web_sessions`);
    expect(stored.some((r) => r.token_hash === token)).toBe(false);
    expect(stored.length).toBeGreaterThan(0);
    const page = await getPage(app, '/ledger', `spendtrail_session=${token}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('fiona@acme.test');
  });

  it('says the same thing for an unknown email and a wrong password', async () => {
    const a = await postLogin(app, '/login', { email: 'nobody@acme.test', password: 'whatever whatever' });
    const b = await postLogin(app, '/login', { email: 'fiona@acme.test', password: 'wrong wrong wrong' });
    expect(a.statusCode).toBe(401);
    expect(b.statusCode).toBe(401);
    const msg = (body: string): string | undefined => /role="alert">([\s\S]*?)<\/div>/.exec(body)?.[1];
    expect(msg(a.body)).toBeDefined();
    expect(msg(a.body)).toBe(msg(b.body));
  });

  it('never follows next= off the site', async () => {
    const res = await postLogin(app, '/login', { email: 'fiona@acme.test', password: 'correct horse battery staple', next: '//evil.example/x' });
    expect(res.headers.location).toBe('/');
  });

  it('refuses a sign-in form without its double-submit token, or from another origin', async () => {
    const { cookie, token } = await loginToken(app);
    const fields = { email: 'fiona@acme.test', password: 'correct horse battery staple' };
    const post = (headers: Record<string, string>, body: Record<string, string>) =>
      app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: new URLSearchParams(body).toString() });
    expect((await post({ cookie, origin: SAME_ORIGIN }, fields)).statusCode).toBe(403);
    expect((await post({ origin: SAME_ORIGIN }, { ...fields, csrf: token })).statusCode).toBe(403);
    expect((await post({ cookie, origin: SAME_ORIGIN }, { ...fields, csrf: `${token}x` })).statusCode).toBe(403);
    expect((await post({ cookie, origin: 'https://evil.example' }, { ...fields, csrf: token })).statusCode).toBe(403);
    expect((await post({ cookie, referer: 'https://evil.example/page' }, { ...fields, csrf: token })).statusCode).toBe(403);
    expect((await post({ cookie, origin: SAME_ORIGIN }, { ...fields, csrf: token })).statusCode).toBe(303);
  });

  it('throttles failed sign-ins per email with 429 and Retry-After, even with the right password afterwards', async () => {
    await createUserWithPassword(env.deps, admin, 'target@acme.test', ['auditor']);
    const codes: number[] = [];
    for (let i = 0; i < 11; i++) codes.push((await postLogin(app, '/login', { email: 'target@acme.test', password: `guess number ${i}` })).statusCode);
    expect(codes.slice(0, 10).every((c) => c === 401)).toBe(true);
    expect(codes[10]).toBe(429);
    const right = await postLogin(app, '/login', { email: 'target@acme.test', password: 'correct horse battery staple' });
    expect(right.statusCode).toBe(429);
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);
    // Another person is not locked out by it.
    expect((await postLogin(app, '/login', { email: 'fiona@acme.test', password: 'correct horse battery staple' })).statusCode).toBe(303);
  });

  it('signs in with a non-agent API key and refuses an agent key', async () => {
    const s = await signInWithKey(app, adminKey);
    expect((await getPage(app, '/users', s.cookie)).statusCode).toBe(200);
    const agent = await issueApiKey(env.deps, admin, { principal: 'support-bot@agents', roles: ['agent'], agent_id: 'support-bot' });
    const res = await postLogin(app, '/login/key', { api_key: agent.api_key });
    expect(res.statusCode).toBe(403);
    expect(setCookies(res.headers['set-cookie']).some((l) => /^spendtrail_session=[^;]/.test(l))).toBe(false);
    expect((await postLogin(app, '/login/key', { api_key: 'st_notakey' })).statusCode).toBe(401);
  });

  it('gives every sign-in a new session and ends the one carried in (no fixation)', async () => {
    const first = await signIn(app, 'fiona@acme.test', 'correct horse battery staple');
    const { cookie, token } = await loginToken(app);
    const res = await app.inject({
      method: 'POST',
      url: '/login',
      headers: { cookie: `${cookie}; ${first.cookie}`, origin: SAME_ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ csrf: token, email: 'fiona@acme.test', password: 'correct horse battery staple' }).toString(),
    });
    const next = /spendtrail_session=([^;]+)/.exec(setCookies(res.headers['set-cookie']).join('\n'))?.[1];
    expect(next).toBeDefined();
    expect(`spendtrail_session=${next}`).not.toBe(first.cookie);
    expect((await getPage(app, '/', first.cookie)).statusCode).toBe(303);
  });
});

describe('sessions', () => {
  it('logs out with POST and the csrf token; the cookie no longer works', async () => {
    const s = await signIn(app, 'fiona@acme.test', 'correct horse battery staple');
    expect((await postForm(app, '/logout', s.cookie, {})).statusCode).toBe(403);
    const out = await postForm(app, '/logout', s.cookie, { csrf: s.csrf });
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe('/login');
    const again = await getPage(app, '/', s.cookie);
    expect(again.statusCode).toBe(303);
    expect(again.headers.location).toBe('/login?next=%2F');
  });

  it('expires after 30 idle minutes and after 12 hours whatever the activity', async () => {
    const s = await signIn(app, 'fiona@acme.test', 'correct horse battery staple');
    env.clock.advance(29 * 60 * 1000);
    expect((await getPage(app, '/', s.cookie)).statusCode).toBe(200);
    env.clock.advance(29 * 60 * 1000);
    expect((await getPage(app, '/', s.cookie)).statusCode).toBe(200);
    env.clock.advance(31 * 60 * 1000);
    expect((await getPage(app, '/', s.cookie)).statusCode).toBe(303);

    const t = await signIn(app, 'fiona@acme.test', 'correct horse battery staple');
    for (let i = 0; i < 24; i++) {
      env.clock.advance(29 * 60 * 1000);
      await getPage(app, '/', t.cookie);
    }
    // 24 × 29 min = 11 h 36 min: still inside the absolute limit.
    expect((await getPage(app, '/', t.cookie)).statusCode).toBe(200);
    env.clock.advance(29 * 60 * 1000);
    expect((await getPage(app, '/', t.cookie)).statusCode).toBe(303);
  });

  it('ends sessions at once when the user is disabled or their roles change, and when a key is revoked', async () => {
    const { user } = await createUserWithPassword(env.deps, admin, 'gone@acme.test', ['approver', 'auditor']);
    const s = await signIn(app, 'gone@acme.test', 'correct horse battery staple');
    await setUserRoles(env.deps, admin, { user_id: user.user_id, roles: ['auditor'] });
    expect((await getPage(app, '/', s.cookie)).statusCode).toBe(303);
    const s2 = await signIn(app, 'gone@acme.test', 'correct horse battery staple');
    expect((await getPage(app, '/', s2.cookie)).body).toContain('gone@acme.test · auditor');
    await disableUser(env.deps, admin, user.user_id);
    expect((await getPage(app, '/', s2.cookie)).statusCode).toBe(303);
    // A disabled user cannot sign in again, with the same generic answer.
    expect((await postLogin(app, '/login', { email: 'gone@acme.test', password: 'correct horse battery staple' })).statusCode).toBe(401);

    const key = await issueApiKey(env.deps, admin, { principal: 'temp-admin@acme.test', roles: ['auditor'] });
    const k = await signInWithKey(app, key.api_key);
    await revokeApiKey(env.deps, admin, key.key_id);
    expect((await getPage(app, '/', k.cookie)).statusCode).toBe(303);
  });

  it('logs users and role changes, never the password hash, and verify checks the users table', async () => {
    const entries = await env.sql(`select data from log_entries where kind = 'user'`);
    expect(entries.length).toBeGreaterThanOrEqual(4);
    const hashes = (await env.sql(`select password_hash from users`)).map((r) => String(r.password_hash));
    for (const e of entries) for (const h of hashes) expect(String(e.data)).not.toContain(h.split('$')[5]);
    const gone = entries.map((e) => JSON.parse(String(e.data)) as { body: { email: string; roles: string[]; disabled: boolean } }).filter((e) => e.body.email === 'gone@acme.test');
    expect(gone.map((e) => [e.body.roles.join(','), e.body.disabled])).toEqual([
      ['approver,auditor', false],
      ['auditor', false],
      ['auditor', true],
    ]);
    expect((await verifyLog(env.deps, admin, env.signer.note)).ok).toBe(true);
    await env.sql(`update users set roles = array['admin'] where email = 'fiona@acme.test'`);
    const r = await verifyLog(env.deps, admin, env.signer.note);
    expect(r.ok).toBe(false);
    expect(r.findings.map((f) => f.what).join('\n')).toMatch(/user .* in its table differs from the log/);
    await env.sql(`update users set roles = array['finance'] where email = 'fiona@acme.test'`);
  });
});
