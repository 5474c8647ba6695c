import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * Change control. Policy changes, their decisions, spend approvals and organisation settings
 * are log entries (found through log_entries_entity); what is added here is operational state:
 * who approved a held authorization, and the outbox of change notices for chat and webhooks,
 * with every delivery attempt kept.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table authorizations add column approved_by text;
    alter table authorizations add column approval_id text;

    create table notifications (
      notification_id uuid primary key,
      org_id text not null,
      change_id text not null,
      channel text not null,
      payload text not null,
      status text not null,
      attempts integer not null,
      last_error text,
      created_at timestamptz not null,
      updated_at timestamptz not null
    );
    create index notifications_pending on notifications (status, created_at) where status = 'pending';

    create table notification_attempts (
      notification_id uuid not null,
      attempt integer not null,
      at timestamptz not null,
      ok boolean not null,
      http_status integer,
      error text,
      primary key (notification_id, attempt)
    );
  `.execute(db);
  // Attempts are the delivery record: they are added, never rewritten.
  await sql`
    create trigger notification_attempts_append_only before update or delete on notification_attempts
      for each row execute function spendtrail_append_only();
  `.execute(db);
}
