import { SpendtrailError } from '../domain/errors.ts';
import type { TransactionInput } from '../domain/ledger/transaction.ts';
import type { AppDeps } from './deps.ts';
import type { Principal } from './principal.ts';
import type { RailCapture } from './rail-ingest.ts';
import { ingestRailCaptures } from './rail-ingest.ts';
import { recordTransactions } from './record-transactions.ts';
import { parseTransactionInput } from './transaction-input.ts';

export interface ImportProgress {
  readonly lines: number;
  readonly recorded: number;
  readonly duplicates: number;
}

/** One row of an import: the transaction as the input contract spells it, and optionally the row as it stands in the file. */
export interface ImportRow {
  readonly line: number;
  readonly raw: unknown;
  /** When present, kept as the rail payload of the transaction made from the row (rail = its payment_rail, id = its external_id). */
  readonly source?: { readonly text: string; readonly content_type: string } | undefined;
}

/**
 * Imports a stream of transactions in bounded all-or-nothing chunks: memory and database
 * transactions stay small for any file size. On the first bad line the import stops, names
 * the line, and keeps the chunks already committed; re-running the corrected file is safe,
 * since lines already recorded come back as duplicates instead of being written twice.
 *
 * Rows that carry their source (a mapped export, see adapters/import/column-mapping.ts) are
 * recorded as rail records: the source row is stored beside its transaction and hashed into
 * the log, so an auditor sees what the other system's export said. Re-importing such a row
 * under a changed mapping is IDEMPOTENCY_CONFLICT rather than a silent duplicate.
 */
export async function importTransactions(
  deps: AppDeps,
  by: Principal,
  source: AsyncIterable<ImportRow>,
  options: { chunk?: number; onProgress?: (p: ImportProgress) => void } = {},
): Promise<ImportProgress> {
  const chunkSize = options.chunk ?? 2000;
  let lines = 0;
  let recorded = 0;
  let duplicates = 0;
  const progress = (): ImportProgress => ({ lines, recorded, duplicates });
  const count = (status: 'recorded' | 'duplicate'): void => {
    if (status === 'recorded') recorded++;
    else duplicates++;
  };
  const flush = async (inputs: TransactionInput[], nos: number[], sources: (ImportRow['source'] | undefined)[]): Promise<void> => {
    const kept = sources.filter((s) => s !== undefined).length;
    if (kept > 0 && kept < sources.length) {
      throw new SpendtrailError('VALIDATION_FAILED', 'some rows of the import keep their source and others do not', { field: `line ${nos[0] ?? '?'}` });
    }
    if (kept === 0) {
      const outcomes = await recordTransactions(deps, by, inputs, 'atomic', (i) => `line ${nos[i] ?? '?'}`);
      for (const o of outcomes) if (o.ok) count(o.result.status);
    } else {
      const captures = inputs.map((t, i): RailCapture => {
        const s = sources[i] as NonNullable<ImportRow['source']>;
        return { rail: t.payment_rail, source_id: t.external_id, content_type: s.content_type, payload: Buffer.from(s.text, 'utf8'), outcome: 'settled', reason: null, transactions: [t] };
      });
      const results = await ingestRailCaptures(deps, by, captures, {
        fieldOf: (i) => `line ${nos[i] ?? '?'}`,
        transactionFieldOf: (i) => `line ${nos[i] ?? '?'}`,
        replayMustMatch: true,
      });
      for (const r of results) count(r.status);
    }
    options.onProgress?.(progress());
  };
  // The next chunk is read and validated while the previous one commits: parsing and the
  // database overlap instead of taking turns. Chunks still commit one after another, in order.
  let inFlight: Promise<void> = Promise.resolve();
  let inputs: TransactionInput[] = [];
  let lineNos: number[] = [];
  let sources: (ImportRow['source'] | undefined)[] = [];
  try {
    for await (const { line, raw, source: kept } of source) {
      inputs.push(parseTransactionInput(raw, `line ${line}`));
      lineNos.push(line);
      sources.push(kept);
      lines++;
      if (inputs.length >= chunkSize) {
        await inFlight;
        inFlight = flush(inputs, lineNos, sources);
        // Handled when awaited; this only keeps a failure from counting as unhandled meanwhile.
        inFlight.catch(() => undefined);
        inputs = [];
        lineNos = [];
        sources = [];
      }
    }
    await inFlight;
    if (inputs.length > 0) await flush(inputs, lineNos, sources);
  } catch (e) {
    // A failed chunk surfaces here; let the one still in flight settle before reporting counts.
    await inFlight.catch(() => undefined);
    throw withProgress(e, progress());
  }
  return progress();
}

function withProgress(e: unknown, p: ImportProgress): unknown {
  if (!(e instanceof SpendtrailError) || e.details?.committed !== undefined) return e;
  return new SpendtrailError(e.code, e.message, {
    field: e.field,
    details: { ...e.details, committed: { recorded: p.recorded, duplicates: p.duplicates } },
    cause: e.cause,
  });
}
