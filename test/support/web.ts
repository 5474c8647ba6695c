import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { AppDeps } from '../../src/app/deps.ts';
import type { Principal, Role } from '../../src/app/principal.ts';
import { createUser } from '../../src/app/users.ts';
import type { UserView } from '../../src/app/users.ts';

/** Same-origin header the browser sends with a form post (inject's default host is localhost:80). */
export const SAME_ORIGIN = 'http://localhost:80';

export interface SignedIn {
  /** The `Cookie` header value to send. */
  readonly cookie: string;
  /** The session's CSRF token, for forms. */
  readonly csrf: string;
}

/** Creates a dashboard user with a known password through the use case (so it is logged like any other). */
export async function createUserWithPassword(
  deps: AppDeps,
  admin: Principal,
  email: string,
  roles: readonly Role[],
  password = 'correct horse battery staple',
): Promise<{ user: UserView; password: string }> {
  const { user } = await createUser(deps, admin, { email, roles: [...roles], password });
  return { user, password };
}

const cookieValue = (res: LightMyRequestResponse, name: string): string | undefined => {
  const raw = res.headers['set-cookie'];
  const lines = raw === undefined ? [] : Array.isArray(raw) ? raw : [String(raw)];
  for (const l of lines) {
    const m = new RegExp(`^${name}=([^;]*)`).exec(l);
    if (m !== null && m[1] !== '') return decodeURIComponent(m[1] ?? '');
  }
  return undefined;
};

/** The pre-session token of the sign-in form: its cookie and the hidden field carry the same value. */
export async function loginToken(app: FastifyInstance): Promise<{ cookie: string; token: string }> {
  const res = await app.inject({ method: 'GET', url: '/login' });
  expect(res.statusCode).toBe(200);
  const token = cookieValue(res, 'spendtrail_login');
  expect(token).toBeDefined();
  return { cookie: `spendtrail_login=${token}`, token: token as string };
}

/** Posts the sign-in form as a browser would; returns the raw answer. */
export async function postLogin(app: FastifyInstance, path: '/login' | '/login/key', fields: Record<string, string>): Promise<LightMyRequestResponse> {
  const { cookie, token } = await loginToken(app);
  return app.inject({
    method: 'POST',
    url: path,
    headers: { cookie, origin: SAME_ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ csrf: token, ...fields }).toString(),
  });
}

/** The signed-in session's cookie and csrf token, read from the overview's sign-out form. */
async function sessionOf(app: FastifyInstance, res: LightMyRequestResponse): Promise<SignedIn> {
  expect(res.statusCode, res.body).toBe(303);
  const token = cookieValue(res, 'spendtrail_session');
  expect(token).toBeDefined();
  const cookie = `spendtrail_session=${token}`;
  // The sign-out form on every signed-in page holds the session's csrf token.
  const page = await app.inject({ method: 'GET', url: '/', headers: { cookie } });
  expect(page.statusCode, page.body).toBe(200);
  const m = /name="csrf" value="([^"]+)"/.exec(page.body);
  expect(m?.[1]).toBeDefined();
  return { cookie, csrf: m?.[1] ?? '' };
}

/** Signs in with email and password; fails the test if sign-in is refused. */
export async function signIn(app: FastifyInstance, email: string, password: string): Promise<SignedIn> {
  return sessionOf(app, await postLogin(app, '/login', { email, password }));
}

/** Signs in with an API key (the first-admin path). */
export async function signInWithKey(app: FastifyInstance, apiKey: string): Promise<SignedIn> {
  return sessionOf(app, await postLogin(app, '/login/key', { api_key: apiKey }));
}

/** GET as a signed-in browser. */
export function getPage(app: FastifyInstance, path: string, cookie: string): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url: path, headers: { cookie } });
}

/** POSTs a dashboard form as a browser on this site would (same Origin). Add `csrf` to `fields` yourself. */
export function postForm(
  app: FastifyInstance,
  path: string,
  cookie: string,
  fields: Record<string, string | readonly string[]>,
  headers: Record<string, string> = { origin: SAME_ORIGIN },
): Promise<LightMyRequestResponse> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const x of typeof v === 'string' ? [v] : v) body.append(k, x);
  return app.inject({
    method: 'POST',
    url: path,
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: body.toString(),
  });
}
