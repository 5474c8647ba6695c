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
  const [result] = await ingestRailCaptures(deps, by, [c]);
  if (result === undefined) throw new SpendtrailError('INTERNAL', 'a rail record produced no result');
  return result;
}

export interface RailBatchOptions {
  /** Field prefix of the i-th record in errors (e.g. `line 12`); none for a single record. */
  readonly fieldOf?: (i: number) => string;
  /** Field of the j-th transaction of the i-th record in errors; `<record>.transactions[j]` by default. */
  readonly transactionFieldOf?: (i: number, j: number) => string;
  /**
   * Whether a record seen before with the same bytes must also make the same transactions.
   * For payloads whose transactions depend on configuration outside the bytes (a column
   * mapping), a replay under another configuration is then IDEMPOTENCY_CONFLICT instead of
   * silently returning what the old configuration made.
   */
  readonly replayMustMatch?: boolean;
}

/**
 * Records several rail records in one unit of work, all or nothing (an import chunk): one
 * checkpoint for the lot instead of one per record. Each behaves as in ingestRailCapture.
 */
export async function ingestRailCaptures(
  deps: AppDeps,
  by: Principal,
  captures: readonly RailCapture[],
  options: RailBatchOptions = {},
): Promise<RailIngestResult[]> {
  requireRole(by, 'agent');
  const prefix = options.fieldOf;
  const at = (i: number, field: string): string => (prefix === undefined ? field : `${prefix(i)}.${field}`);
  const seen = new Set<string>();
  for (const [i, c] of captures.entries()) {
    if (c.source_id.trim() === '' || c.source_id.length > 300) {
      throw new SpendtrailError('VALIDATION_FAILED', 'a rail record needs its natural id (at most 300 characters)', { field: at(i, 'source_id') });
    }
    if (c.payload.length > MAX_PAYLOAD) {
      throw new SpendtrailError('VALIDATION_FAILED', `a rail payload is at most ${MAX_PAYLOAD} bytes`, { field: at(i, 'payload') });
    }
    for (const [j, t] of c.transactions.entries()) {
      if (t.payment_rail !== c.rail) {
        throw new SpendtrailError('VALIDATION_FAILED', `transaction on ${t.payment_rail} from a ${c.rail} record`, { field: at(i, `transactions[${j}].payment_rail`) });
      }
    }
    if (c.outcome !== 'settled' && c.transactions.length > 0) {
      throw new SpendtrailError('VALIDATION_FAILED', `a ${c.outcome} rail record makes no transactions`, { field: at(i, 'outcome') });
    }
    const k = `${c.rail}\u0000${c.source_id}`;
    if (seen.has(k)) throw new SpendtrailError('DUPLICATE_IN_BATCH', `${c.rail} record ${c.source_id} appears twice`, { field: at(i, 'source_id') });
    seen.add(k);
  }
  const hashes = captures.map((c) => contentHash(c.payload));
  const { result } = await appendToLog(deps, by.org_id, async (ctx) => {
    const priors = new Map<string, RailPayloadRow>();
    for (const p of await ctx.tx.getRailPayloads(by.org_id, captures.map((c) => ({ rail: c.rail, source_id: c.source_id })))) {
      priors.set(`${p.rail}\u0000${p.source_id}`, p);
    }
    const priorOf = (c: RailCapture): RailPayloadRow | undefined => priors.get(`${c.rail}\u0000${c.source_id}`);
    for (const [i, c] of captures.entries()) {
      const prior = priorOf(c);
      if (prior !== undefined && prior.payload_sha256 !== hashes[i]) {
        throw new SpendtrailError('IDEMPOTENCY_CONFLICT', `${c.rail} record ${c.source_id} was received before with other content`, {
          field: at(i, 'source_id'),
          details: { payload_sha256: prior.payload_sha256 },
        });
      }
    }
    // New records' transactions are recorded together; with replayMustMatch, a replayed
    // record's transactions go through the same call and come back as duplicates or conflicts.
    const recordedOf = captures.map((c) => priorOf(c) === undefined || options.replayMustMatch === true);
    const inputs: TransactionInput[] = [];
    const fields: string[] = [];
    for (const [i, c] of captures.entries()) {
      if (!recordedOf[i]) continue;
      for (const [j, t] of c.transactions.entries()) {
        inputs.push(t);
        fields.push(options.transactionFieldOf?.(i, j) ?? at(i, `transactions[${j}]`));
      }
    }
    const recorded = inputs.length === 0 ? [] : (await recordWithin(deps, ctx, by, inputs, (n) => fields[n] ?? `transactions[${n}]`)).map((r) => r.transaction);
    const replayIds = captures.flatMap((c, i) => (recordedOf[i] ? [] : (priorOf(c)?.tx_ids ?? [])));
    const replayed = new Map((await ctx.tx.findTransactionsById(by.org_id, replayIds)).map((s) => [s.record.tx_id, s.record]));
    let next = 0;
    const results: RailIngestResult[] = [];
    const rows: RailPayloadRow[] = [];
    for (const [i, c] of captures.entries()) {
      const hash = hashes[i] ?? contentHash(c.payload);
      const mine = recordedOf[i] ? recorded.slice(next, (next += c.transactions.length)) : [];
      const prior = priorOf(c);
      if (prior !== undefined) {
        const txs = recordedOf[i] ? mine : prior.tx_ids.flatMap((id) => replayed.get(id) ?? []);
        results.push({ status: 'duplicate', rail: c.rail, source_id: c.source_id, payload_sha256: hash, outcome: prior.outcome, seq: prior.seq, transactions: txs });
        continue;
      }
      const body: RailPayloadEntry = {
        rail: c.rail,
        source_id: c.source_id,
        payload_sha256: hash,
        content_type: c.content_type,
        outcome: c.outcome,
        reason: c.reason,
        tx_ids: mine.map((t) => t.tx_id),
      };
      const entry = ctx.sealer.addEntry('rail_payload', `${c.rail}:${c.source_id}`, instantFromDate(ctx.now), by.principal, body);
      rows.push({
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
      results.push({ status: 'recorded', rail: c.rail, source_id: c.source_id, payload_sha256: hash, outcome: c.outcome, seq: entry.seq, transactions: mine });
    }
    await ctx.tx.insertRailPayloads(rows);
    return results;
  });
  return result;
}

/** The stored native payloads a transaction was made from (an auditor's "what did the rail say"). */
export async function railPayloadsOf(deps: AppDeps, by: Principal, rail: Rail, sourceId: string): Promise<RailPayloadRow | undefined> {
  requireRole(by, 'auditor', 'finance', 'agent');
  const [row] = await deps.store.getRailPayloads(by.org_id, [{ rail, source_id: sourceId }]);
  return row;
}
