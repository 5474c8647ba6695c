import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { CompiledQuery } from 'kysely';
import type { StoredTransaction } from '../../app/ports/store.ts';
import { CopyInData } from './pglite-copy-in.ts';

const COLUMNS = `org_id, seq, tx_id, recorded_at, recorded_by, external_id, agent_id, ts, type, refund_of, amount, currency,
  reporting_amount, reporting_minor, reporting_currency, fx_rate, fx_rate_source, fx_rate_time, payment_rail, merchant,
  merchant_category, business_purpose, accounting_code, accounting_code_source, approver, approval_ref, authorization_id,
  policy_snapshot_id, violations, spend_before_daily, spend_before_monthly, input_hash, leaf_hash`;

// COPY text format: backslash, tab, newline and carriage return are escaped; \N is NULL.
const ESCAPE = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const NEEDS_ESCAPE = /[\\\t\n\r]/;
const t = (v: string | null): string => (v === null ? '\\N' : NEEDS_ESCAPE.test(v) ? v.replace(ESCAPE, (c) => ESCAPES[c] ?? c) : v);

/**
 * Writes transactions with COPY, PostgreSQL's bulk path: one stream per unit of work instead of
 * an INSERT whose 33 array parameters the driver and the server must each encode and parse.
 */
export async function copyTransactions(client: pg.PoolClient, orgId: string, rows: readonly StoredTransaction[]): Promise<void> {
  const stream = client.query(copyStreams.from(`copy transactions (${COLUMNS}) from stdin`));
  await pipeline(Readable.from(pieces(orgId, rows)), stream);
}

/** Rows per piece of COPY text: a large batch is streamed, never held as one string. */
const PIECE = 1000;

function* pieces(orgId: string, rows: readonly StoredTransaction[]): Generator<string> {
  for (let i = 0; i < rows.length; i += PIECE) yield copyText(orgId, rows.slice(i, i + PIECE));
}

/**
 * The same COPY on PGlite: `COPY … FROM STDIN` whose data travels as wire-protocol CopyData
 * messages (the PGlite dialect sends a query whose only parameter is a `CopyInData` that way;
 * see pglite-copy-in.ts). Against the array-parameter INSERT it replaced, the engine parses one
 * text stream instead of 33 arrays; against a COPY from PGlite's '/dev/blob', the input reaches
 * the engine in bulk copies instead of one byte at a time.
 */
export function* copyTransactionsOnPglite(orgId: string, rows: readonly StoredTransaction[]): Generator<CompiledQuery> {
  // One COPY per bounded slice, each built when its turn comes, so that a 200,000-row batch
  // never sits in memory as one buffer of COPY text.
  for (let i = 0; i < rows.length; i += LITE_SLICE) {
    const pieces: string[] = [];
    const end = Math.min(rows.length, i + LITE_SLICE);
    for (let j = i; j < end; j += LITE_PIECE) pieces.push(copyText(orgId, rows.slice(j, Math.min(end, j + LITE_PIECE))));
    yield CompiledQuery.raw(`copy transactions (${COLUMNS}) from stdin`, [new CopyInData(pieces)]);
  }
}

/** Rows per COPY on PGlite: a bench chunk is one slice; larger batches take several. */
const LITE_SLICE = 5000;

/**
 * Rows per CopyData message (about 200 KB of text): the engine buffers one message at a time
 * in its WebAssembly memory, which keeps the size of the largest message it has read.
 */
const LITE_PIECE = 500;

/**
 * The rows in COPY text format, one line each, built by concatenation. Text that came from a
 * client (ids, names, free text) is escaped; values the ledger wrote itself (sequence numbers,
 * UUIDs, instants in ISO form, decimal amounts it formatted, enum values, hex digests) cannot
 * hold a tab, newline or backslash and go in as they are.
 */
export function copyText(orgId: string, rows: readonly StoredTransaction[]): string {
  const org = t(orgId);
  let out = '';
  for (const { record: r, leaf_hash, reporting_minor } of rows) {
    out +=
      org + '\t' + r.seq + '\t' + r.tx_id + '\t' + r.recorded_at + '\t' + t(r.recorded_by) + '\t' + t(r.external_id) + '\t' +
      t(r.agent_id) + '\t' + r.timestamp + '\t' + r.type + '\t' + t(r.refund_of) + '\t' + t(r.amount) + '\t' + t(r.currency) + '\t' +
      t(r.reporting_amount) + '\t' + reporting_minor.toString() + '\t' + t(r.reporting_currency) + '\t' + t(r.fx_rate) + '\t' +
      t(r.fx_rate_source) + '\t' + t(r.fx_rate_time) + '\t' + t(r.payment_rail) + '\t' + t(r.merchant) + '\t' + t(r.merchant_category) + '\t' +
      t(r.business_purpose) + '\t' + t(r.accounting_code) + '\t' + t(r.accounting_code_source) + '\t' + t(r.approver) + '\t' +
      t(r.approval_ref) + '\t' + t(r.authorization_id) + '\t' + t(r.policy_snapshot_id) + '\t{' + r.violations.join(',') + '}\t' +
      t(r.spend_before_daily) + '\t' + t(r.spend_before_monthly) + '\t' + t(r.input_hash) + '\t\\\\x' + leaf_hash.toString('hex') + '\n';
  }
  return out;
}
