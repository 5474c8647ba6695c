import type { ChangeNotice, ChannelSender } from '../../app/ports/notifier.ts';
import type { SendOutcome } from '../../app/retry.ts';
import type { HttpOptions } from './http-post.ts';
import { checkHttpsUrl, checkSigningSecret, checkTimeout, httpFailure, httpPost, redactor, urlForms, webhookHeaders } from './http-post.ts';
import { slackMessage } from './slack-message.ts';
import { webhookMessage } from './webhook-message.ts';

export interface HttpSenderOptions extends HttpOptions {
  /** Whole-request budget (connect, headers and body); default 5000 ms. */
  readonly timeoutMs?: number;
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
const LIMITS = { defaultTimeoutMs: DEFAULT_TIMEOUT_MS, maxBodyBytes: MAX_BODY_BYTES };

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

function post(url: URL, body: string, headers: Record<string, string>, opts: HttpSenderOptions): Promise<SendOutcome> {
  // The URL's path holds a Slack hook's secret; `urlForms` lists every way it could be quoted.
  const scrub = redactor(urlForms(url));
  return httpPost({ url, headers, opts, scrub }, body, LIMITS, (reply) => {
    if (reply.status >= 200 && reply.status < 300) {
      return { ok: true, http_status: reply.status, error: null, retryable: false };
    }
    return httpFailure(reply, reasonFromBody(reply.text), scrub);
  });
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
  const target = checkHttpsUrl(url, 'Slack webhook');
  checkTimeout(opts);
  return {
    channel: 'slack',
    send: (notice: ChangeNotice) =>
      post(target, JSON.stringify(slackMessage(notice)), { 'content-type': 'application/json; charset=utf-8' }, opts),
  };
}

// Kept importable from here, where it was first defined.
export { webhookSignature } from './http-post.ts';

/**
 * Posts the stable JSON body (see `webhookMessage`) to any HTTPS endpoint, signed when a secret
 * is given. Same outcome mapping as `slackSender`: 2xx ok; 408/429/5xx, network errors and
 * timeouts retryable; other statuses not.
 */
export function webhookSender(url: string, opts: WebhookSenderOptions = {}): ChannelSender {
  const target = checkHttpsUrl(url, 'webhook');
  checkTimeout(opts);
  checkSigningSecret(opts.secret, 'webhook');
  return {
    channel: 'webhook',
    send: (notice: ChangeNotice) => {
      const body = JSON.stringify(webhookMessage(notice));
      return post(target, body, webhookHeaders(body, opts.secret), opts);
    },
  };
}
