import type { Store, StoreTx } from '../src/app/ports/store.ts';

/**
 * Wraps a store to see where a unit of work spends its time: waiting on the database (any store
 * call in flight, overlapping calls counted once), in JavaScript between calls, and in
 * BEGIN/COMMIT (the unit of work's time outside its callback: checking out a connection, the
 * commit's WAL flush). Under concurrency "JavaScript" includes waiting for the event loop.
 */
export class StoreTimings {
  readonly byCall = new Map<string, { n: number; ms: number }>();
  units = 0;
  unitMs = 0;
  callbackMs = 0;
  dbWaitMs = 0;

  call(name: string, ms: number): void {
    const c = this.byCall.get(name) ?? { n: 0, ms: 0 };
    c.n += 1;
    c.ms += ms;
    this.byCall.set(name, c);
  }

  /** Calls on the store outside any unit of work (the API-key lookup, for one). */
  readonly outside = new Map<string, { n: number; ms: number }>();

  outsideCall(name: string, ms: number): void {
    const c = this.outside.get(name) ?? { n: 0, ms: 0 };
    c.n += 1;
    c.ms += ms;
    this.outside.set(name, c);
  }

  /** Starts counting afresh. */
  reset(): void {
    this.byCall.clear();
    this.outside.clear();
    this.units = 0;
    this.unitMs = 0;
    this.callbackMs = 0;
    this.dbWaitMs = 0;
  }

  snapshot(): TimingSnapshot {
    return {
      units: this.units,
      unit_ms: this.unitMs,
      callback_ms: this.callbackMs,
      db_wait_ms: this.dbWaitMs,
      top: this.top(),
      outside: [...this.outside.entries()].map(([name, c]) => ({ name, ...c })).sort((a, b) => b.ms - a.ms),
    };
  }

  /** Store calls by total time, largest first (overlapping calls each count their own time). */
  top(n = 4): { name: string; n: number; ms: number }[] {
    return [...this.byCall.entries()]
      .map(([name, c]) => ({ name, ...c }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, n);
  }
}

export interface TimingSnapshot {
  readonly units: number;
  readonly unit_ms: number;
  readonly callback_ms: number;
  readonly db_wait_ms: number;
  readonly top: { name: string; n: number; ms: number }[];
  readonly outside: { name: string; n: number; ms: number }[];
}

/** One unit of work's busy span: time with at least one of its store calls in flight. */
class UnitSpan {
  private inFlight = 0;
  private since = 0;
  waitMs = 0;
  enter(): void {
    if (this.inFlight++ === 0) this.since = performance.now();
  }
  leave(): void {
    if (--this.inFlight === 0) this.waitMs += performance.now() - this.since;
  }
}

function wrapTx(tx: StoreTx, t: StoreTimings, span: UnitSpan): StoreTx {
  return new Proxy(tx, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      const f = v as (...args: unknown[]) => unknown;
      return (...args: unknown[]): unknown => {
        const started = performance.now();
        const done = (): void => {
          span.leave();
          t.call(String(prop), performance.now() - started);
        };
        span.enter();
        let r: unknown;
        try {
          r = f.apply(target, args);
        } catch (e) {
          done();
          throw e;
        }
        if (r instanceof Promise) return r.finally(done);
        done();
        return r;
      };
    },
  });
}

export function timedStore(inner: Store, t: StoreTimings): Store {
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'unitOfWork') {
        return async <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> => {
          const started = performance.now();
          try {
            return await target.unitOfWork(async (tx) => {
              const s = performance.now();
              const span = new UnitSpan();
              try {
                return await fn(wrapTx(tx, t, span));
              } finally {
                t.callbackMs += performance.now() - s;
                t.dbWaitMs += span.waitMs;
              }
            });
          } finally {
            t.units += 1;
            t.unitMs += performance.now() - started;
          }
        };
      }
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      const f = v as (...a: unknown[]) => unknown;
      return (...args: unknown[]): unknown => {
        const started = performance.now();
        const r = f.apply(target, args);
        if (r instanceof Promise) return r.finally(() => t.outsideCall(String(prop), performance.now() - started));
        return r;
      };
    },
  });
}
