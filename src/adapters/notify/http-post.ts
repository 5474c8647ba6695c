import { createHmac } from 'node:crypto';
import type { SendOutcome } from '../../app/retry.ts';
import { shortReason } from '../../app/retry.ts';

/**
 * What the chat senders (`http-sender.ts`) and the ticket openers (`ticket-openers.ts`) share:
 * checking a destination URL, POSTing with a time budget, reading a bounded reply, and turning
 * statuses and thrown errors into outcomes whose reasons hold no secret. `redactor` is also what
 * the SMTP mailer scrubs its reasons with.
 */

/** The options every HTTP sender and ticket opener takes; each documents its own default timeout. */
export interface HttpOptions {
  /** Whole-request budget (connect, headers and body). */
  readonly timeoutMs?: number;
  /** Injectable for tests; defaults to Node's global `fetch`. */
  readonly fetch?: typeof fetch;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Parses and checks a destination URL once, at construction, so a misconfiguration fails at
 * start-up rather than on the first send. https is required: every request carries a secret
 * (a Slack hook URL is a bearer secret, trackers get a credential) or audit data, signed or not.
 * Plain http is accepted only for loopback, which is what tests use. Errors name at most the
 * host: the path is where a webhook's secret lives.
 *
 * With `rejectCredentials`, a URL with a user name or password is refused before the scheme is
 * looked at.
 */
export function checkHttpsUrl(raw: string, what: string, opts: { readonly rejectCredentials?: boolean } = {}): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Node's TypeError carries the input in `.input`; a fresh error keeps it out of logs.
    throw new Error(`${what} URL is not a valid absolute URL`);
  }
  if (opts.rejectCredentials === true && (url.username !== '' || url.password !== '')) {
    throw new Error(`${what} URL must not contain credentials (host ${url.host})`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) return url;
  const host = url.host === '' ? '' : ` (host ${url.host})`;
  throw new Error(`${what} URL must use https${host}; plain http is allowed only for 127.0.0.1 or localhost`);
}

export function checkTimeout(opts: HttpOptions): void {
  const t = opts.timeoutMs;
  if (t !== undefined && (!Number.isFinite(t) || t <= 0)) throw new RangeError(`timeoutMs must be > 0 (got ${t})`);
}

/**
 * Every form in which a destination URL could appear in a reason: the full URL, and its path
 * (which holds a Slack or webhook secret) even without the scheme and host. Anything else
 * URL-shaped is removed by `shortReason`.
 */
export function urlForms(url: URL): string[] {
  return [url.href, `${url.host}${url.pathname}`, url.pathname + url.search, url.pathname];
}

/**
 * Returns a function that replaces every needle in a text with `[redacted]`, longest first (so
 * a needle that contains another goes whole), then shortens the text to one URL-free line.
 * Needles of 1–3 characters are left alone: they cannot be removed without mangling every
 * reason (a URL path of `/`, a very short password), and such a value is not worth protecting
 * anyway.
 */
export function redactor(needles: readonly string[]): (text: string) => string {
  const sorted = needles.filter((s) => s.length > 3).sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const n of sorted) out = out.split(n).join('[redacted]');
    return shortReason(out);
  };
}

/** A signing secret, when given, must not be empty; checked at construction like the URL. */
export function checkSigningSecret(secret: string | undefined, what: string): void {
  if (secret !== undefined && secret === '') throw new Error(`${what} secret must not be empty`);
}

/** The signature a receiver recomputes: `sha256=` + hex HMAC-SHA256 of the exact body bytes. */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/**
 * Headers for POSTing a JSON body to a webhook; with a secret, `X-Spendtrail-Signature` over
 * the exact body so the receiver can check the request came from us.
 */
export function webhookHeaders(body: string, secret: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (secret !== undefined) headers['x-spendtrail-signature'] = webhookSignature(secret, body);
  return headers;
}

/** Reads at most `maxBytes` of the body: a hostile or broken receiver cannot make us buffer megabytes. */
export async function readBody(res: Response, maxBytes: number): Promise<string> {
  if (res.body === null) return '';
  // Node's typings leave the chunk type open; fetch bodies are byte streams.
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (total < maxBytes) {
      const chunk = (await reader.read()) as { done: boolean; value?: Uint8Array };
      const value = chunk.value;
      if (chunk.done || value === undefined) break;
      chunks.push(value);
      total += value.byteLength;
    }
  } finally {
    // Releases the connection whether or not the body was read to the end.
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
}

/** `Retry-After` is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** 408 and 429 say "try later"; 5xx is the receiver's problem. Everything else needs a human. */
export const retryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500;

/** A short reason for a rejected `fetch` or body read; callers still scrub it. */
export function describeThrown(err: unknown, timeoutMs: number): string {
  if (err instanceof Error || err instanceof DOMException) {
    // AbortSignal.timeout() rejects with a DOMException named TimeoutError.
    if (err.name === 'TimeoutError') return `timeout after ${timeoutMs} ms`;
    if (err.name === 'AbortError') return 'aborted';
    // undici reports `TypeError: fetch failed` with the system error (ECONNREFUSED, ...) as cause.
    const cause: unknown = (err as { cause?: unknown }).cause;
    if (cause !== null && typeof cause === 'object') {
      const { code, message } = cause as { code?: unknown; message?: unknown };
      if (typeof code === 'string' && code !== '') return code;
      if (typeof message === 'string' && message !== '') return `${err.message}: ${message}`;
    }
    return err.message;
  }
  return String(err);
}

/** A reply that was neither a redirect nor a thrown error, for the caller to interpret. */
export interface HttpReply {
  readonly status: number;
  /** At most `maxBodyBytes` of the body, decoded as UTF-8. */
  readonly text: string;
  /** From `Retry-After`, read only on 429 and 503. */
  readonly retryAfterMs: number | undefined;
}

export interface PostTarget {
  readonly url: URL;
  readonly headers: Record<string, string>;
  /** Read at each send; `timeoutMs` was checked at construction (`checkTimeout`). */
  readonly opts: HttpOptions;
  readonly scrub: (text: string) => string;
}

export interface PostLimits {
  readonly defaultTimeoutMs: number;
  readonly maxBodyBytes: number;
}

/**
 * POSTs and hands the reply to `interpret`. Network failures and timeouts are retryable (the
 * request may not have arrived). A redirect is reported, not followed: it would re-send the body
 * (and for 301/302 turn it into a GET), and for a same-origin target the credentials, somewhere
 * nobody configured.
 */
export async function httpPost<T extends SendOutcome>(
  target: PostTarget,
  body: string,
  limits: PostLimits,
  interpret: (reply: HttpReply) => T,
): Promise<T | SendOutcome> {
  const timeoutMs = target.opts.timeoutMs ?? limits.defaultTimeoutMs;
  const doFetch = target.opts.fetch ?? fetch;
  try {
    const res = await doFetch(target.url.href, {
      method: 'POST',
      headers: target.headers,
      body,
      // The signal also bounds reading the response body below.
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    const text = await readBody(res, limits.maxBodyBytes);
    if (res.status >= 300 && res.status < 400) {
      return { ok: false, http_status: res.status, error: `HTTP ${res.status} redirect not followed`, retryable: false };
    }
    const after = res.status === 429 || res.status === 503 ? retryAfterMs(res.headers.get('retry-after'), Date.now()) : undefined;
    return interpret({ status: res.status, text, retryAfterMs: after });
  } catch (err) {
    return { ok: false, http_status: null, error: target.scrub(describeThrown(err, timeoutMs)), retryable: true };
  }
}

/**
 * The common failure shape for a non-2xx status: `HTTP <status> <reason>` (scrubbed), retryable
 * by status class unless the caller knows better, with the receiver's `Retry-After` if it gave one.
 */
export function httpFailure(
  reply: HttpReply,
  reason: string,
  scrub: (t: string) => string,
  retryable = retryableStatus(reply.status),
): SendOutcome {
  const error = scrub(reason === '' ? `HTTP ${reply.status}` : `HTTP ${reply.status} ${reason}`);
  const result: SendOutcome = { ok: false, http_status: reply.status, error, retryable };
  return reply.retryAfterMs === undefined ? result : { ...result, retry_after_ms: reply.retryAfterMs };
}
