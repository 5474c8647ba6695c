import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppDeps } from '../../app/deps.ts';
import type { OpenedSession } from '../../app/users.ts';
import { apiKeyLogin, endSession, login, SESSION_MAX_MS } from '../../app/users.ts';
import { isSpendtrailError, SpendtrailError } from '../../domain/errors.ts';
import { STATUS } from '../http/error-status.ts';
import { TokenBuckets } from '../http/rate-limit.ts';
import type { BucketLimit } from '../http/rate-limit.ts';
import { clearCookie, readCookie, setCookie } from './cookies.ts';
import { html } from './html.ts';
import { layout } from './layout.ts';
import { checkCsrf, checkOrigin, readSession, sameToken, SESSION_COOKIE } from './sessions.ts';

/** Double-submit token for the sign-in forms, which have no session yet to hold one. */
export const LOGIN_COOKIE = 'spendtrail_login';

export interface SignInOptions {
  readonly secureCookies?: boolean | undefined;
  /** Failed sign-ins per email (default: 10, then one every 30 s). */
  readonly perEmail?: BucketLimit;
  /** Failed sign-ins per client address (default: 30, then one every 2 s). */
  readonly perAddress?: BucketLimit;
}

/** Only a path on this site: never `//evil.example` or an absolute URL. */
export function safeNext(next: string | null | undefined): string {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  if (next.startsWith('/login') || next.startsWith('/logout')) return '/';
  return next.slice(0, 2000);
}

function page(token: string, next: string, error: { code: string; message: string; field?: string | undefined } | null, email = ''): string {
  const body = html`<p>Sign in with your email and password.</p>
<form method="post" action="/login" class="stack">
  <input type="hidden" name="csrf" value="${token}"><input type="hidden" name="next" value="${next}">
  <label for="login-email">Email</label>
  <input id="login-email" name="email" type="email" autocomplete="username" required value="${email}">
  <label for="login-password">Password</label>
  <input id="login-password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit" class="primary">Sign in</button>
</form>
<h2>Sign in with an API key</h2>
<p class="muted">For the first administrator, before any user exists: any API key except an agent's.</p>
<form method="post" action="/login/key" class="stack">
  <input type="hidden" name="csrf" value="${token}"><input type="hidden" name="next" value="${next}">
  <label for="login-key">API key</label>
  <input id="login-key" name="api_key" type="password" autocomplete="off" required>
  <button type="submit">Sign in with the key</button>
</form>`;
  return layout({ title: 'Sign in', session: null, body, error }).value;
}

/** `/login` (two forms), `/login/key` and `/logout`. Registered inside the dashboard plugin. */
export function registerSignIn(web: FastifyInstance, deps: AppDeps, options: SignInOptions): void {
  const perEmail = new TokenBuckets(options.perEmail ?? { perSecond: 1 / 30, burst: 10 });
  const perAddress = new TokenBuckets(options.perAddress ?? { perSecond: 0.5, burst: 30 });

  const show = (reply: FastifyReply, req: FastifyRequest, status: number, error: Parameters<typeof page>[2], email?: string): FastifyReply => {
    // A fresh pre-session token on every rendering of the form.
    const token = randomBytes(24).toString('base64url');
    setCookie(reply, LOGIN_COOKIE, token, { secureCookies: options.secureCookies === true, maxAge: 3600 });
    const q = req.query as Record<string, unknown>;
    const body = req.body instanceof URLSearchParams ? req.body : undefined;
    const next = safeNext(body?.get('next') ?? (typeof q.next === 'string' ? q.next : undefined));
    return reply.status(status).type('text/html; charset=utf-8').send(page(token, next, error, email));
  };

  web.get('/login', async (req, reply) => show(reply, req, 200, null));

  const signIn = async (req: FastifyRequest, reply: FastifyReply, kind: 'password' | 'key'): Promise<FastifyReply> => {
    const form = req.body instanceof URLSearchParams ? req.body : new URLSearchParams();
    checkOrigin(req);
    const cookieToken = readCookie(req, LOGIN_COOKIE);
    if (cookieToken === undefined || !sameToken(form.get('csrf'), cookieToken)) {
      throw new SpendtrailError('FORBIDDEN', 'the sign-in form is stale or was not sent from this site; reload the page');
    }
    const email = (form.get('email') ?? '').trim().toLowerCase();
    const keys = kind === 'password' ? [`ip:${req.ip}`, `email:${email}`] : [`ip:${req.ip}`];
    const buckets = (k: string): TokenBuckets => (k.startsWith('ip:') ? perAddress : perEmail);
    for (const k of keys) {
      const t = buckets(k).allows(k);
      if (!t.ok) {
        reply.header('retry-after', String(t.retryAfterSeconds));
        return show(reply, req, STATUS.RATE_LIMITED, { code: 'RATE_LIMITED', message: 'too many failed sign-ins: wait and retry' }, email);
      }
    }
    let opened: OpenedSession;
    try {
      opened =
        kind === 'password'
          ? await login(deps, { email: form.get('email') ?? '', password: form.get('password') ?? '' })
          : await apiKeyLogin(deps, { api_key: form.get('api_key') ?? '' });
    } catch (e) {
      if (!isSpendtrailError(e) || STATUS[e.code] >= 500) throw e;
      if (e.code === 'UNAUTHENTICATED' || e.code === 'FORBIDDEN') for (const k of keys) buckets(k).charge(k);
      return show(reply, req, STATUS[e.code], { code: e.code, message: e.message, field: e.field }, email);
    }
    // A session carried from before sign-in is ended: each sign-in gets a new token (no fixation).
    const prior = readCookie(req, SESSION_COOKIE);
    if (prior !== undefined) {
      const s = await readSession(deps, prior);
      if (s !== null) await endSession(deps, s.session_id);
    }
    clearCookie(reply, LOGIN_COOKIE, options);
    setCookie(reply, SESSION_COOKIE, opened.token, { secureCookies: options.secureCookies === true, maxAge: SESSION_MAX_MS / 1000 });
    return reply.redirect(safeNext(form.get('next')), 303);
  };
  web.post('/login', (req, reply) => signIn(req, reply, 'password'));
  web.post('/login/key', (req, reply) => signIn(req, reply, 'key'));

  web.post('/logout', async (req, reply) => {
    const token = readCookie(req, SESSION_COOKIE);
    const session = token === undefined ? null : await readSession(deps, token);
    if (session !== null) {
      const form = req.body instanceof URLSearchParams ? req.body : new URLSearchParams();
      checkCsrf(req, session, form.get('csrf'));
      await endSession(deps, session.session_id);
    }
    clearCookie(reply, SESSION_COOKIE, options);
    return reply.redirect('/login', 303);
  });
}
