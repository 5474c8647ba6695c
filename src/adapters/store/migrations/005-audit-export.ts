import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * Audit export progress, per organisation and sink. The log is the outbox: it is append-only
 * and ordered, so a cursor that moves only after a segment is confirmed written loses nothing,
 * and a segment planned before any of it is written is re-put with the same bytes after a crash.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table audit_exports (
      org_id text not null,
      sink text not null,
      next_seq bigint not null,
      planned_first bigint,
      planned_end bigint,
      objects_written bigint not null,
      last_object text,
      last_error text,
      failed_attempts integer not null,
      updated_at timestamptz not null,
      primary key (org_id, sink)
    );
  `.execute(db);
}
