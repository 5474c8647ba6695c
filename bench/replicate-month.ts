// Section 6 at ten million rows: the read paths (summary, ledger page) over a month ten times the
// size of the one recorded. Recording ten million transactions through the product takes longer
// than this whole benchmark, so the recorded month is copied in SQL: each copy gets new sequence
// numbers, ids and external ids, the same amounts, agents, accounts, rails, days and violations;
// the summary rollups are then recomputed from the table as migration 010 does. The copies have
// no log entries behind them: verify is not run over them, and the summary reuses the verify
// result of the recorded month. What this measures is the read paths' cost at this size.
import { ROLLUPS_FROM_TRANSACTIONS } from '../src/adapters/store/migrations/010-summary-rollups.ts';
import { pgQuery } from './support.ts';

export interface Replicated {
  readonly rows: number;
  readonly ms: number;
  readonly rollup_rows: number;
}

export async function replicateMonth(url: string, orgId: string, copies: number): Promise<Replicated> {
  const t0 = performance.now();
  const [max] = await pgQuery<{ m: string }>(url, `select max(seq)::text as m from transactions where org_id = $1`, [orgId]);
  const stride = BigInt(max?.m ?? '0') + 1n;
  for (let k = 1; k < copies; k++) {
    await pgQuery(
      url,
      `insert into transactions
       select org_id, seq + $2::bigint, gen_random_uuid(), recorded_at, recorded_by, external_id || '~' || $3::text, agent_id, ts, type,
              refund_of, amount, currency, reporting_amount, reporting_minor, reporting_currency, fx_rate, fx_rate_source, fx_rate_time,
              payment_rail, merchant, merchant_category, business_purpose, accounting_code, accounting_code_source, approver,
              approval_ref, authorization_id, policy_snapshot_id, violations, spend_before_daily, spend_before_monthly, input_hash, leaf_hash
       from transactions where org_id = $1 and seq < $4::bigint`,
      [orgId, (stride * BigInt(k)).toString(), String(k), stride.toString()],
    );
  }
  await pgQuery(url, `delete from summary_rollups where org_id = $1`, [orgId]);
  await pgQuery(url, `insert into summary_rollups ${ROLLUPS_FROM_TRANSACTIONS} where t.org_id = $1 group by 1, 2, 3, 4, 5`, [orgId]);
  await pgQuery(url, 'analyze');
  const [n] = await pgQuery<{ n: string; r: string }>(
    url,
    `select (select count(*) from transactions where org_id = $1)::text as n, (select count(*) from summary_rollups where org_id = $1)::text as r`,
    [orgId],
  );
  return { rows: Number(n?.n ?? 0), ms: performance.now() - t0, rollup_rows: Number(n?.r ?? 0) };
}
