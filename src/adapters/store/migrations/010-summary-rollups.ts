import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * Summary rollups (issue 9).
 *
 * A monthly summary used to scan every transaction of the month (3 s for a million, so ~30 s
 * for ten). It now adds up these rows instead: one per organisation-local day, agent, GL
 * account and rail, kept in the same statement that keeps the budget windows' spend, so the
 * sums are exactly those of the transactions committed with them. Operational state, not
 * evidence: `verify` recomputes each rollup from the log and reports any that differ.
 *
 * `accounting_code` is '' for an uncoded transaction: the column is part of the key.
 * Existing transactions are added up here, by the local day of the organisation's time zone.
 * A partial index of violating transactions serves the summary's list of exceptions.
 */
/**
 * The rollups computed from the transactions table (the local day in each organisation's time
 * zone): what this migration fills the table with. Callers add a \`where\` on \`t\` and end with
 * \`group by 1, 2, 3, 4, 5\`.
 */
export const ROLLUPS_FROM_TRANSACTIONS = `select t.org_id, to_char(t.ts at time zone o.timezone, 'YYYY-MM-DD'), t.agent_id, coalesce(t.accounting_code, ''), t.payment_rail,
      sum(t.reporting_minor),
      coalesce(sum(t.reporting_minor) filter (where t.reporting_minor < 0), 0),
      count(*),
      count(*) filter (where cardinality(t.violations) > 0),
      count(*) filter (where t.violations && array['over_limit', 'daily_budget_exceeded', 'monthly_budget_exceeded']::text[]),
      count(*) filter (where 'blocked_category' = any(t.violations)),
      count(*) filter (where 'missing_approval' = any(t.violations))
    from transactions t join orgs o on o.org_id = t.org_id`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table summary_rollups (
      org_id text not null,
      day text not null,
      agent_id text not null,
      accounting_code text not null,
      payment_rail text not null,
      net_minor bigint not null,
      refunds_minor bigint not null,
      transactions bigint not null,
      violating bigint not null,
      over_limit bigint not null,
      blocked_category bigint not null,
      missing_approval bigint not null,
      primary key (org_id, day, agent_id, accounting_code, payment_rail)
    );

    insert into summary_rollups ${sql.raw(ROLLUPS_FROM_TRANSACTIONS)} group by 1, 2, 3, 4, 5;

    -- What the last successful verify proved the rollups to be, beside its frontier (migration
    -- 009): an incremental verify adds the new transactions to these and compares the sums with
    -- the live rollups, so its cost follows the rollups it touches, not the rows behind them.
    -- A cache, like the frontier: a full verify recomputes everything and rewrites it.
    create table verified_summary_rollups (like summary_rollups including all);
    -- A frontier proved before the rollups existed did not prove them: the next verify is full.
    delete from verified_frontiers;

    -- The summary's exceptions are the month's largest violating transactions: found among the
    -- violating rows only, instead of by reading every row of the month to test its violations.
    create index transactions_violating on transactions (org_id, ts) include (reporting_minor) where cardinality(violations) > 0;
  `.execute(db);
}
