import { Readable, pipeline } from 'node:stream';
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

/** Decodes one line; bytes that are not UTF-8 are refused, naming the line, instead of becoming U+FFFD. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const BOM = '\ufeff';

function decodeLine(bytes: Buffer, n: number): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new SpendtrailError('VALIDATION_FAILED', `line ${n} is not UTF-8 text`, { field: `line ${n}` });
  }
}

/** The lines of a byte stream (LF or CRLF), each decoded strictly; a BOM is dropped from the first line only. */
async function* utf8Lines(input: Readable): AsyncGenerator<string> {
  let rest: Buffer = Buffer.alloc(0);
  let n = 0;
  const emit = (bytes: Buffer): string => {
    n++;
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
    const text = decodeLine(bytes.subarray(0, end), n);
    return n === 1 && text.startsWith(BOM) ? text.slice(1) : text;
  };
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const buf = rest.length === 0 ? (typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk) : Buffer.concat([rest, typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk]);
    let start = 0;
    for (let nl = buf.indexOf(0x0a, start); nl !== -1; nl = buf.indexOf(0x0a, start)) {
      yield emit(buf.subarray(start, nl));
      start = nl + 1;
    }
    rest = buf.subarray(start);
  }
  if (rest.length > 0) yield emit(rest);
}

/**
 * NDJSON, one transaction per line (LF or CRLF); blank lines are skipped. Streams: memory stays
 * flat. A line that is not UTF-8 is refused rather than read with replacement characters.
 */
export async function* readNdjson(input: Readable, options: { keepSource?: boolean } = {}): AsyncGenerator<SourceLine> {
  let n = 0;
  for await (const text of utf8Lines(input)) {
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
 * A byte stream as text, decoded strictly across chunk boundaries (a character may be split
 * between two chunks); invalid bytes are refused naming the line of the file they are on.
 */
async function* utf8Text(input: Readable): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let line = 1;
  const decode = (bytes: Buffer | undefined): string => {
    try {
      return bytes === undefined ? decoder.decode() : decoder.decode(bytes, { stream: true });
    } catch {
      // The line the bad bytes are on (a truncated character at the very end of the file: the last line).
      const at = line + (bytes === undefined ? 0 : countLines(bytes, firstInvalidUtf8(bytes)));
      throw new SpendtrailError('VALIDATION_FAILED', `line ${at} of the file is not UTF-8 text`, { field: `line ${at}` });
    }
  };
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const text = decode(bytes);
    line += countLines(bytes, bytes.length);
    if (text !== '') yield text;
  }
  const tail = decode(undefined);
  if (tail !== '') yield tail;
}

/** Offset of the first byte that cannot start or continue a UTF-8 character (RFC 3629: no overlongs, surrogates or > U+10FFFF). */
function firstInvalidUtf8(b: Buffer): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i] ?? 0;
    const [n, lo, hi] =
      c < 0x80 ? [0, 0, 0] : c >= 0xc2 && c <= 0xdf ? [1, 0x80, 0xbf] : c === 0xe0 ? [2, 0xa0, 0xbf] : c === 0xed ? [2, 0x80, 0x9f]
      : c >= 0xe1 && c <= 0xef ? [2, 0x80, 0xbf] : c === 0xf0 ? [3, 0x90, 0xbf] : c >= 0xf1 && c <= 0xf3 ? [3, 0x80, 0xbf] : c === 0xf4 ? [3, 0x80, 0x8f] : [-1, 0, 0];
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined) return i + k;
      if (k === 1 ? d < lo || d > hi : d < 0x80 || d > 0xbf) return i;
    }
    i += n + 1;
  }
  return b.length;
}

function countLines(bytes: Buffer, end: number): number {
  let n = 0;
  for (let i = bytes.indexOf(0x0a); i !== -1 && i < end; i = bytes.indexOf(0x0a, i + 1)) n++;
  return n;
}

/**
 * CSV with a header row naming the input fields. Empty cells are null, so a CSV and an NDJSON
 * file with the same content give the same transactions (and the same idempotency hashes).
 * With keepSource, each row's source is the header line and the record exactly as written.
 */
export async function* readCsv(input: Readable, options: { keepSource?: boolean } = {}): AsyncGenerator<SourceLine> {
  // Records come as arrays with their raw text; the first is the header. csv-parse still checks
  // that every record has as many fields as the header (relax_column_count off).
  const parser = pipeline(Readable.from(utf8Text(input)), parse({ bom: true, skip_empty_lines: true, trim: false, relax_column_count: false, raw: true }), () => undefined);
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
