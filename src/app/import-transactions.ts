import { SpendtrailError } from '../domain/errors.ts';
import type { TransactionInput } from '../domain/ledger/transaction.ts';
import type { AppDeps } from './deps.ts';
import type { Principal } from './principal.ts';
import { recordTransactions } from './record-transactions.ts';
import { parseTransactionInput } from './transaction-input.ts';

export interface ImportProgress {
  readonly lines: number;
  readonly recorded: number;
  readonly duplicates: number;
}

/**
 * Imports a stream of transactions in bounded all-or-nothing chunks: memory and database
 * transactions stay small for any file size. On the first bad line the import stops, names
 * the line, and keeps the chunks already committed; re-running the corrected file is safe,
 * since lines already recorded come back as duplicates instead of being written twice.
 */
export async function importTransactions(
  deps: AppDeps,
  by: Principal,
  source: AsyncIterable<{ line: number; raw: unknown }>,
  options: { chunk?: number; onProgress?: (p: ImportProgress) => void } = {},
): Promise<ImportProgress> {
  const chunkSize = options.chunk ?? 2000;
  let lines = 0;
  let recorded = 0;
  let duplicates = 0;
  const progress = (): ImportProgress => ({ lines, recorded, duplicates });
  const flush = async (inputs: TransactionInput[], nos: number[]): Promise<void> => {
    const outcomes = await recordTransactions(deps, by, inputs, 'atomic', (i) => `line ${nos[i] ?? '?'}`);
    for (const o of outcomes) {
      if (!o.ok) continue;
      if (o.result.status === 'recorded') recorded++;
      else duplicates++;
    }
    options.onProgress?.(progress());
  };
  // The next chunk is read and validated while the previous one commits: parsing and the
  // database overlap instead of taking turns. Chunks still commit one after another, in order.
  let inFlight: Promise<void> = Promise.resolve();
  let inputs: TransactionInput[] = [];
  let lineNos: number[] = [];
  try {
    for await (const { line, raw } of source) {
      inputs.push(parseTransactionInput(raw, `line ${line}`));
      lineNos.push(line);
      lines++;
      if (inputs.length >= chunkSize) {
        await inFlight;
        inFlight = flush(inputs, lineNos);
        // Handled when awaited; this only keeps a failure from counting as unhandled meanwhile.
        inFlight.catch(() => undefined);
        inputs = [];
        lineNos = [];
      }
    }
    await inFlight;
    if (inputs.length > 0) await flush(inputs, lineNos);
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
