import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import type { TransactionRowSource } from '../../app/ports/export-rows.ts';
import type { CodeSource } from '../../domain/gl/coding.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import type { TransactionRecord, TransactionType } from '../../domain/ledger/transaction.ts';
import type { Violation } from '../../domain/policy/violation.ts';
import type { Rail } from '../../domain/rails.ts';
import type { Instant } from '../../domain/time.ts';

// The columns as transactionsPage formats them (instants as toISOString writes them, UUIDs and
// arrays as text, the leaf hash in base64), so a record read here is the record read there.
const INSTANT = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
const COLUMNS = `seq, tx_id::text, to_char(recorded_at at time zone 'UTC', ${INSTANT}), recorded_by, external_id, agent_id,
  to_char(ts at time zone 'UTC', ${INSTANT}), type, refund_of::text, amount, currency, reporting_amount, reporting_currency,
  fx_rate, fx_rate_source, to_char(fx_rate_time at time zone 'UTC', ${INSTANT}), payment_rail, merchant, merchant_category,
  business_purpose, accounting_code, accounting_code_source, approver, approval_ref, authorization_id::text, policy_snapshot_id,
  array_to_json(violations)::text, spend_before_daily, spend_before_monthly, input_hash, encode(leaf_hash, 'base64'), org_id`;
const FIELDS = 32;

// COPY's text format escapes backslash as \\ and these control characters by letter; every other
// character (other control characters included) comes as it is. COPY TO never writes octal or
// hex escapes. \N alone is NULL.
const UNESCAPE: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };
const ESCAPED = /\\(.)/gs;
const text = (v: string): string => (v.indexOf('\\') < 0 ? v : v.replace(ESCAPED, (_, c: string) => UNESCAPE[c] ?? c));
const textOrNull = (v: string): string | null => (v === '\\N' ? null : text(v));

/** One COPY row (without its newline) as the record transactionsPage would build. */
function toRecord(f: readonly string[]): TransactionRecord {
  const violations = text(f[26] as string);
  return {
    kind: 'transaction',
    seq: Number(f[0]),
    org_id: text(f[31] as string),
    tx_id: text(f[1] as string),
    recorded_at: text(f[2] as string) as Instant,
    recorded_by: text(f[3] as string),
    external_id: text(f[4] as string),
    agent_id: text(f[5] as string),
    timestamp: text(f[6] as string) as Instant,
    type: text(f[7] as string) as TransactionType,
    refund_of: textOrNull(f[8] as string),
    amount: text(f[9] as string),
    currency: text(f[10] as string),
    reporting_amount: text(f[11] as string),
    reporting_currency: text(f[12] as string),
    fx_rate: textOrNull(f[13] as string),
    fx_rate_source: textOrNull(f[14] as string),
    fx_rate_time: textOrNull(f[15] as string) as Instant | null,
    payment_rail: text(f[16] as string) as Rail,
    merchant: text(f[17] as string),
    merchant_category: textOrNull(f[18] as string),
    business_purpose: textOrNull(f[19] as string),
    accounting_code: textOrNull(f[20] as string),
    accounting_code_source: textOrNull(f[21] as string) as CodeSource | null,
    approver: textOrNull(f[22] as string),
    approval_ref: textOrNull(f[23] as string),
    authorization_id: textOrNull(f[24] as string),
    policy_snapshot_id: textOrNull(f[25] as string),
    violations: (violations === '[]' ? [] : JSON.parse(violations)) as Violation[],
    spend_before_daily: text(f[27] as string),
    spend_before_monthly: text(f[28] as string),
    input_hash: text(f[29] as string),
  };
}

/**
 * Splits whole COPY lines (`chunk` ends with a newline) into fields and hands each row over.
 * `f` is reused from row to row: only the strings themselves are new.
 */
function eachLine(chunk: string, f: string[], row: (record: TransactionRecord, leafHashBase64: string) => void): void {
  let pos = 0;
  const end = chunk.length;
  while (pos < end) {
    const eol = chunk.indexOf('\n', pos);
    let i = 0;
    for (;;) {
      const tab = chunk.indexOf('\t', pos);
      if (tab < 0 || tab > eol) {
        f[i++] = chunk.slice(pos, eol);
        break;
      }
      if (i === FIELDS - 1) throw new SpendtrailError('INTERNAL', `a COPY row of transactions has more than ${FIELDS} fields`);
      f[i++] = chunk.slice(pos, tab);
      pos = tab + 1;
    }
    if (i !== FIELDS) throw new SpendtrailError('INTERNAL', `a COPY row of transactions has ${i} fields, not ${FIELDS}`);
    row(toRecord(f), f[30] as string);
    pos = eol + 1;
  }
}

const LOST_CONNECTION = /^(08|57P|53)/;

/**
 * Transactions for the audit export by `COPY (select ...) TO STDOUT`: PostgreSQL sends the rows
 * as one text stream, and each row is split here into its fields, instead of the driver building
 * a row object of 32 properties and the store a record from it. The records are the ones
 * transactionsPage returns (the test of the export compares the bytes of both paths).
 */
export function copyTransactionSource(pool: pg.Pool): TransactionRowSource {
  return {
    async eachTransaction(orgId, from, to, row) {
      if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) throw new SpendtrailError('INTERNAL', `bad seq range ${from}..${to}`);
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (e) {
        throw unavailable(e);
      }
      let failed: unknown;
      try {
        // COPY takes no bind parameters: the organisation goes in as a quoted literal.
        const stream = client.query(
          copyStreams.to(
            `copy (select ${COLUMNS} from transactions where org_id = ${client.escapeLiteral(orgId)} and seq >= ${from} and seq < ${to} order by seq) to stdout`,
          ),
        );
        const f = new Array<string>(FIELDS);
        // The start of a row whose end is in the next piece of the stream.
        let carry: Buffer | null = null;
        for await (const piece of stream as AsyncIterable<Buffer>) {
          // A newline byte never occurs inside a UTF-8 sequence: decoding up to one never splits
          // a character.
          let from = 0;
          if (carry !== null) {
            const nl = piece.indexOf(10);
            if (nl < 0) {
              carry = Buffer.concat([carry, piece]);
              continue;
            }
            // Only the row that straddles the two pieces is copied, not the whole piece.
            eachLine(Buffer.concat([carry, piece.subarray(0, nl + 1)]).toString('utf8'), f, row);
            from = nl + 1;
          }
          const last = piece.lastIndexOf(10);
          if (last < from) {
            carry = from < piece.length ? Buffer.from(piece.subarray(from)) : null;
            continue;
          }
          if (last + 1 > from) eachLine(piece.toString('utf8', from, last + 1), f, row);
          carry = last + 1 < piece.length ? Buffer.from(piece.subarray(last + 1)) : null;
        }
        if (carry !== null) throw new SpendtrailError('INTERNAL', 'the COPY stream of transactions ended inside a row');
      } catch (e) {
        failed = e;
        throw unavailable(e);
      } finally {
        // A connection left mid-COPY cannot serve anyone else.
        client.release(failed instanceof Error ? failed : undefined);
      }
    },
  };
}

/** A lost or refused connection is the database being unavailable; anything else stays as it is. */
function unavailable(e: unknown): unknown {
  if (e instanceof SpendtrailError) return e;
  const code = (e as { code?: unknown }).code;
  if ((typeof code === 'string' && LOST_CONNECTION.test(code)) || (typeof code === 'string' && /^E[A-Z]+$/.test(code))) {
    return new SpendtrailError('STORE_UNAVAILABLE', 'the database is unavailable; the export stopped and will resume', { cause: e });
  }
  return e;
}
