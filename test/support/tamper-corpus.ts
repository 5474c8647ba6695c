import type { Principal } from '../../src/app/principal.ts';
import { authorize } from '../../src/app/authorize.ts';
import { recordTransactions } from '../../src/app/record-transactions.ts';
import { issueApiKey, revokeApiKey, upsertAgent } from '../../src/app/setup.ts';
import { verifyLog } from '../../src/app/verify.ts';
import { createUser, setUserRoles } from '../../src/app/users.ts';
import { generateSummary, signOffSummary } from '../../src/app/summaries.ts';
import { ingestRailCapture } from '../../src/app/rail-ingest.ts';
import { addRailEndpoint, railPrincipal, revokeRailEndpoint } from '../../src/app/rail-endpoints.ts';
import type { VerifyReport } from '../../src/app/verify.ts';
import type { TransactionRecord } from '../../src/domain/ledger/transaction.ts';
import { CompactRange } from '../../src/domain/merkle/compact-range.ts';
import { encodeTransaction } from '../../src/domain/ledger/transaction.ts';
import { leafHash } from '../../src/domain/merkle/tree-hash.ts';
import pg from 'pg';
import type { EngineName, TestEnv } from './engines.ts';
import { PG_URL, openTestEnv } from './engines.ts';
import type { Seeded } from './fixtures.ts';
import { establishPolicy, seedOrg, tx } from './fixtures.ts';

export const ORG = 'acme';

/**
 * openTestEnv, with PostgreSQL environments of these suites alive one at a time across vitest
 * workers. Kysely's migrator looks for its bookkeeping tables in every schema of the database,
 * so while another test schema exists it skips creating them in the new one and then fails
 * with 'relation "spendtrail_migrations_lock" does not exist' (see the report: the fix belongs
 * in migrate.ts, e.g. migrationTableSchema = current_schema()). A session advisory lock held
 * for the environment's lifetime keeps these suites out of each other's way.
 */
export async function openSerializedEnv(engine: EngineName): Promise<TestEnv> {
  if (engine === 'pglite') return openTestEnv(engine);
  const lock = new pg.Client({ connectionString: PG_URL });
  await lock.connect();
  await lock.query('select pg_advisory_lock(724611001)');
  try {
    const env = await openTestEnv(engine);
    return {
      ...env,
      close: async () => {
        try {
          await env.close();
        } finally {
          await lock.end(); // ending the session releases the lock
        }
      },
    };
  } catch (e) {
    await lock.end();
    throw e;
  }
}

/** The ledger every tamper case starts from, and facts about it the cases aim at. */
export interface Corpus {
  readonly org: Seeded;
  /** Every recorded transaction, in seq order. */
  readonly txs: readonly TransactionRecord[];
  /** A transaction recorded alone in its batch: checkpoints are signed right before and after it. */
  readonly solo: TransactionRecord;
  /** Checkpoint sizes, ascending. */
  readonly checkpointSizes: readonly number[];
  readonly revokedKeyId: string;
  readonly auditorKeyId: string;
}

type Over = Partial<Record<string, unknown>>;

/**
 * Seeds an organisation (three agents, one without a policy; a second policy version; keys,
 * one revoked) and 40 transactions over five days in batches of 1-5: violations of every kind,
 * approvals, an authorization, partial refunds by external id and by tx_id, EUR and JPY
 * amounts with exchange rates, explicit and rule-based GL codes, uncoded spend. Every
 * nullable transaction column is non-null on at least one row and null on another.
 */
export async function seedCorpus(env: TestEnv): Promise<Corpus> {
  const deps = env.deps;
  env.clock.set('2026-03-09T08:00:00Z');
  const org = await seedOrg(deps, ORG);
  const admin = org.admin;
  await upsertAgent(deps, admin, { agent_id: 'ops-bot', name: 'Ops bot', owner: 'dana@acme.test', cluster: 'ops' });
  const auditor = await issueApiKey(deps, admin, { principal: 'auditor@acme.test', roles: ['auditor'] });
  await issueApiKey(deps, admin, { principal: 'research-bot-key', roles: ['agent'], agent_id: 'research-bot' });
  const finance = await issueApiKey(deps, admin, { principal: 'finance@acme.test', roles: ['finance'] });
  await revokeApiKey(deps, admin, finance.key_id);
  // A dashboard user whose roles were widened once: the log shows both grants.
  const { user } = await createUser(deps, admin, { email: 'Erin@Acme.test', roles: ['approver'], password: 'a long enough password' });
  await setUserRoles(deps, admin, { user_id: user.user_id, roles: ['approver', 'finance'] });

  const all: TransactionRecord[] = [];
  const record = async (at: string, batch: Over[], by: Principal = admin): Promise<TransactionRecord[]> => {
    env.clock.set(at);
    const out = await recordTransactions(deps, by, batch.map((o) => tx(o)));
    const recs = out.map((o, i) => {
      if (!o.ok || o.result.status !== 'recorded') throw new Error(`corpus item ${i} at ${at} was not recorded`);
      return o.result.transaction;
    });
    all.push(...recs);
    return recs;
  };
  const fx = (currency: string, rate: string, source: string, time: string): Over => ({
    currency,
    fx_rate: rate,
    fx_rate_source: source,
    fx_rate_time: time,
  });

  // Day 1.
  await record('2026-03-10T09:00:00Z', [
    { external_id: 'ch_aws_1', timestamp: '2026-03-10T08:00:00Z', amount: '21.00' },
    { external_id: 'ch_openai_1', timestamp: '2026-03-10T08:05:00Z', amount: '120.00', merchant: 'OpenAI', merchant_category: null },
    { external_id: 'x402_r1', agent_id: 'research-bot', payment_rail: 'x402', merchant: 'OpenAI', merchant_category: null, amount: '5.00', timestamp: '2026-03-10T08:10:00Z' },
  ]);
  const [solo] = await record('2026-03-10T10:00:00Z', [
    { external_id: 'ch_big_1', timestamp: '2026-03-10T09:30:00Z', amount: '2100.00', business_purpose: 'GPU reservation' },
  ]);
  await record('2026-03-10T11:00:00Z', [
    { external_id: 'ch_big_2', timestamp: '2026-03-10T10:30:00Z', amount: '2200.00', approver: 'carol@acme.test', approval_ref: 'APR-1001' },
    { external_id: 'ch_casino', timestamp: '2026-03-10T10:40:00Z', amount: '40.00', merchant: 'Lucky Slots', merchant_category: '7995' },
  ]);

  // Day 2: foreign currency, rail and limit violations, a refund by external id.
  await record('2026-03-11T12:00:00Z', [
    { external_id: 'ch_hetzner', timestamp: '2026-03-11T07:00:00Z', amount: '100.00', merchant: 'Hetzner', ...fx('EUR', '1.0850', 'ECB', '2026-03-11T00:00:00Z') },
    { external_id: 'x402_jpy', agent_id: 'research-bot', payment_rail: 'stripe', merchant: 'Sakura Cloud', merchant_category: '4816', amount: '1500', timestamp: '2026-03-11T07:30:00Z', ...fx('JPY', '0.0067', 'BOJ', '2026-03-11T00:00:00Z') },
    { external_id: 'card_r1', agent_id: 'research-bot', payment_rail: 'card', merchant: 'OpenAI', merchant_category: null, amount: '12.00', timestamp: '2026-03-11T08:00:00Z' },
    { external_id: 'x402_big', agent_id: 'research-bot', payment_rail: 'x402', merchant: 'OpenAI', merchant_category: null, amount: '600.00', timestamp: '2026-03-11T08:30:00Z' },
  ]);
  await record('2026-03-11T13:00:00Z', [
    { external_id: 'rf_aws_1', refund_of: 'ch_aws_1', amount: '-5.00', timestamp: '2026-03-11T12:30:00Z' },
  ]);

  // Day 3: a new policy version, an authorization settled by a payment, no-policy and uncoded spend, daily budget.
  env.clock.set('2026-03-12T06:00:00Z');
  await establishPolicy(deps, admin, 'support-bot', {
    per_transaction_limit: '2500.00',
    daily_limit: '3000.00',
    monthly_limit: '20000.00',
    approval_threshold: '1500.00',
    blocked_categories: ['7995', '5933'],
  });
  env.clock.set('2026-03-12T07:00:00Z');
  const auth = await authorize(deps, admin, { agent_id: 'support-bot', amount: '50.00', currency: 'USD', merchant: 'AWS', merchant_category: '4816', payment_rail: 'stripe', business_purpose: 'Model inference for support' });
  if (auth.decision !== 'allow') throw new Error(`corpus authorization was ${auth.decision}`);
  await record('2026-03-12T08:00:00Z', [
    { external_id: 'ch_auth_1', timestamp: '2026-03-12T07:10:00Z', amount: '50.00', authorization_id: auth.authorization_id },
    { external_id: 'ch_coded', timestamp: '2026-03-12T07:20:00Z', amount: '33.30', merchant: 'Notion', merchant_category: null, accounting_code: '6999', business_purpose: null },
    { external_id: 'ops_1', agent_id: 'ops-bot', timestamp: '2026-03-12T07:30:00Z', amount: '9.99', merchant: 'Unknown Vendor', merchant_category: null, business_purpose: null },
  ]);
  await record('2026-03-12T09:00:00Z', [0, 1, 2].map((i) => ({ external_id: `x402_day3_${i}`, agent_id: 'research-bot', payment_rail: 'x402', merchant: 'OpenAI', merchant_category: null, amount: '400.00', timestamp: `2026-03-12T08:0${i}:00Z` })));
  const [bigDay3] = await record('2026-03-12T10:00:00Z', [
    { external_id: 'ch_day3_big', timestamp: '2026-03-12T09:00:00Z', amount: '1800.00', approver: 'carol@acme.test', approval_ref: 'APR-1002' },
    { external_id: 'ch_day3_big2', timestamp: '2026-03-12T09:10:00Z', amount: '1600.00' },
  ]);

  // Day 4: refunds by tx_id, a foreign-currency refund, mixed batches.
  const [eur] = await record('2026-03-13T09:00:00Z', [
    { external_id: 'ch_ovh', timestamp: '2026-03-13T08:00:00Z', amount: '250.00', merchant: 'OVH', ...fx('EUR', '1.0900', 'ECB', '2026-03-13T00:00:00Z') },
    { external_id: 'ch_d4_1', timestamp: '2026-03-13T08:10:00Z', amount: '75.25' },
    { external_id: 'ch_d4_2', timestamp: '2026-03-13T08:20:00Z', amount: '12.50', merchant: 'OpenAI', merchant_category: null },
  ]);
  await record('2026-03-13T10:00:00Z', [
    { external_id: 'rf_day3_big', refund_of: bigDay3?.tx_id, amount: '-300.00', timestamp: '2026-03-13T09:30:00Z', approver: 'carol@acme.test' },
    { external_id: 'rf_ovh', refund_of: eur?.tx_id, amount: '-50.00', timestamp: '2026-03-13T09:40:00Z', merchant: 'OVH', ...fx('EUR', '1.0900', 'ECB', '2026-03-13T00:00:00Z') },
  ]);
  await record('2026-03-13T11:00:00Z', [
    { external_id: 'ops_2', agent_id: 'ops-bot', timestamp: '2026-03-13T10:00:00Z', amount: '19.00', merchant: 'AWS', business_purpose: 'Backups' },
    { external_id: 'x402_d4', agent_id: 'research-bot', payment_rail: 'x402', merchant: 'Anthropic', merchant_category: '5734', amount: '44.00', timestamp: '2026-03-13T10:05:00Z' },
    { external_id: 'ch_d4_3', timestamp: '2026-03-13T10:10:00Z', amount: '0.01' },
    { external_id: 'ch_d4_4', timestamp: '2026-03-13T10:20:00Z', amount: '999.99', merchant_category: '5933' },
    { external_id: 'ch_d4_5', timestamp: '2026-03-13T10:30:00Z', amount: '15.00', payment_rail: 'ap2' },
  ]);

  // A summary of the month so far, signed off: its stored document is evidence too.
  env.clock.set('2026-03-13T12:00:00Z');
  const fiona: Principal = { org_id: ORG, principal: 'fiona@acme.test', roles: ['finance'], agent_id: null, key_id: null };
  const { summary } = await generateSummary(deps, fiona, { month: '2026-03' }, { verifier: env.signer.note });
  await signOffSummary(deps, fiona, summary.document.summary_id);

  // A rail endpoint (its secret stays out of the log), one revoked, and a rail's native records:
  // one that made a transaction and one the rail reported as failed.
  env.clock.set('2026-03-13T13:00:00Z');
  const endpoint = await addRailEndpoint(deps, org.admin, { rail: 'stripe', secret: 'whsec_corpus_secret_1', label: 'Production' });
  const old = await addRailEndpoint(deps, org.admin, { rail: 'stripe', secret: 'whsec_corpus_secret_0', label: 'Old' });
  await revokeRailEndpoint(deps, org.admin, old.endpoint_id);
  const stored = await env.store.getRailEndpoint(endpoint.endpoint_id);
  if (stored === undefined) throw new Error('no rail endpoint');
  const stripe = railPrincipal(stored);
  await ingestRailCapture(deps, stripe, {
    rail: 'stripe',
    source_id: 'evt_corpus_1',
    content_type: 'application/json',
    payload: Buffer.from('{"id":"evt_corpus_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_corpus","amount":4200}}}'),
    outcome: 'settled',
    reason: null,
    transactions: [tx({ external_id: 'pi_corpus', timestamp: '2026-03-13T12:30:00Z', amount: '42.00' })],
  });
  await ingestRailCapture(deps, stripe, {
    rail: 'stripe',
    source_id: 'evt_corpus_2',
    content_type: 'application/json',
    payload: Buffer.from('{"id":"evt_corpus_2","type":"payment_intent.payment_failed"}'),
    outcome: 'failed',
    reason: 'card_declined',
    transactions: [],
  });

  // Day 5: a reversal and filler, late-arriving (timestamp earlier than recorded_at by days).
  await record('2026-03-14T09:00:00Z', [
    { external_id: 'rv_d4_5', refund_of: 'ch_d4_5', type: 'reversal', amount: '-15.00', payment_rail: 'ap2', timestamp: '2026-03-14T08:00:00Z' },
    { external_id: 'ch_late', timestamp: '2026-03-10T23:59:59Z', amount: '3.00' },
  ]);
  for (let b = 0; b < 3; b++) {
    await record(`2026-03-14T1${b}:00:00Z`, Array.from({ length: 3 }, (_, i) => ({
      external_id: `ch_d5_${b}_${i}`,
      timestamp: `2026-03-14T1${b}:0${i}:00Z`,
      amount: `${10 + b * 3 + i}.00`,
      merchant: i === 1 ? 'OpenAI' : 'AWS',
      merchant_category: i === 1 ? null : '4816',
    })));
  }
  await record('2026-03-14T15:00:00Z', [{ external_id: 'ch_last', timestamp: '2026-03-14T14:00:00Z', amount: '7.00' }]);

  const cps = await env.store.listCheckpoints(ORG);
  if (solo === undefined) throw new Error('no solo transaction');
  return {
    org,
    txs: all,
    solo,
    checkpointSizes: cps.map((c) => c.tree_size),
    revokedKeyId: finance.key_id,
    auditorKeyId: auditor.key_id,
  };
}

/** The base tables of the current schema (both engines), without our backup copies. */
export async function baseTables(env: TestEnv): Promise<string[]> {
  const rows = await env.sql(
    `select table_name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE'
        and table_name not like 'bak\\_%' and table_name not like 'kysely\\_%'
        and table_name not like 'spendtrail\\_migration%' order by table_name`,
  );
  return rows.map((r) => String(r.table_name));
}

export interface ColumnInfo {
  readonly table: string;
  readonly column: string;
  /** information_schema data_type; arrays are "ARRAY" with udt "_text". */
  readonly type: string;
  readonly udt: string;
  readonly nullable: boolean;
}

export async function columnsOf(env: TestEnv, table: string): Promise<ColumnInfo[]> {
  const rows = await env.sql(
    `select column_name, data_type, udt_name, is_nullable from information_schema.columns
      where table_schema = current_schema() and table_name = $1 order by ordinal_position`,
    [table],
  );
  return rows.map((r) => ({
    table,
    column: String(r.column_name),
    type: String(r.data_type),
    udt: String(r.udt_name),
    nullable: r.is_nullable === 'YES',
  }));
}

/**
 * Copies every table aside once, so each case can put the database back exactly as seeded
 * (DELETE + INSERT of the copy, triggers off) instead of trusting an UPDATE to be reversible.
 */
export async function snapshot(env: TestEnv): Promise<void> {
  for (const t of await baseTables(env)) await env.sql(`create table bak_${t} as select * from ${t}`);
}

export async function restore(env: TestEnv): Promise<void> {
  for (const t of await baseTables(env)) {
    await env.sql(`alter table ${t} disable trigger user`);
    await env.sql(`delete from ${t}`);
    await env.sql(`insert into ${t} select * from bak_${t}`);
    await env.sql(`alter table ${t} enable trigger user`);
  }
}

/** What an attacker with a database login types first. */
export async function disableTriggers(env: TestEnv, ...tables: string[]): Promise<void> {
  for (const t of tables) await env.sql(`alter table ${t} disable trigger user`);
}

export const verify = (env: TestEnv, c: Corpus): Promise<VerifyReport> => verifyLog(env.deps, c.org.admin, env.signer.note);

export async function readTx(env: TestEnv, seq: number): Promise<TransactionRecord> {
  const [t] = await env.store.transactionsPage(ORG, seq, seq + 1);
  if (t === undefined) throw new Error(`no transaction at ${seq}`);
  return t.record;
}

/** The leaf hash an attacker who knows the encoding computes for the row as it now stands. */
export async function recomputeLeaf(env: TestEnv, seq: number): Promise<Buffer> {
  const leaf = leafHash(encodeTransaction(await readTx(env, seq)));
  await env.sql(`update transactions set leaf_hash = decode($1, 'hex') where org_id = $2 and seq = $3`, [leaf.toString('hex'), ORG, seq]);
  return leaf;
}

/** Rewrites tree_heads (size, frontier, root) to match the entries as they now are, as a careful attacker would. */
export async function rewriteTreeHead(env: TestEnv): Promise<Buffer> {
  const rows = await env.sql(
    `select seq, leaf_hash from log_entries where org_id = $1 union all
     select seq, leaf_hash from transactions where org_id = $1 order by seq`,
    [ORG],
  );
  const range = CompactRange.empty();
  for (const r of rows) range.append(toBuf(r.leaf_hash));
  const root = range.root();
  await env.sql(`update tree_heads set size = $1, frontier = decode($2, 'hex'), root = decode($3, 'hex') where org_id = $4`, [
    range.size,
    range.serialize().toString('hex'),
    root.toString('hex'),
    ORG,
  ]);
  return root;
}

export function toBuf(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new Error(`expected bytes, got ${typeof v}`);
}
