import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { SpendtrailError } from '../../domain/errors.ts';

export interface SourceLine {
  /** 1-based line (NDJSON) or record (CSV, header excluded) number, for error messages. */
  readonly line: number;
  readonly raw: unknown;
}

/** NDJSON, one transaction per line; blank lines are skipped. Streams: memory stays flat. */
export async function* readNdjson(input: Readable): AsyncGenerator<SourceLine> {
  const rl = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const text of rl) {
    n++;
    if (text.trim() === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new SpendtrailError('VALIDATION_FAILED', `line ${n} is not valid JSON`, { field: `line ${n}` });
    }
    yield { line: n, raw };
  }
}

/**
 * CSV with a header row naming the input fields. Empty cells are null, so a CSV and an NDJSON
 * file with the same content give the same transactions (and the same idempotency hashes).
 */
export async function* readCsv(input: Readable): AsyncGenerator<SourceLine> {
  const parser = input.pipe(parse({ columns: true, bom: true, skip_empty_lines: true, trim: false, relax_column_count: false }));
  let n = 0;
  for await (const rec of parser as AsyncIterable<Record<string, string>>) {
    n++;
    const raw: Record<string, string | null> = {};
    for (const [k, v] of Object.entries(rec)) raw[k] = v === '' ? null : v;
    yield { line: n + 1, raw };
  }
}
