import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * Hot-path support: refunds are looked up by the payment they refund, and the tree head carries
 * the sequence number of the last configuration entry (agents, accounts, rules, policies, keys)
 * so writers can reuse configuration they already read while it has not changed.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create index transactions_refund_of on transactions (org_id, refund_of) where refund_of is not null;
    alter table tree_heads add column config_seq bigint not null default -1;
    update tree_heads h set config_seq = coalesce((select max(seq) from log_entries e where e.org_id = h.org_id), -1);
  `.execute(db);
}
