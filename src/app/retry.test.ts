import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SendResult } from './ports/notifier.ts';
import type { SendOutcome } from './retry.ts';
import { backoffDelayMs, deliverWithRetry, redactUrls } from './retry.ts';

const ok: SendResult = { ok: true, http_status: 200, error: null, retryable: false };
const transient: SendResult = { ok: false, http_status: 503, error: 'HTTP 503', retryable: true };
const permanent: SendResult = { ok: false, http_status: 404, error: 'HTTP 404 no_service', retryable: false };

/** A scripted `send` that returns the given results in order (the last one repeats). */
function scripted(results: readonly SendOutcome[]) {
  let calls = 0;
  const send = (): Promise<SendResult> => Promise.resolve(results[Math.min(calls++, results.length - 1)]!);
  return { send, calls: () => calls };
}

function recorder() {
  const sleeps: number[] = [];
  const attempts: [number, SendResult][] = [];
  return {
    sleeps,
    attempts,
    sleep: (ms: number) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    onAttempt: (n: number, r: SendResult) => {
      attempts.push([n, r]);
    },
  };
}

describe('backoff schedule', () => {
  it('waits a jittered time within [0, min(max, base * 2^(retry-1))] before every retry', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { minLength: 12, maxLength: 12 }),
        async (attempts, baseDelayMs, maxDelayMs, randoms) => {
          const rec = recorder();
          let i = 0;
          const { send, calls } = scripted([transient]);
          const out = await deliverWithRetry(send, { attempts, baseDelayMs, maxDelayMs, sleep: rec.sleep, random: () => randoms[i++ % randoms.length]!, onAttempt: rec.onAttempt });
          expect(out.attempts).toBe(attempts);
          expect(calls()).toBe(attempts);
          // No sleep after the last attempt: a caller is never held up for nothing.
          expect(rec.sleeps).toHaveLength(attempts - 1);
          rec.sleeps.forEach((ms, k) => {
            const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** k);
            expect(ms).toBeGreaterThanOrEqual(0);
            expect(ms).toBeLessThanOrEqual(cap);
            expect(ms).toBe(Math.floor(randoms[k]! * cap));
          });
        },
      ),
    );
  });

  it('grows exponentially up to the cap when the jitter is at its top', async () => {
    const rec = recorder();
    const { send } = scripted([transient]);
    await deliverWithRetry(send, { attempts: 7, baseDelayMs: 100, maxDelayMs: 1500, sleep: rec.sleep, random: () => 1 });
    expect(rec.sleeps).toEqual([100, 200, 400, 800, 1500, 1500]);
  });

  it('keeps the wait within the cap even for a random source outside [0, 1) and huge retry counts', () => {
    for (const r of [-1, 2, Number.NaN, Number.POSITIVE_INFINITY]) {
      const ms = backoffDelayMs(5, { baseDelayMs: 100, maxDelayMs: 1000 }, () => r);
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThanOrEqual(1000);
    }
    expect(backoffDelayMs(5000, { baseDelayMs: 100, maxDelayMs: 1000 }, () => 0.5)).toBe(500);
  });
});

describe('when delivery stops', () => {
  it('stops at the first success and records every attempt in order', async () => {
    const rec = recorder();
    const { send, calls } = scripted([transient, transient, ok]);
    const out = await deliverWithRetry(send, { attempts: 5, baseDelayMs: 10, maxDelayMs: 100, sleep: rec.sleep, random: () => 0.5, onAttempt: rec.onAttempt });
    expect(out).toEqual({ result: ok, attempts: 3 });
    expect(calls()).toBe(3);
    expect(rec.attempts).toEqual([[1, transient], [2, transient], [3, ok]]);
    expect(rec.sleeps).toHaveLength(2);
  });

  it('does not retry a failure marked non-retryable', async () => {
    const rec = recorder();
    const { send, calls } = scripted([permanent, ok]);
    const out = await deliverWithRetry(send, { attempts: 5, baseDelayMs: 10, maxDelayMs: 100, sleep: rec.sleep, onAttempt: rec.onAttempt });
    expect(out).toEqual({ result: permanent, attempts: 1 });
    expect(calls()).toBe(1);
    expect(rec.sleeps).toEqual([]);
    expect(rec.attempts).toEqual([[1, permanent]]);
  });

  it('returns the last failure when attempts run out', async () => {
    const { send } = scripted([transient]);
    const out = await deliverWithRetry(send, { attempts: 3, baseDelayMs: 0, maxDelayMs: 0, sleep: () => Promise.resolve() });
    expect(out).toEqual({ result: transient, attempts: 3 });
  });

  it('waits for onAttempt before the next attempt and stops if recording fails', async () => {
    const order: string[] = [];
    const { send } = scripted([transient, ok]);
    const wrapped = async () => {
      order.push('send');
      return send();
    };
    await deliverWithRetry(wrapped, {
      attempts: 3, baseDelayMs: 0, maxDelayMs: 0, sleep: () => Promise.resolve(),
      onAttempt: async (n) => {
        await new Promise((r) => setTimeout(r, 5));
        order.push(`recorded ${n}`);
      },
    });
    expect(order).toEqual(['send', 'recorded 1', 'send', 'recorded 2']);

    const failing = scripted([transient]);
    await expect(
      deliverWithRetry(failing.send, { attempts: 3, baseDelayMs: 0, maxDelayMs: 0, sleep: () => Promise.resolve(), onAttempt: () => Promise.reject(new Error('store down')) }),
    ).rejects.toThrow('store down');
    expect(failing.calls()).toBe(1);
  });

  it('rejects nonsensical options instead of looping or never sending', async () => {
    const { send } = scripted([ok]);
    await expect(deliverWithRetry(send, { attempts: 0, baseDelayMs: 1, maxDelayMs: 1 })).rejects.toThrow(RangeError);
    await expect(deliverWithRetry(send, { attempts: 1.5, baseDelayMs: 1, maxDelayMs: 1 })).rejects.toThrow(RangeError);
    await expect(deliverWithRetry(send, { attempts: 2, baseDelayMs: -1, maxDelayMs: 1 })).rejects.toThrow(RangeError);
  });
});

describe('Retry-After', () => {
  it('waits what the destination asked for instead of the jittered backoff', async () => {
    const rec = recorder();
    const limited: SendOutcome = { ok: false, http_status: 429, error: 'HTTP 429', retryable: true, retry_after_ms: 3000 };
    const { send } = scripted([limited, ok]);
    const out = await deliverWithRetry(send, { attempts: 3, baseDelayMs: 10, maxDelayMs: 10_000, sleep: rec.sleep, random: () => 0 });
    expect(out.attempts).toBe(2);
    expect(rec.sleeps).toEqual([3000]);
  });

  it('caps the requested wait at maxDelayMs', async () => {
    const rec = recorder();
    const limited: SendOutcome = { ok: false, http_status: 429, error: 'HTTP 429', retryable: true, retry_after_ms: 3_600_000 };
    const { send } = scripted([limited, ok]);
    await deliverWithRetry(send, { attempts: 3, baseDelayMs: 10, maxDelayMs: 2000, sleep: rec.sleep, random: () => 0 });
    expect(rec.sleeps).toEqual([2000]);
  });

  it('ignores a malformed hint and falls back to the backoff', async () => {
    const rec = recorder();
    const odd = { ...transient, retry_after_ms: Number.NaN } as SendOutcome;
    const { send } = scripted([odd, ok]);
    await deliverWithRetry(send, { attempts: 3, baseDelayMs: 100, maxDelayMs: 1000, sleep: rec.sleep, random: () => 0.5 });
    expect(rec.sleeps).toEqual([50]);
  });
});

describe('a send that throws', () => {
  it('counts as a retryable failure whose error has the URL removed', async () => {
    const rec = recorder();
    let calls = 0;
    const send = (): Promise<SendResult> => {
      calls++;
      if (calls === 1) return Promise.reject(new Error('request to https://hooks.slack.com/services/T0/B0/s3cr3t failed'));
      return Promise.resolve(ok);
    };
    const out = await deliverWithRetry(send, { attempts: 3, baseDelayMs: 0, maxDelayMs: 0, sleep: rec.sleep, onAttempt: rec.onAttempt });
    expect(out).toEqual({ result: ok, attempts: 2 });
    const first = rec.attempts[0]![1];
    expect(first).toMatchObject({ ok: false, http_status: null, retryable: true });
    expect(first.error).toContain('failed');
    expect(first.error).not.toContain('s3cr3t');
    expect(first.error).not.toContain('hooks.slack.com');
  });

  it('handles non-Error throws', async () => {
    const rec = recorder();
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the point is a non-Error rejection
    const send = (): Promise<SendResult> => Promise.reject('plain string');
    const out = await deliverWithRetry(send, { attempts: 1, baseDelayMs: 0, maxDelayMs: 0, sleep: rec.sleep });
    expect(out.result).toEqual({ ok: false, http_status: null, error: 'plain string', retryable: true });
  });
});

describe('redactUrls', () => {
  it('removes any scheme://… token and keeps the rest', () => {
    expect(redactUrls('POST http://127.0.0.1:9/x?y=1 failed, see https://a.b/c')).toBe('POST [url] failed, see [url]');
    expect(redactUrls('no url here')).toBe('no url here');
  });
});
