import { createHmac } from 'node:crypto';
import type { ChangeNotice, ChannelSender } from '../../app/ports/notifier.ts';
import type { SendOutcome } from '../../app/retry.ts';
import { shortReason } from '../../app/retry.ts';
import { slackMessage } from './slack-message.ts';
import { webhookMessage } from './webhook-message.ts';

export interface HttpSenderOptions {
  /** Whole-request budget (connect, headers and body); default 5000 ms. */
  readonly timeoutMs?: number;
  /** Injectable for tests; defaults to Node's global `fetch`. */
  readonly fetch?: typeof fetch;
}

export interface WebhookSenderOptions extends HttpSenderOptions {
  /**
   * When set, each request carries `X-Spendtrail-Signature: sha256=<hex HMAC-SHA256 of the raw
   * body>` so the receiver can check the request came from us.
   */
  readonly secret?: string;
}

const DEFAULT_TIMEOUT_MS = 5000;
/** Enough of a response body for a reason like `no_service`; more is never read. */
const MAX_BODY_BYTES = 2048;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Parses and checks a destination URL once, at construction, so a misconfiguration fails at
 * start-up rather than on the first policy change. https is required (a Slack hook URL is a
 * bearer secret and the body is audit data); plain http is accepted only for loopback, which
 * is what tests use. Errors name at most the host: the path is where the secret lives.
 */
function checkUrl(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Node's TypeError carries the input in `.input`; a fresh error keeps it out of logs.
    throw new Error(`${what} URL is not a valid absolute URL`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) return url;
  const host = url.host === '' ? '' : ` (host ${url.host})`;
  throw new Error(`${what} URL must use https${host}; plain http is allowed only for 127.0.0.1 or localhost`);
}

/**
 * Removes every form in which the destination URL could appear in a reason: the full URL, its
 * path (which holds a Slack hook's secret) even without the scheme and host, and anything
 * URL-shaped. The path is only removed when it is long enough to be a secret; `/` is not.
 */
function scrubber(url: URL): (text: string) => string {
  const needles = [url.href, `${url.host}${url.pathname}`, url.pathname + url.search, url.pathname]
    .filter((s) => s.length > 3)
    .sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const n of needles) out = out.split(n).join('[redacted]');
    return shortReason(out);
  };
}

/** Reads at most MAX_BODY_BYTES of the body: a hostile or broken receiver cannot make us buffer megabytes. */
async function readSnippet(res: Response): Promise<string> {
  if (res.body === null) return '';
  // Node's typings leave the chunk type open; fetch bodies are byte streams.
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (total < MAX_BODY_BYTES) {
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
  return Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8');
}

/** Slack answers with a bare string (`no_service`); other services often with `{"error": "..."}`. */
function reasonFromBody(body: string): string {
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (parsed !== null && typeof parsed === 'object') {
        const { error, message } = parsed as { error?: unknown; message?: unknown };
        if (typeof error === 'string') return error;
        if (typeof message === 'string') return message;
      }
    } catch {
      // Not JSON after all (or cut at MAX_BODY_BYTES): fall through to the first line.
    }
  }
  return trimmed.split(/\r?\n/, 1)[0] ?? '';
}

/** `Retry-After` is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** 408 and 429 say "try later"; 5xx is the server's problem. Everything else needs a human. */
const retryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500;

function describeThrown(err: unknown, timeoutMs: number): string {
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

async function post(
  url: URL,
  body: string,
  headers: Record<string, string>,
  opts: HttpSenderOptions,
): Promise<SendOutcome> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const doFetch = opts.fetch ?? fetch;
  const scrub = scrubber(url);
  try {
    const res = await doFetch(url.href, {
      method: 'POST',
      headers,
      body,
      // The signal also bounds reading the response body below.
      signal: AbortSignal.timeout(timeoutMs),
      // A redirect would re-send the body (and for 301/302 turn it into a GET) to a place
      // nobody configured; report it instead of following it.
      redirect: 'manual',
    });
    const snippet = await readSnippet(res);
    if (res.status >= 200 && res.status < 300) {
      return { ok: true, http_status: res.status, error: null, retryable: false };
    }
    const reason = res.status >= 300 && res.status < 400 ? 'redirect not followed' : reasonFromBody(snippet);
    const error = scrub(reason === '' ? `HTTP ${res.status}` : `HTTP ${res.status} ${reason}`);
    const retryable = retryableStatus(res.status);
    const after = res.status === 429 || res.status === 503 ? retryAfterMs(res.headers.get('retry-after'), Date.now()) : undefined;
    const result: SendOutcome = { ok: false, http_status: res.status, error, retryable };
    return after === undefined ? result : { ...result, retry_after_ms: after };
  } catch (err) {
    return { ok: false, http_status: null, error: scrub(describeThrown(err, timeoutMs)), retryable: true };
  }
}

function checkTimeout(opts: HttpSenderOptions): void {
  const t = opts.timeoutMs;
  if (t !== undefined && (!Number.isFinite(t) || t <= 0)) throw new RangeError(`timeoutMs must be > 0 (got ${t})`);
}

/**
 * Posts the Block Kit message to a Slack incoming webhook. Slack answers 200 `ok`; 400
 * `invalid_payload`, 403 `action_prohibited`, 404 `no_service`/`channel_not_found` and 410
 * `channel_is_archived` are not retryable; 429 (with `Retry-After`) and 5xx are.
 *
 * Results may carry `retry_after_ms` (from a 429/503 `Retry-After`), which `deliverWithRetry`
 * honours. `error` never contains the hook URL.
 */
export function slackSender(url: string, opts: HttpSenderOptions = {}): ChannelSender {
  const target = checkUrl(url, 'Slack webhook');
  checkTimeout(opts);
  return {
    channel: 'slack',
    send: (notice: ChangeNotice) =>
      post(target, JSON.stringify(slackMessage(notice)), { 'content-type': 'application/json; charset=utf-8' }, opts),
  };
}

/** The signature a receiver recomputes: `sha256=` + hex HMAC-SHA256 of the exact body bytes. */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/**
 * Posts the stable JSON body (see `webhookMessage`) to any HTTPS endpoint, signed when a secret
 * is given. Same outcome mapping as `slackSender`: 2xx ok; 408/429/5xx, network errors and
 * timeouts retryable; other statuses not.
 */
export function webhookSender(url: string, opts: WebhookSenderOptions = {}): ChannelSender {
  const target = checkUrl(url, 'webhook');
  checkTimeout(opts);
  if (opts.secret !== undefined && opts.secret === '') throw new Error('webhook secret must not be empty');
  return {
    channel: 'webhook',
    send: (notice: ChangeNotice) => {
      const body = JSON.stringify(webhookMessage(notice));
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (opts.secret !== undefined) headers['x-spendtrail-signature'] = webhookSignature(opts.secret, body);
      return post(target, body, headers, opts);
    },
  };
}
