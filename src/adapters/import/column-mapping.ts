import { z } from 'zod';
import { parseInput } from '../../app/schemas.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import { findCurrency } from '../../domain/money/currency.ts';
import { decimalFromJsonNumber, formatMinor } from '../../domain/money/decimal.ts';
import type { SourceLine } from './transaction-file.ts';

/**
 * A column mapping turns another system's export (a card processor's CSV, a rail's JSON or
 * NDJSON) into the ledger's input contract, field by field, so that any rail without an
 * adapter of its own can still be recorded. See docs/rails/generic-import.md.
 *
 *   "merchant": "Merchant Name"                                   a CSV column (or top-level JSON key)
 *   "merchant": {"column": "Merchant Name"}                       the same, spelled out
 *   "merchant_category": {"path": "$.merchant_data.category_code"} a JSON path (JSON and NDJSON)
 *   "payment_rail": {"value": "card"}                             a constant
 *   "agent_id": {"column": "Card", "map": {"**** 4242": "research-bot"}}   translated; an unlisted value is an error
 *   … "default": "…"                                              used when the cell is empty or missing
 */
const lookup = { map: z.record(z.string(), z.string().nullable()).optional(), default: z.string().nullable().optional() };
const source = z.union([
  z.string().min(1).max(200),
  z.strictObject({ column: z.string().min(1).max(200), ...lookup }),
  z.strictObject({ path: z.string().min(1).max(500), ...lookup }),
  z.strictObject({ value: z.string().max(1000).nullable() }),
]);
type Source = z.infer<typeof source>;

export const columnMapping = z.strictObject({
  /** Default: from the file extension (.csv, .ndjson/.jsonl, .json). */
  format: z.enum(['csv', 'ndjson', 'json']).optional(),
  /** For a JSON file whose array of records is not at the top, e.g. "data" for {"data": [...]}. */
  records_path: z.string().max(200).optional(),
  /** Keep each source row as the rail payload of the transaction made from it (default true). */
  keep_source: z.boolean().default(true),
  fields: z.strictObject({
    external_id: source,
    agent_id: source,
    timestamp: source,
    amount: source,
    currency: source,
    payment_rail: source,
    merchant: source,
    merchant_category: source.optional(),
    business_purpose: source.optional(),
    accounting_code: source.optional(),
    approver: source.optional(),
    approval_ref: source.optional(),
    type: source.optional(),
    refund_of: source.optional(),
    authorization_id: source.optional(),
    reporting_amount: source.optional(),
    fx_rate: source.optional(),
    fx_rate_source: source.optional(),
    fx_rate_time: source.optional(),
  }),
  amount: z
    .strictObject({
      /** decimal: "12.50" (or an exact JSON number); minor: integer minor units, 1250 = 12.50 USD. */
      unit: z.enum(['decimal', 'minor']).default('decimal'),
      /** payments_negative: the export shows money out as negative (a bank or card statement); it is flipped. */
      sign: z.enum(['payments_positive', 'payments_negative']).default('payments_positive'),
    })
    .default({ unit: 'decimal', sign: 'payments_positive' }),
  timestamp: z
    .strictObject({
      format: z.enum(['iso', 'unix_seconds', 'unix_millis']).default('iso'),
      /** Zone of ISO timestamps written without one ("2026-03-12 10:00:00"), e.g. "Z" or "+01:00". */
      assume_zone: z.string().regex(/^(Z|[+-][0-9]{2}:[0-9]{2})$/, 'Z or an offset such as +01:00').optional(),
    })
    .default({ format: 'iso' }),
});
export type ColumnMapping = z.output<typeof columnMapping>;

export function parseColumnMapping(raw: unknown): ColumnMapping {
  return parseInput(columnMapping, raw, 'mapping');
}

const describe = (s: Source): string =>
  typeof s === 'string' ? `column "${s}"` : 'column' in s ? `column "${s.column}"` : 'path' in s ? `path ${s.path}` : 'a constant';

/** `$.a.b[0].c` or `a.b[0].c` → ["a", "b", 0, "c"]. */
function pathSegments(path: string): (string | number)[] {
  const body = path.replace(/^\$\.?/, '');
  const out: (string | number)[] = [];
  for (const part of body.split('.')) {
    const m = /^([^[\]]*)((?:\[[0-9]+\])*)$/.exec(part);
    if (m === null) throw new SpendtrailError('VALIDATION_FAILED', `"${path}" is not a path such as $.merchant.name or $.items[0].id`, { field: 'mapping' });
    if (m[1] !== '') out.push(m[1] ?? '');
    for (const idx of (m[2] ?? '').matchAll(/\[([0-9]+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

function resolve(s: Source, row: unknown, target: string): unknown {
  if (typeof s !== 'string' && 'value' in s) return s.value;
  const rec = row !== null && typeof row === 'object' && !Array.isArray(row) ? (row as Record<string, unknown>) : {};
  let v: unknown;
  if (typeof s === 'string' || 'column' in s) {
    const column = typeof s === 'string' ? s : s.column;
    if (!(column in rec)) {
      if (typeof s !== 'string' && s.default !== undefined) return s.default;
      throw new SpendtrailError('VALIDATION_FAILED', `the row has no ${describe(s)} (for ${target})`, { field: target });
    }
    v = rec[column];
  } else {
    v = row;
    for (const seg of pathSegments(s.path)) {
      v = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[seg] : undefined;
    }
  }
  if (v === undefined || v === null || v === '') v = typeof s === 'string' ? null : (s.default ?? null);
  else if (typeof s !== 'string' && s.map !== undefined) {
    const key = typeof v === 'string' ? v : JSON.stringify(v);
    if (!Object.hasOwn(s.map, key)) throw new SpendtrailError('VALIDATION_FAILED', `${describe(s)} has "${key.slice(0, 64)}", which the mapping's map does not list (for ${target})`, { field: target });
    v = s.map[key];
  }
  return v;
}

/** A single value as text; a number only when it is an integer or a plain decimal, never an object. */
function asText(v: unknown, s: Source, target: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw new SpendtrailError('VALIDATION_FAILED', `${describe(s)} is not a single value (for ${target})`, { field: target });
}

const flip = (amount: string): string => (amount.startsWith('-') ? amount.slice(1) : /^\+?0*(\.0*)?$/.test(amount) ? amount : `-${amount.replace(/^\+/, '')}`);

/**
 * One source row → one transaction as the input contract spells it (README "Input contract"),
 * still to be validated by parseTransactionInput like any other input line.
 */
export function mapRecord(m: ColumnMapping, row: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [target, s] of Object.entries(m.fields) as [string, Source | undefined][]) {
    if (s === undefined || target === 'amount' || target === 'timestamp') continue;
    out[target] = asText(resolve(s, row, target), s, target);
  }
  // Currency codes are case-insensitive in exports (Stripe writes "usd"); the ledger's are upper case.
  if (typeof out.currency === 'string') out.currency = out.currency.trim().toUpperCase();
  out.timestamp = timestampOf(m, row);
  out.amount = amountOf(m, row, typeof out.currency === 'string' ? out.currency : null);
  return out;
}

function amountOf(m: ColumnMapping, row: unknown, currencyCode: string | null): string | null {
  const s = m.fields.amount;
  const v = resolve(s, row, 'amount');
  if (v === null || v === undefined) return null;
  const currency = currencyCode === null ? undefined : findCurrency(currencyCode);
  if (currency === undefined) throw new SpendtrailError('UNKNOWN_CURRENCY', `unknown currency ${currencyCode ?? '(none)'}`, { field: 'currency' });
  let text: string;
  if (m.amount.unit === 'minor') {
    const t = typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : typeof v === 'string' ? v.trim() : '';
    if (!/^[-+]?[0-9]{1,30}$/.test(t)) throw new SpendtrailError('INVALID_AMOUNT', `${describe(s)} is not an integer number of minor units`, { field: 'amount' });
    text = formatMinor(BigInt(t.replace(/^\+/, '')), currency.exponent);
  } else if (typeof v === 'number') {
    text = decimalFromJsonNumber(v, currency.exponent, 'amount');
  } else {
    text = asText(v, s, 'amount') ?? '';
  }
  return m.amount.sign === 'payments_negative' ? flip(text) : text.replace(/^\+/, '');
}

function timestampOf(m: ColumnMapping, row: unknown): string | null {
  const s = m.fields.timestamp;
  const v = resolve(s, row, 'timestamp');
  if (v === null || v === undefined) return null;
  const format = m.timestamp.format;
  if (format === 'iso') {
    const t = asText(v, s, 'timestamp') ?? '';
    const zone = m.timestamp.assume_zone;
    // "2026-03-12 10:00:00" from a spreadsheet: the space is ISO 8601's T, the zone the mapping's.
    const iso = t.replace(/^([0-9]{4}-[0-9]{2}-[0-9]{2}) /, '$1T');
    return zone !== undefined && !/(Z|[+-][0-9]{2}:[0-9]{2})$/i.test(iso) ? `${iso}${zone}` : iso;
  }
  const t = typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : typeof v === 'string' ? v.trim() : '';
  if (!/^[0-9]{1,16}$/.test(t)) throw new SpendtrailError('INVALID_TIMESTAMP', `${describe(s)} is not ${format === 'unix_seconds' ? 'Unix seconds' : 'Unix milliseconds'}`, { field: 'timestamp' });
  const ms = format === 'unix_seconds' ? Number(t) * 1000 : Number(t);
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) throw new SpendtrailError('INVALID_TIMESTAMP', `${describe(s)} is out of range`, { field: 'timestamp' });
  return d.toISOString();
}

/**
 * Applies a mapping to a stream of source rows. Each mapped row keeps its source (when the
 * reader kept it) to be stored as the transaction's rail payload; errors name the line.
 */
export async function* mapRows(rows: AsyncIterable<SourceLine>, m: ColumnMapping): AsyncGenerator<SourceLine> {
  for await (const r of rows) {
    let raw: Record<string, unknown>;
    try {
      raw = mapRecord(m, r.raw);
    } catch (e) {
      if (e instanceof SpendtrailError) throw e.under(`line ${r.line}`);
      throw e;
    }
    yield r.source === undefined ? { line: r.line, raw } : { line: r.line, raw, source: r.source };
  }
}
