import type { Store, StoreTx } from '../src/app/ports/store.ts';

/**
 * Wraps a store to see where a unit of work spends its time: waiting on the database (any store
 * call in flight, overlapping calls counted once), in JavaScript between calls, and in
 * BEGIN/COMMIT (the unit of work's time outside its callback: the commit's WAL flush).
 */
export class StoreTimings {
  readonly byCall = new Map<string, { n: number; ms: number }>();
  units = 0;
  unitMs = 0;
  callbackMs = 0;
  dbWaitMs = 0;
  private inFlight = 0;
  private busySince = 0;

  enter(): void {
    if (this.inFlight++ === 0) this.busySince = performance.now();
  }

  leave(name: string, startedAt: number): void {
    const now = performance.now();
    const c = this.byCall.get(name) ?? { n: 0, ms: 0 };
    c.n += 1;
    c.ms += now - startedAt;
    this.byCall.set(name, c);
    if (--this.inFlight === 0) this.dbWaitMs += now - this.busySince;
  }

  /** Store calls by total time, largest first (overlapping calls each count their own time). */
  top(n = 4): { name: string; n: number; ms: number }[] {
    return [...this.byCall.entries()]
      .map(([name, c]) => ({ name, ...c }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, n);
  }
}

function wrapTx(tx: StoreTx, t: StoreTimings): StoreTx {
  return new Proxy(tx, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      const f = v as (...args: unknown[]) => unknown;
      return (...args: unknown[]): unknown => {
        const started = performance.now();
        t.enter();
        let r: unknown;
        try {
          r = f.apply(target, args);
        } catch (e) {
          t.leave(String(prop), started);
          throw e;
        }
        if (r instanceof Promise) return r.finally(() => t.leave(String(prop), started));
        t.leave(String(prop), started);
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
              try {
                return await fn(wrapTx(tx, t));
              } finally {
                t.callbackMs += performance.now() - s;
              }
            });
          } finally {
            t.units += 1;
            t.unitMs += performance.now() - started;
          }
        };
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
