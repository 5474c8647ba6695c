import { SpendtrailError } from '../domain/errors.ts';
import { contentHash } from '../domain/hash.ts';
import type { TransactionInput, TransactionRecord } from '../domain/ledger/transaction.ts';
import type { Rail } from '../domain/rails.ts';
import { instantFromDate } from '../domain/time.ts';
import { appendToLog } from './append.ts';
import type { AppDeps } from './deps.ts';
import type { RailPayloadRow } from './ports/store.ts';
import type { Principal } from './principal.ts';
import { requireRole } from './principal.ts';
import { recordWithin } from './record-transactions.ts';

/**
 * What a rail adapter makes of one native record: the exact bytes the rail sent, its natural
 * id, and the ledger transactions they amount to (none when the payment failed or the record
 * is evidence only, such as an authorization that is not yet money moved).
 */
export interface RailCapture {
  readonly rail: Rail;
  /** The rail's natural id: unique per organisation and rail (Stripe event id, x402 network/asset/payer/nonce, payment hash). */
  readonly source_id: string;
  readonly content_type: string;
  /** The native payload exactly as received (raw webhook body, decoded headers as JSON, an LND record). */
  readonly payload: Buffer;
  readonly outcome: RailPayloadRow['outcome'];
  /** Why the rail says the payment failed, or why the record is kept as evidence only. */
  readonly reason: string | null;
  readonly transactions: readonly TransactionInput[];
}

export interface RailIngestResult {
  readonly status: 'recorded' | 'duplicate';
  readonly rail: Rail;
  readonly source_id: string;
  readonly payload_sha256: string;
  readonly outcome: RailPayloadRow['outcome'];
  readonly seq: number;
  readonly transactions: readonly TransactionRecord[];
}

/** Log entry body of a rail payload: what an auditor matches the stored bytes and transactions against. */
export interface RailPayloadEntry {
  readonly rail: Rail;
  readonly source_id: string;
  readonly payload_sha256: string;
  readonly content_type: string;
  readonly outcome: RailPayloadRow['outcome'];
  readonly reason: string | null;
  readonly tx_ids: readonly string[];
}

const MAX_PAYLOAD = 1024 * 1024;

/**
 * Records a rail's native record and the transactions made from it in one unit of work: the
 * payload bytes, a `rail_payload` log entry holding their hash and the transaction ids, and
 * the transactions themselves, or nothing at all. The same record again (same rail, id and
 * bytes) returns what was recorded; the same id with other bytes is IDEMPOTENCY_CONFLICT.
 */
export async function ingestRailCapture(deps: AppDeps, by: Principal, c: RailCapture): Promise<RailIngestResult> {
  requireRole(by, 'agent');
  if (c.source_id.trim() === '' || c.source_id.length > 300) {
    throw new SpendtrailError('VALIDATION_FAILED', 'a rail record needs its natural id (at most 300 characters)', { field: 'source_id' });
  }
  if (c.payload.length > MAX_PAYLOAD) {
    throw new SpendtrailError('VALIDATION_FAILED', `a rail payload is at most ${MAX_PAYLOAD} bytes`, { field: 'payload' });
  }
  for (const [i, t] of c.transactions.entries()) {
    if (t.payment_rail !== c.rail) {
      throw new SpendtrailError('VALIDATION_FAILED', `transaction on ${t.payment_rail} from a ${c.rail} record`, { field: `transactions[${i}].payment_rail` });
    }
  }
  if (c.outcome !== 'settled' && c.transactions.length > 0) {
    throw new SpendtrailError('VALIDATION_FAILED', `a ${c.outcome} rail record makes no transactions`, { field: 'outcome' });
  }
  const hash = contentHash(c.payload);
  const { result } = await appendToLog(deps, by.org_id, async (ctx) => {
    const [prior] = await ctx.tx.getRailPayloads(by.org_id, [{ rail: c.rail, source_id: c.source_id }]);
    if (prior !== undefined) {
      if (prior.payload_sha256 !== hash) {
        throw new SpendtrailError('IDEMPOTENCY_CONFLICT', `${c.rail} record ${c.source_id} was received before with other content`, {
          field: 'source_id',
          details: { payload_sha256: prior.payload_sha256 },
        });
      }
      const txs = await ctx.tx.findTransactionsById(by.org_id, prior.tx_ids);
      const order = new Map(prior.tx_ids.map((id, i) => [id, i]));
      return {
        status: 'duplicate' as const,
        rail: c.rail,
        source_id: c.source_id,
        payload_sha256: hash,
        outcome: prior.outcome,
        seq: prior.seq,
        transactions: txs.map((s) => s.record).sort((a, b) => (order.get(a.tx_id) ?? 0) - (order.get(b.tx_id) ?? 0)),
      };
    }
    const recorded = await recordWithin(deps, ctx, by, c.transactions);
    const txs = recorded.map((r) => r.transaction);
    const body: RailPayloadEntry = {
      rail: c.rail,
      source_id: c.source_id,
      payload_sha256: hash,
      content_type: c.content_type,
      outcome: c.outcome,
      reason: c.reason,
      tx_ids: txs.map((t) => t.tx_id),
    };
    const entry = ctx.sealer.addEntry('rail_payload', `${c.rail}:${c.source_id}`, instantFromDate(ctx.now), by.principal, body);
    await ctx.tx.insertRailPayload({
      org_id: by.org_id,
      rail: c.rail,
      source_id: c.source_id,
      seq: entry.seq,
      payload_sha256: hash,
      content_type: c.content_type,
      body: c.payload,
      outcome: c.outcome,
      tx_ids: body.tx_ids,
      received_at: ctx.now,
    });
    return { status: 'recorded' as const, rail: c.rail, source_id: c.source_id, payload_sha256: hash, outcome: c.outcome, seq: entry.seq, transactions: txs };
  });
  return result;
}

/** The stored native payloads a transaction was made from (an auditor's "what did the rail say"). */
export async function railPayloadsOf(deps: AppDeps, by: Principal, rail: Rail, sourceId: string): Promise<RailPayloadRow | undefined> {
  requireRole(by, 'auditor', 'finance', 'agent');
  const [row] = await deps.store.getRailPayloads(by.org_id, [{ rail, source_id: sourceId }]);
  return row;
}
