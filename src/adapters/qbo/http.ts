import { backoffDelayMs } from '../../app/retry.ts';
import { SpendtrailError } from '../../domain/errors.ts';

/** fetch, injectable: tests wrap it to drop answers or die mid-sync. */
export type FetchFn = (url: string, init: RequestInit) => Promise<Response>;

export interface QboRetryOptions {
  /** Total attempts per request, the first included. */
  readonly attempts: number;
  /** The first retry waits up to this; each further one up to twice as long (full jitter). */
  readonly baseDelayMs: number;
  /** No wait is longer, not even one QuickBooks asks for with Retry-After. */
  readonly maxDelayMs: number;
  /** A request not answered within this is abandoned and retried (with the same requestid). */
  readonly timeoutMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Milliseconds since the epoch, for Retry-After given as an HTTP date. */
  readonly now?: () => number;
}

/**
 * Intuit throttles at 500 requests a minute (and 10 concurrent) per company, answering 429; a
 * minute's worth of retries, doubling from one second, rides out a throttle window or a short
 * outage.
 */
export const DEFAULT_RETRY: QboRetryOptions = { attempts: 7, baseDelayMs: 1000, maxDelayMs: 60_000, timeoutMs: 60_000 };

const sleepFor = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Retry-After as seconds or as an HTTP date, in milliseconds from now. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const t = header.trim();
  if (/^[0-9]+$/.test(t)) return Number(t) * 1000;
  const at = Date.parse(t);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** What fetch throws when the request never got an answer: a refused or dropped connection, a timeout. */
function isTransportFailure(e: unknown): boolean {
  if (e instanceof TypeError) return true;
  const name = (e as { name?: unknown }).name;
  return name === 'TimeoutError' || name === 'AbortError';
}

/**
 * fetch with retries on 429, 5xx and transport failures, honouring Retry-After. Any other answer
 * is returned as is. Retrying is safe only for requests that are idempotent as sent (queries,
 * token refreshes, and creates carrying a requestid), which is all this adapter sends.
 *
 * Errors: QBO_UNAVAILABLE when the attempts run out.
 */
export async function fetchWithRetry(fetchFn: FetchFn, url: string, init: RequestInit, opts: QboRetryOptions, what: string): Promise<Response> {
  const sleep = opts.sleep ?? sleepFor;
  const random = opts.random ?? Math.random;
  const now = opts.now ?? Date.now;
  let last = '';
  for (let attempt = 1; ; attempt++) {
    let wait: number | undefined;
    try {
      const res = await fetchFn(url, { ...init, signal: AbortSignal.timeout(opts.timeoutMs) });
      if (res.status !== 429 && res.status < 500) return res;
      last = `HTTP ${res.status}${await faultText(res)}`;
      wait = retryAfterMs(res.headers.get('retry-after'), now());
    } catch (e) {
      if (!isTransportFailure(e)) throw e;
      last = `no answer (${(e as Error).message})`;
    }
    if (attempt >= opts.attempts) {
      throw new SpendtrailError('QBO_UNAVAILABLE', `${what}: QuickBooks did not answer after ${attempt} attempts (last: ${last})`, { details: { attempts: attempt } });
    }
    await sleep(Math.min(opts.maxDelayMs, wait ?? backoffDelayMs(attempt, opts, random)));
  }
}

/** The start of an error body, for messages (QuickBooks' 5xx pages can be HTML). */
async function faultText(res: Response): Promise<string> {
  try {
    const t = (await res.text()).replace(/\s+/g, ' ').trim();
    return t === '' ? '' : `: ${t.slice(0, 200)}`;
  } catch {
    return '';
  }
}
