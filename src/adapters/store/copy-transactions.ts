import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import type { StoredTransaction } from '../../app/ports/store.ts';

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
  const lines: string[] = [];
  for (const { record: r, leaf_hash, reporting_minor } of rows) {
    lines.push(
      [
        t(orgId), String(r.seq), r.tx_id, r.recorded_at, t(r.recorded_by), t(r.external_id), t(r.agent_id), r.timestamp, r.type,
        t(r.refund_of), t(r.amount), t(r.currency), t(r.reporting_amount), reporting_minor.toString(), t(r.reporting_currency),
        t(r.fx_rate), t(r.fx_rate_source), t(r.fx_rate_time), t(r.payment_rail), t(r.merchant), t(r.merchant_category),
        t(r.business_purpose), t(r.accounting_code), t(r.accounting_code_source), t(r.approver), t(r.approval_ref),
        t(r.authorization_id), t(r.policy_snapshot_id), `{${r.violations.join(',')}}`, t(r.spend_before_daily),
        t(r.spend_before_monthly), t(r.input_hash), `\\\\x${leaf_hash.toString('hex')}`,
      ].join('\t'),
    );
  }
  const stream = client.query(copyStreams.from(`copy transactions (${COLUMNS}) from stdin`));
  await pipeline(Readable.from([`${lines.join('\n')}\n`]), stream);
}
