import type { SendResult } from './ports/notifier.ts';

/**
 * A `SendResult` that may also say how long the destination asked us to wait (HTTP 429
 * `Retry-After`). The port's type is fixed, so senders add this as an optional extra property;
 * anything that only knows `SendResult` still accepts the object.
 */
export type SendOutcome = SendResult & { readonly retry_after_ms?: number };

export interface RetryOptions {
  /** Total attempts, including the first (>= 1). */
  readonly attempts: number;
  /** Backoff cap before the first retry; doubles with every further retry. */
  readonly baseDelayMs: number;
  /** No wait is ever longer than this, not even one a destination asked for. */
  readonly maxDelayMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Uniform in [0, 1); injectable so tests can pin the jitter. */
  readonly random?: () => number;
  /**
   * Called after every attempt, before any wait. This is where each attempt is recorded; if it
   * throws, delivery stops and the error propagates, because an attempt that could not be
   * recorded should not be silently followed by more unrecorded ones.
   */
  readonly onAttempt?: (attempt: number, result: SendResult) => Promise<void> | void;
}

const MAX_ERROR_CHARS = 200;

/**
 * Removes anything that looks like a URL (`scheme://…`) from a message. Webhook URLs carry
 * their secret in the path, and error messages end up in delivery records and logs.
 */
export function redactUrls(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"'<>()]+/gi, '[url]');
}

/** A short, URL-free, single-line reason suitable for `SendResult.error`. */
export function shortReason(text: string): string {
  const oneLine = redactUrls(text).replace(/\s+/g, ' ').trim();
  if (oneLine === '') return 'unknown error';
  return oneLine.length <= MAX_ERROR_CHARS ? oneLine : `${oneLine.slice(0, MAX_ERROR_CHARS - 1)}…`;
}

/**
 * The wait before retry number `retry` (1 = the first retry): "full jitter", i.e. uniform in
 * [0, min(maxDelayMs, baseDelayMs * 2^(retry-1))]. Full jitter spreads senders that failed
 * together (e.g. during a Slack outage) instead of having them retry in lockstep.
 */
export function backoffDelayMs(retry: number, opts: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'>, random: () => number): number {
  // 2^(retry-1) overflows to Infinity for large retry counts; Math.min keeps the cap finite.
  const cap = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** (retry - 1));
  const r = random();
  // Guard against a random source outside [0, 1]: the wait must stay within [0, cap].
  const unit = Number.isFinite(r) ? Math.min(1, Math.max(0, r)) : 0;
  return Math.floor(unit * cap);
}

function validate(opts: RetryOptions): void {
  if (!Number.isInteger(opts.attempts) || opts.attempts < 1) {
    throw new RangeError(`attempts must be an integer >= 1 (got ${opts.attempts})`);
  }
  for (const [name, v] of [['baseDelayMs', opts.baseDelayMs], ['maxDelayMs', opts.maxDelayMs]] as const) {
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a finite number >= 0 (got ${v})`);
  }
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function retryAfterOf(result: SendResult): number | undefined {
  const hint = (result as SendOutcome).retry_after_ms;
  return typeof hint === 'number' && Number.isFinite(hint) && hint >= 0 ? hint : undefined;
}

/**
 * Calls `send` until it succeeds, fails in a way a retry cannot fix, or `attempts` run out,
 * waiting with exponential backoff and full jitter in between. A destination's own
 * `retry_after_ms` replaces the jittered wait (capped at `maxDelayMs`, so one misbehaving
 * receiver cannot park a delivery for hours). A `send` that throws counts as a retryable
 * failure whose error is the thrown message with URLs removed.
 *
 * Returns the last result and how many attempts were made.
 */
export async function deliverWithRetry(
  send: () => Promise<SendResult>,
  opts: RetryOptions,
): Promise<{ result: SendResult; attempts: number }> {
  validate(opts);
  const sleep = opts.sleep ?? defaultSleep;
  const random = opts.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    let result: SendResult;
    try {
      result = await send();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      result = { ok: false, http_status: null, error: shortReason(message), retryable: true };
    }
    await opts.onAttempt?.(attempt, result);
    if (result.ok || !result.retryable || attempt >= opts.attempts) return { result, attempts: attempt };
    const asked = retryAfterOf(result);
    const wait = asked !== undefined ? Math.min(opts.maxDelayMs, asked) : backoffDelayMs(attempt, opts, random);
    await sleep(wait);
  }
}
