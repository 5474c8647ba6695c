import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppDeps } from '../../app/deps.ts';
import { hasRole } from '../../app/principal.ts';
import type { Principal, Role } from '../../app/principal.ts';
import type { VerifyReport } from '../../app/verify.ts';
import { SpendtrailError, isSpendtrailError } from '../../domain/errors.ts';
import { STATUS } from '../http/error-status.ts';
import { html } from './html.ts';
import type { Html } from './html.ts';
import { layout } from './layout.ts';
import type { WebSession } from './web-session.ts';
import { checkCsrf, readSession, SESSION_COOKIE } from './sessions.ts';
import { readCookie, setCookie, clearCookie } from './cookies.ts';
import { registerSignIn } from './sign-in.ts';

export interface WebRequest {
  readonly session: WebSession;
  readonly query: Readonly<Record<string, string>>;
  readonly params: Readonly<Record<string, string>>;
  readonly raw: FastifyRequest;
}

export interface PageResult {
  readonly title: string;
  readonly body: Html;
  /** The nav path to mark as current (defaults to the route's own path). */
  readonly active?: string;
  readonly status?: number;
}

/** Every mutation answers with a redirect (post/redirect/get), so a reload never repeats it. */
export interface ActionResult {
  readonly redirect: string;
  readonly flash?: string;
}

/** A form refused as submitted: shown again (with what was typed and the error) instead of a redirect. */
export interface FormPage extends PageResult {
  readonly status: number;
}

export interface Download {
  readonly filename: string;
  readonly contentType: string;
  readonly body: Buffer | string | NodeJS.ReadableStream;
}

/** What a page module gets to register its routes. */
export interface WebRoutes {
  readonly deps: AppDeps;
  readonly options: WebOptions;
  /** A GET page for signed-in people holding one of `roles` (admin holds every role). */
  page(path: string, roles: readonly Role[], handler: (req: WebRequest) => Promise<PageResult>): void;
  /** A POST form target: signed in, one of `roles`, and the session's CSRF token in the form. */
  action(path: string, roles: readonly Role[], handler: (req: WebRequest, form: URLSearchParams) => Promise<ActionResult | FormPage>): void;
  /** A GET file download with the same checks as a page. */
  download(path: string, roles: readonly Role[], handler: (req: WebRequest) => Promise<Download>): void;
}

export interface WebOptions {
  /** Set cookies with `Secure` (behind TLS). Off for plain-HTTP loopback use. */
  readonly secureCookies?: boolean;
  /** The audit export destination whose status the Exports page shows. */
  readonly exportSinkName?: string;
  /** Runs verify for the Overview's "Verify now" (the server's pinned verifier key). */
  readonly verify?: (by: Principal) => Promise<VerifyReport>;
}

/** Every dashboard route (method and path), per server: the role × page matrix test walks them all. */
const ROUTES = new WeakMap<FastifyInstance, { method: string; url: string }[]>();
export const dashboardRoutes = (app: FastifyInstance): readonly { method: string; url: string }[] => ROUTES.get(app) ?? [];

export type PageModule = (r: WebRoutes) => void;

const FLASH_COOKIE = 'spendtrail_flash';

/**
 * Security headers for every dashboard response. No inline script or style anywhere, so the
 * policy forbids both; nothing is loaded from another origin (the product may run where no
 * CDN is reachable), and no other site may frame the pages.
 */
export const WEB_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
};

const ASSETS: Readonly<Record<string, string>> = { 'app.css': 'text/css; charset=utf-8', 'app.js': 'text/javascript; charset=utf-8' };
const assetBody = new Map(Object.keys(ASSETS).map((n) => [n, readFileSync(new URL(`./assets/${n}`, import.meta.url))]));

/**
 * The finance dashboard: server-rendered pages over the same use cases as the API. It is an
 * encapsulated plugin, so its form parser, error page and headers do not touch `/v1`.
 */
export async function registerWeb(app: FastifyInstance, deps: AppDeps, options: WebOptions, modules: readonly PageModule[]): Promise<void> {
  const seen: { method: string; url: string }[] = [];
  ROUTES.set(app, seen);
  // Registration is synchronous: a callback plugin (not an async one with nothing to await).
  await app.register((web, _opts, done) => {
    web.addHook('onRoute', (r) => {
      for (const m of [r.method].flat()) if (m !== 'HEAD') seen.push({ method: m, url: r.url });
    });
    web.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 256 * 1024 }, (_req, body, done) => {
      done(null, new URLSearchParams(body as string));
    });
    web.addHook('onSend', async (_req, reply) => {
      for (const [k, v] of Object.entries(WEB_HEADERS)) reply.header(k, v);
    });
    web.setErrorHandler(async (err: unknown, req, reply) => {
      const e = isSpendtrailError(err) ? err : new SpendtrailError('INTERNAL', 'internal error', { cause: err });
      const status = STATUS[e.code];
      if (status >= 500) req.log.error({ err: e.cause ?? e, code: e.code }, e.message);
      const session = await sessionOf(deps, req).catch(() => null);
      return sendPage(reply.status(status), {
        title: status === 403 ? 'Not allowed' : status === 401 ? 'Sign in required' : 'Something went wrong',
        session,
        error: { code: e.code, message: e.message, field: e.field },
        body: html`<p><a href="${safeBack(req)}">Go back</a></p>`,
      });
    });

    web.get('/assets/:name', async (req, reply) => {
      const name = (req.params as { name: string }).name;
      const body = assetBody.get(name);
      if (body === undefined) throw new SpendtrailError('VALIDATION_FAILED', `no asset ${name}`, { field: 'name' });
      return reply.header('cache-control', 'public, max-age=3600').type(ASSETS[name] ?? 'application/octet-stream').send(body);
    });

    const guard = async (req: FastifyRequest, reply: FastifyReply, roles: readonly Role[]): Promise<WebSession | null> => {
      const session = await sessionOf(deps, req);
      if (session === null) {
        if (req.method === 'GET') {
          await reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 303);
          return null;
        }
        throw new SpendtrailError('UNAUTHENTICATED', 'sign in first');
      }
      if (!hasRole(session.principal, ...roles)) {
        throw new SpendtrailError('FORBIDDEN', `this page needs one of the roles: ${roles.join(', ')}`);
      }
      return session;
    };
    const webRequest = (req: FastifyRequest, session: WebSession): WebRequest => ({
      session,
      query: stringsOf(req.query),
      params: stringsOf(req.params),
      raw: req,
    });

    const routes: WebRoutes = {
      deps,
      options,
      page(path, roles, handler) {
        web.get(path, async (req, reply) => {
          const session = await guard(req, reply, roles);
          if (session === null) return reply;
          const result = await handler(webRequest(req, session));
          const flash = readCookie(req, FLASH_COOKIE);
          if (flash !== undefined) clearCookie(reply, FLASH_COOKIE, options);
          return sendPage(reply.status(result.status ?? 200), {
            title: result.title,
            session,
            active: result.active ?? path,
            body: result.body,
            flash: flash ?? null,
          });
        });
      },
      action(path, roles, handler) {
        web.post(path, async (req, reply) => {
          const session = await guard(req, reply, roles);
          if (session === null) return reply;
          const form = req.body instanceof URLSearchParams ? req.body : new URLSearchParams();
          checkCsrf(req, session, form.get('csrf'));
          const result = await handler(webRequest(req, session), form);
          if ('body' in result) return sendPage(reply.status(result.status), { title: result.title, session, active: result.active ?? path, body: result.body });
          if (result.flash !== undefined) setCookie(reply, FLASH_COOKIE, result.flash.slice(0, 300), { ...options, maxAge: 60 });
          return reply.redirect(result.redirect, 303);
        });
      },
      download(path, roles, handler) {
        web.get(path, async (req, reply) => {
          const session = await guard(req, reply, roles);
          if (session === null) return reply;
          const file = await handler(webRequest(req, session));
          return reply
            .header('content-disposition', `attachment; filename="${file.filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`)
            .type(file.contentType)
            .send(file.body);
        });
      },
    };
    registerSignIn(web, deps, { secureCookies: options.secureCookies });
    for (const m of modules) m(routes);
    done();
  });
}

export async function sessionOf(deps: AppDeps, req: FastifyRequest): Promise<WebSession | null> {
  const token = readCookie(req, SESSION_COOKIE);
  return token === undefined ? null : readSession(deps, token);
}

export function sendPage(reply: FastifyReply, p: Parameters<typeof layout>[0]): FastifyReply {
  return reply.type('text/html; charset=utf-8').send(layout(p).value);
}

/** A same-origin path to go back to after an error; never an absolute URL from a header. */
function safeBack(req: FastifyRequest): string {
  const ref = req.headers.referer;
  if (typeof ref === 'string') {
    try {
      const u = new URL(ref);
      if (u.host === req.headers.host && u.pathname.startsWith('/')) return u.pathname + u.search;
    } catch {
      // not a URL: fall through to the overview
    }
  }
  return '/';
}

function stringsOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}
