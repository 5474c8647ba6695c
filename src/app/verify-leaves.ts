import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { SpendtrailError } from '../domain/errors.ts';
import type { TransactionRecord } from '../domain/ledger/transaction.ts';
import { encodeTransaction } from '../domain/ledger/transaction.ts';
import { leafHash } from '../domain/merkle/tree-hash.ts';
import type { LeafJob, LeafResult } from './verify-worker.ts';
import { LEAF_WORKER_SOURCE } from './verify-worker.ts';

/**
 * Leaf hashes of transactions re-derived from their columns: SHA-256 of the RFC 6962 leaf
 * prefix and the canonical encoding. Each leaf depends on its own record only, so this is the
 * part of verify that can run on other threads; everything that depends on order (the tree,
 * running totals, policy state) stays with the caller.
 */
export interface LeafHasher {
  /** 32 bytes per record, in the records' order. */
  hash(records: readonly TransactionRecord[]): Promise<Buffer>;
  /** How many threads hash (0: the caller's own, also after the workers failed). */
  readonly threads: number;
  close(): Promise<void>;
}

// Below this many entries per job the message round trip costs more than the hashing saves.
const MIN_JOB = 500;

/** Hashes on the calling thread, record by record. */
export function inThreadLeafHasher(): LeafHasher {
  return {
    threads: 0,
    hash: (records) => Promise.resolve(hashHere(records, 0, records.length)),
    close: () => Promise.resolve(),
  };
}

function hashHere(records: readonly TransactionRecord[], from: number, to: number): Buffer {
  const out = Buffer.allocUnsafe((to - from) * 32);
  for (let i = from; i < to; i++) leafHash(encodeTransaction(records[i] as TransactionRecord)).copy(out, (i - from) * 32);
  return out;
}

/**
 * SPENDTRAIL_VERIFY_WORKERS: how many worker threads hash leaves during verify (0 = none).
 * Unset, min(4, cores). Anything but a whole number from 0 to 64 is refused rather than
 * guessed at.
 */
export function verifyWorkerSetting(env: NodeJS.ProcessEnv = process.env): { count: number; explicit: boolean } {
  const raw = env.SPENDTRAIL_VERIFY_WORKERS?.trim();
  // Hashing is a sixth of verify's CPU (decoding rows and re-deriving their bytes is most of the
  // rest, on the main thread): with two cores or fewer, threads only compete with the database.
  if (raw === undefined || raw === '') {
    const cores = os.availableParallelism();
    return { count: cores <= 2 ? 0 : Math.min(4, cores - 1), explicit: false };
  }
  if (!/^\d{1,2}$/.test(raw) || Number(raw) > 64) {
    throw new SpendtrailError('VALIDATION_FAILED', `SPENDTRAIL_VERIFY_WORKERS must be a whole number from 0 to 64, not "${raw}"`);
  }
  return { count: Number(raw), explicit: true };
}

/**
 * A pool of `count` worker threads; each page is split into one job per thread. A worker that
 * fails to start or dies, or a job it cannot do, is hashed on the calling thread instead and
 * the pool stops sending work: the result is the same, only slower. With `count` 0, or when
 * threads cannot be created here, the in-thread hasher. `source` is the thread's program (tests
 * give a broken one to see the fallback).
 */
export function startLeafHasher(count: number, source: string = LEAF_WORKER_SOURCE): LeafHasher {
  if (count <= 0) return inThreadLeafHasher();
  const workers: Worker[] = [];
  try {
    // No inherited execArgv: the script needs no loader, and a profiler or preload flag of the
    // process is not meant for every thread.
    for (let i = 0; i < count; i++) workers.push(new Worker(source, { eval: true, execArgv: [] }));
  } catch {
    for (const w of workers) void w.terminate();
    return inThreadLeafHasher();
  }
  return new WorkerLeafHasher(workers);
}

/**
 * 0x00 ‖ canonical bytes of each record, back to back: the leaf prefix doubles as the
 * separator, since canonical JSON writes U+0000 escaped and a 0x00 byte occurs nowhere else.
 */
function encodeLeaves(records: readonly TransactionRecord[], from: number, to: number): { bytes: ArrayBuffer; length: number } {
  // A transaction encodes to about a kilobyte; allocUnsafeSlow gives a buffer of its own,
  // which can be transferred.
  let buf = Buffer.allocUnsafeSlow(Math.max(4096, (to - from) * 1280));
  let off = 0;
  for (let i = from; i < to; i++) {
    const s = encodeTransaction(records[i] as TransactionRecord);
    // UTF-8 needs at most 3 bytes per UTF-16 unit.
    if (off + 1 + s.length * 3 > buf.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, off + 1 + s.length * 3));
      buf.copy(bigger, 0, 0, off);
      buf = bigger;
    }
    buf[off++] = 0;
    off += buf.write(s, off);
  }
  return { bytes: buf.buffer, length: off };
}

interface Pending {
  readonly worker: Worker;
  resolve(b: Buffer): void;
  reject(e: Error): void;
}

class WorkerLeafHasher implements LeafHasher {
  readonly #workers: Worker[];
  readonly #pending = new Map<number, Pending>();
  readonly #busy = new Map<Worker, number>();
  #nextId = 0;
  #nextWorker = 0;
  #broken = false;

  constructor(workers: Worker[]) {
    this.#workers = workers;
    for (const w of workers) {
      // An idle worker must not keep the process alive (a verify that threw before closing the
      // pool); one with a job must, or a process with nothing else pending would exit mid-verify.
      w.unref();
      w.on('message', (m: LeafResult) => {
        const p = this.#pending.get(m.id);
        if (p === undefined) return;
        this.#pending.delete(m.id);
        this.#done(w);
        if (m.hashes === null) p.reject(new Error(m.error ?? 'no hashes'));
        else p.resolve(Buffer.from(m.hashes));
      });
      const lost = (e: Error): void => {
        this.#broken = true;
        for (const [id, p] of this.#pending) {
          if (p.worker !== w) continue;
          this.#pending.delete(id);
          this.#done(w);
          p.reject(e);
        }
      };
      w.on('error', lost);
      w.on('exit', (code) => lost(new Error(`verify worker exited with code ${code}`)));
    }
  }

  get threads(): number {
    return this.#broken ? 0 : this.#workers.length;
  }

  hash(records: readonly TransactionRecord[]): Promise<Buffer> {
    const n = records.length;
    if (n === 0) return Promise.resolve(Buffer.alloc(0));
    const jobs = Math.max(1, Math.min(this.#workers.length, Math.floor(n / MIN_JOB)));
    const per = Math.ceil(n / jobs);
    const parts: Promise<Buffer>[] = [];
    for (let from = 0; from < n; from += per) parts.push(this.#job(records, from, Math.min(n, from + per)));
    return parts.length === 1 ? (parts[0] as Promise<Buffer>) : Promise.all(parts).then((bs) => Buffer.concat(bs, n * 32));
  }

  #job(records: readonly TransactionRecord[], from: number, to: number): Promise<Buffer> {
    if (this.#broken) return Promise.resolve(hashHere(records, from, to));
    // The canonical bytes are derived here, from the records as the store returned them, and
    // written straight into a buffer handed over without a copy; only the hashing moves.
    const { bytes, length } = encodeLeaves(records, from, to);
    const id = this.#nextId++;
    const worker = this.#workers[this.#nextWorker++ % this.#workers.length] as Worker;
    const job: LeafJob = { id, bytes, length, count: to - from };
    return new Promise<Buffer>((resolve, reject) => {
      this.#pending.set(id, { worker, resolve, reject });
      const busy = this.#busy.get(worker) ?? 0;
      if (busy === 0) worker.ref();
      this.#busy.set(worker, busy + 1);
      worker.postMessage(job, [bytes]);
    }).catch(() => {
      this.#broken = true;
      return hashHere(records, from, to);
    });
  }

  #done(w: Worker): void {
    const busy = (this.#busy.get(w) ?? 1) - 1;
    this.#busy.set(w, busy);
    if (busy === 0) w.unref();
  }

  async close(): Promise<void> {
    this.#broken = true;
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
