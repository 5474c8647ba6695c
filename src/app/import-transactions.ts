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
  let inputs: TransactionInput[] = [];
  let lineNos: number[] = [];
  const flush = async (): Promise<void> => {
    if (inputs.length === 0) return;
    const nos = lineNos;
    try {
      const outcomes = await recordTransactions(deps, by, inputs, 'atomic', (i) => `line ${nos[i] ?? '?'}`);
      for (const o of outcomes) {
        if (!o.ok) continue;
        if (o.result.status === 'recorded') recorded++;
        else duplicates++;
      }
    } catch (e) {
      throw withProgress(e, { lines, recorded, duplicates });
    }
    inputs = [];
    lineNos = [];
    options.onProgress?.({ lines, recorded, duplicates });
  };
  try {
    for await (const { line, raw } of source) {
      let input: TransactionInput;
      try {
        input = parseTransactionInput(raw, `line ${line}`);
      } catch (e) {
        throw withProgress(e, { lines, recorded, duplicates });
      }
      inputs.push(input);
      lineNos.push(line);
      lines++;
      if (inputs.length >= chunkSize) await flush();
    }
  } catch (e) {
    throw withProgress(e, { lines, recorded, duplicates });
  }
  await flush();
  return { lines, recorded, duplicates };
}

function withProgress(e: unknown, p: ImportProgress): unknown {
  if (!(e instanceof SpendtrailError) || e.details?.committed !== undefined) return e;
  return new SpendtrailError(e.code, e.message, {
    field: e.field,
    details: { ...e.details, committed: { recorded: p.recorded, duplicates: p.duplicates } },
    cause: e.cause,
  });
}
