import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * Dashboard users and sessions.
 *
 * `users` are people who sign in with an email and a password. Their identity, roles and
 * disabled state are projections of `user` log entries (verify compares them), so the
 * tamper-evident log shows who was given which role and when. `email` is stored lower-cased and
 * is unique across organisations: signing in names no organisation. `principal` is the person's
 * identity for segregation of duties (the email, as their API keys would carry it).
 * `password_hash` is an scrypt string with its parameters; it is never logged.
 *
 * `web_sessions` is mutable session state, outside the log: the primary key is the SHA-256 of
 * the cookie's token (the token itself is never stored), and a session belongs either to a user
 * or to the API key it was opened with.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table users (
      user_id text primary key,
      org_id text not null,
      email text not null unique check (email = lower(email)),
      principal text not null,
      roles text[] not null,
      password_hash text not null,
      created_at timestamptz not null,
      created_by text not null,
      disabled_at timestamptz
    );
    create index users_org on users (org_id);

    create table web_sessions (
      token_hash text primary key,
      org_id text not null,
      user_id text,
      key_id text,
      principal text not null,
      roles text[] not null,
      display text not null,
      csrf text not null,
      created_at timestamptz not null,
      last_seen_at timestamptz not null,
      expires_at timestamptz not null,
      revoked_at timestamptz,
      check ((user_id is null) <> (key_id is null))
    );
    create index web_sessions_user on web_sessions (user_id) where user_id is not null;
  `.execute(db);
}
