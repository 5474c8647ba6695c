import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * The ledger schema. Evidence tables (log_entries, transactions, policy_versions, checkpoints,
 * merkle_tiles) are append-only: triggers refuse UPDATE, DELETE and TRUNCATE so a bug or a
 * hand-typed statement cannot rewrite history silently. The remaining tables are projections
 * or operational state (current agents, rules, spend rollups, reservations, keys); `verify`
 * checks every projection against the log it derives from.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function spendtrail_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'spendtrail: % on % is refused: ledger tables are append-only', tg_op, tg_table_name
        using errcode = '55000';
    end $$;

    create table orgs (
      org_id text primary key,
      name text not null,
      reporting_currency text not null,
      timezone text not null,
      log_origin text not null,
      verifier_key text not null,
      created_at timestamptz not null
    );

    -- Every non-transaction entry: its exact RFC 8785 bytes and leaf hash.
    create table log_entries (
      org_id text not null,
      seq bigint not null,
      kind text not null,
      entity_id text not null,
      data text not null,
      leaf_hash bytea not null,
      primary key (org_id, seq)
    );
    create index log_entries_entity on log_entries (org_id, kind, entity_id);

    -- Transactions are log entries too; their canonical bytes are re-derived from the columns,
    -- so every column is covered by the leaf hash.
    create table transactions (
      org_id text not null,
      seq bigint not null,
      tx_id uuid not null,
      recorded_at timestamptz not null,
      recorded_by text not null,
      external_id text not null,
      agent_id text not null,
      ts timestamptz not null,
      type text not null,
      refund_of uuid,
      amount text not null,
      currency text not null,
      reporting_amount text not null,
      reporting_minor bigint not null,
      reporting_currency text not null,
      fx_rate text,
      fx_rate_source text,
      fx_rate_time timestamptz,
      payment_rail text not null,
      merchant text not null,
      merchant_category text,
      business_purpose text,
      accounting_code text,
      accounting_code_source text,
      approver text,
      approval_ref text,
      authorization_id uuid,
      policy_snapshot_id text,
      violations text[] not null,
      spend_before_daily text not null,
      spend_before_monthly text not null,
      input_hash text not null,
      leaf_hash bytea not null,
      primary key (org_id, seq)
    );
    create unique index transactions_tx_id on transactions (tx_id);
    create unique index transactions_external on transactions (org_id, payment_rail, external_id);
    create index transactions_agent_ts on transactions (org_id, agent_id, ts);

    -- Hashes of complete perfect subtrees at levels 8, 16, 24, 32: inclusion and consistency
    -- proofs read at most 255 nodes per level instead of every leaf.
    create table merkle_tiles (
      org_id text not null,
      level smallint not null,
      idx bigint not null,
      hash bytea not null,
      primary key (org_id, level, idx)
    );

    create table checkpoints (
      org_id text not null,
      tree_size bigint not null,
      root bytea not null,
      note text not null,
      created_at timestamptz not null,
      primary key (org_id, tree_size)
    );

    -- The sealing state of each organisation's tree; its row lock orders appends.
    create table tree_heads (
      org_id text primary key,
      size bigint not null,
      frontier bytea not null,
      root bytea not null,
      updated_at timestamptz not null
    );

    create table agents (
      org_id text not null,
      agent_id text not null,
      name text not null,
      owner text not null,
      cluster text not null,
      seq bigint not null,
      primary key (org_id, agent_id)
    );

    create table accounts (
      org_id text not null,
      code text not null,
      name text not null,
      active boolean not null,
      seq bigint not null,
      primary key (org_id, code)
    );

    create table gl_rules (
      org_id text not null,
      rule_id text not null,
      kind text not null,
      match text,
      account_code text not null,
      active boolean not null,
      seq bigint not null,
      primary key (org_id, rule_id)
    );

    create table policy_versions (
      org_id text not null,
      agent_id text not null,
      version integer not null,
      snapshot_id text not null,
      document text not null,
      valid_from timestamptz not null,
      seq bigint not null,
      primary key (org_id, agent_id, version)
    );
    create unique index policy_versions_snapshot on policy_versions (org_id, snapshot_id);

    -- Settled spend per agent and budget window, in reporting minor units ("D2026-03-12", "M2026-03").
    create table spend_rollups (
      org_id text not null,
      agent_id text not null,
      period text not null,
      amount_minor bigint not null,
      primary key (org_id, agent_id, period)
    );

    create table authorizations (
      authorization_id uuid primary key,
      org_id text not null,
      agent_id text not null,
      requested_by text not null,
      ts timestamptz not null,
      day text not null,
      month text not null,
      amount_minor bigint not null,
      decision text not null,
      reasons text[] not null,
      policy_snapshot_id text,
      status text not null,
      expires_at timestamptz not null,
      created_at timestamptz not null,
      settled_tx_id uuid
    );
    create index authorizations_hold on authorizations (org_id, agent_id, status, expires_at);

    create table api_keys (
      key_id text primary key,
      org_id text not null,
      principal text not null,
      roles text[] not null,
      agent_id text,
      secret_hash text not null,
      created_at timestamptz not null,
      revoked_at timestamptz
    );
  `.execute(db);

  for (const table of ['log_entries', 'transactions', 'merkle_tiles', 'checkpoints', 'policy_versions']) {
    await sql`
      create trigger ${sql.raw(`${table}_append_only`)} before update or delete on ${sql.table(table)}
        for each row execute function spendtrail_append_only();
      create trigger ${sql.raw(`${table}_no_truncate`)} before truncate on ${sql.table(table)}
        for each statement execute function spendtrail_append_only();
    `.execute(db);
  }
}
