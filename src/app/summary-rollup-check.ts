import type { TransactionRecord } from '../domain/ledger/transaction.ts';
import { addToRollups, rollupDifference, summaryRollupKey } from '../domain/summary/rollup.ts';
import type { SummaryRollup } from '../domain/summary/rollup.ts';
import type { StoreReads } from './ports/store.ts';

type Fail = (seq: number | null, what: string) => void;

const describe = (r: SummaryRollup): string => `${r.day} ${r.agent_id} ${r.accounting_code === '' ? 'uncoded' : r.accounting_code} ${r.payment_rail}`;

/** What a verify proved the rollups to be, saved beside its frontier when it succeeds. */
export interface ProvedRollups {
  readonly rollups: readonly SummaryRollup[];
  /** A full verify proved every rollup; an incremental one only those of the days it touched. */
  readonly replaceAll: boolean;
}

/**
 * Checks the summary rollups (what monthly summaries add up) against the ledger during verify.
 *
 * In full, every verified transaction is added, in log order, into rollups computed here, and
 * every stored rollup must equal one of them: a rollup nudged, added or removed shows, as does a
 * summary total that would differ from the transactions behind it. Resumed from a verified
 * frontier, the new transactions are added to what the verify that proved the frontier found
 * the rollups to be (kept beside it), and only the days they touch are compared: the cost
 * follows the rollups touched, not the transactions behind them.
 */
export class SummaryRollupCheck {
  private readonly computed = new Map<string, SummaryRollup>();

  /** One verified transaction, in log order, with its organisation-local day. */
  add(r: TransactionRecord, reportingMinor: bigint, day: string): void {
    addToRollups(this.computed, {
      day,
      agent_id: r.agent_id,
      accounting_code: r.accounting_code,
      payment_rail: r.payment_rail,
      reporting_minor: reportingMinor,
      violations: r.violations,
    });
  }

  async compare(store: StoreReads, orgId: string, resumed: boolean, fail: Fail): Promise<ProvedRollups> {
    if (!resumed) {
      compareSets(this.computed, await store.summaryRollups(orgId), fail);
      return { rollups: [...this.computed.values()], replaceAll: true };
    }
    const days = [...new Set([...this.computed.values()].map((r) => r.day))];
    if (days.length === 0) return { rollups: [], replaceAll: false };
    const expected = new Map((await store.summaryRollups(orgId, days, 'verified')).map((r) => [summaryRollupKey(r), r]));
    for (const [key, d] of this.computed) {
      const b = expected.get(key);
      expected.set(key, b === undefined ? d : sum(b, d));
    }
    compareSets(expected, await store.summaryRollups(orgId, days), fail);
    return { rollups: [...expected.values()], replaceAll: false };
  }
}

const sum = (a: SummaryRollup, b: SummaryRollup): SummaryRollup => ({
  ...a,
  net_minor: a.net_minor + b.net_minor,
  refunds_minor: a.refunds_minor + b.refunds_minor,
  transactions: a.transactions + b.transactions,
  violating: a.violating + b.violating,
  over_limit: a.over_limit + b.over_limit,
  blocked_category: a.blocked_category + b.blocked_category,
  missing_approval: a.missing_approval + b.missing_approval,
});

function compareSets(expected: ReadonlyMap<string, SummaryRollup>, stored: readonly SummaryRollup[], fail: Fail): void {
  const seen = new Set<string>();
  for (const s of stored) {
    const key = summaryRollupKey(s);
    seen.add(key);
    const e = expected.get(key);
    const differs = rollupDifference(e, s);
    if (differs === null) continue;
    if (e === undefined) fail(null, `summary rollup ${describe(s)} has no transactions behind it`);
    else fail(null, `summary rollup ${describe(s)}: ${differs} is ${String(s[differs])}, the ledger says ${String(e[differs])}`);
  }
  for (const [key, e] of expected) {
    if (!seen.has(key) && e.transactions > 0) fail(null, `summary rollup ${describe(e)} is missing: the ledger has ${e.transactions} transactions for it`);
  }
}
