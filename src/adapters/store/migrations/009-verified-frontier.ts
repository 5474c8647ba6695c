import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * Read paths (issue 9).
 *
 * What the last successful verify proved, per organisation: the tree at a signed checkpoint
 * (size, root, compact-range frontier). An incremental verify resumes from it — it checks that
 * the frontier still hashes to the root signed at that size, then only the entries after it.
 * A cache, not evidence: `verify --full` ignores it and recomputes everything.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table verified_frontiers (
      org_id text primary key,
      tree_size bigint not null,
      root bytea not null,
      frontier bytea not null,
      verified_at timestamptz not null
    );

    -- The ledger page (keyset over ts, seq) for every filter: the index is in the page's order
    -- and carries the filtered columns, so a filter that matches few rows is checked against
    -- index entries only (an index-only scan) instead of reading each skipped row.
    -- An agent's own page the same way; it replaces (org_id, agent_id, ts), which it covers.
    create index transactions_org_ts on transactions (org_id, ts, seq) include (agent_id, payment_rail, accounting_code, violations);
    create index transactions_agent_ts_seq on transactions (org_id, agent_id, ts, seq) include (payment_rail, accounting_code, violations);
    drop index transactions_agent_ts;
  `.execute(db);
}
