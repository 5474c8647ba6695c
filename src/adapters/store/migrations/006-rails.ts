import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * Rails. `rail_payloads` keeps each native record exactly as the rail sent it (a Stripe event,
 * an x402 settlement, an LND payment, AP2 mandates), keyed by the rail's natural id; the
 * payload's SHA-256 is in a `rail_payload` log entry written in the same unit of work as the
 * transactions made from it, so the bytes can be checked against the log. Append-only.
 * `rail_endpoints` holds the per-endpoint webhook secrets a rail signs with (a Stripe
 * endpoint's `whsec_…`): they verify signatures, so they are kept, and never logged.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table rail_payloads (
      org_id text not null,
      rail text not null,
      source_id text not null,
      seq bigint not null,
      payload_sha256 text not null,
      content_type text not null,
      body bytea not null,
      outcome text not null,
      tx_ids text not null,
      received_at timestamptz not null,
      primary key (org_id, rail, source_id)
    );
    create index rail_payloads_seq on rail_payloads (org_id, seq);
    create trigger rail_payloads_append_only before update or delete on rail_payloads
      for each row execute function spendtrail_append_only();
    create trigger rail_payloads_no_truncate before truncate on rail_payloads
      for each statement execute function spendtrail_append_only();

    create table rail_endpoints (
      endpoint_id text primary key,
      org_id text not null,
      rail text not null,
      secret text not null,
      label text,
      created_by text not null,
      created_at timestamptz not null,
      revoked_at timestamptz
    );
    create index rail_endpoints_org on rail_endpoints (org_id);
  `.execute(db);
}
