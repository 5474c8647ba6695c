import type { GlRule } from '../../domain/gl/coding.ts';
import type { TransactionRecord } from '../../domain/ledger/transaction.ts';
import type { Rail } from '../../domain/rails.ts';
import type { Violation } from '../../domain/policy/violation.ts';
import type { SummaryRollup } from '../../domain/summary/rollup.ts';

export interface OrgRow {
  readonly org_id: string;
  readonly name: string;
  readonly reporting_currency: string;
  readonly timezone: string;
  readonly log_origin: string;
  readonly verifier_key: string;
  readonly created_at: Date;
}

export interface AgentRow {
  readonly org_id: string;
  readonly agent_id: string;
  readonly name: string;
  readonly owner: string;
  readonly cluster: string;
  readonly seq: number;
}

export interface AccountRow {
  readonly org_id: string;
  readonly code: string;
  readonly name: string;
  readonly active: boolean;
  readonly seq: number;
}

export interface RuleRow extends GlRule {
  readonly org_id: string;
  readonly active: boolean;
  readonly seq: number;
}

export interface PolicyVersionRow {
  readonly org_id: string;
  readonly agent_id: string;
  readonly version: number;
  readonly snapshot_id: string;
  /** The RFC 8785 bytes of the policy document. */
  readonly document: string;
  readonly valid_from: Date;
  readonly seq: number;
}

/** A non-transaction log entry: its exact canonical bytes and leaf hash. */
export interface LogEntryRow {
  readonly org_id: string;
  readonly seq: number;
  readonly kind: string;
  readonly entity_id: string;
  readonly data: string;
  readonly leaf_hash: Buffer;
}

export interface StoredTransaction {
  readonly record: TransactionRecord;
  readonly leaf_hash: Buffer;
  readonly reporting_minor: bigint;
}

export interface TreeHead {
  readonly size: number;
  readonly frontier: Buffer;
  readonly root: Buffer;
  /** Seq of the last non-transaction entry: configuration read at this value is current. */
  readonly config_seq: number;
}

export interface TileRow {
  readonly level: number;
  readonly idx: number;
  readonly hash: Buffer;
}

export interface CheckpointRow {
  readonly org_id: string;
  readonly tree_size: number;
  readonly root: Buffer;
  readonly note: string;
  readonly created_at: Date;
}

export interface RollupDelta {
  readonly agent_id: string;
  readonly period: string;
  readonly delta: bigint;
}

export interface AuthorizationRow {
  readonly authorization_id: string;
  readonly org_id: string;
  readonly agent_id: string;
  readonly requested_by: string;
  readonly ts: Date;
  readonly day: string;
  readonly month: string;
  readonly amount_minor: bigint;
  readonly decision: 'allow' | 'deny' | 'needs_approval';
  readonly reasons: readonly Violation[];
  readonly policy_snapshot_id: string | null;
  /** `pending_approval`: a needs_approval answer waiting for an approver; it holds nothing yet. */
  readonly status: 'held' | 'settled' | 'released' | 'declined' | 'pending_approval' | 'rejected';
  readonly expires_at: Date;
  readonly created_at: Date;
  readonly settled_tx_id: string | null;
  /** Set when an approver approved a needs_approval authorization. */
  readonly approved_by?: string | null | undefined;
  readonly approval_id?: string | null | undefined;
}

/** A rail's native record as received, and what was made of it (see migration 006). */
export interface RailPayloadRow {
  readonly org_id: string;
  readonly rail: string;
  /** The rail's natural id of the record: a Stripe event id, an x402 network/asset/payer/nonce, a payment hash. */
  readonly source_id: string;
  /** Seq of the `rail_payload` log entry that carries payload_sha256. */
  readonly seq: number;
  /** "sha256:" + hex SHA-256 of body. */
  readonly payload_sha256: string;
  readonly content_type: string;
  readonly body: Buffer;
  /** settled: transactions were made from it; failed: the rail says the payment failed; noted: kept as evidence only. */
  readonly outcome: 'settled' | 'failed' | 'noted';
  readonly tx_ids: readonly string[];
  readonly received_at: Date;
}

/** A rail endpoint (a Stripe webhook endpoint) of an organisation, with the secret it signs with. */
export interface RailEndpointRow {
  readonly endpoint_id: string;
  readonly org_id: string;
  readonly rail: string;
  readonly secret: string;
  readonly label: string | null;
  readonly created_by: string;
  readonly created_at: Date;
  readonly revoked_at: Date | null;
}

export interface SummaryRow {
  readonly summary_id: string;
  readonly org_id: string;
  readonly period: string;
  /** The cluster, or "*" for every agent. */
  readonly scope: string;
  readonly version: number;
  readonly summary_hash: string;
  /** The RFC 8785 bytes of the summary document. */
  readonly document: string;
  readonly seq: number;
  readonly created_at: Date;
}

/** One group of a month's transactions: by agent, by account, by rail, or the total (all keys null). */
export interface SpendGroup {
  readonly by: 'agent' | 'account' | 'rail' | 'total';
  readonly key: string | null;
  readonly net_minor: bigint;
  readonly refunds_minor: bigint;
  readonly transactions: number;
  readonly violating: number;
  readonly over_limit: number;
  readonly blocked_category: number;
  readonly missing_approval: number;
}

export interface ViolatingTransaction {
  readonly tx_id: string;
  readonly seq: number;
  readonly agent_id: string;
  readonly ts: Date;
  readonly reporting_amount: string;
  readonly reporting_minor: bigint;
  readonly violations: readonly Violation[];
}

/** How far an organisation's log is exported to one sink. */
export interface ExportState {
  readonly org_id: string;
  readonly sink: string;
  /** Every entry below this sequence number is confirmed written. */
  readonly next_seq: number;
  /** The segment being written, [first, end), fixed before its first object is put. */
  readonly planned: { readonly first: number; readonly end: number } | null;
  readonly objects_written: number;
  readonly last_object: string | null;
  readonly last_error: string | null;
  readonly failed_attempts: number;
  readonly updated_at: Date;
}

/** A change notice waiting for (or done with) delivery to one channel: the outbox. */
export interface NotificationRow {
  readonly notification_id: string;
  readonly org_id: string;
  /** What the notice is about: a policy change id or a summary id. */
  readonly subject_id: string;
  readonly channel: string;
  /** The notice as JSON. */
  readonly payload: string;
  readonly status: 'pending' | 'delivered' | 'failed';
  readonly attempts: number;
  readonly last_error: string | null;
  readonly created_at: Date;
  readonly updated_at: Date;
}

export interface NotificationAttemptRow {
  readonly notification_id: string;
  readonly attempt: number;
  readonly at: Date;
  readonly ok: boolean;
  readonly http_status: number | null;
  readonly error: string | null;
}

export interface ApiKeyRow {
  readonly key_id: string;
  readonly org_id: string;
  readonly principal: string;
  readonly roles: readonly string[];
  readonly agent_id: string | null;
  readonly secret_hash: string;
  readonly created_at: Date;
  readonly revoked_at: Date | null;
}

/** A person who signs in to the dashboard (migration 008); identity and roles are projections of `user` log entries. */
export interface UserRow {
  readonly user_id: string;
  readonly org_id: string;
  /** Lower-cased; unique across organisations. */
  readonly email: string;
  /** The identity the person acts as (segregation of duties compares it). */
  readonly principal: string;
  readonly roles: readonly string[];
  /** scrypt with its parameters; never logged. */
  readonly password_hash: string;
  readonly created_at: Date;
  readonly created_by: string;
  readonly disabled_at: Date | null;
}

/** A dashboard session: mutable state outside the log, keyed by the SHA-256 of the cookie's token. */
export interface WebSessionRow {
  readonly token_hash: string;
  readonly org_id: string;
  /** Exactly one of user_id (password sign-in) and key_id (API-key sign-in) is set. */
  readonly user_id: string | null;
  readonly key_id: string | null;
  readonly principal: string;
  readonly roles: readonly string[];
  readonly display: string;
  readonly csrf: string;
  readonly created_at: Date;
  readonly last_seen_at: Date;
  readonly expires_at: Date;
  readonly revoked_at: Date | null;
}

export interface TransactionFilter {
  readonly org_id: string;
  readonly agent_id?: string | undefined;
  readonly cluster?: string | undefined;
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
  readonly accounting_code?: string | undefined;
  readonly payment_rail?: Rail | undefined;
  readonly violation?: Violation | undefined;
  /** Keyset cursor: rows strictly after this (ts, seq) in the chosen order. */
  readonly after?: { readonly ts: Date; readonly seq: number } | undefined;
  /** Oldest first (the default) or newest first; both walk the (ts, seq) index. */
  readonly order?: 'asc' | 'desc' | undefined;
  readonly limit: number;
}

/** Reads available both inside and outside a unit of work. */
/** The tree at a signed checkpoint that a verify proved: where an incremental verify resumes. */
export interface VerifiedFrontier {
  readonly org_id: string;
  readonly tree_size: number;
  readonly root: Buffer;
  /** The compact range's frontier hashes (CompactRange.serialize). */
  readonly frontier: Buffer;
  readonly verified_at: Date;
}

export interface StoreReads {
  getOrg(orgId: string): Promise<OrgRow | undefined>;
  listOrgs(): Promise<OrgRow[]>;
  getAgents(orgId: string, agentIds?: readonly string[]): Promise<AgentRow[]>;
  getAccounts(orgId: string): Promise<AccountRow[]>;
  getRules(orgId: string): Promise<RuleRow[]>;
  getPolicyVersions(orgId: string, agentIds?: readonly string[]): Promise<PolicyVersionRow[]>;
  getPolicyBySnapshot(orgId: string, snapshotId: string): Promise<PolicyVersionRow | undefined>;
  getRollups(orgId: string, keys: readonly { agent_id: string; period: string }[]): Promise<Map<string, bigint>>;
  findTransactionsByExternal(
    orgId: string,
    keys: readonly { payment_rail: string; external_id: string }[],
  ): Promise<StoredTransaction[]>;
  findTransactionsById(orgId: string, txIds: readonly string[]): Promise<StoredTransaction[]>;
  /** Sum of refunds/reversals already recorded against each original, in its currency (a negative decimal string). */
  refundedSoFar(orgId: string, txIds: readonly string[]): Promise<Map<string, string>>;
  listTransactions(filter: TransactionFilter): Promise<StoredTransaction[]>;
  getTreeHead(orgId: string): Promise<TreeHead | undefined>;
  latestCheckpoint(orgId: string): Promise<CheckpointRow | undefined>;
  listCheckpoints(orgId: string): Promise<CheckpointRow[]>;
  /** Leaf hashes for seq in [from, to), in order, from both entry tables. */
  leafHashes(orgId: string, from: number, to: number): Promise<Buffer[]>;
  tiles(orgId: string, level: number, fromIdx: number, toIdx: number): Promise<TileRow[]>;
  /** All tiles of an organisation: verify compares them with the recomputed tree. */
  allTiles(orgId: string): Promise<TileRow[]>;
  /** Log entries with seq in [from, to) ordered by seq (verify reads in pages). */
  logEntriesPage(orgId: string, from: number, to: number): Promise<LogEntryRow[]>;
  /** Transactions with seq in [from, to) ordered by seq. */
  transactionsPage(orgId: string, from: number, to: number): Promise<StoredTransaction[]>;
  /** What the last successful verify proved (migration 009), if any. */
  getVerifiedFrontier(orgId: string): Promise<VerifiedFrontier | undefined>;
  /** Highest seq + 1 over both entry tables, and the row count: what the tables hold now. */
  entryStats(orgId: string): Promise<{ maxSeqPlusOne: number; rows: number }>;
  allRollups(orgId: string): Promise<{ agent_id: string; period: string; amount_minor: bigint }[]>;
  getApiKey(keyId: string): Promise<ApiKeyRow | undefined>;
  listApiKeys(orgId: string): Promise<ApiKeyRow[]>;
  getAuthorization(orgId: string, id: string): Promise<AuthorizationRow | undefined>;
  /** Log entries of the given kinds (optionally only these entity ids), in log order. */
  logEntriesOfKinds(orgId: string, kinds: readonly string[], entityIds?: readonly string[]): Promise<LogEntryRow[]>;
  getExportState(orgId: string, sink: string): Promise<ExportState | undefined>;
  getSummaries(orgId: string, filter?: { period?: string; scope?: string; summary_id?: string }): Promise<SummaryRow[]>;
  /** Sums and counts of a period's transactions by agent, GL account and rail, and in total. */
  spendGroups(orgId: string, from: Date, to: Date, agentIds: readonly string[] | null): Promise<SpendGroup[]>;
  /**
   * The same groups as `spendGroups` for whole organisation-local days [fromDay, toDay), added up
   * from the summary rollups: its cost is the number of rollup rows, not of transactions.
   */
  rollupGroups(orgId: string, fromDay: string, toDay: string, agentIds: readonly string[] | null): Promise<SpendGroup[]>;
  /**
   * Summary rollups, all of them or those of the given days, for verify: the live ones, or those
   * the last verify proved (kept beside its frontier).
   */
  summaryRollups(orgId: string, days?: readonly string[], which?: 'live' | 'verified'): Promise<SummaryRollup[]>;
  /** The largest `limit` violating transactions of a period (by reporting amount, then log order). */
  violatingTransactions(orgId: string, from: Date, to: Date, agentIds: readonly string[] | null, limit: number): Promise<ViolatingTransaction[]>;
  /** Notices still to deliver, oldest first, across organisations. */
  pendingNotifications(limit: number, channels: readonly string[]): Promise<NotificationRow[]>;
  listNotifications(orgId: string, subjectId?: string): Promise<NotificationRow[]>;
  notificationAttempts(notificationId: string): Promise<NotificationAttemptRow[]>;
  /** The first and last seq of the entries recorded in [from, to), or null when there are none. */
  seqSpanRecorded(orgId: string, from: Date, to: Date): Promise<{ first: number; last: number } | null>;
  /** Stored rail payloads by (rail, source_id). */
  getRailPayloads(orgId: string, keys: readonly { rail: string; source_id: string }[]): Promise<RailPayloadRow[]>;
  /** Rail payloads whose log entry lies in [fromSeq, toSeq), in log order. */
  railPayloadsPage(orgId: string, fromSeq: number, toSeq: number): Promise<RailPayloadRow[]>;
  getRailEndpoint(endpointId: string): Promise<RailEndpointRow | undefined>;
  listRailEndpoints(orgId: string): Promise<RailEndpointRow[]>;
  getUser(userId: string): Promise<UserRow | undefined>;
  /** By lower-cased email. */
  getUserByEmail(email: string): Promise<UserRow | undefined>;
  listUsers(orgId: string): Promise<UserRow[]>;
  /**
   * The rail record a transaction was made from: its entry follows the transaction's in the same
   * append, so only rail records with seq in (txSeq, txSeq + window] are looked at.
   */
  railPayloadOfTransaction(orgId: string, txId: string, txSeq: number, window: number): Promise<RailPayloadRow | undefined>;
  /** Count of a period's transactions per violation kind (one aggregate, no rows read out). */
  violationCounts(orgId: string, from: Date, to: Date): Promise<Map<string, number>>;
}

/** Writes, only inside a unit of work. */
export interface StoreTx extends StoreReads {
  /** Locks the organisation's tree for appending; returns its head (created empty if absent). */
  lockTree(orgId: string): Promise<TreeHead>;
  saveTree(orgId: string, head: TreeHead, tiles: readonly TileRow[], checkpoint: CheckpointRow | null, at: Date): Promise<void>;
  /** Records a verified frontier; an older one (smaller tree) never replaces a newer one. */
  /** False when a verify of a larger tree saved its frontier first (the newer proof stays). */
  saveVerifiedFrontier(f: VerifiedFrontier): Promise<boolean>;
  /** What a verify proved the summary rollups to be: all of them (a full verify) or some. */
  saveVerifiedRollups(orgId: string, rollups: readonly SummaryRollup[], replaceAll: boolean): Promise<void>;
  insertOrg(org: OrgRow): Promise<void>;
  insertLogEntries(rows: readonly LogEntryRow[]): Promise<void>;
  insertTransactions(orgId: string, rows: readonly StoredTransaction[]): Promise<void>;
  upsertAgent(row: AgentRow): Promise<void>;
  upsertAccount(row: AccountRow): Promise<void>;
  upsertRule(row: RuleRow): Promise<void>;
  insertPolicyVersion(row: PolicyVersionRow): Promise<void>;
  /** Adds to the budget windows' spend and, in the same statement, to the summary rollups. */
  addRollups(orgId: string, deltas: readonly RollupDelta[], summary?: readonly SummaryRollup[]): Promise<void>;
  insertApiKey(row: ApiKeyRow): Promise<void>;
  revokeApiKey(keyId: string, at: Date): Promise<void>;
  /** Serialises authorizations of one agent (row lock on the agent). */
  lockAgent(orgId: string, agentId: string): Promise<boolean>;
  /** Held (unexpired) reservations and settled spend in one snapshot, for one agent's windows. */
  spendWithHolds(orgId: string, agentId: string, day: string, month: string, now: Date): Promise<{ daily: bigint; monthly: bigint }>;
  insertAuthorization(row: AuthorizationRow): Promise<void>;
  /**
   * lockAgent for several agents at once, in agent-id order; returns those that exist and the
   * tree head's config_seq (null before the first append).
   */
  lockAgents(orgId: string, agentIds: readonly string[]): Promise<{ agents: Set<string>; config_seq: number | null }>;
  /** spendWithHolds for many windows in one statement, keyed `agent\0day\0month`. */
  spendWithHoldsMany(orgId: string, keys: readonly { agent_id: string; day: string; month: string }[], now: Date): Promise<Map<string, { daily: bigint; monthly: bigint }>>;
  insertAuthorizations(rows: readonly AuthorizationRow[]): Promise<void>;
  /** Moves a hold that is still open; false when it was already settled, released or declined. */
  setAuthorizationStatus(orgId: string, id: string, status: AuthorizationRow['status'], settledTxId: string | null): Promise<boolean>;
  /** Moves a pending_approval authorization to held (approved) or rejected; false when it was not pending. */
  decideAuthorization(
    orgId: string,
    id: string,
    decision: { status: 'held' | 'rejected'; approved_by: string | null; approval_id: string; expires_at: Date },
  ): Promise<boolean>;
  insertNotifications(rows: readonly NotificationRow[]): Promise<void>;
  insertSummary(row: SummaryRow): Promise<void>;
  saveExportState(state: ExportState): Promise<void>;
  insertRailPayloads(rows: readonly RailPayloadRow[]): Promise<void>;
  insertRailEndpoint(row: RailEndpointRow): Promise<void>;
  revokeRailEndpoint(endpointId: string, at: Date): Promise<void>;
  insertUser(row: UserRow): Promise<void>;
  /** Sets roles and disabled_at (a disabled user stays disabled). */
  updateUser(userId: string, change: { roles: readonly string[]; disabled_at: Date | null }): Promise<void>;
  recordNotificationAttempt(attempt: NotificationAttemptRow, status: NotificationRow['status'], at: Date): Promise<void>;
}

export interface Store extends StoreReads {
  readonly engine: 'postgres' | 'pglite';
  unitOfWork<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /** Reads that all see one snapshot of the database (REPEATABLE READ, read only). */
  readSnapshot<T>(fn: (reads: StoreReads) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  // Dashboard sessions: single statements outside units of work (not log entries).
  insertWebSession(row: WebSessionRow): Promise<void>;
  getWebSession(tokenHash: string): Promise<WebSessionRow | undefined>;
  touchWebSession(tokenHash: string, at: Date): Promise<void>;
  revokeWebSession(tokenHash: string, at: Date): Promise<void>;
  /** Ends every open session of a user (disabled, roles changed). */
  revokeUserSessions(userId: string, at: Date): Promise<void>;
  listWebSessions(orgId: string): Promise<WebSessionRow[]>;
}

/** An organisation's QuickBooks Online connection (migration 007). Tokens are ciphertexts, never plain text. */
export interface QboConnectionRow {
  readonly org_id: string;
  /** The QuickBooks company; null while an authorization is pending and none was completed before. */
  readonly realm_id: string | null;
  readonly refresh_token: string | null;
  readonly access_token: string | null;
  readonly access_expires_at: Date | null;
  readonly refresh_expires_at: Date | null;
  /** The OAuth `state` of an authorization started and not completed yet. */
  readonly pending_state: string | null;
  readonly pending_state_expires_at: Date | null;
  /** Bumped on every write: token writes compare it, so a rotated refresh token is never lost to a concurrent refresh. */
  readonly version: number;
  readonly connected_by: string | null;
  readonly connected_at: Date | null;
  readonly updated_at: Date;
}

/** A journal account code (kind account) or merchant (kind vendor) → a QuickBooks Account or Vendor id, per company. */
export interface QboMappingRow {
  readonly org_id: string;
  readonly realm_id: string;
  readonly kind: 'account' | 'vendor';
  readonly key: string;
  readonly qbo_id: string;
  readonly qbo_name: string | null;
  readonly updated_by: string;
  readonly updated_at: Date;
}

/** The sync state of one journal entry in one QuickBooks company. */
export interface QboSyncRow {
  readonly org_id: string;
  readonly realm_id: string;
  /** The journal entry's external id (ST-…, STR-…). */
  readonly external_id: string;
  readonly status: 'pending' | 'posted' | 'failed';
  /** What it is (or was last sent as) in QuickBooks; null before the first attempt. */
  readonly entity: 'JournalEntry' | 'Purchase' | null;
  /** Definitive refusals so far: part of the requestid, so a refused entry can be sent again. */
  readonly generation: number;
  readonly request_id: string | null;
  /** Hash of the entry's content now (date, lines, tx ids). */
  readonly entry_sha256: string;
  /** Hash of the content last sent: what QuickBooks holds once posted. */
  readonly sent_sha256: string | null;
  readonly entry_date: string;
  readonly tx_ids: readonly string[];
  readonly qbo_id: string | null;
  readonly sync_token: string | null;
  readonly error_code: string | null;
  readonly error: string | null;
  readonly attempts: number;
  readonly created_at: Date;
  readonly updated_at: Date;
  readonly posted_at: Date | null;
}

/**
 * QuickBooks Online state: single statements outside units of work, since none of it is in the
 * log and each write stands alone (a sync records each entry's outcome as soon as it has it).
 */
export interface QboStateStore {
  getQboConnection(orgId: string): Promise<QboConnectionRow | undefined>;
  /** Writes the row when the stored version is `expectedVersion` (null: no row yet); false when another writer came first. */
  putQboConnection(row: QboConnectionRow, expectedVersion: number | null): Promise<boolean>;
  listQboMappings(orgId: string, realmId: string): Promise<QboMappingRow[]>;
  putQboMappings(rows: readonly QboMappingRow[]): Promise<void>;
  deleteQboMappings(orgId: string, realmId: string, kind: QboMappingRow['kind'], keys: readonly string[]): Promise<number>;
  /** States by entry external ids, or of the entries holding a transaction, or all of a company. */
  getQboSyncStates(orgId: string, realmId: string, filter: { readonly external_ids?: readonly string[]; readonly tx_id?: string }): Promise<QboSyncRow[]>;
  putQboSyncStates(rows: readonly QboSyncRow[]): Promise<void>;
}
