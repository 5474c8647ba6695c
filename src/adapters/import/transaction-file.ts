import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { SpendtrailError } from '../../domain/errors.ts';
import { canonicalize } from '../../domain/canonical/jcs.ts';
import { parseJsonDocument } from './json-document.ts';

export interface SourceLine {
  /** 1-based line (NDJSON), record (CSV, header excluded) or array element (JSON) number, for error messages. */
  readonly line: number;
  readonly raw: unknown;
  /**
   * The row as it stands in the file, when the reader was asked to keep it: the NDJSON line, the
   * CSV header and record, the canonical JSON of an array element. It is what an import keeps
   * as the row's rail payload.
   */
  readonly source?: { readonly text: string; readonly content_type: string };
}

/** NDJSON, one transaction per line; blank lines are skipped. Streams: memory stays flat. */
export async function* readNdjson(input: Readable, options: { keepSource?: boolean } = {}): AsyncGenerator<SourceLine> {
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
    yield options.keepSource === true ? { line: n, raw, source: { text, content_type: 'application/json' } } : { line: n, raw };
  }
}

/**
 * CSV with a header row naming the input fields. Empty cells are null, so a CSV and an NDJSON
 * file with the same content give the same transactions (and the same idempotency hashes).
 * With keepSource, each row's source is the header line and the record exactly as written.
 */
export async function* readCsv(input: Readable, options: { keepSource?: boolean } = {}): AsyncGenerator<SourceLine> {
  // Records come as arrays with their raw text; the first is the header. csv-parse still checks
  // that every record has as many fields as the header (relax_column_count off).
  const parser = input.pipe(parse({ bom: true, skip_empty_lines: true, trim: false, relax_column_count: false, raw: true }));
  let header: string[] | undefined;
  let headerText = '';
  let n = 0;
  try {
    for await (const rec of parser as AsyncIterable<{ record: string[]; raw: string }>) {
      const text = rec.raw.replace(/[\r\n]+$/, '');
      if (header === undefined) {
        header = rec.record;
        headerText = text;
        continue;
      }
      n++;
      const raw: Record<string, string | null> = {};
      for (const [i, k] of header.entries()) {
        const v = rec.record[i] ?? '';
        raw[k] = v === '' ? null : v;
      }
      yield options.keepSource === true
        ? { line: n + 1, raw, source: { text: `${headerText}\n${text}`, content_type: 'text/csv; header=present' } }
        : { line: n + 1, raw };
    }
  } catch (e) {
    if (e instanceof SpendtrailError) throw e;
    throw new SpendtrailError('VALIDATION_FAILED', `CSV record ${n + 2} cannot be read: ${(e as Error).message}`, { field: `line ${n + 2}` });
  }
}

/** Largest JSON export read whole (a JSON array cannot be streamed record by record without a streaming parser). */
const MAX_JSON_FILE = 256 * 1024 * 1024;

/**
 * A JSON document holding an array of records, at the top or under `recordsPath` (dot path,
 * e.g. `data` for `{"data": [...]}`). Elements have no bytes of their own once parsed, so
 * their source is their RFC 8785 canonical JSON: the same element always gives the same text.
 */
export async function* readJsonArray(input: Readable, options: { keepSource?: boolean; recordsPath?: string } = {}): AsyncGenerator<SourceLine> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += b.length;
    if (size > MAX_JSON_FILE) throw new SpendtrailError('PAYLOAD_TOO_LARGE', `a JSON file is read whole and may be at most ${MAX_JSON_FILE} bytes: use NDJSON`);
    chunks.push(b);
  }
  let doc = parseJsonDocument(Buffer.concat(chunks), 'the file');
  for (const key of options.recordsPath === undefined || options.recordsPath === '' ? [] : options.recordsPath.split('.')) {
    doc = doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>)[key] : undefined;
  }
  if (!Array.isArray(doc)) {
    throw new SpendtrailError('VALIDATION_FAILED', `the file holds no array of records${options.recordsPath === undefined ? '' : ` at ${options.recordsPath}`}`, { field: 'records_path' });
  }
  for (const [i, raw] of (doc as unknown[]).entries()) {
    yield options.keepSource === true ? { line: i + 1, raw, source: { text: canonicalize(raw), content_type: 'application/json' } } : { line: i + 1, raw };
  }
}
