import type { AppDeps } from './deps.ts';
import type { RailPayloadRow } from './ports/store.ts';
import type { Principal } from './principal.ts';
import { requireRole } from './principal.ts';

/**
 * How far after a transaction its rail record's entry can be: a rail record's entry is written
 * after the transactions made from it, in the same append (a batch of at most this many entries).
 */
const RAIL_RECORD_WINDOW = 100_000;

/**
 * The native rail record (a Stripe event, an x402 settlement…) a transaction was made from, or
 * undefined when it came through the API. The same roles as reading rail records by their id.
 */
export async function railRecordOfTransaction(deps: AppDeps, by: Principal, tx: { tx_id: string; seq: number }): Promise<RailPayloadRow | undefined> {
  requireRole(by, 'auditor', 'finance');
  return deps.store.railPayloadOfTransaction(by.org_id, tx.tx_id, tx.seq, RAIL_RECORD_WINDOW);
}
