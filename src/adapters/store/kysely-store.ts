import type { RawBuilder } from 'kysely';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { copyTransactions, copyTransactionsOnPglite } from './copy-transactions.ts';
import type pg from 'pg';
import type { CodeSource } from '../../domain/gl/coding.ts';
import type { TransactionRecord, TransactionType } from '../../domain/ledger/transaction.ts';
import type { Violation } from '../../domain/policy/violation.ts';
import type { SummaryRollup } from '../../domain/summary/rollup.ts';
import type { Rail } from '../../domain/rails.ts';
import type { Instant } from '../../domain/time.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import type {
  AccountRow,
  AgentRow,
  ApiKeyRow,
  AuthorizationRow,
  NotificationAttemptRow,
  NotificationRow,
  ExportState,
  RailEndpointRow,
  RailPayloadRow,
  SpendGroup,
  SummaryRow,
  ViolatingTransaction,
  QboConnectionRow,
  QboMappingRow,
  QboStateStore,
  QboSyncRow,
  CheckpointRow,
  LogEntryRow,
  OrgRow,
  PolicyVersionRow,
  RollupDelta,
  RuleRow,
  Store,
  StoredTransaction,
  StoreReads,
  StoreTx,
  TileRow,
  TransactionFilter,
  TreeHead,
  VerifiedFrontier,
  UserRow,
  WebSessionRow,
} from '../../app/ports/store.ts';
import type { Engine } from './open-database.ts';
import {
  toBigInt,
  toBuffer,
  toDate,
  toDateOrNull,
  toNumber,
  toStr,
  toStrOrNull,
  toStringArray,
} from './row-values.ts';

type Row = Record<string, unknown>;
type Db = Kysely<unknown>;

// Reads outside a unit of work (authentication, listings) go through here too: their driver
// errors are translated like those of units of work, so a database outage is a 503, not a 500.
const rows = async (db: Db, q: RawBuilder<unknown>): Promise<Row[]> => {
  try {
    return (await q.execute(db)).rows as Row[];
  } catch (e) {
    throw translateDbError(e);
  }
};

const iso = (d: unknown): Instant => toDate(d).toISOString() as Instant;

const TX_COLUMNS = sql.raw(`seq, tx_id, recorded_at, recorded_by, external_id, agent_id, ts, type, refund_of, amount,
  currency, reporting_amount, reporting_minor, reporting_currency, fx_rate, fx_rate_source, fx_rate_time, payment_rail,
  merchant, merchant_category, business_purpose, accounting_code, accounting_code_source, approver, approval_ref,
  authorization_id, policy_snapshot_id, violations, spend_before_daily, spend_before_monthly, input_hash, leaf_hash, org_id`);

function toTransaction(r: Row): StoredTransaction {
  const record: TransactionRecord = {
    kind: 'transaction',
    seq: toNumber(r.seq),
    org_id: toStr(r.org_id),
    tx_id: toStr(r.tx_id),
    recorded_at: iso(r.recorded_at),
    recorded_by: toStr(r.recorded_by),
    external_id: toStr(r.external_id),
    agent_id: toStr(r.agent_id),
    timestamp: iso(r.ts),
    type: toStr(r.type) as TransactionType,
    refund_of: toStrOrNull(r.refund_of),
    amount: toStr(r.amount),
    currency: toStr(r.currency),
    reporting_amount: toStr(r.reporting_amount),
    reporting_currency: toStr(r.reporting_currency),
    fx_rate: toStrOrNull(r.fx_rate),
    fx_rate_source: toStrOrNull(r.fx_rate_source),
    fx_rate_time: r.fx_rate_time === null || r.fx_rate_time === undefined ? null : iso(r.fx_rate_time),
    payment_rail: toStr(r.payment_rail) as Rail,
    merchant: toStr(r.merchant),
    merchant_category: toStrOrNull(r.merchant_category),
    business_purpose: toStrOrNull(r.business_purpose),
    accounting_code: toStrOrNull(r.accounting_code),
    accounting_code_source: toStrOrNull(r.accounting_code_source) as CodeSource | null,
    approver: toStrOrNull(r.approver),
    approval_ref: toStrOrNull(r.approval_ref),
    authorization_id: toStrOrNull(r.authorization_id),
    policy_snapshot_id: toStrOrNull(r.policy_snapshot_id),
    violations: toStringArray(r.violations) as Violation[],
    spend_before_daily: toStr(r.spend_before_daily),
    spend_before_monthly: toStr(r.spend_before_monthly),
    input_hash: toStr(r.input_hash),
  };
  return { record, leaf_hash: toBuffer(r.leaf_hash), reporting_minor: toBigInt(r.reporting_minor) };
}

// Verify, export and evidence bundles read every row of the log: the server formats instants,
// bytes and arrays as text, so the driver builds no Date, Buffer or parsed array per value and
// the rows become records with string copies only. The instant format is toISOString's.
const INSTANT_TEXT = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
const TX_TEXT_COLUMNS = sql.raw(`seq, tx_id::text as tx_id, to_char(recorded_at at time zone 'UTC', ${INSTANT_TEXT}) as recorded_at,
  recorded_by, external_id, agent_id, to_char(ts at time zone 'UTC', ${INSTANT_TEXT}) as ts, type, refund_of::text as refund_of, amount,
  currency, reporting_amount, reporting_minor, reporting_currency, fx_rate, fx_rate_source,
  to_char(fx_rate_time at time zone 'UTC', ${INSTANT_TEXT}) as fx_rate_time, payment_rail,
  merchant, merchant_category, business_purpose, accounting_code, accounting_code_source, approver, approval_ref,
  authorization_id::text as authorization_id, policy_snapshot_id, array_to_json(violations)::text as violations,
  spend_before_daily, spend_before_monthly, input_hash, encode(leaf_hash, 'base64') as leaf_hash, org_id`);

function toTransactionFromText(r: Row): StoredTransaction {
  const record: TransactionRecord = {
    kind: 'transaction',
    seq: toNumber(r.seq),
    org_id: r.org_id as string,
    tx_id: r.tx_id as string,
    recorded_at: r.recorded_at as Instant,
    recorded_by: r.recorded_by as string,
    external_id: r.external_id as string,
    agent_id: r.agent_id as string,
    timestamp: r.ts as Instant,
    type: r.type as TransactionType,
    refund_of: (r.refund_of ?? null) as string | null,
    amount: r.amount as string,
    currency: r.currency as string,
    reporting_amount: r.reporting_amount as string,
    reporting_currency: r.reporting_currency as string,
    fx_rate: (r.fx_rate ?? null) as string | null,
    fx_rate_source: (r.fx_rate_source ?? null) as string | null,
    fx_rate_time: (r.fx_rate_time ?? null) as Instant | null,
    payment_rail: r.payment_rail as Rail,
    merchant: r.merchant as string,
    merchant_category: (r.merchant_category ?? null) as string | null,
    business_purpose: (r.business_purpose ?? null) as string | null,
    accounting_code: (r.accounting_code ?? null) as string | null,
    accounting_code_source: (r.accounting_code_source ?? null) as CodeSource | null,
    approver: (r.approver ?? null) as string | null,
    approval_ref: (r.approval_ref ?? null) as string | null,
    authorization_id: (r.authorization_id ?? null) as string | null,
    policy_snapshot_id: (r.policy_snapshot_id ?? null) as string | null,
    violations: (r.violations === '[]' ? [] : JSON.parse(r.violations as string)) as Violation[],
    spend_before_daily: r.spend_before_daily as string,
    spend_before_monthly: r.spend_before_monthly as string,
    input_hash: r.input_hash as string,
  };
  return { record, leaf_hash: Buffer.from(r.leaf_hash as string, 'base64'), reporting_minor: toBigInt(r.reporting_minor) };
}

const toOrg = (r: Row): OrgRow => ({
  org_id: toStr(r.org_id),
  name: toStr(r.name),
  reporting_currency: toStr(r.reporting_currency),
  timezone: toStr(r.timezone),
  log_origin: toStr(r.log_origin),
  verifier_key: toStr(r.verifier_key),
  created_at: toDate(r.created_at),
});

const toPolicy = (r: Row): PolicyVersionRow => ({
  org_id: toStr(r.org_id),
  agent_id: toStr(r.agent_id),
  version: toNumber(r.version),
  snapshot_id: toStr(r.snapshot_id),
  document: toStr(r.document),
  valid_from: toDate(r.valid_from),
  seq: toNumber(r.seq),
});

const toCheckpoint = (r: Row): CheckpointRow => ({
  org_id: toStr(r.org_id),
  tree_size: toNumber(r.tree_size),
  root: toBuffer(r.root),
  note: toStr(r.note),
  created_at: toDate(r.created_at),
});

const toApiKey = (r: Row): ApiKeyRow => ({
  key_id: toStr(r.key_id),
  org_id: toStr(r.org_id),
  principal: toStr(r.principal),
  roles: toStringArray(r.roles),
  agent_id: toStrOrNull(r.agent_id),
  secret_hash: toStr(r.secret_hash),
  created_at: toDate(r.created_at),
  revoked_at: toDateOrNull(r.revoked_at),
});

const toUser = (r: Row): UserRow => ({
  user_id: toStr(r.user_id),
  org_id: toStr(r.org_id),
  email: toStr(r.email),
  principal: toStr(r.principal),
  roles: toStringArray(r.roles),
  password_hash: toStr(r.password_hash),
  created_at: toDate(r.created_at),
  created_by: toStr(r.created_by),
  disabled_at: toDateOrNull(r.disabled_at),
});

const toWebSession = (r: Row): WebSessionRow => ({
  token_hash: toStr(r.token_hash),
  org_id: toStr(r.org_id),
  user_id: toStrOrNull(r.user_id),
  key_id: toStrOrNull(r.key_id),
  principal: toStr(r.principal),
  roles: toStringArray(r.roles),
  display: toStr(r.display),
  csrf: toStr(r.csrf),
  created_at: toDate(r.created_at),
  last_seen_at: toDate(r.last_seen_at),
  expires_at: toDate(r.expires_at),
  revoked_at: toDateOrNull(r.revoked_at),
});

const toAuthorization = (r: Row): AuthorizationRow => ({
  authorization_id: toStr(r.authorization_id),
  org_id: toStr(r.org_id),
  agent_id: toStr(r.agent_id),
  requested_by: toStr(r.requested_by),
  ts: toDate(r.ts),
  day: toStr(r.day),
  month: toStr(r.month),
  amount_minor: toBigInt(r.amount_minor),
  decision: toStr(r.decision) as AuthorizationRow['decision'],
  reasons: toStringArray(r.reasons) as Violation[],
  policy_snapshot_id: toStrOrNull(r.policy_snapshot_id),
  status: toStr(r.status) as AuthorizationRow['status'],
  expires_at: toDate(r.expires_at),
  created_at: toDate(r.created_at),
  settled_tx_id: toStrOrNull(r.settled_tx_id),
  approved_by: toStrOrNull(r.approved_by),
  approval_id: toStrOrNull(r.approval_id),
});

const toLogEntry = (x: Row): LogEntryRow => ({
  org_id: toStr(x.org_id),
  seq: toNumber(x.seq),
  kind: toStr(x.kind),
  entity_id: toStr(x.entity_id),
  data: toStr(x.data),
  leaf_hash: toBuffer(x.leaf_hash),
});

const toNotification = (r: Row): NotificationRow => ({
  notification_id: toStr(r.notification_id),
  org_id: toStr(r.org_id),
  subject_id: toStr(r.subject_id),
  channel: toStr(r.channel),
  payload: toStr(r.payload),
  status: toStr(r.status) as NotificationRow['status'],
  attempts: toNumber(r.attempts),
  last_error: toStrOrNull(r.last_error),
  created_at: toDate(r.created_at),
  updated_at: toDate(r.updated_at),
});

const arr = <T>(xs: readonly T[]): T[] => [...xs];

const toHead = (x: Row): TreeHead => ({
  size: toNumber(x.size),
  frontier: toBuffer(x.frontier),
  root: toBuffer(x.root),
  config_seq: toNumber(x.config_seq),
});

/**
 * A row of the summary's grouping-sets query (over transactions or over the rollups, which name
 * their sums alike). In the rollups an uncoded account is '' (a key column); it reads as null.
 */
function toSpendGroup(x: Row, emptyCodeIsNull: boolean): SpendGroup {
  const by: SpendGroup['by'] = toNumber(x.ga) === 0 ? 'agent' : toNumber(x.gc) === 0 ? 'account' : toNumber(x.gr) === 0 ? 'rail' : 'total';
  const code = toStrOrNull(x.accounting_code);
  const key =
    by === 'agent' ? toStr(x.agent_id) : by === 'account' ? (emptyCodeIsNull && code === '' ? null : code) : by === 'rail' ? toStr(x.payment_rail) : null;
  return {
    by,
    key,
    net_minor: toBigInt(x.net),
    refunds_minor: toBigInt(x.refunds),
    transactions: toNumber(x.n),
    violating: toNumber(x.violating),
    over_limit: toNumber(x.over_limit),
    blocked_category: toNumber(x.blocked_category),
    missing_approval: toNumber(x.missing_approval),
  };
}

const toSummaryRollup = (x: Row): SummaryRollup => ({
  day: toStr(x.day),
  agent_id: toStr(x.agent_id),
  accounting_code: toStr(x.accounting_code),
  payment_rail: toStr(x.payment_rail),
  net_minor: toBigInt(x.net_minor),
  refunds_minor: toBigInt(x.refunds_minor),
  transactions: toNumber(x.transactions),
  violating: toNumber(x.violating),
  over_limit: toNumber(x.over_limit),
  blocked_category: toNumber(x.blocked_category),
  missing_approval: toNumber(x.missing_approval),
});

class Reads implements StoreReads {
  constructor(protected readonly db: Db) {}

  async getOrg(orgId: string): Promise<OrgRow | undefined> {
    const r = await rows(this.db, sql`select * from orgs where org_id = ${orgId}`);
    return r[0] === undefined ? undefined : toOrg(r[0]);
  }

  async listOrgs(): Promise<OrgRow[]> {
    return (await rows(this.db, sql`select * from orgs order by org_id`)).map(toOrg);
  }

  async getAgents(orgId: string, agentIds?: readonly string[]): Promise<AgentRow[]> {
    const q =
      agentIds === undefined
        ? sql`select * from agents where org_id = ${orgId} order by agent_id`
        : sql`select * from agents where org_id = ${orgId} and agent_id = any(${arr(agentIds)}::text[]) order by agent_id`;
    return (await rows(this.db, q)).map((r) => ({
      org_id: toStr(r.org_id),
      agent_id: toStr(r.agent_id),
      name: toStr(r.name),
      owner: toStr(r.owner),
      cluster: toStr(r.cluster),
      seq: toNumber(r.seq),
    }));
  }

  async getAccounts(orgId: string): Promise<AccountRow[]> {
    return (await rows(this.db, sql`select * from accounts where org_id = ${orgId} order by code`)).map((r) => ({
      org_id: toStr(r.org_id),
      code: toStr(r.code),
      name: toStr(r.name),
      active: Boolean(r.active),
      seq: toNumber(r.seq),
    }));
  }

  async getRules(orgId: string): Promise<RuleRow[]> {
    return (await rows(this.db, sql`select * from gl_rules where org_id = ${orgId} order by rule_id`)).map((r) => ({
      org_id: toStr(r.org_id),
      rule_id: toStr(r.rule_id),
      kind: toStr(r.kind) as RuleRow['kind'],
      match: toStrOrNull(r.match),
      account_code: toStr(r.account_code),
      active: Boolean(r.active),
      seq: toNumber(r.seq),
    }));
  }

  async getPolicyVersions(orgId: string, agentIds?: readonly string[]): Promise<PolicyVersionRow[]> {
    const q =
      agentIds === undefined
        ? sql`select * from policy_versions where org_id = ${orgId} order by agent_id, version`
        : sql`select * from policy_versions where org_id = ${orgId} and agent_id = any(${arr(agentIds)}::text[])
              order by agent_id, version`;
    return (await rows(this.db, q)).map(toPolicy);
  }

  async getPolicyBySnapshot(orgId: string, snapshotId: string): Promise<PolicyVersionRow | undefined> {
    const r = await rows(this.db, sql`select * from policy_versions where org_id = ${orgId} and snapshot_id = ${snapshotId}`);
    return r[0] === undefined ? undefined : toPolicy(r[0]);
  }

  async getRollups(orgId: string, keys: readonly { agent_id: string; period: string }[]): Promise<Map<string, bigint>> {
    const out = new Map<string, bigint>();
    if (keys.length === 0) return out;
    const r = await rows(
      this.db,
      sql`select r.agent_id, r.period, r.amount_minor from spend_rollups r
          join unnest(${keys.map((k) => k.agent_id)}::text[], ${keys.map((k) => k.period)}::text[]) as k(agent_id, period)
            on r.agent_id = k.agent_id and r.period = k.period
          where r.org_id = ${orgId}`,
    );
    for (const x of r) out.set(`${toStr(x.agent_id)}\u0000${toStr(x.period)}`, toBigInt(x.amount_minor));
    return out;
  }

  async findTransactionsByExternal(
    orgId: string,
    keys: readonly { payment_rail: string; external_id: string }[],
  ): Promise<StoredTransaction[]> {
    if (keys.length === 0) return [];
    // A lateral probe per key: equality on every column of the unique index, so each key is one
    // index lookup whatever the statistics say. A plain join against unnest() was planned as a
    // hash (or a scan) over the whole organisation while the table outgrew its statistics.
    const r = await rows(
      this.db,
      sql`select t.* from unnest(${keys.map((k) => k.payment_rail)}::text[], ${keys.map((k) => k.external_id)}::text[]) as k(rail, ext)
          cross join lateral (select ${TX_COLUMNS} from transactions
            where org_id = ${orgId} and payment_rail = k.rail and external_id = k.ext) t`,
    );
    return r.map(toTransaction);
  }

  async findTransactionsById(orgId: string, txIds: readonly string[]): Promise<StoredTransaction[]> {
    const ids = txIds.filter((id) => UUID.test(id));
    if (ids.length === 0) return [];
    const r = await rows(
      this.db,
      sql`select ${TX_COLUMNS} from transactions where org_id = ${orgId} and tx_id = any(${ids}::uuid[])`,
    );
    return r.map(toTransaction);
  }

  async refundedSoFar(orgId: string, txIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (txIds.length === 0) return out;
    const r = await rows(
      this.db,
      sql`select refund_of, sum(amount::numeric)::text as total from transactions
          where org_id = ${orgId} and refund_of = any(${arr(txIds)}::uuid[]) group by refund_of`,
    );
    for (const x of r) out.set(toStr(x.refund_of), toStr(x.total));
    return out;
  }

  async listTransactions(f: TransactionFilter): Promise<StoredTransaction[]> {
    const conds: RawBuilder<unknown>[] = [sql`t.org_id = ${f.org_id}`];
    if (f.agent_id !== undefined) conds.push(sql`t.agent_id = ${f.agent_id}`);
    if (f.cluster !== undefined) {
      conds.push(sql`t.agent_id in (select agent_id from agents where org_id = ${f.org_id} and cluster = ${f.cluster})`);
    }
    if (f.from !== undefined) conds.push(sql`t.ts >= ${f.from.toISOString()}::timestamptz`);
    if (f.to !== undefined) conds.push(sql`t.ts < ${f.to.toISOString()}::timestamptz`);
    if (f.accounting_code !== undefined) conds.push(sql`t.accounting_code = ${f.accounting_code}`);
    if (f.payment_rail !== undefined) conds.push(sql`t.payment_rail = ${f.payment_rail}`);
    if (f.violation !== undefined) conds.push(sql`${f.violation} = any(t.violations)`);
    // Newest first walks the same (ts, seq) index backwards: the cursor stays a keyset.
    const desc = f.order === 'desc';
    if (f.after !== undefined) {
      const key = sql`(${f.after.ts.toISOString()}::timestamptz, ${f.after.seq})`;
      conds.push(desc ? sql`(t.ts, t.seq) < ${key}` : sql`(t.ts, t.seq) > ${key}`);
    }
    // The page's keys first, then its rows: the filters and the order are all in the index
    // transactions_org_ts (migration 009), so the inner query can walk the index alone (no table
    // row read for the rows a filter skips), and only the page's own rows are fetched.
    const r = await rows(
      this.db,
      sql`select ${TX_COLUMNS} from transactions where org_id = ${f.org_id} and seq = any(array(
            select t.seq from transactions t where ${sql.join(conds, sql` and `)}
            order by ${desc ? sql`t.ts desc, t.seq desc` : sql`t.ts, t.seq`} limit ${f.limit}))
          order by ${desc ? sql`ts desc, seq desc` : sql`ts, seq`}`,
    );
    return r.map(toTransaction);
  }

  async getTreeHead(orgId: string): Promise<TreeHead | undefined> {
    const r = await rows(this.db, sql`select size, frontier, root, config_seq from tree_heads where org_id = ${orgId}`);
    const x = r[0];
    return x === undefined ? undefined : toHead(x);
  }

  async latestCheckpoint(orgId: string): Promise<CheckpointRow | undefined> {
    const r = await rows(this.db, sql`select * from checkpoints where org_id = ${orgId} order by tree_size desc limit 1`);
    return r[0] === undefined ? undefined : toCheckpoint(r[0]);
  }

  async listCheckpoints(orgId: string): Promise<CheckpointRow[]> {
    return (await rows(this.db, sql`select * from checkpoints where org_id = ${orgId} order by tree_size`)).map(toCheckpoint);
  }

  async leafHashes(orgId: string, from: number, to: number): Promise<Buffer[]> {
    const r = await rows(
      this.db,
      sql`select seq, leaf_hash from log_entries where org_id = ${orgId} and seq >= ${from} and seq < ${to}
          union all
          select seq, leaf_hash from transactions where org_id = ${orgId} and seq >= ${from} and seq < ${to}
          order by seq`,
    );
    return r.map((x) => toBuffer(x.leaf_hash));
  }

  async tiles(orgId: string, level: number, fromIdx: number, toIdx: number): Promise<TileRow[]> {
    const r = await rows(
      this.db,
      sql`select level, idx, hash from merkle_tiles where org_id = ${orgId} and level = ${level}
          and idx >= ${fromIdx} and idx < ${toIdx} order by idx`,
    );
    return r.map((x) => ({ level: toNumber(x.level), idx: toNumber(x.idx), hash: toBuffer(x.hash) }));
  }

  async allTiles(orgId: string): Promise<TileRow[]> {
    const r = await rows(this.db, sql`select level, idx, hash from merkle_tiles where org_id = ${orgId} order by level, idx`);
    return r.map((x) => ({ level: toNumber(x.level), idx: toNumber(x.idx), hash: toBuffer(x.hash) }));
  }

  async logEntriesPage(orgId: string, from: number, to: number): Promise<LogEntryRow[]> {
    const r = await rows(
      this.db,
      sql`select * from log_entries where org_id = ${orgId} and seq >= ${from} and seq < ${to} order by seq`,
    );
    return r.map(toLogEntry);
  }

  async logEntriesOfKinds(orgId: string, kinds: readonly string[], entityIds?: readonly string[]): Promise<LogEntryRow[]> {
    const r = await rows(
      this.db,
      entityIds === undefined
        ? sql`select * from log_entries where org_id = ${orgId} and kind = any(${arr(kinds)}::text[]) order by seq`
        : sql`select * from log_entries where org_id = ${orgId} and kind = any(${arr(kinds)}::text[])
                and entity_id = any(${arr(entityIds)}::text[]) order by seq`,
    );
    return r.map(toLogEntry);
  }

  async getExportState(orgId: string, sink: string): Promise<ExportState | undefined> {
    const [x] = await rows(this.db, sql`select * from audit_exports where org_id = ${orgId} and sink = ${sink}`);
    if (x === undefined) return undefined;
    return {
      org_id: toStr(x.org_id),
      sink: toStr(x.sink),
      next_seq: toNumber(x.next_seq),
      planned: x.planned_first === null || x.planned_end === null ? null : { first: toNumber(x.planned_first), end: toNumber(x.planned_end) },
      objects_written: toNumber(x.objects_written),
      last_object: toStrOrNull(x.last_object),
      last_error: toStrOrNull(x.last_error),
      failed_attempts: toNumber(x.failed_attempts),
      updated_at: toDate(x.updated_at),
    };
  }

  async getSummaries(orgId: string, f: { period?: string; scope?: string; summary_id?: string } = {}): Promise<SummaryRow[]> {
    if (f.summary_id !== undefined && !UUID.test(f.summary_id)) return [];
    const r = await rows(
      this.db,
      sql`select * from summaries where org_id = ${orgId}
            and (${f.period ?? null}::text is null or period = ${f.period ?? null})
            and (${f.scope ?? null}::text is null or scope = ${f.scope ?? null})
            and (${f.summary_id ?? null}::uuid is null or summary_id = ${f.summary_id ?? null}::uuid)
          order by period, scope, version`,
    );
    return r.map((x) => ({
      summary_id: toStr(x.summary_id),
      org_id: toStr(x.org_id),
      period: toStr(x.period),
      scope: toStr(x.scope),
      version: toNumber(x.version),
      summary_hash: toStr(x.summary_hash),
      document: toStr(x.document),
      seq: toNumber(x.seq),
      created_at: toDate(x.created_at),
    }));
  }

  async spendGroups(orgId: string, from: Date, to: Date, agentIds: readonly string[] | null): Promise<SpendGroup[]> {
    // One scan, four groupings: the summary's breakdowns and total agree by construction.
    const r = await rows(
      this.db,
      sql`select grouping(agent_id) as ga, grouping(accounting_code) as gc, grouping(payment_rail) as gr,
            agent_id, accounting_code, payment_rail,
            coalesce(sum(reporting_minor), 0) as net,
            coalesce(sum(reporting_minor) filter (where reporting_minor < 0), 0) as refunds,
            count(*) as n,
            count(*) filter (where cardinality(violations) > 0) as violating,
            count(*) filter (where violations && array['over_limit', 'daily_budget_exceeded', 'monthly_budget_exceeded']::text[]) as over_limit,
            count(*) filter (where 'blocked_category' = any(violations)) as blocked_category,
            count(*) filter (where 'missing_approval' = any(violations)) as missing_approval
          from transactions
          where org_id = ${orgId} and ts >= ${from.toISOString()}::timestamptz and ts < ${to.toISOString()}::timestamptz
            and (${agentIds === null}::boolean or agent_id = any(${arr(agentIds ?? [])}::text[]))
          group by grouping sets ((agent_id), (accounting_code), (payment_rail), ())`,
    );
    return r.map((x) => toSpendGroup(x, false));
  }

  async rollupGroups(orgId: string, fromDay: string, toDay: string, agentIds: readonly string[] | null): Promise<SpendGroup[]> {
    const r = await rows(
      this.db,
      sql`select grouping(agent_id) as ga, grouping(accounting_code) as gc, grouping(payment_rail) as gr,
            agent_id, accounting_code, payment_rail,
            coalesce(sum(net_minor), 0) as net, coalesce(sum(refunds_minor), 0) as refunds, coalesce(sum(transactions), 0) as n,
            coalesce(sum(violating), 0) as violating, coalesce(sum(over_limit), 0) as over_limit,
            coalesce(sum(blocked_category), 0) as blocked_category, coalesce(sum(missing_approval), 0) as missing_approval
          from summary_rollups
          where org_id = ${orgId} and day >= ${fromDay} and day < ${toDay}
            and (${agentIds === null}::boolean or agent_id = any(${arr(agentIds ?? [])}::text[]))
          group by grouping sets ((agent_id), (accounting_code), (payment_rail), ())`,
    );
    return r.map((x) => toSpendGroup(x, true));
  }

  async summaryRollups(orgId: string, days?: readonly string[], which: 'live' | 'verified' = 'live'): Promise<SummaryRollup[]> {
    const r = await rows(
      this.db,
      sql`select * from ${sql.table(which === 'live' ? 'summary_rollups' : 'verified_summary_rollups')} where org_id = ${orgId}
            and (${days === undefined}::boolean or day = any(${arr(days ?? [])}::text[]))`,
    );
    return r.map(toSummaryRollup);
  }

  async violatingTransactions(orgId: string, from: Date, to: Date, agentIds: readonly string[] | null, limit: number): Promise<ViolatingTransaction[]> {
    const r = await rows(
      this.db,
      sql`select tx_id, seq, agent_id, ts, reporting_amount, reporting_minor, violations from transactions
          where org_id = ${orgId} and ts >= ${from.toISOString()}::timestamptz and ts < ${to.toISOString()}::timestamptz
            and cardinality(violations) > 0
            and (${agentIds === null}::boolean or agent_id = any(${arr(agentIds ?? [])}::text[]))
          order by reporting_minor desc, seq limit ${limit}`,
    );
    return r.map((x) => ({
      tx_id: toStr(x.tx_id),
      seq: toNumber(x.seq),
      agent_id: toStr(x.agent_id),
      ts: toDate(x.ts),
      reporting_amount: toStr(x.reporting_amount),
      reporting_minor: toBigInt(x.reporting_minor),
      violations: toStringArray(x.violations) as Violation[],
    }));
  }

  async pendingNotifications(limit: number, channels: readonly string[]): Promise<NotificationRow[]> {
    const r = await rows(
      this.db,
      sql`select * from notifications where status = 'pending' and channel = any(${arr(channels)}::text[])
          order by created_at, notification_id limit ${limit}`,
    );
    return r.map(toNotification);
  }

  async listNotifications(orgId: string, subjectId?: string): Promise<NotificationRow[]> {
    const r = await rows(
      this.db,
      subjectId === undefined
        ? sql`select * from notifications where org_id = ${orgId} order by created_at, notification_id`
        : sql`select * from notifications where org_id = ${orgId} and subject_id = ${subjectId} order by created_at, notification_id`,
    );
    return r.map(toNotification);
  }

  async notificationAttempts(notificationId: string): Promise<NotificationAttemptRow[]> {
    if (!UUID.test(notificationId)) return [];
    const r = await rows(this.db, sql`select * from notification_attempts where notification_id = ${notificationId}::uuid order by attempt`);
    return r.map((x) => ({
      notification_id: toStr(x.notification_id),
      attempt: toNumber(x.attempt),
      at: toDate(x.at),
      ok: x.ok === true,
      http_status: x.http_status === null || x.http_status === undefined ? null : toNumber(x.http_status),
      error: toStrOrNull(x.error),
    }));
  }

  async seqSpanRecorded(orgId: string, from: Date, to: Date): Promise<{ first: number; last: number } | null> {
    // One scan in the database instead of reading every entry out: transactions carry
    // recorded_at as a column, other entries inside their hashed JSON.
    const f = from.toISOString();
    const t = to.toISOString();
    const r = await rows(
      this.db,
      sql`select min(seq) as first, max(seq) as last from (
            select seq from transactions where org_id = ${orgId} and recorded_at >= ${f}::timestamptz and recorded_at < ${t}::timestamptz
            union all
            select seq from log_entries where org_id = ${orgId}
              and (data::json ->> 'recorded_at')::timestamptz >= ${f}::timestamptz and (data::json ->> 'recorded_at')::timestamptz < ${t}::timestamptz) s`,
    );
    const x = r[0];
    return x === undefined || x.first === null || x.first === undefined ? null : { first: toNumber(x.first), last: toNumber(x.last) };
  }

  async getRailPayloads(orgId: string, keys: readonly { rail: string; source_id: string }[]): Promise<RailPayloadRow[]> {
    if (keys.length === 0) return [];
    // A lateral probe per key on the primary key, as for transactions by external id.
    const r = await rows(
      this.db,
      sql`select p.* from unnest(${keys.map((k) => k.rail)}::text[], ${keys.map((k) => k.source_id)}::text[]) as k(rail, sid)
          cross join lateral (select * from rail_payloads where org_id = ${orgId} and rail = k.rail and source_id = k.sid) p`,
    );
    return r.map(toRailPayload);
  }

  async railPayloadsPage(orgId: string, fromSeq: number, toSeq: number): Promise<RailPayloadRow[]> {
    const r = await rows(this.db, sql`select * from rail_payloads where org_id = ${orgId} and seq >= ${fromSeq} and seq < ${toSeq} order by seq`);
    return r.map(toRailPayload);
  }

  async getRailEndpoint(endpointId: string): Promise<RailEndpointRow | undefined> {
    const r = await rows(this.db, sql`select * from rail_endpoints where endpoint_id = ${endpointId}`);
    return r[0] === undefined ? undefined : toRailEndpoint(r[0]);
  }

  async listRailEndpoints(orgId: string): Promise<RailEndpointRow[]> {
    return (await rows(this.db, sql`select * from rail_endpoints where org_id = ${orgId} order by created_at, endpoint_id`)).map(toRailEndpoint);
  }

  async transactionsPage(orgId: string, from: number, to: number): Promise<StoredTransaction[]> {
    const r = await rows(
      this.db,
      sql`select ${TX_TEXT_COLUMNS} from transactions where org_id = ${orgId} and seq >= ${from} and seq < ${to} order by seq`,
    );
    return r.map(toTransactionFromText);
  }

  async getVerifiedFrontier(orgId: string): Promise<VerifiedFrontier | undefined> {
    const [x] = await rows(this.db, sql`select * from verified_frontiers where org_id = ${orgId}`);
    if (x === undefined) return undefined;
    return { org_id: toStr(x.org_id), tree_size: toNumber(x.tree_size), root: toBuffer(x.root), frontier: toBuffer(x.frontier), verified_at: toDate(x.verified_at) };
  }

  async entryStats(orgId: string): Promise<{ maxSeqPlusOne: number; rows: number }> {
    const r = await rows(
      this.db,
      sql`select coalesce(max(seq) + 1, 0) as top, count(*) as n from (
            select seq from log_entries where org_id = ${orgId}
            union all select seq from transactions where org_id = ${orgId}) s`,
    );
    return { maxSeqPlusOne: toNumber(r[0]?.top ?? 0), rows: toNumber(r[0]?.n ?? 0) };
  }

  async allRollups(orgId: string): Promise<{ agent_id: string; period: string; amount_minor: bigint }[]> {
    const r = await rows(this.db, sql`select agent_id, period, amount_minor from spend_rollups where org_id = ${orgId}`);
    return r.map((x) => ({ agent_id: toStr(x.agent_id), period: toStr(x.period), amount_minor: toBigInt(x.amount_minor) }));
  }

  async getApiKey(keyId: string): Promise<ApiKeyRow | undefined> {
    const r = await rows(this.db, sql`select * from api_keys where key_id = ${keyId}`);
    return r[0] === undefined ? undefined : toApiKey(r[0]);
  }

  async listApiKeys(orgId: string): Promise<ApiKeyRow[]> {
    return (await rows(this.db, sql`select * from api_keys where org_id = ${orgId} order by created_at`)).map(toApiKey);
  }

  async getUser(userId: string): Promise<UserRow | undefined> {
    const r = await rows(this.db, sql`select * from users where user_id = ${userId}`);
    return r[0] === undefined ? undefined : toUser(r[0]);
  }

  async getUserByEmail(email: string): Promise<UserRow | undefined> {
    const r = await rows(this.db, sql`select * from users where email = ${email.toLowerCase()}`);
    return r[0] === undefined ? undefined : toUser(r[0]);
  }

  async listUsers(orgId: string): Promise<UserRow[]> {
    return (await rows(this.db, sql`select * from users where org_id = ${orgId} order by email`)).map(toUser);
  }

  async railPayloadOfTransaction(orgId: string, txId: string, txSeq: number, window: number): Promise<RailPayloadRow | undefined> {
    const r = await rows(
      this.db,
      sql`select * from rail_payloads where org_id = ${orgId} and seq > ${txSeq} and seq <= ${txSeq + window}
            and position(${txId} in tx_ids) > 0
          order by seq limit 1`,
    );
    return r[0] === undefined ? undefined : toRailPayload(r[0]);
  }

  async violationCounts(orgId: string, from: Date, to: Date): Promise<Map<string, number>> {
    const r = await rows(
      this.db,
      sql`select v, count(*) as n from transactions t cross join lateral unnest(t.violations) as v
          where t.org_id = ${orgId} and t.ts >= ${from.toISOString()}::timestamptz and t.ts < ${to.toISOString()}::timestamptz
            and cardinality(t.violations) > 0
          group by v`,
    );
    return new Map(r.map((x) => [toStr(x.v), toNumber(x.n)]));
  }

  async getAuthorization(orgId: string, id: string): Promise<AuthorizationRow | undefined> {
    if (!UUID.test(id)) return undefined;
    const r = await rows(
      this.db,
      sql`select * from authorizations where org_id = ${orgId} and authorization_id = ${id}::uuid`,
    );
    return r[0] === undefined ? undefined : toAuthorization(r[0]);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

class Writes extends Reads implements StoreTx {
  /** The unit of work's own PostgreSQL connection, for COPY; undefined on PGlite. */
  constructor(
    db: Db,
    private readonly client?: pg.PoolClient,
  ) {
    super(db);
  }

  async lockTree(orgId: string): Promise<TreeHead> {
    const lock = (): Promise<Row[]> =>
      rows(this.db, sql`select size, frontier, root, config_seq from tree_heads where org_id = ${orgId} for update`);
    let r = await lock();
    if (r[0] === undefined) {
      // First append of a new organisation: create its head, then lock it like any other.
      await sql`insert into tree_heads (org_id, size, frontier, root, updated_at, config_seq)
                values (${orgId}, 0, ${Buffer.alloc(0)}, ${EMPTY_ROOT}, now(), -1) on conflict (org_id) do nothing`.execute(this.db);
      r = await lock();
    }
    const x = r[0];
    if (x === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `organisation ${orgId} has no log`);
    return toHead(x);
  }

  async saveVerifiedFrontier(f: VerifiedFrontier): Promise<boolean> {
    const r = await sql`insert into verified_frontiers (org_id, tree_size, root, frontier, verified_at)
              values (${f.org_id}, ${f.tree_size}, ${f.root}, ${f.frontier}, ${f.verified_at.toISOString()}::timestamptz)
              on conflict (org_id) do update set tree_size = excluded.tree_size, root = excluded.root,
                frontier = excluded.frontier, verified_at = excluded.verified_at
              where verified_frontiers.tree_size <= excluded.tree_size
              returning 1`.execute(this.db);
    return r.rows.length > 0;
  }

  async saveVerifiedRollups(orgId: string, rollups: readonly SummaryRollup[], replaceAll: boolean): Promise<void> {
    if (replaceAll) await sql`delete from verified_summary_rollups where org_id = ${orgId}`.execute(this.db);
    // In slices: a full verify of a long history may prove hundreds of thousands of rollups.
    for (let i = 0; i < rollups.length; i += 5_000) {
      const part = rollups.slice(i, i + 5_000);
      const col = <T,>(f: (r: SummaryRollup) => T): T[] => part.map(f);
      await sql`insert into verified_summary_rollups
                select ${orgId}, * from unnest(${col((r) => r.day)}::text[], ${col((r) => r.agent_id)}::text[],
                  ${col((r) => r.accounting_code)}::text[], ${col((r) => r.payment_rail)}::text[],
                  ${col((r) => r.net_minor.toString())}::bigint[], ${col((r) => r.refunds_minor.toString())}::bigint[],
                  ${col((r) => r.transactions)}::bigint[], ${col((r) => r.violating)}::bigint[], ${col((r) => r.over_limit)}::bigint[],
                  ${col((r) => r.blocked_category)}::bigint[], ${col((r) => r.missing_approval)}::bigint[])
                on conflict (org_id, day, agent_id, accounting_code, payment_rail) do update set
                  net_minor = excluded.net_minor, refunds_minor = excluded.refunds_minor, transactions = excluded.transactions,
                  violating = excluded.violating, over_limit = excluded.over_limit, blocked_category = excluded.blocked_category,
                  missing_approval = excluded.missing_approval`.execute(this.db);
    }
  }

  async saveTree(orgId: string, head: TreeHead, tiles: readonly TileRow[], cp: CheckpointRow | null, at: Date): Promise<void> {
    await sql`update tree_heads set size = ${head.size}, frontier = ${head.frontier}, root = ${head.root},
              config_seq = ${head.config_seq}, updated_at = ${at.toISOString()}::timestamptz where org_id = ${orgId}`.execute(this.db);
    if (tiles.length > 0) {
      await sql`insert into merkle_tiles (org_id, level, idx, hash)
                select ${orgId}, * from unnest(${tiles.map((t) => t.level)}::smallint[], ${tiles.map((t) => String(t.idx))}::bigint[],
                ${tiles.map((t) => t.hash)}::bytea[])`.execute(this.db);
    }
    if (cp !== null) {
      await sql`insert into checkpoints (org_id, tree_size, root, note, created_at)
                values (${orgId}, ${cp.tree_size}, ${cp.root}, ${cp.note}, ${cp.created_at.toISOString()}::timestamptz)
                on conflict (org_id, tree_size) do nothing`.execute(this.db);
    }
  }

  async insertOrg(org: OrgRow): Promise<void> {
    await sql`insert into orgs (org_id, name, reporting_currency, timezone, log_origin, verifier_key, created_at)
              values (${org.org_id}, ${org.name}, ${org.reporting_currency}, ${org.timezone}, ${org.log_origin},
                      ${org.verifier_key}, ${org.created_at.toISOString()}::timestamptz)`.execute(this.db);
  }

  async insertLogEntries(entries: readonly LogEntryRow[]): Promise<void> {
    if (entries.length === 0) return;
    await sql`insert into log_entries (org_id, seq, kind, entity_id, data, leaf_hash)
              select * from unnest(${entries.map((e) => e.org_id)}::text[], ${entries.map((e) => String(e.seq))}::bigint[],
                ${entries.map((e) => e.kind)}::text[], ${entries.map((e) => e.entity_id)}::text[],
                ${entries.map((e) => e.data)}::text[], ${entries.map((e) => e.leaf_hash)}::bytea[])`.execute(this.db);
  }

  async insertTransactions(orgId: string, txs: readonly StoredTransaction[]): Promise<void> {
    if (txs.length === 0) return;
    if (this.client !== undefined) return copyTransactions(this.client, orgId, txs);
    for (const q of copyTransactionsOnPglite(orgId, txs)) await this.db.executeQuery(q);
  }

  async upsertAgent(a: AgentRow): Promise<void> {
    await sql`insert into agents (org_id, agent_id, name, owner, cluster, seq)
              values (${a.org_id}, ${a.agent_id}, ${a.name}, ${a.owner}, ${a.cluster}, ${a.seq})
              on conflict (org_id, agent_id) do update set name = excluded.name, owner = excluded.owner,
                cluster = excluded.cluster, seq = excluded.seq`.execute(this.db);
  }

  async upsertAccount(a: AccountRow): Promise<void> {
    await sql`insert into accounts (org_id, code, name, active, seq) values (${a.org_id}, ${a.code}, ${a.name}, ${a.active}, ${a.seq})
              on conflict (org_id, code) do update set name = excluded.name, active = excluded.active, seq = excluded.seq`.execute(
      this.db,
    );
  }

  async upsertRule(r: RuleRow): Promise<void> {
    await sql`insert into gl_rules (org_id, rule_id, kind, match, account_code, active, seq)
              values (${r.org_id}, ${r.rule_id}, ${r.kind}, ${r.match}, ${r.account_code}, ${r.active}, ${r.seq})
              on conflict (org_id, rule_id) do update set kind = excluded.kind, match = excluded.match,
                account_code = excluded.account_code, active = excluded.active, seq = excluded.seq`.execute(this.db);
  }

  async insertPolicyVersion(p: PolicyVersionRow): Promise<void> {
    await sql`insert into policy_versions (org_id, agent_id, version, snapshot_id, document, valid_from, seq)
              values (${p.org_id}, ${p.agent_id}, ${p.version}, ${p.snapshot_id}, ${p.document},
                      ${p.valid_from.toISOString()}::timestamptz, ${p.seq})`.execute(this.db);
  }

  async addRollups(orgId: string, deltas: readonly RollupDelta[], summary: readonly SummaryRollup[] = []): Promise<void> {
    const merged = new Map<string, RollupDelta>();
    for (const d of deltas) {
      const k = `${d.agent_id}\u0000${d.period}`;
      const prev = merged.get(k);
      merged.set(k, prev === undefined ? d : { ...d, delta: prev.delta + d.delta });
    }
    const ds = [...merged.values()];
    if (ds.length === 0 && summary.length === 0) return;
    const col = <T,>(f: (r: SummaryRollup) => T): T[] => summary.map(f);
    // One statement for both, so a unit of work pays one round trip for its rollups.
    await sql`with budget as (
                insert into spend_rollups (org_id, agent_id, period, amount_minor)
                select ${orgId}, * from unnest(${ds.map((d) => d.agent_id)}::text[], ${ds.map((d) => d.period)}::text[],
                  ${ds.map((d) => d.delta.toString())}::bigint[])
                on conflict (org_id, agent_id, period)
                do update set amount_minor = spend_rollups.amount_minor + excluded.amount_minor
                returning 1
              )
              insert into summary_rollups (org_id, day, agent_id, accounting_code, payment_rail, net_minor, refunds_minor,
                transactions, violating, over_limit, blocked_category, missing_approval)
              select ${orgId}, * from unnest(${col((r) => r.day)}::text[], ${col((r) => r.agent_id)}::text[],
                ${col((r) => r.accounting_code)}::text[], ${col((r) => r.payment_rail)}::text[],
                ${col((r) => r.net_minor.toString())}::bigint[], ${col((r) => r.refunds_minor.toString())}::bigint[],
                ${col((r) => r.transactions)}::bigint[], ${col((r) => r.violating)}::bigint[], ${col((r) => r.over_limit)}::bigint[],
                ${col((r) => r.blocked_category)}::bigint[], ${col((r) => r.missing_approval)}::bigint[])
              on conflict (org_id, day, agent_id, accounting_code, payment_rail) do update set
                net_minor = summary_rollups.net_minor + excluded.net_minor,
                refunds_minor = summary_rollups.refunds_minor + excluded.refunds_minor,
                transactions = summary_rollups.transactions + excluded.transactions,
                violating = summary_rollups.violating + excluded.violating,
                over_limit = summary_rollups.over_limit + excluded.over_limit,
                blocked_category = summary_rollups.blocked_category + excluded.blocked_category,
                missing_approval = summary_rollups.missing_approval + excluded.missing_approval`.execute(this.db);
  }

  async insertApiKey(k: ApiKeyRow): Promise<void> {
    await sql`insert into api_keys (key_id, org_id, principal, roles, agent_id, secret_hash, created_at, revoked_at)
              values (${k.key_id}, ${k.org_id}, ${k.principal}, ${arr(k.roles)}::text[], ${k.agent_id}, ${k.secret_hash},
                      ${k.created_at.toISOString()}::timestamptz, null)`.execute(this.db);
  }

  async revokeApiKey(keyId: string, at: Date): Promise<void> {
    await sql`update api_keys set revoked_at = ${at.toISOString()}::timestamptz
              where key_id = ${keyId} and revoked_at is null`.execute(this.db);
  }

  async lockAgent(orgId: string, agentId: string): Promise<boolean> {
    const r = await rows(this.db, sql`select 1 as ok from agents where org_id = ${orgId} and agent_id = ${agentId} for update`);
    return r.length > 0;
  }

  async spendWithHolds(orgId: string, agentId: string, day: string, month: string, now: Date): Promise<{ daily: bigint; monthly: bigint }> {
    // One statement, one snapshot: a hold settling concurrently is counted once, never zero times.
    const r = await rows(
      this.db,
      sql`select
            coalesce((select amount_minor from spend_rollups where org_id = ${orgId} and agent_id = ${agentId} and period = ${`D${day}`}), 0)
            + coalesce((select sum(amount_minor) from authorizations where org_id = ${orgId} and agent_id = ${agentId}
                and status = 'held' and expires_at > ${now.toISOString()}::timestamptz and day = ${day}), 0) as daily,
            coalesce((select amount_minor from spend_rollups where org_id = ${orgId} and agent_id = ${agentId} and period = ${`M${month}`}), 0)
            + coalesce((select sum(amount_minor) from authorizations where org_id = ${orgId} and agent_id = ${agentId}
                and status = 'held' and expires_at > ${now.toISOString()}::timestamptz and month = ${month}), 0) as monthly`,
    );
    return { daily: toBigInt(r[0]?.daily), monthly: toBigInt(r[0]?.monthly) };
  }

  async insertAuthorization(a: AuthorizationRow): Promise<void> {
    await sql`insert into authorizations (authorization_id, org_id, agent_id, requested_by, ts, day, month, amount_minor,
                decision, reasons, policy_snapshot_id, status, expires_at, created_at, settled_tx_id)
              values (${a.authorization_id}::uuid, ${a.org_id}, ${a.agent_id}, ${a.requested_by}, ${a.ts.toISOString()}::timestamptz,
                ${a.day}, ${a.month}, ${a.amount_minor.toString()}::bigint, ${a.decision}, ${arr(a.reasons)}::text[],
                ${a.policy_snapshot_id}, ${a.status}, ${a.expires_at.toISOString()}::timestamptz,
                ${a.created_at.toISOString()}::timestamptz, null)`.execute(this.db);
  }

  async lockAgents(orgId: string, agentIds: readonly string[]): Promise<{ agents: Set<string>; config_seq: number | null }> {
    // In agent-id order, so two units locking overlapping sets cannot deadlock. The head's
    // config_seq comes along: it names the configuration to judge by without another round trip.
    const r = await rows(
      this.db,
      sql`select a.agent_id, (select config_seq from tree_heads where org_id = ${orgId}) as config_seq
          from agents a where a.org_id = ${orgId} and a.agent_id = any(${arr(agentIds)}::text[]) order by a.agent_id for update of a`,
    );
    return { agents: new Set(r.map((x) => toStr(x.agent_id))), config_seq: r[0] === undefined || r[0].config_seq === null ? null : toNumber(r[0].config_seq) };
  }

  async spendWithHoldsMany(
    orgId: string,
    keys: readonly { agent_id: string; day: string; month: string }[],
    now: Date,
  ): Promise<Map<string, { daily: bigint; monthly: bigint }>> {
    // spendWithHolds for many windows in one statement (one snapshot), keyed agent\0day\0month.
    const at = now.toISOString();
    const r = await rows(
      this.db,
      sql`select k.agent_id, k.day, k.month,
            coalesce((select amount_minor from spend_rollups where org_id = ${orgId} and agent_id = k.agent_id and period = 'D' || k.day), 0)
            + coalesce((select sum(amount_minor) from authorizations where org_id = ${orgId} and agent_id = k.agent_id
                and status = 'held' and expires_at > ${at}::timestamptz and day = k.day), 0) as daily,
            coalesce((select amount_minor from spend_rollups where org_id = ${orgId} and agent_id = k.agent_id and period = 'M' || k.month), 0)
            + coalesce((select sum(amount_minor) from authorizations where org_id = ${orgId} and agent_id = k.agent_id
                and status = 'held' and expires_at > ${at}::timestamptz and month = k.month), 0) as monthly
          from unnest(${keys.map((k) => k.agent_id)}::text[], ${keys.map((k) => k.day)}::text[], ${keys.map((k) => k.month)}::text[]) as k(agent_id, day, month)`,
    );
    return new Map(r.map((x) => [`${toStr(x.agent_id)}\u0000${toStr(x.day)}\u0000${toStr(x.month)}`, { daily: toBigInt(x.daily), monthly: toBigInt(x.monthly) }]));
  }

  async insertAuthorizations(as: readonly AuthorizationRow[]): Promise<void> {
    if (as.length === 0) return;
    const col = <T>(f: (a: AuthorizationRow) => T): T[] => as.map(f);
    // Reasons travel as one JSON array per row: unnest would flatten a two-dimensional text[].
    await sql`insert into authorizations (authorization_id, org_id, agent_id, requested_by, ts, day, month, amount_minor,
                decision, reasons, policy_snapshot_id, status, expires_at, created_at, settled_tx_id)
              select id, org_id, agent_id, requested_by, ts, day, month, amount_minor, decision,
                array(select jsonb_array_elements_text(reasons::jsonb)), policy_snapshot_id, status, expires_at, created_at, null
              from unnest(${col((a) => a.authorization_id)}::uuid[], ${col((a) => a.org_id)}::text[], ${col((a) => a.agent_id)}::text[],
                ${col((a) => a.requested_by)}::text[], ${col((a) => a.ts.toISOString())}::timestamptz[], ${col((a) => a.day)}::text[],
                ${col((a) => a.month)}::text[], ${col((a) => a.amount_minor.toString())}::bigint[], ${col((a) => a.decision)}::text[],
                ${col((a) => JSON.stringify(a.reasons))}::text[], ${col((a) => a.policy_snapshot_id)}::text[], ${col((a) => a.status)}::text[],
                ${col((a) => a.expires_at.toISOString())}::timestamptz[], ${col((a) => a.created_at.toISOString())}::timestamptz[])
                as x(id, org_id, agent_id, requested_by, ts, day, month, amount_minor, decision, reasons, policy_snapshot_id, status, expires_at, created_at)`.execute(this.db);
  }

  async setAuthorizationStatus(orgId: string, id: string, status: AuthorizationRow['status'], settledTxId: string | null): Promise<boolean> {
    const r = await sql`update authorizations set status = ${status}, settled_tx_id = ${settledTxId}::uuid
              where org_id = ${orgId} and authorization_id = ${id}::uuid and status = 'held'`.execute(this.db);
    return (r.numAffectedRows ?? 0n) > 0n;
  }

  async decideAuthorization(
    orgId: string,
    id: string,
    d: { status: 'held' | 'rejected'; approved_by: string | null; approval_id: string; expires_at: Date },
  ): Promise<boolean> {
    const r = await sql`update authorizations set status = ${d.status}, approved_by = ${d.approved_by}, approval_id = ${d.approval_id},
                expires_at = ${d.expires_at.toISOString()}::timestamptz
              where org_id = ${orgId} and authorization_id = ${id}::uuid and status = 'pending_approval'`.execute(this.db);
    return (r.numAffectedRows ?? 0n) > 0n;
  }

  async saveExportState(e: ExportState): Promise<void> {
    await sql`insert into audit_exports (org_id, sink, next_seq, planned_first, planned_end, objects_written, last_object, last_error,
                failed_attempts, updated_at)
              values (${e.org_id}, ${e.sink}, ${e.next_seq}, ${e.planned?.first ?? null}, ${e.planned?.end ?? null}, ${e.objects_written},
                ${e.last_object}, ${e.last_error}, ${e.failed_attempts}, ${e.updated_at.toISOString()}::timestamptz)
              on conflict (org_id, sink) do update set next_seq = excluded.next_seq, planned_first = excluded.planned_first,
                planned_end = excluded.planned_end, objects_written = excluded.objects_written, last_object = excluded.last_object,
                last_error = excluded.last_error, failed_attempts = excluded.failed_attempts, updated_at = excluded.updated_at`.execute(this.db);
  }

  async insertRailPayloads(xs: readonly RailPayloadRow[]): Promise<void> {
    // One statement per import chunk rather than one per row.
    if (xs.length === 0) return;
    await sql`insert into rail_payloads (org_id, rail, source_id, seq, payload_sha256, content_type, body, outcome, tx_ids, received_at)
              values ${sql.join(
                xs.map(
                  (x) => sql`(${x.org_id}, ${x.rail}, ${x.source_id}, ${x.seq}, ${x.payload_sha256}, ${x.content_type}, ${x.body}, ${x.outcome},
                    ${JSON.stringify(x.tx_ids)}, ${x.received_at.toISOString()}::timestamptz)`,
                ),
              )}`.execute(this.db);
  }

  async insertRailEndpoint(x: RailEndpointRow): Promise<void> {
    await sql`insert into rail_endpoints (endpoint_id, org_id, rail, secret, label, created_by, created_at, revoked_at)
              values (${x.endpoint_id}, ${x.org_id}, ${x.rail}, ${x.secret}, ${x.label}, ${x.created_by}, ${x.created_at.toISOString()}::timestamptz,
                ${x.revoked_at?.toISOString() ?? null}::timestamptz)`.execute(this.db);
  }

  async revokeRailEndpoint(endpointId: string, at: Date): Promise<void> {
    await sql`update rail_endpoints set revoked_at = ${at.toISOString()}::timestamptz where endpoint_id = ${endpointId} and revoked_at is null`.execute(this.db);
  }

  async insertUser(u: UserRow): Promise<void> {
    await sql`insert into users (user_id, org_id, email, principal, roles, password_hash, created_at, created_by, disabled_at)
              values (${u.user_id}, ${u.org_id}, ${u.email}, ${u.principal}, ${arr(u.roles)}::text[], ${u.password_hash},
                      ${u.created_at.toISOString()}::timestamptz, ${u.created_by}, ${u.disabled_at?.toISOString() ?? null}::timestamptz)`.execute(this.db);
  }

  async updateUser(userId: string, c: { roles: readonly string[]; disabled_at: Date | null }): Promise<void> {
    await sql`update users set roles = ${arr(c.roles)}::text[],
                disabled_at = coalesce(disabled_at, ${c.disabled_at?.toISOString() ?? null}::timestamptz)
              where user_id = ${userId}`.execute(this.db);
  }

  async insertSummary(x: SummaryRow): Promise<void> {
    await sql`insert into summaries (summary_id, org_id, period, scope, version, summary_hash, document, seq, created_at)
              values (${x.summary_id}::uuid, ${x.org_id}, ${x.period}, ${x.scope}, ${x.version}, ${x.summary_hash}, ${x.document},
                ${x.seq}, ${x.created_at.toISOString()}::timestamptz)`.execute(this.db);
  }

  async insertNotifications(ns: readonly NotificationRow[]): Promise<void> {
    for (const n of ns) {
      await sql`insert into notifications (notification_id, org_id, subject_id, channel, payload, status, attempts, last_error, created_at, updated_at)
                values (${n.notification_id}::uuid, ${n.org_id}, ${n.subject_id}, ${n.channel}, ${n.payload}, ${n.status}, ${n.attempts},
                  ${n.last_error}, ${n.created_at.toISOString()}::timestamptz, ${n.updated_at.toISOString()}::timestamptz)`.execute(this.db);
    }
  }

  async recordNotificationAttempt(a: NotificationAttemptRow, status: NotificationRow['status'], at: Date): Promise<void> {
    await sql`insert into notification_attempts (notification_id, attempt, at, ok, http_status, error)
              values (${a.notification_id}::uuid, ${a.attempt}, ${a.at.toISOString()}::timestamptz, ${a.ok}, ${a.http_status}, ${a.error})`.execute(this.db);
    await sql`update notifications set status = ${status}, attempts = ${a.attempt}, last_error = ${a.error},
                updated_at = ${at.toISOString()}::timestamptz
              where notification_id = ${a.notification_id}::uuid`.execute(this.db);
  }
}

/** A pool of exactly one checked-out connection, whose release the unit of work owns. */
function singleConnectionPool(client: pg.PoolClient): { connect(): Promise<pg.PoolClient>; end(): Promise<void> } {
  // A proxy, not a copy: the driver's methods must run on the real client, whose state its
  // socket handlers update.
  const lent = new Proxy(client, {
    get(target, prop) {
      if (prop === 'release') return () => undefined;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { connect: () => Promise.resolve(lent), end: () => Promise.resolve() };
}

const EMPTY_ROOT = Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex');

export class KyselyStore extends Reads implements Store, QboStateStore {
  constructor(
    db: Db,
    readonly engine: Engine,
    readonly pool: pg.Pool | undefined,
  ) {
    super(db);
  }

  get kysely(): Db {
    return this.db;
  }

  async readSnapshot<T>(fn: (reads: StoreReads) => Promise<T>): Promise<T> {
    if (this.pool === undefined) {
      // PGlite has one connection: a transaction on it is a snapshot by construction.
      return this.unitOfWork(fn);
    }
    return this.withClient('begin isolation level repeatable read read only', (db) => fn(new Reads(db)));
  }

  async unitOfWork<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    if (this.pool === undefined) {
      try {
        return await this.db.transaction().execute((trx) => fn(new Writes(trx)));
      } catch (e) {
        throw translateDbError(e);
      }
    }
    // On PostgreSQL the unit of work holds its connection itself, so the same connection serves
    // Kysely queries and COPY.
    return this.withClient('begin', (db, client) => fn(new Writes(db, client)));
  }

  private async withClient<T>(begin: string, fn: (db: Db, client: pg.PoolClient) => Promise<T>): Promise<T> {
    const pool = this.pool;
    if (pool === undefined) throw new SpendtrailError('INTERNAL', 'no connection pool');
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      throw translateDbError(e);
    }
    // While checked out the pool does not listen for the connection's errors; an unheard
    // 'error' event (the server going away mid-transaction) would end the process.
    let lost: unknown;
    const onError = (e: unknown): void => {
      lost = e;
    };
    client.on('error', onError);
    let broken = false;
    let committing = false;
    try {
      await client.query(begin);
      const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: singleConnectionPool(client) }) });
      const result = await fn(db, client);
      committing = true;
      await client.query('commit');
      return result;
    } catch (e) {
      try {
        await client.query('rollback');
      } catch {
        broken = true;
      }
      const translated = translateDbError(lost ?? e);
      // The connection broke while the commit was on its way: the server may have committed.
      // Say so, rather than "not applied"; a retry of a write that went through is a duplicate.
      if (committing && translated instanceof SpendtrailError && translated.code === 'STORE_UNAVAILABLE') {
        throw new SpendtrailError('STORE_UNAVAILABLE', 'the database went away during the commit; the outcome is unknown: retry, a write that went through answers as a duplicate', {
          details: { outcome: 'unknown' },
          cause: translated.cause,
        });
      }
      throw translated;
    } finally {
      client.off('error', onError);
      client.release(broken || lost !== undefined);
    }
  }

  // QuickBooks Online state (migration 007): single statements, outside units of work.

  async getQboConnection(orgId: string): Promise<QboConnectionRow | undefined> {
    const [x] = await rows(this.db, sql`select * from qbo_connections where org_id = ${orgId}`);
    if (x === undefined) return undefined;
    return {
      org_id: toStr(x.org_id),
      realm_id: toStrOrNull(x.realm_id),
      refresh_token: toStrOrNull(x.refresh_token),
      access_token: toStrOrNull(x.access_token),
      access_expires_at: toDateOrNull(x.access_expires_at),
      refresh_expires_at: toDateOrNull(x.refresh_expires_at),
      pending_state: toStrOrNull(x.pending_state),
      pending_state_expires_at: toDateOrNull(x.pending_state_expires_at),
      version: toNumber(x.version),
      connected_by: toStrOrNull(x.connected_by),
      connected_at: toDateOrNull(x.connected_at),
      updated_at: toDate(x.updated_at),
    };
  }

  async putQboConnection(c: QboConnectionRow, expectedVersion: number | null): Promise<boolean> {
    const ts = (d: Date | null): string | null => d?.toISOString() ?? null;
    // Compare-and-set on version: a refresh that lost the race must not overwrite the winner's rotated token.
    const r = await rows(
      this.db,
      sql`insert into qbo_connections (org_id, realm_id, refresh_token, access_token, access_expires_at, refresh_expires_at,
            pending_state, pending_state_expires_at, version, connected_by, connected_at, updated_at)
          values (${c.org_id}, ${c.realm_id}, ${c.refresh_token}, ${c.access_token}, ${ts(c.access_expires_at)}::timestamptz,
            ${ts(c.refresh_expires_at)}::timestamptz, ${c.pending_state}, ${ts(c.pending_state_expires_at)}::timestamptz, ${c.version},
            ${c.connected_by}, ${ts(c.connected_at)}::timestamptz, ${c.updated_at.toISOString()}::timestamptz)
          on conflict (org_id) do update set realm_id = excluded.realm_id, refresh_token = excluded.refresh_token,
            access_token = excluded.access_token, access_expires_at = excluded.access_expires_at,
            refresh_expires_at = excluded.refresh_expires_at, pending_state = excluded.pending_state,
            pending_state_expires_at = excluded.pending_state_expires_at, version = excluded.version,
            connected_by = excluded.connected_by, connected_at = excluded.connected_at, updated_at = excluded.updated_at
          where qbo_connections.version = ${expectedVersion ?? -1}
          returning org_id`,
    );
    return r.length > 0;
  }

  async listQboMappings(orgId: string, realmId: string): Promise<QboMappingRow[]> {
    const r = await rows(this.db, sql`select * from qbo_mappings where org_id = ${orgId} and realm_id = ${realmId} order by kind, key`);
    return r.map((x) => ({
      org_id: toStr(x.org_id),
      realm_id: toStr(x.realm_id),
      kind: toStr(x.kind) as QboMappingRow['kind'],
      key: toStr(x.key),
      qbo_id: toStr(x.qbo_id),
      qbo_name: toStrOrNull(x.qbo_name),
      updated_by: toStr(x.updated_by),
      updated_at: toDate(x.updated_at),
    }));
  }

  async putQboMappings(ms: readonly QboMappingRow[]): Promise<void> {
    if (ms.length === 0) return;
    await rows(
      this.db,
      sql`insert into qbo_mappings (org_id, realm_id, kind, key, qbo_id, qbo_name, updated_by, updated_at)
          select * from unnest(${ms.map((m) => m.org_id)}::text[], ${ms.map((m) => m.realm_id)}::text[], ${ms.map((m) => m.kind)}::text[],
            ${ms.map((m) => m.key)}::text[], ${ms.map((m) => m.qbo_id)}::text[], ${ms.map((m) => m.qbo_name)}::text[],
            ${ms.map((m) => m.updated_by)}::text[], ${ms.map((m) => m.updated_at.toISOString())}::timestamptz[])
          on conflict (org_id, realm_id, kind, key) do update set qbo_id = excluded.qbo_id, qbo_name = excluded.qbo_name,
            updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
    );
  }

  async deleteQboMappings(orgId: string, realmId: string, kind: QboMappingRow['kind'], keys: readonly string[]): Promise<number> {
    const r = await rows(
      this.db,
      sql`delete from qbo_mappings where org_id = ${orgId} and realm_id = ${realmId} and kind = ${kind} and key = any(${arr(keys)}::text[])
          returning key`,
    );
    return r.length;
  }

  async getQboSyncStates(orgId: string, realmId: string, f: { readonly external_ids?: readonly string[]; readonly tx_id?: string }): Promise<QboSyncRow[]> {
    const conds: RawBuilder<unknown>[] = [sql`org_id = ${orgId}`, sql`realm_id = ${realmId}`];
    if (f.external_ids !== undefined) conds.push(sql`external_id = any(${arr(f.external_ids)}::text[])`);
    if (f.tx_id !== undefined) conds.push(sql`tx_ids @> array[${f.tx_id}]::text[]`);
    const r = await rows(this.db, sql`select * from qbo_sync where ${sql.join(conds, sql` and `)} order by entry_date, external_id`);
    return r.map((x) => ({
      org_id: toStr(x.org_id),
      realm_id: toStr(x.realm_id),
      external_id: toStr(x.external_id),
      status: toStr(x.status) as QboSyncRow['status'],
      entity: toStrOrNull(x.entity) as QboSyncRow['entity'],
      generation: toNumber(x.generation),
      request_id: toStrOrNull(x.request_id),
      entry_sha256: toStr(x.entry_sha256),
      sent_sha256: toStrOrNull(x.sent_sha256),
      entry_date: toStr(x.entry_date),
      tx_ids: toStringArray(x.tx_ids),
      qbo_id: toStrOrNull(x.qbo_id),
      sync_token: toStrOrNull(x.sync_token),
      error_code: toStrOrNull(x.error_code),
      error: toStrOrNull(x.error),
      attempts: toNumber(x.attempts),
      created_at: toDate(x.created_at),
      updated_at: toDate(x.updated_at),
      posted_at: toDateOrNull(x.posted_at),
    }));
  }

  async putQboSyncStates(ss: readonly QboSyncRow[]): Promise<void> {
    for (const s of ss) {
      await rows(
        this.db,
        sql`insert into qbo_sync (org_id, realm_id, external_id, status, entity, generation, request_id, entry_sha256, sent_sha256,
              entry_date, tx_ids, qbo_id, sync_token, error_code, error, attempts, created_at, updated_at, posted_at)
            values (${s.org_id}, ${s.realm_id}, ${s.external_id}, ${s.status}, ${s.entity}, ${s.generation}, ${s.request_id},
              ${s.entry_sha256}, ${s.sent_sha256}, ${s.entry_date}, ${arr(s.tx_ids)}::text[], ${s.qbo_id}, ${s.sync_token},
              ${s.error_code}, ${s.error}, ${s.attempts}, ${s.created_at.toISOString()}::timestamptz,
              ${s.updated_at.toISOString()}::timestamptz, ${s.posted_at?.toISOString() ?? null}::timestamptz)
            on conflict (org_id, realm_id, external_id) do update set status = excluded.status, entity = excluded.entity,
              generation = excluded.generation, request_id = excluded.request_id, entry_sha256 = excluded.entry_sha256,
              sent_sha256 = excluded.sent_sha256, entry_date = excluded.entry_date, tx_ids = excluded.tx_ids,
              qbo_id = excluded.qbo_id, sync_token = excluded.sync_token, error_code = excluded.error_code, error = excluded.error,
              attempts = excluded.attempts, updated_at = excluded.updated_at, posted_at = excluded.posted_at`,
      );
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  async insertWebSession(w: WebSessionRow): Promise<void> {
    await run(
      this.db,
      sql`insert into web_sessions (token_hash, org_id, user_id, key_id, principal, roles, display, csrf, created_at, last_seen_at, expires_at, revoked_at)
          values (${w.token_hash}, ${w.org_id}, ${w.user_id}, ${w.key_id}, ${w.principal}, ${arr(w.roles)}::text[], ${w.display}, ${w.csrf},
                  ${w.created_at.toISOString()}::timestamptz, ${w.last_seen_at.toISOString()}::timestamptz,
                  ${w.expires_at.toISOString()}::timestamptz, null)`,
    );
  }

  async getWebSession(tokenHash: string): Promise<WebSessionRow | undefined> {
    const r = await rows(this.db, sql`select * from web_sessions where token_hash = ${tokenHash}`);
    return r[0] === undefined ? undefined : toWebSession(r[0]);
  }

  async touchWebSession(tokenHash: string, at: Date): Promise<void> {
    await run(this.db, sql`update web_sessions set last_seen_at = ${at.toISOString()}::timestamptz where token_hash = ${tokenHash}`);
  }

  async revokeWebSession(tokenHash: string, at: Date): Promise<void> {
    await run(this.db, sql`update web_sessions set revoked_at = ${at.toISOString()}::timestamptz where token_hash = ${tokenHash} and revoked_at is null`);
  }

  async revokeUserSessions(userId: string, at: Date): Promise<void> {
    await run(this.db, sql`update web_sessions set revoked_at = ${at.toISOString()}::timestamptz where user_id = ${userId} and revoked_at is null`);
  }

  async listWebSessions(orgId: string): Promise<WebSessionRow[]> {
    return (await rows(this.db, sql`select * from web_sessions where org_id = ${orgId} order by created_at desc limit 500`)).map(toWebSession);
  }
}

const run = async (db: Db, q: RawBuilder<unknown>): Promise<void> => {
  await rows(db, q);
};

/** Driver errors never leave the adapter raw: they become the product's error type. */
function translateDbError(e: unknown): unknown {
  if (e instanceof SpendtrailError) return e;
  const code = (e as { code?: unknown }).code;
  if (code === '23505') {
    const constraint = (e as { constraint?: unknown }).constraint;
    if (constraint === 'orgs_pkey') return new SpendtrailError('ORG_EXISTS', 'the organisation exists', { field: 'org_id', cause: e });
    return new SpendtrailError('IDEMPOTENCY_CONFLICT', 'a concurrent request wrote the same key; retry to get its result', {
      cause: e,
      details: { constraint: typeof constraint === 'string' ? constraint : 'unknown' },
    });
  }
  if (code === '22003') return new SpendtrailError('INVALID_AMOUNT', 'a value is out of the range the ledger stores', { cause: e });
  if (typeof code === 'string' && code.startsWith('22')) {
    return new SpendtrailError('VALIDATION_FAILED', 'a value was refused by the database', { cause: e });
  }
  if (typeof code === 'string' && /^(08|57P|53)/.test(code)) {
    return new SpendtrailError('STORE_UNAVAILABLE', 'the database is unavailable; the request was not applied', { cause: e });
  }
  // A statement cancelled by statement_timeout (57014) or a lock not granted within lock_timeout
  // (55P03): the transaction rolled back, and a retry may well succeed.
  if (code === '57014' || code === '55P03') {
    return new SpendtrailError('STORE_UNAVAILABLE', 'the database did not answer in time; the request was not applied', { cause: e });
  }
  // The connection itself failed (database down, restarting or unreachable): the driver reports
  // a socket error code, or a message without a SQLSTATE.
  if ((typeof code === 'string' && SOCKET_FAILURES.has(code)) || (code === undefined && e instanceof Error && PG_CONNECTION_FAILURE.test(e.message))) {
    return new SpendtrailError('STORE_UNAVAILABLE', 'the database is unavailable; the request was not applied', { cause: e });
  }
  return e;
}

const SOCKET_FAILURES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** node-postgres's own messages for a connection that ended or never came up. */
const PG_CONNECTION_FAILURE = /^Connection terminated|is not queryable|timeout exceeded when trying to connect/;

function toRailPayload(x: Row): RailPayloadRow {
  // Read as stored, not coerced: verify compares these with the log and must see any change.
  let txIds: string[];
  try {
    const parsed: unknown = JSON.parse(toStr(x.tx_ids));
    txIds = Array.isArray(parsed) ? parsed.map(toStr) : [`unreadable: ${toStr(x.tx_ids)}`];
  } catch {
    txIds = [`unreadable: ${toStr(x.tx_ids)}`];
  }
  return {
    org_id: toStr(x.org_id),
    rail: toStr(x.rail),
    source_id: toStr(x.source_id),
    seq: toNumber(x.seq),
    payload_sha256: toStr(x.payload_sha256),
    content_type: toStr(x.content_type),
    body: toBuffer(x.body),
    outcome: toStr(x.outcome) as RailPayloadRow['outcome'],
    tx_ids: txIds,
    received_at: toDate(x.received_at),
  };
}

function toRailEndpoint(x: Row): RailEndpointRow {
  return {
    endpoint_id: toStr(x.endpoint_id),
    org_id: toStr(x.org_id),
    rail: toStr(x.rail),
    secret: toStr(x.secret),
    label: toStrOrNull(x.label),
    created_by: toStr(x.created_by),
    created_at: toDate(x.created_at),
    revoked_at: toDateOrNull(x.revoked_at),
  };
}
