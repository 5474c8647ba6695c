import { openCheckpoint } from '../domain/checkpoint/checkpoint.ts';
import type { NoteVerifier } from '../domain/checkpoint/note-key.ts';
import { parseVerifierKey } from '../domain/checkpoint/note-key.ts';
import { SpendtrailError } from '../domain/errors.ts';
import { reevaluate } from '../domain/ledger/reevaluate.ts';
import { CompactRange } from '../domain/merkle/compact-range.ts';
import { leafHash } from '../domain/merkle/tree-hash.ts';
import { findCurrency } from '../domain/money/currency.ts';
import { formatMinor, fxConsistent, parseDecimal } from '../domain/money/decimal.ts';
import { budgetAmount } from '../domain/policy/evaluate.ts';
import type { CompiledPolicy, PolicyDocument } from '../domain/policy/policy.ts';
import { compilePolicy, policySnapshotId } from '../domain/policy/policy.ts';
import { canonicalize } from '../domain/canonical/jcs.ts';
import { contentHash, snapshotId } from '../domain/hash.ts';
import type { Instant } from '../domain/time.ts';
import { localDay } from '../domain/time.ts';
import type { AppDeps } from './deps.ts';
import { TILE_LEVELS } from './log-sealer.ts';
import type { LogEntryRow, StoredTransaction, StoreReads, VerifiedFrontier } from './ports/store.ts';
import type { Principal } from './principal.ts';
import { requireRole } from './principal.ts';
import { SummaryRollupCheck } from './summary-rollup-check.ts';
import type { ProvedRollups } from './summary-rollup-check.ts';
import { inThreadLeafHasher, startLeafHasher, verifyWorkerSetting } from './verify-leaves.ts';

export interface VerifyFinding {
  /** The first entry (log sequence number) the finding is about, when one can be named. */
  readonly seq: number | null;
  readonly what: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly org_id: string;
  readonly entries_checked: number;
  readonly checkpoints_checked: number;
  readonly tree_size: number;
  readonly root: string | null;
  /** Findings in log order; the first names the first entry that failed. */
  readonly findings: VerifyFinding[];
  readonly elapsed_ms: number;
  /**
   * 'full' recomputed the whole tree; 'incremental' resumed from the tree a previous verify
   * proved at a signed checkpoint (`resumed_from` entries) and checked the entries after it.
   */
  readonly mode: 'full' | 'incremental';
  readonly resumed_from: number;
}

export interface VerifyOptions {
  /**
   * Resume from the last verified frontier when there is one that still matches its signed
   * checkpoint; otherwise (or when false) verify everything. Either way a successful verify
   * records the tree at its latest signed checkpoint as the new frontier.
   */
  readonly incremental?: boolean;
}

/** The tree a verify proved at a signed checkpoint. */
interface Proved {
  readonly size: number;
  readonly root: Buffer;
  readonly frontier: Buffer;
}

// Small enough that a page and the one being fetched stay in the young generation of the heap.
const PAGE = 5_000;
const MAX_FINDINGS = 100;
// Starting a worker thread costs tens of milliseconds of CPU: below this many entries, hashing
// on the verifying thread finishes first.
const WORKERS_FROM = 20_000;

/** One page of rows, and the leaf hashes of its transactions (in `txs` order) being computed. */
interface Page {
  readonly from: number;
  readonly to: number;
  readonly entries: LogEntryRow[];
  readonly txs: StoredTransaction[];
  readonly leaves: Promise<Buffer>;
}

/**
 * Recomputes everything from the stored rows and the pinned verifier key: every entry's
 * canonical bytes and leaf hash, the sequence (no gap, duplicate or reordering), the tree root
 * at every signed checkpoint, the stored tiles and head, each transaction's evaluation against
 * the policy it names, the spend windows, and every projection table against the log.
 */
export async function verifyLog(deps: AppDeps, by: Principal, verifier: NoteVerifier, opts: VerifyOptions = {}): Promise<VerifyReport> {
  requireRole(by, 'admin', 'auditor', 'finance');
  // One consistent snapshot: on a live system a write committing between two reads would
  // otherwise look like an entry nobody signed.
  const { report, proved } = await deps.store.readSnapshot(async (store) => {
    const resume = opts.incremental === true ? await store.getVerifiedFrontier(by.org_id) : undefined;
    // A frontier that no longer matches its signed checkpoint proves nothing: start over.
    const result = (resume === undefined ? null : await verifyIn(store, by, verifier, resume)) ?? (await verifyIn(store, by, verifier, null));
    if (result === null) throw new SpendtrailError('INTERNAL', 'a full verify cannot fail to start');
    return result;
  });
  if (report.ok && proved !== null && proved.size > report.resumed_from) {
    await deps.store.unitOfWork(async (tx) => {
      // The frontier row is locked by its upsert, so concurrent verifies save one after another
      // and the rollups kept are always those of the frontier kept.
      const saved = await tx.saveVerifiedFrontier({ org_id: by.org_id, tree_size: proved.size, root: proved.root, frontier: proved.frontier, verified_at: new Date(deps.clock.now()) });
      if (saved) await tx.saveVerifiedRollups(by.org_id, proved.rollups.rollups, proved.rollups.replaceAll);
    });
  }
  return report;
}

/**
 * One pass over the log, from the start or from `resume`. Null when `resume` does not hash to
 * the root signed at its size (or that checkpoint is gone): the caller then verifies in full.
 */
async function verifyIn(
  store: StoreReads,
  by: Principal,
  verifier: NoteVerifier,
  resume: VerifiedFrontier | null,
): Promise<{ report: VerifyReport; proved: (Proved & { readonly rollups: ProvedRollups }) | null } | null> {
  const started = performance.now();
  const orgId = by.org_id;
  const findings: VerifyFinding[] = [];
  const fail = (seq: number | null, what: string): void => {
    if (findings.length < MAX_FINDINGS) findings.push({ seq, what });
  };
  const org = await store.getOrg(orgId);
  if (org === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `no organisation ${orgId}`);
  const reporting = findCurrency(org.reporting_currency);
  const exp = reporting?.exponent ?? 2;

  // 1. Checkpoints: each must be signed by the pinned key, for this log, and agree with its row.
  const cps = await store.listCheckpoints(orgId);
  const signed = new Map<number, Buffer>();
  for (const cp of cps) {
    try {
      const c = openCheckpoint(cp.note, verifier);
      if (c.origin !== org.log_origin) fail(null, `checkpoint at size ${cp.tree_size} is for log "${c.origin}", not "${org.log_origin}"`);
      else if (c.size !== cp.tree_size || !c.root.equals(cp.root)) fail(null, `checkpoint row at size ${cp.tree_size} does not match its signed note`);
      else signed.set(c.size, c.root);
    } catch (e) {
      fail(null, `checkpoint at size ${cp.tree_size}: ${(e as Error).message}`);
    }
  }
  const signedSizes = [...signed.keys()].sort((a, b) => a - b);
  const latestSigned = signedSizes[signedSizes.length - 1] ?? 0;
  // The pinned key is what counts; a different key recorded for the organisation is worth saying.
  if (!sameKey(org.verifier_key, verifier)) fail(null, 'the verifier key recorded for the organisation is not the pinned key');

  // 2. Stream every entry in sequence order and rebuild the tree from recomputed leaves.
  const recomputedTiles = new Map<string, Buffer>();
  const onSubtree = (level: number, idx: number, hash: Buffer): void => {
    if (TILE_LEVELS.has(level)) recomputedTiles.set(`${level}:${idx}`, hash);
  };
  const stats = await store.entryStats(orgId);
  const top = Math.max(stats.maxSeqPlusOne, latestSigned);
  // Resuming: the stored frontier must rebuild exactly the root signed at its size, which is
  // what makes the entries after it an extension of the tree already proved (a consistency
  // check against every later signed root follows as the new leaves are appended).
  let start = 0;
  let range: CompactRange;
  if (resume !== null) {
    const signedRoot = signed.get(resume.tree_size);
    let resumed: CompactRange;
    try {
      resumed = CompactRange.deserialize(resume.tree_size, resume.frontier, onSubtree);
    } catch {
      return null;
    }
    if (signedRoot === undefined || !signedRoot.equals(resume.root) || !resumed.root().equals(signedRoot) || resume.tree_size > stats.maxSeqPlusOne) return null;
    range = resumed;
    start = resume.tree_size;
  } else {
    range = CompactRange.empty(onSubtree);
  }
  // Set while pages are checked (in a closure): typed so the compiler does not take it as null.
  let proved = null as Proved | null;
  let cpIndex = signedSizes.findIndex((size) => size > start);
  if (cpIndex < 0) cpIndex = signedSizes.length;
  let firstRootMismatch: number | null = null;
  let lastConfigSeq = -1;
  // The first entry since the last checkpoint whose own bytes or place are wrong: a root
  // mismatch names it, since the root alone only says "somewhere in [prev, size)".
  let firstBadLeaf: number | null = null;
  const badLeaf = (seq: number): void => {
    firstBadLeaf ??= seq;
  };
  const policies = new Map<string, CompiledPolicy>();
  const rollups = new Map<string, bigint>();
  const summaryRollups = new SummaryRollupCheck();
  const replay = new Replay();
  let checked = 0;

  // The configuration entries before the frontier (agents, policies, keys…) are few: they are
  // re-read and re-checked, since every later transaction is judged against them, but they were
  // already hashed into the tree the frontier stands for.
  if (start > 0) {
    for (const e of await store.logEntriesPage(orgId, 0, start)) {
      lastConfigSeq = e.seq;
      survive(e.seq, fail, () => checkLogEntry(e, orgId, fail, policies, replay));
      if (!leafHash(e.data).equals(e.leaf_hash)) fail(e.seq, `entry ${e.seq} (${e.kind} ${e.entity_id}): stored bytes do not match the stored leaf hash`);
    }
  }

  // Pages are pipelined three deep: while this thread checks page p in log order, worker
  // threads hash the leaves of page p+1 and the database reads page p+2 (on PostgreSQL each on
  // its own core). Leaf hashes depend on nothing but their own row; everything that depends on
  // order (the tree, running totals, policy state, findings) is done here, seq by seq.
  const fetchPage = (from: number): Promise<[LogEntryRow[], StoredTransaction[]]> => {
    const to = Math.min(top, from + PAGE);
    return Promise.all([store.logEntriesPage(orgId, from, to), store.transactionsPage(orgId, from, to)]);
  };
  const hashPage = (from: number, [entries, txs]: [LogEntryRow[], StoredTransaction[]]): Page => {
    const leaves = hasher.hash(txs.map((t) => t.record));
    leaves.catch(() => undefined);
    return { from, to: Math.min(top, from + PAGE), entries, txs, leaves };
  };

  const checkPage = async ({ from, to, entries, txs, leaves }: Page): Promise<void> => {
    const txLeaves = await leaves;
    // Both pages are in seq order: walk them side by side instead of merging and sorting.
    let ei = 0;
    let ti = 0;
    for (let seq = from; seq < to; seq++) {
      const e0 = ei;
      const t0 = ti;
      while (ei < entries.length && (entries[ei] as LogEntryRow).seq === seq) ei++;
      while (ti < txs.length && (txs[ti] as StoredTransaction).record.seq === seq) ti++;
      const rows = ei - e0 + (ti - t0);
      if (rows === 0) {
        fail(seq, `entry ${seq} is missing (deleted, or the log was cut)`);
        badLeaf(seq);
        if (seq >= stats.maxSeqPlusOne) return;
        range.append(Buffer.alloc(32));
        continue;
      }
      if (rows > 1) {
        fail(seq, `entry ${seq} appears ${rows} times (an inserted row)`);
        badLeaf(seq);
      }
      // Of several rows claiming one seq, the log entry (if any) is the one put in the tree.
      let leaf: Buffer;
      if (ei > e0) {
        const e = entries[e0] as LogEntryRow;
        lastConfigSeq = seq;
        leaf = leafHash(e.data);
        survive(seq, fail, () => checkLogEntry(e, orgId, fail, policies, replay));
        if (!leaf.equals(e.leaf_hash)) {
          fail(seq, `entry ${seq} (${e.kind} ${e.entity_id}): stored bytes do not match the stored leaf hash`);
          badLeaf(seq);
        }
      } else {
        const t = txs[t0] as StoredTransaction;
        const r = t.record;
        leaf = txLeaves.subarray(t0 * 32, t0 * 32 + 32);
        if (!leaf.equals(t.leaf_hash)) {
          fail(seq, `entry ${seq} (transaction ${r.tx_id}): a stored field differs from what was hashed`);
          badLeaf(seq);
        }
        if (r.org_id !== orgId) fail(seq, `entry ${seq} belongs to organisation ${r.org_id}`);
        let day: string | undefined;
        survive(seq, fail, () => {
          day = checkTransaction(t, org.timezone, exp, policies, rollups, start > 0, fail);
        });
        // Each verified transaction, in log order, with its reporting amount: per-transaction
        // accumulators that depend on order go here.
        summaryRollups.add(r, t.reporting_minor, day ?? dayOf(r.timestamp, org.timezone));
      }
      range.append(leaf);
      checked++;
      while (cpIndex < signedSizes.length && signedSizes[cpIndex] === range.size) {
        const size = signedSizes[cpIndex] as number;
        if (!range.root().equals(signed.get(size) as Buffer) && firstRootMismatch === null) {
          firstRootMismatch = size;
          const prev = signedSizes[cpIndex - 1] ?? 0;
          fail(firstBadLeaf ?? prev, `the entries in [${prev}, ${size}) do not hash to the root signed at size ${size}: one of them was rewritten`);
        }
        cpIndex++;
        firstBadLeaf = null;
      }
      if (range.size === latestSigned) proved = { size: range.size, root: range.root(), frontier: range.serialize() };
    }
  };

  // Threads pay off over many pages; a small log (or a resumed verify with little new) is
  // hashed here unless SPENDTRAIL_VERIFY_WORKERS asks for threads explicitly.
  const setting = verifyWorkerSetting();
  const hasher = top - start >= WORKERS_FROM || setting.explicit ? startLeafHasher(setting.count) : inThreadLeafHasher();
  try {
    let next = top > start ? fetchPage(start) : null;
    let hashing: Page | null = null;
    for (let from = start; from < top; from += PAGE) {
      const page = await (next as Promise<[LogEntryRow[], StoredTransaction[]]>);
      next = from + PAGE < top ? fetchPage(from + PAGE) : null;
      next?.catch(() => undefined);
      const ready = hashing;
      hashing = hashPage(from, page);
      if (ready !== null) await checkPage(ready);
    }
    if (hashing !== null) await checkPage(hashing);
  } finally {
    await hasher.close();
  }

  if (stats.maxSeqPlusOne < latestSigned) {
    fail(stats.maxSeqPlusOne, `the log ends at ${stats.maxSeqPlusOne} entries but a checkpoint was signed at size ${latestSigned}: it was truncated`);
  }
  if (stats.maxSeqPlusOne > latestSigned) {
    fail(latestSigned, `entries from ${latestSigned} on are not covered by any signed checkpoint (inserted behind the product's back)`);
  }

  // 3. Stored tiles and head are caches of the tree: they must match the recomputation.
  for (const t of await store.allTiles(orgId)) {
    // Resumed: the tiles completed before the frontier were checked by the verify that proved it.
    if ((t.idx + 1) * 2 ** t.level <= start) continue;
    const want = recomputedTiles.get(`${t.level}:${t.idx}`);
    if (want === undefined || !want.equals(t.hash)) fail(t.idx * 2 ** t.level, `stored tree node at level ${t.level}, index ${t.idx} is wrong`);
  }
  const head = await store.getTreeHead(orgId);
  if (head === undefined ? range.size > 0 : head.size !== range.size || !head.root.equals(range.root()) || !head.frontier.equals(range.serialize())) {
    fail(null, `the tree head (size ${head?.size ?? 'missing'}) does not match the entries (size ${range.size})`);
  }
  if (head !== undefined && head.config_seq !== lastConfigSeq) {
    // Writers reuse configuration while config_seq is unchanged: a wrong value would let stale
    // limits judge new payments.
    fail(null, `the tree head's configuration marker (${head.config_seq}) is not the last configuration entry (${lastConfigSeq})`);
  }

  // 4. Projections: what the product reads must be what the log says.
  await replay.compare(store, orgId, fail);
  const stored = new Map((await store.allRollups(orgId)).map((r) => [`${r.agent_id}\u0000${r.period}`, r.amount_minor]));
  for (const [k, v] of rollups) {
    if ((stored.get(k) ?? 0n) !== v) fail(null, `spend total ${k.replace('\u0000', ' ')} is ${formatMinor(stored.get(k) ?? 0n, exp)}, the ledger says ${formatMinor(v, exp)}`);
    stored.delete(k);
  }
  // Resumed, the totals of windows with no new transaction were checked by an earlier verify.
  if (start === 0) for (const [k, v] of stored) if (v !== 0n) fail(null, `spend total ${k.replace('\u0000', ' ')} has no transactions behind it`);

  const provedRollups = await summaryRollups.compare(store, orgId, start > 0, fail);

  findings.sort((a, b) => (a.seq ?? Infinity) - (b.seq ?? Infinity));
  const report: VerifyReport = {
    ok: findings.length === 0,
    org_id: orgId,
    entries_checked: checked,
    checkpoints_checked: signedSizes.length,
    tree_size: range.size,
    root: range.size === 0 ? null : range.root().toString('base64'),
    findings,
    elapsed_ms: Math.round(performance.now() - started),
    mode: start === 0 ? 'full' : 'incremental',
    resumed_from: start,
  };
  return { report, proved: proved === null ? null : { ...proved, rollups: provedRollups } };
}

type Fail = (seq: number | null, what: string) => void;

function sameKey(text: string, pinned: NoteVerifier): boolean {
  try {
    const k = parseVerifierKey(text);
    return k.name === pinned.name && k.keyId.equals(pinned.keyId) && k.publicKey.equals(pinned.publicKey);
  } catch {
    return false;
  }
}

/** A tampered value the checks cannot even parse is a finding about its entry, not a crash of verify. */
function survive(seq: number, fail: Fail, check: () => void): void {
  try {
    check();
  } catch (e) {
    fail(seq, `entry ${seq}: ${(e as Error).message}`);
  }
}

function checkLogEntry(e: LogEntryRow, orgId: string, fail: Fail, policies: Map<string, CompiledPolicy>, replay: Replay): void {
  let parsed: { kind?: unknown; seq?: unknown; org_id?: unknown; entity_id?: unknown; body?: unknown; recorded_by?: unknown };
  try {
    parsed = JSON.parse(e.data) as typeof parsed;
  } catch {
    fail(e.seq, `entry ${e.seq} is not valid JSON`);
    return;
  }
  if (canonicalize(parsed) !== e.data) fail(e.seq, `entry ${e.seq} is not in canonical form`);
  if (parsed.seq !== e.seq || parsed.kind !== e.kind || parsed.org_id !== orgId || parsed.entity_id !== e.entity_id) {
    fail(e.seq, `entry ${e.seq}: its columns (seq, kind, organisation, entity) differ from its hashed content`);
    return;
  }
  replay.apply(e, parsed.body, fail);
  if (e.kind === 'policy_version') {
    const body = parsed.body as { policy_snapshot_id?: string; document?: PolicyDocument };
    if (body.document !== undefined && body.policy_snapshot_id !== undefined) {
      if (policySnapshotId(body.document) !== body.policy_snapshot_id) fail(e.seq, `policy version ${e.entity_id}: snapshot id does not match its document`);
      policies.set(body.policy_snapshot_id, compilePolicy(body.document));
    }
  }
}

function checkTransaction(
  t: StoredTransaction,
  timezone: string,
  exp: number,
  policies: Map<string, CompiledPolicy>,
  rollups: Map<string, bigint>,
  resumed: boolean,
  fail: Fail,
): string {
  const r = t.record;
  const amount = parseDecimal(r.reporting_amount, exp, { allowNegative: true, field: 'reporting_amount' });
  if (amount !== t.reporting_minor) fail(r.seq, `transaction ${r.tx_id}: reporting_minor disagrees with reporting_amount`);
  const day = dayOf(r.timestamp, timezone);
  const dKey = `${r.agent_id}\u0000D${day}`;
  const mKey = `${r.agent_id}\u0000M${day.slice(0, 7)}`;
  // Resumed, a window's total before its first new transaction is what that transaction says
  // (its bytes are covered by the tree); every later one must follow from it, and the stored
  // total must be where they end.
  const before = (key: string, text: string): bigint => rollups.get(key) ?? (resumed ? parseDecimal(text, exp, { allowNegative: true, field: 'spend_before' }) : 0n);
  const daily = before(dKey, r.spend_before_daily);
  const monthly = before(mKey, r.spend_before_monthly);
  if (formatMinor(daily, exp) !== r.spend_before_daily || formatMinor(monthly, exp) !== r.spend_before_monthly) {
    fail(r.seq, `transaction ${r.tx_id}: spend before it (${r.spend_before_daily} / ${r.spend_before_monthly}) differs from the ledger's running totals (${formatMinor(daily, exp)} / ${formatMinor(monthly, exp)})`);
  }
  rollups.set(dKey, daily + budgetAmount(amount));
  rollups.set(mKey, monthly + budgetAmount(amount));
  const currency = findCurrency(r.currency);
  if (currency !== undefined && r.fx_rate !== null) {
    const original = parseDecimal(r.amount, currency.exponent, { allowNegative: true, field: 'amount' });
    if (!fxConsistent(original, currency.exponent, r.fx_rate, amount, exp)) {
      fail(r.seq, `transaction ${r.tx_id}: reporting amount ${r.reporting_amount} does not match ${r.amount} ${r.currency} at ${r.fx_rate}`);
    }
  }
  const policy = r.policy_snapshot_id === null ? null : policies.get(r.policy_snapshot_id);
  if (policy === undefined) {
    fail(r.seq, `transaction ${r.tx_id} names policy ${r.policy_snapshot_id} which is not earlier in the log`);
    return day;
  }
  const again = reevaluate(r, policy, exp);
  if (again.join(',') !== r.violations.join(',')) {
    fail(r.seq, `transaction ${r.tx_id}: recorded violations [${r.violations.join(', ')}] but its policy gives [${again.join(', ')}]`);
  }
  return day;
}

const dayCache = new Map<string, string>();

/**
 * localDay, remembered per minute: converting through Intl costs microseconds per call and a
 * month of transactions falls in a few tens of thousands of minutes. Since 1972 every time zone's
 * offset is a whole number of minutes, so one minute has one local day; earlier instants are
 * converted one by one.
 */
function dayOf(instant: string, timezone: string): string {
  if (timezone === 'UTC' || instant < '1972') return localDay(instant as Instant, timezone);
  const key = `${timezone}|${instant.slice(0, 16)}`;
  let day = dayCache.get(key);
  if (day === undefined) {
    if (dayCache.size > 200_000) dayCache.clear();
    day = localDay(instant as Instant, timezone);
    dayCache.set(key, day);
  }
  return day;
}

/** Who wrote an entry and when (milliseconds), from its hashed bytes. */
function envelope(e: LogEntryRow): { recorded_by: unknown; recorded_at: number } {
  const d = JSON.parse(e.data) as { recorded_by?: unknown; recorded_at?: unknown };
  return { recorded_by: d.recorded_by, recorded_at: typeof d.recorded_at === 'string' ? Date.parse(d.recorded_at) : NaN };
}

/** Rebuilds the current state of agents, accounts, rules, policies and keys from the log. */
class Replay {
  readonly agents = new Map<string, unknown>();
  readonly accounts = new Map<string, unknown>();
  readonly rules = new Map<string, unknown>();
  readonly policies = new Map<string, { snapshot: string; document: string; valid_from: unknown; seq: number }>();
  readonly keys = new Map<string, unknown>();
  readonly orgs = new Map<string, unknown>();
  readonly changes = new Map<string, { requiresApproval: boolean; decided: boolean }>();
  readonly summaries = new Map<string, unknown>();
  readonly railPayloads = new Map<string, unknown>();
  readonly railEndpoints = new Map<string, unknown>();
  readonly users = new Map<string, unknown>();

  apply(e: LogEntryRow, body: unknown, fail: Fail): void {
    const b = body as Record<string, unknown>;
    switch (e.kind) {
      case 'agent':
        this.agents.set(e.entity_id, { ...b, seq: e.seq });
        break;
      case 'account':
        this.accounts.set(e.entity_id, { ...b, seq: e.seq });
        break;
      case 'gl_rule':
        this.rules.set(e.entity_id, { ...b, seq: e.seq });
        break;
      case 'policy_version':
        if (typeof b.change_id === 'string' && !this.changes.has(b.change_id)) {
          fail(e.seq, `policy version ${e.entity_id} names change ${b.change_id}, which is not earlier in the log`);
        }
        this.policies.set(e.entity_id, {
          snapshot: String(b.policy_snapshot_id),
          document: canonicalize(b.document),
          valid_from: (b.document as { valid_from?: unknown } | undefined)?.valid_from,
          seq: e.seq,
        });
        break;
      case 'user': {
        // Dashboard users: identity, roles and disabled state; who created them and when is the first entry's.
        const env = envelope(e);
        const prior = this.users.get(e.entity_id) as Record<string, unknown> | undefined;
        this.users.set(e.entity_id, {
          user_id: b.user_id,
          email: b.email,
          principal: b.principal,
          roles: b.roles,
          disabled: b.disabled,
          created_by: prior?.created_by ?? env.recorded_by,
          created_at: prior?.created_at ?? env.recorded_at,
        });
        break;
      }
      case 'api_key':
        this.keys.set(e.entity_id, b);
        break;
      case 'policy_change':
        if (this.changes.has(e.entity_id)) fail(e.seq, `policy change ${e.entity_id} is logged twice`);
        this.changes.set(e.entity_id, { requiresApproval: b.requires_approval === true, decided: false });
        break;
      case 'change_decision': {
        // A decision is about an earlier change that waited for one, and there is only one.
        const c = this.changes.get(e.entity_id);
        if (c === undefined) fail(e.seq, `decision ${e.seq} is about change ${e.entity_id}, which is not earlier in the log`);
        else if (!c.requiresApproval || c.decided) fail(e.seq, `decision ${e.seq} is about change ${e.entity_id}, which was not pending`);
        else c.decided = true;
        break;
      }
      case 'summary':
        this.summaries.set(e.entity_id, { period: b.period, scope: b.scope, version: b.version, summary_hash: b.summary_hash, seq: e.seq });
        break;
      case 'summary_signoff': {
        // A sign-off commits to exactly one earlier summary, by its hash.
        const sm = this.summaries.get(e.entity_id) as { summary_hash?: unknown } | undefined;
        if (sm === undefined) fail(e.seq, `sign-off ${e.seq} is for summary ${e.entity_id}, which is not earlier in the log`);
        else if (sm.summary_hash !== b.summary_hash) fail(e.seq, `sign-off ${e.seq} names a hash that is not summary ${e.entity_id}'s`);
        break;
      }
      case 'rail_payload':
        if (this.railPayloads.has(e.entity_id)) fail(e.seq, `rail record ${e.entity_id} is logged twice`);
        this.railPayloads.set(e.entity_id, {
          payload_sha256: b.payload_sha256,
          content_type: b.content_type,
          outcome: b.outcome,
          tx_ids: b.tx_ids,
          seq: e.seq,
          received_at: envelope(e).recorded_at,
        });
        break;
      case 'rail_endpoint': {
        // The secret is never logged: the entries say which endpoint exists, for which rail, who
        // added it and when, and when it was revoked.
        const env = envelope(e);
        const prior = this.railEndpoints.get(e.entity_id) as Record<string, unknown> | undefined;
        this.railEndpoints.set(e.entity_id, {
          rail: b.rail,
          label: b.label,
          created_by: prior?.created_by ?? env.recorded_by,
          created_at: prior?.created_at ?? env.recorded_at,
          revoked_at: b.revoked === true ? (prior?.revoked_at ?? env.recorded_at) : null,
        });
        break;
      }
      case 'spend_approval':
      case 'org_settings':
      case 'valuation_rules':
        break;
      case 'org':
        this.orgs.set(e.entity_id, b);
        break;
      default:
        fail(e.seq, `entry ${e.seq} has an unknown kind "${e.kind}"`);
    }
  }

  async compare(s: StoreReads, orgId: string, fail: Fail): Promise<void> {
    const diff = (what: string, expected: Map<string, unknown>, actual: Map<string, unknown>): void => {
      for (const [id, want] of expected) {
        const got = actual.get(id);
        if (got === undefined) fail(null, `${what} ${id} is in the log but missing from its table`);
        else if (canonicalize(got) !== canonicalize(want)) fail(null, `${what} ${id} in its table differs from the log`);
      }
      for (const id of actual.keys()) if (!expected.has(id)) fail(null, `${what} ${id} is in its table but not in the log`);
    };
    diff('agent', this.agents, new Map((await s.getAgents(orgId)).map((a) => [a.agent_id, { agent_id: a.agent_id, name: a.name, owner: a.owner, cluster: a.cluster, seq: a.seq }])));
    diff('account', this.accounts, new Map((await s.getAccounts(orgId)).map((a) => [a.code, { code: a.code, name: a.name, active: a.active, seq: a.seq }])));
    diff('GL rule', this.rules, new Map((await s.getRules(orgId)).map((r) => [r.rule_id, { rule_id: r.rule_id, kind: r.kind, match: r.match, account_code: r.account_code, active: r.active, seq: r.seq }])));
    diff('policy version', new Map([...this.policies].map(([k, v]) => [k, v])), new Map((await s.getPolicyVersions(orgId)).map((p) => [`${p.agent_id}@${p.version}`, { snapshot: p.snapshot_id, document: p.document, valid_from: p.valid_from.toISOString(), seq: p.seq }])));
    const org = await s.getOrg(orgId);
    const orgRow = org === undefined ? [] : [[org.org_id, { name: org.name, reporting_currency: org.reporting_currency, timezone: org.timezone, log_origin: org.log_origin, verifier_key: org.verifier_key }] as const];
    diff('organisation', this.orgs, new Map(orgRow));
    // Each stored summary document must hash to what the log says, and match its entry.
    const stored = await s.getSummaries(orgId);
    for (const r of stored) {
      if (snapshotId(r.document) !== r.summary_hash) fail(r.seq, `summary ${r.summary_id}: its stored document does not hash to its summary_hash`);
    }
    diff('summary', this.summaries, new Map(stored.map((r) => [r.summary_id, { period: r.period, scope: r.scope, version: r.version, summary_hash: r.summary_hash, seq: r.seq }])));
    // Each stored rail payload must hash to what its log entry says.
    const payloads = await s.railPayloadsPage(orgId, 0, Number.MAX_SAFE_INTEGER);
    for (const p of payloads) {
      if (contentHash(p.body) !== p.payload_sha256) fail(p.seq, `rail record ${p.rail}:${p.source_id}: its stored payload does not hash to its payload_sha256`);
    }
    diff('rail record', this.railPayloads, new Map(payloads.map((p) => [`${p.rail}:${p.source_id}`, { payload_sha256: p.payload_sha256, content_type: p.content_type, outcome: p.outcome, tx_ids: [...p.tx_ids], seq: p.seq, received_at: p.received_at.getTime() }])));
    diff('rail endpoint', this.railEndpoints, new Map((await s.listRailEndpoints(orgId)).map((r) => [r.endpoint_id, { rail: r.rail, label: r.label, created_by: r.created_by, created_at: r.created_at.getTime(), revoked_at: r.revoked_at?.getTime() ?? null }])));
    diff('user', this.users, new Map((await s.listUsers(orgId)).map((u) => [u.user_id, { user_id: u.user_id, email: u.email, principal: u.principal, roles: [...u.roles], disabled: u.disabled_at !== null, created_by: u.created_by, created_at: u.created_at.getTime() }])));
    diff('API key', this.keys, new Map((await s.listApiKeys(orgId)).map((k) => [k.key_id, { key_id: k.key_id, principal: k.principal, roles: [...k.roles], agent_id: k.agent_id, secret_hash: k.secret_hash, revoked: k.revoked_at !== null }])));
  }
}
