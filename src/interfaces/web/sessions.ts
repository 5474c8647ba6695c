import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { AppDeps } from '../../app/deps.ts';
import { resumeSession } from '../../app/users.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import type { WebSession } from './web-session.ts';

/** The session cookie: HttpOnly, SameSite=Strict, Secure behind TLS (see cookies.ts). */
export const SESSION_COOKIE = 'spendtrail_session';

/** The session behind a cookie's token, checked afresh on every request (see resumeSession). */
export async function readSession(deps: AppDeps, token: string): Promise<WebSession | null> {
  const s = await resumeSession(deps, token);
  return s === null ? null : { principal: s.principal, display: s.display, csrf: s.csrf, session_id: s.token_hash };
}

const STALE = 'the form is stale or was not sent from this site; reload the page';

/** Equal strings, compared in constant time (a CSRF token must not leak through timing). */
export function sameToken(a: string | null | undefined, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && y.length > 0 && timingSafeEqual(x, y);
}

/**
 * A request from another site is refused outright: when the browser says where the form came
 * from (Origin, else Referer), it must be this host. Browsers that send neither still need the token.
 */
export function checkOrigin(req: FastifyRequest): void {
  const origin = req.headers.origin;
  const referer = req.headers.referer;
  const from = typeof origin === 'string' && origin !== '' ? origin : typeof referer === 'string' && referer !== '' ? referer : undefined;
  if (from === undefined) return;
  let same = false;
  try {
    const u = new URL(from);
    // Through URL on both sides, so "localhost:80" and "http://localhost" compare equal.
    same = (u.protocol === 'http:' || u.protocol === 'https:') && typeof req.headers.host === 'string' && new URL(`${u.protocol}//${req.headers.host}`).host === u.host;
  } catch {
    same = false;
  }
  if (!same) throw new SpendtrailError('FORBIDDEN', STALE);
}

/** Synchroniser token: every form carries the session's csrf value; plus the origin check. */
export function checkCsrf(req: FastifyRequest, session: WebSession, token: string | null): void {
  checkOrigin(req);
  if (!sameToken(token, session.csrf)) throw new SpendtrailError('FORBIDDEN', STALE);
}
