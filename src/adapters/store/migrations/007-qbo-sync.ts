import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * QuickBooks Online. Operational state of the integration, outside the tamper-evident log: the
 * evidence is the ledger itself, and every posting carries its tx ids and policy snapshots into
 * QuickBooks.
 *
 * `qbo_connections` holds one organisation's OAuth connection. The tokens are AES-256-GCM
 * ciphertexts (never plain text); `version` is bumped on every token write so two processes
 * refreshing at once cannot overwrite each other's rotated refresh token. `pending_state` is
 * the OAuth `state` of an authorization the user has not completed yet.
 *
 * `qbo_mappings` maps journal account codes and merchants to QuickBooks Account and Vendor ids,
 * per company (realm): ids mean nothing in another company.
 *
 * `qbo_sync` is one row per journal entry and company: pending, posted (QuickBooks Id and
 * SyncToken) or failed (why). `generation` counts QuickBooks' definitive refusals of the entry;
 * the requestid is derived from the entry's external id and it, so a retry after a crash reuses
 * the requestid (QuickBooks answers with the original) while a retry after a refusal does not
 * (QuickBooks would replay the refusal). `tx_ids` makes the state readable per transaction.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table qbo_connections (
      org_id text primary key,
      realm_id text,
      refresh_token text,
      access_token text,
      access_expires_at timestamptz,
      refresh_expires_at timestamptz,
      pending_state text,
      pending_state_expires_at timestamptz,
      version bigint not null,
      connected_by text,
      connected_at timestamptz,
      updated_at timestamptz not null
    );

    create table qbo_mappings (
      org_id text not null,
      realm_id text not null,
      kind text not null check (kind in ('account', 'vendor')),
      key text not null,
      qbo_id text not null,
      qbo_name text,
      updated_by text not null,
      updated_at timestamptz not null,
      primary key (org_id, realm_id, kind, key)
    );

    create table qbo_sync (
      org_id text not null,
      realm_id text not null,
      external_id text not null,
      status text not null check (status in ('pending', 'posted', 'failed')),
      entity text,
      generation integer not null,
      request_id text,
      entry_sha256 text not null,
      sent_sha256 text,
      entry_date text not null,
      tx_ids text[] not null,
      qbo_id text,
      sync_token text,
      error_code text,
      error text,
      attempts integer not null,
      created_at timestamptz not null,
      updated_at timestamptz not null,
      posted_at timestamptz,
      primary key (org_id, realm_id, external_id)
    );
    create index qbo_sync_tx on qbo_sync using gin (tx_ids);
  `.execute(db);
}
