import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * Monthly compliance summaries. The log entry of a summary carries its hash and headline; the
 * full document (with every exception) is kept here, append-only, and verify checks each row
 * against the hash in the log. The delivery outbox now serves summaries too (email, tickets),
 * so its subject is no longer only a policy change.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table summaries (
      summary_id uuid primary key,
      org_id text not null,
      period text not null,
      scope text not null,
      version integer not null,
      summary_hash text not null,
      document text not null,
      seq bigint not null,
      created_at timestamptz not null
    );
    create unique index summaries_version on summaries (org_id, period, scope, version);

    alter table notifications rename column change_id to subject_id;
  `.execute(db);
  await sql`
    create trigger summaries_append_only before update or delete on summaries
      for each row execute function spendtrail_append_only();
    create trigger summaries_no_truncate before truncate on summaries
      for each statement execute function spendtrail_append_only();
  `.execute(db);
}
