// Section 6's read paths beside the summary: the incremental integrity check a summary starts
// with, and the ledger page (50 rows) under each filter the API offers, over the same month.
import type { AppDeps } from '../src/app/deps.ts';
import type { LedgerQuery } from '../src/app/ledger-queries.ts';
import { listLedger } from '../src/app/ledger-queries.ts';
import type { Principal } from '../src/app/principal.ts';
import { verifyLog } from '../src/app/verify.ts';
import type { NoteVerifier } from '../src/domain/checkpoint/note-key.ts';
import { fmtInt } from './support.ts';

export interface IncrementalVerify {
  /** Entries the full verify proved (its frontier), and the new ones checked after it. */
  readonly resumed_from: number;
  readonly checked: number;
  readonly ms: number;
  readonly cpu_ms: number;
  readonly ok: boolean;
  readonly mode: string;
}

/** An incremental verify after `record` has appended entries past the last verified frontier. */
export async function incrementalVerify(deps: AppDeps, by: Principal, verifier: NoteVerifier, record: () => Promise<void>): Promise<IncrementalVerify> {
  await record();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await verifyLog(deps, by, verifier, { incremental: true });
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { resumed_from: r.resumed_from, checked: r.entries_checked, ms, cpu_ms: (c.user + c.system) / 1000, ok: r.ok, mode: r.mode };
}

export interface PageTiming {
  readonly filter: string;
  readonly pages: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly max_ms: number;
  readonly rows: number;
}

const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
};

/**
 * Each filter: the first page, then following pages by cursor, `pages` pages in all, timed one
 * by one (the whole listLedger call: query, decoding, cursor).
 */
export async function ledgerPages(deps: AppDeps, by: Principal, agent: string, cluster: string, month: string, pages = 20): Promise<PageTiming[]> {
  const mid = `${month}-15T00:00:00Z`;
  const filters: [string, LedgerQuery][] = [
    ['none', {}],
    ['agent', { agent_id: agent }],
    ['cluster', { cluster }],
    ['from/to (one day)', { from: mid, to: `${month}-16T00:00:00Z` }],
    ['accounting code', { accounting_code: '6800' }],
    ['payment rail', { payment_rail: 'l402' }],
    ['violation (rare)', { violation: 'missing_approval' }],
    ['agent + violation (rare)', { agent_id: agent, violation: 'over_limit' }],
    ['agent + rail + from', { agent_id: agent, payment_rail: 'x402', from: mid }],
  ];
  const out: PageTiming[] = [];
  // Untimed: the pool's first connection and the first plan are not a page's cost.
  await listLedger(deps, by, { limit: 50 });
  for (const [name, q] of filters) {
    const times: number[] = [];
    let rows = 0;
    let cursor: string | undefined;
    for (let i = 0; i < pages; i++) {
      const t0 = performance.now();
      const page = await listLedger(deps, by, { ...q, limit: 50, cursor });
      times.push(performance.now() - t0);
      rows += page.transactions.length;
      if (page.next_cursor === null) cursor = undefined;
      else cursor = page.next_cursor;
    }
    out.push({ filter: name, pages, p50_ms: quantile(times, 0.5), p99_ms: quantile(times, 0.99), max_ms: Math.max(...times), rows });
  }
  return out;
}

export function renderReadPaths(rows: number, iv: IncrementalVerify, fullMs: number, pages: readonly PageTiming[]): string {
  const worst = Math.max(...pages.map((p) => p.p99_ms));
  return `
**Incremental integrity check.** After the full verify above (which records the tree it proved at the latest signed
checkpoint), ${fmtInt(iv.checked)} more entries were recorded and \`verifyLog(…, { incremental: true })\` — what a summary now
runs — resumed from entry ${fmtInt(iv.resumed_from)}: ${fmtInt(iv.ms)} ms (${fmtInt(iv.cpu_ms)} ms of CPU), mode ${iv.mode}, ${iv.ok ? 'ok' : '**FAILED**'}, against
${fmtInt(fullMs)} ms for the full one. \`spendtrail verify\` stays full; \`--incremental\` opts in.

**Ledger page** (\`listLedger\`, 50 rows, ${pages[0]?.pages ?? 0} consecutive pages per filter by cursor, over the ${fmtInt(rows)}
transactions above; target p99 ≤ 100 ms over 10M rows):

| filter | p50 | p99 | max | rows |
|---|---:|---:|---:|---:|
${pages.map((p) => `| ${p.filter} | ${p.p50_ms.toFixed(1)} ms | ${p.p99_ms.toFixed(1)} ms | ${p.max_ms.toFixed(1)} ms | ${fmtInt(p.rows)} |`).join('\n')}

Worst p99: ${worst.toFixed(1)} ms (${worst <= 100 ? 'within' : '**over**'} 100 ms at this size).
`;
}
