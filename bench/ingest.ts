import type { AppDeps } from '../src/app/deps.ts';
import type { Principal } from '../src/app/principal.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { parseTransactionInput } from '../src/app/transaction-input.ts';
import { verifyLog } from '../src/app/verify.ts';
import type { NoteVerifier } from '../src/domain/checkpoint/note-key.ts';
import type { TransactionInput } from '../src/domain/ledger/transaction.ts';
import { StoreTimings, timedStore } from './timed-store.ts';
import type { RawTransaction, Workload } from './workload.ts';

export interface IngestStats {
  readonly count: number;
  readonly recorded: number;
  readonly chunks: number;
  readonly wall_ms: number;
  readonly gen_ms: number;
  readonly parse_ms: number;
  readonly record_ms: number;
  /** Inside units of work: any store call in flight. */
  readonly db_wait_ms: number;
  /** Inside units of work, between store calls: evaluation, hashing, sealing, signing. */
  readonly js_ms: number;
  /** The unit of work outside its callback: BEGIN, COMMIT (WAL flush), connection checkout. */
  readonly begin_commit_ms: number;
  readonly top_calls: { name: string; n: number; ms: number }[];
  readonly slowest_chunk_ms: number;
  readonly fastest_chunk_ms: number;
  readonly first_chunk_ms: number;
  readonly last_chunk_ms: number;
}

/**
 * Records `w.total` transactions in atomic chunks, the way an import does: each chunk is
 * parsed (as NDJSON lines would be) and recorded in one unit of work. The generator's own time
 * is measured apart and left out of the rate.
 */
export async function ingest(
  deps: AppDeps,
  by: Principal,
  w: Workload,
  chunk: number,
  progress: (done: number, rate: number) => void,
): Promise<IngestStats> {
  const timings = new StoreTimings();
  const tdeps: AppDeps = { ...deps, store: timedStore(deps.store, timings) };
  let genMs = 0;
  let parseMs = 0;
  let recordMs = 0;
  let recorded = 0;
  let slowest = 0;
  let fastest = Infinity;
  let chunks = 0;
  let first = 0;
  let last = 0;
  let lastReport = performance.now();
  // Like `spendtrail record` (importTransactions): the next chunk is generated and parsed while
  // the previous one commits, so the rate is wall time over the whole run, overlap included.
  const wall0 = performance.now();
  let inFlight: Promise<void> = Promise.resolve();
  for (let start = 0; start < w.total; start += chunk) {
    const end = Math.min(w.total, start + chunk);
    const g0 = performance.now();
    const raws: RawTransaction[] = [];
    for (let i = start; i < end; i++) raws.push(w.get(i));
    const p0 = performance.now();
    genMs += p0 - g0;
    const inputs: TransactionInput[] = raws.map((r, k) => parseTransactionInput(r, `transactions[${k}]`));
    parseMs += performance.now() - p0;
    await inFlight;
    const r0 = performance.now();
    inFlight = recordTransactions(tdeps, by, inputs, 'atomic').then((outcomes) => {
      const took = performance.now() - r0;
      recordMs += took;
      slowest = Math.max(slowest, took);
      fastest = Math.min(fastest, took);
      if (chunks === 0) first = took;
      last = took;
      chunks += 1;
      recorded += outcomes.filter((o) => o.ok && o.result.status === 'recorded').length;
      if (performance.now() - lastReport > 5000 || end === w.total) {
        lastReport = performance.now();
        progress(end, end / ((performance.now() - wall0) / 1000));
      }
    });
    inFlight.catch(() => undefined);
  }
  await inFlight;
  const wallMs = performance.now() - wall0;
  const inUnits = timings.callbackMs;
  return {
    count: w.total,
    recorded,
    chunks,
    wall_ms: wallMs,
    gen_ms: genMs,
    parse_ms: parseMs,
    record_ms: recordMs,
    db_wait_ms: timings.dbWaitMs,
    js_ms: inUnits - timings.dbWaitMs,
    begin_commit_ms: timings.unitMs - inUnits,
    top_calls: timings.top(),
    slowest_chunk_ms: slowest,
    fastest_chunk_ms: fastest === Infinity ? 0 : fastest,
    first_chunk_ms: first,
    last_chunk_ms: last,
  };
}

export interface VerifyStats {
  readonly ok: boolean;
  readonly entries: number;
  readonly elapsed_ms: number;
  readonly findings: readonly string[];
}

export async function verifyAll(deps: AppDeps, by: Principal, verifier: NoteVerifier): Promise<VerifyStats> {
  const t0 = performance.now();
  const r = await verifyLog(deps, by, verifier);
  return {
    ok: r.ok,
    entries: r.entries_checked,
    elapsed_ms: Math.max(r.elapsed_ms, 0) || performance.now() - t0,
    findings: r.findings.slice(0, 5).map((f) => `${f.seq ?? '-'}: ${f.what}`),
  };
}
