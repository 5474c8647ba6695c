/**
 * Tamper evidence: an attacker with a database login (who can disable the append-only
 * triggers, and knows the encoding and hash algorithm, but not the checkpoint signing key)
 * rewrites, deletes, inserts or reorders rows. Every case must make `verify` fail, naming the
 * first bad entry when one can be named.
 *
 * What verify can and cannot see on its own, and why:
 * - Any change to an entry's bytes (or a projection derived from them) is visible: either the
 *   stored leaf hash no longer matches, or (when the attacker recomputes it) the tree no longer
 *   hashes to the root a checkpoint signed with the pinned key. Tampering is located to the
 *   entry when the leaf hash is stale, and to the checkpoint interval [prev, size) when it was
 *   recomputed (a Merkle root says "something in here changed", not which leaf).
 * - Entries beyond the newest checkpoint signed with the pinned key are visible as uncovered,
 *   so deleting newer checkpoints (replaying an old one) or forging one with another key does
 *   not help the attacker.
 * - Cutting the tail of the log (entries AND every checkpoint covering them, with the tree
 *   head and spend totals rewritten to match) leaves a shorter log that is consistent with a
 *   genuine older checkpoint. Nothing inside the database can tell it apart from a log that
 *   simply stopped there: only a checkpoint held outside (by an auditor, a witness, a client
 *   that received it) can, by comparing its size with the report's `tree_size`. The test for
 *   it documents this limit and the report fields that make the external comparison possible.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { VerifyReport } from '../src/app/verify.ts';
import { openCheckpoint } from '../src/domain/checkpoint/checkpoint.ts';
import { ephemeralSigner } from '../src/adapters/signing/note-signer.ts';
import { ENGINES, openTestEnv, postgresAvailable } from './support/engines.ts';
import type { EngineName, TestEnv } from './support/engines.ts';
import type { ColumnInfo, Corpus } from './support/tamper-corpus.ts';
import {
  ORG,
  openSerializedEnv,
  baseTables,
  columnsOf,
  disableTriggers,
  readTx,
  recomputeLeaf,
  restore,
  rewriteTreeHead,
  seedCorpus,
  snapshot,
  toBuf,
  verify,
} from './support/tamper-corpus.ts';
import { ROLLUPS_FROM_TRANSACTIONS } from '../src/adapters/store/migrations/010-summary-rollups.ts';

/** Evidence tables: every row is a log entry (or its signature); a finding can name the entry. */
const ENTRY_TABLES = ['transactions', 'log_entries'] as const;

/**
 * Tables whose every column must be checked by verify against the log or the tree. A new
 * table or column gets a case automatically; one that is deliberately not evidence must be
 * listed in NOT_CHECKED with the reason.
 */
const NOT_CHECKED: Record<string, string> = {
  // Operational state outside the log: holds come and go; the ledger records the settled payment.
  authorizations: 'reservations are not log entries',
  // The outbox of change notices and its delivery record: the change itself is the log entry.
  notifications: 'delivery outbox for chat/webhook notices, not evidence',
  notification_attempts: 'delivery record of notices (append-only by trigger), not evidence',
  // Export progress: a wrong cursor re-exports (recognised by the sink) or leaves a gap that
  // `export status` shows as behind; the exported objects carry their own hashes and checkpoints.
  audit_exports: 'export progress per sink, not evidence',
  // Kept out of the log on purpose; a changed secret shows at once as refused rail webhooks.
  'rail_endpoints.secret': 'the signing secret a rail uses is deliberately not logged',
  // Complete subtrees exist only from 256 entries on; the forged-tile case below covers the table.
  merkle_tiles: 'no tile exists in a log of under 256 entries',
  'tree_heads.updated_at': 'when the head was last written: not part of the tree',
  'checkpoints.created_at': 'when the row was written: not part of the signed note',
  // Row metadata, not in the logged body: the time is the recorded_at of the entry in the log.
  'orgs.created_at': 'the org entry\'s recorded_at is the evidence',
  'api_keys.created_at': 'the api_key entry\'s recorded_at is the evidence',
  'summaries.created_at': 'the summary entry\'s recorded_at is the evidence',
  // QuickBooks Online integration state (sealed tokens, id mappings, what is posted): operational, not evidence.
  qbo_connections: 'sealed OAuth tokens of the QuickBooks connection: operational state, not evidence',
  qbo_mappings: 'account and vendor ids in QuickBooks: integration settings, not evidence',
  qbo_sync: 'which journal entries are posted to QuickBooks: operational state, not evidence',
  // Migration 009: a cache of what a verify proved. `verify --full` (what these cases run) ignores
  // it; an incremental verify uses it only while its frontier rebuilds the root signed at its
  // size, and otherwise verifies in full (test/verify-incremental.storage.test.ts).
  verified_frontiers: 'cache of the tree a verify proved; a full verify ignores it, an incremental one checks it against the signed root',
  // Migration 010: what that verify proved the summary rollups to be, kept beside the frontier.
  verified_summary_rollups: 'cache of the rollups a verify proved; a full verify recomputes them from the log and rewrites it',
  // Dashboard sign-in state: sessions come and go; who holds which role is the `user` entry.
  web_sessions: 'dashboard sessions are mutable sign-in state, not evidence',
  // Never logged (a hash of a password in a log kept for years is a gift to a guesser); a swapped
  // hash lets someone sign in as that user but grants no role beyond what the log shows.
  'users.password_hash': 'the password hash is deliberately not logged',
};

/**
 * Type-appropriate different values. Columns with a small vocabulary get a valid different
 * value (a plausible attack, not just a broken row); amounts stay valid decimals.
 */
const OVERRIDES: Record<string, { set?: string; where?: string }> = {
  'transactions.type': { set: `case when type = 'payment' then 'refund' else 'payment' end` },
  'transactions.currency': { set: `case when currency = 'USD' then 'EUR' else 'USD' end` },
  'transactions.reporting_currency': { set: `'EUR'` },
  'transactions.payment_rail': { set: `case when payment_rail = 'stripe' then 'x402' else 'stripe' end` },
  'transactions.agent_id': { set: `case when agent_id = 'support-bot' then 'research-bot' else 'support-bot' end` },
  'transactions.merchant_category': { set: `case when merchant_category = '4816' then '5734' else '4816' end` },
  'transactions.accounting_code': { set: `case when accounting_code = '6400' then '6420' else '6400' end` },
  'transactions.accounting_code_source': { set: `case when accounting_code_source = 'mcc_rule' then 'transaction' else 'mcc_rule' end` },
  'transactions.amount': { set: `(amount::numeric + 1)::text` },
  'transactions.reporting_amount': { set: `(reporting_amount::numeric + 1)::text` },
  'transactions.fx_rate': { set: `(fx_rate::numeric + 0.01)::text` },
  'transactions.spend_before_daily': { set: `(spend_before_daily::numeric - 1)::text` },
  'transactions.spend_before_monthly': { set: `(spend_before_monthly::numeric - 1)::text` },
  'transactions.policy_snapshot_id': {
    set: `(select p.snapshot_id from policy_versions p where p.snapshot_id <> x.policy_snapshot_id order by p.seq limit 1)`,
  },
  // Erase a violation: the attack an auditor cares most about.
  'transactions.violations': { set: `violations[2:cardinality(violations)]`, where: `cardinality(violations) > 0` },
  // Move the entry to a free slot of its table (a primary key collision would refuse the UPDATE).
  'transactions.seq': { where: `not exists (select 1 from transactions y where y.org_id = x.org_id and y.seq = x.seq + 1)` },
  'log_entries.seq': { where: `not exists (select 1 from log_entries y where y.org_id = x.org_id and y.seq = x.seq + 1)` },
  'log_entries.kind': { set: `case when kind = 'agent' then 'account' else 'agent' end` },
  'agents.owner': { set: `'mallory@evil.test'` },
  'gl_rules.account_code': { set: `case when account_code = '6400' then '6999' else '6400' end` },
  'accounts.name': { set: `'Office snacks'` },
  // Raise a limit inside a document that stays canonical JSON.
  'policy_versions.document': {
    set: `replace(document, '"daily_limit":"5000.00"', '"daily_limit":"50000.00"')`,
    where: `document like '%"daily_limit":"5000.00"%'`,
  },
  'policy_versions.version': { where: `agent_id = 'research-bot'` },
  // Make room in a budget.
  'spend_rollups.amount_minor': { set: `amount_minor - 100000`, where: `period like 'D%' and agent_id = 'support-bot'` },
  // Privilege escalation, key takeover, un-revocation, a key redirected to another agent.
  'api_keys.roles': { set: `array['admin']`, where: `roles = array['auditor']` },
  'api_keys.secret_hash': { set: `encode(sha256('attacker-secret'::bytea), 'hex')` },
  'api_keys.revoked_at': { set: 'null', where: 'revoked_at is not null' },
  'api_keys.agent_id': { set: `'support-bot'`, where: 'agent_id is not null' },
  'orgs.reporting_currency': { set: `'EUR'` },
  'orgs.timezone': { set: `'Pacific/Kiritimati'` },
  'orgs.verifier_key': { set: `$VERIFIER` },
  // The newest checkpoint: tampering with an older one is covered by the later ones' roots.
  'checkpoints.tree_size': { set: 'tree_size + 1000' },
};

function tamperValue(c: ColumnInfo): string {
  const q = c.column;
  switch (c.udt) {
    case 'text':
      return `coalesce(${q} || 'x', 'x')`;
    case 'int8':
    case 'int4':
    case 'int2':
      return `coalesce(${q} + 1, 1)`;
    case 'uuid':
      return 'gen_random_uuid()';
    case 'timestamptz':
      return `coalesce(${q} + interval '1 second', now())`;
    case '_text':
      return `coalesce(array_append(${q}, 'x'), array['x'])`;
    case 'bytea':
      return `coalesce(set_byte(${q}, 0, (get_byte(${q}, 0) + 1) % 256), '\\x00'::bytea)`;
    case 'bool':
      return `not ${q}`;
    default:
      throw new Error(`no tamper value for ${c.table}.${c.column} of type ${c.udt}: add one to tamperValue`);
  }
}

// The schema decides which cases exist: read it from information_schema before collecting.
// The probe database is reused as the PGlite environment.
const probe = await openTestEnv('pglite');
const TABLES = await baseTables(probe);
const COLUMNS = new Map<string, ColumnInfo[]>();
for (const t of TABLES) COLUMNS.set(t, await columnsOf(probe, t));
const columnCases = (tables: (t: string) => boolean): ColumnInfo[] =>
  TABLES.filter((t) => tables(t) && !(t in NOT_CHECKED)).flatMap((t) =>
    (COLUMNS.get(t) ?? []).filter((c) => !(`${t}.${c.column}` in NOT_CHECKED)),
  );
const ENTRY_COLUMNS = columnCases((t) => (ENTRY_TABLES as readonly string[]).includes(t));
const OTHER_COLUMNS = columnCases((t) => !(ENTRY_TABLES as readonly string[]).includes(t));

describe.each(ENGINES)('tamper evidence on %s', (engine: EngineName) => {
  let env: TestEnv;
  let c: Corpus;
  /** Entries in the corpus: every append signs a checkpoint, so the last one covers them all. */
  const corpusSize = (): number => c.checkpointSizes[c.checkpointSizes.length - 1] ?? 0;
  let skip = false;

  beforeAll(async () => {
    if (engine === 'postgres' && !(await postgresAvailable())) {
      skip = true;
      return;
    }
    env = engine === 'pglite' ? probe : await openSerializedEnv(engine);
    c = await seedCorpus(env);
    await snapshot(env);
  });
  afterAll(async () => {
    if (engine === 'pglite' || !skip) await env.close();
  });
  // Every case starts from the seeded ledger, reloaded from the copy, and clean.
  beforeEach(async (ctx) => {
    if (skip) return ctx.skip();
    await restore(env);
  });

  const clean = async (): Promise<void> => {
    const r = await verify(env, c);
    expect(r.findings).toEqual([]);
    expect(r.ok).toBe(true);
  };
  const failing = async (): Promise<VerifyReport> => {
    const r = await verify(env, c);
    expect(r.ok).toBe(false);
    expect(r.findings.length).toBeGreaterThan(0);
    return r;
  };
  const firstSeq = (r: VerifyReport): number | null | undefined => r.findings[0]?.seq;
  const show = (r: VerifyReport): string => JSON.stringify(r.findings.slice(0, 4), null, 1);
  const middle = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  /** The checkpoint interval [prev, size) holding seq: what a root mismatch can name. */
  const interval = (seq: number): [number, number] => {
    const size = c.checkpointSizes.find((s) => s > seq) ?? Infinity;
    const prev = [...c.checkpointSizes].reverse().find((s) => s <= seq) ?? 0;
    return [prev, size];
  };

  /** Picks one row (preferring a non-null value), updates only that column of only that row. */
  async function updateColumn(col: ColumnInfo): Promise<{ seq: number | null }> {
    const key = `${col.table}.${col.column}`;
    const o = OVERRIDES[key] ?? {};
    const entry = (ENTRY_TABLES as readonly string[]).includes(col.table);
    const mid = entry ? middle((await env.sql(`select seq from ${col.table} where org_id = $1`, [ORG])).map((r) => Number(r.seq))) : 0;
    const order = entry ? `abs(x.seq - ${mid}), x.seq` : col.table === 'checkpoints' ? 'x.tree_size desc' : 'x.ctid';
    const pick = async (cond: string): Promise<Record<string, unknown> | undefined> =>
      (await env.sql(`select x.ctid::text as id${entry ? ', x.seq' : ''} from ${col.table} x where ${cond} order by ${order} limit 1`))[0];
    const where = o.where ?? `x.${col.column} is not null`;
    const row = (await pick(where)) ?? (o.where === undefined ? await pick('true') : undefined);
    expect(row, `no row of ${col.table} to tamper with`).toBeDefined();
    const set = (o.set ?? tamperValue(col)).replace('$VERIFIER', `'${ephemeralSigner().verifierKey}'`);
    await disableTriggers(env, col.table);
    const changed = await env.sql(
      `update ${col.table} x set ${col.column} = ${set} where x.ctid = '${String(row?.id)}'::tid and x.${col.column} is distinct from ${set} returning 1 as one`,
    );
    expect(changed, `the UPDATE of ${key} changed nothing`).toHaveLength(1);
    return { seq: entry ? Number(row?.seq) : null };
  }

  it('reads the columns it tampers with from information_schema', () => {
    expect(COLUMNS.get('transactions')?.length).toBeGreaterThanOrEqual(33);
    expect(ENTRY_COLUMNS.map((x) => `${x.table}.${x.column}`)).toEqual(
      expect.arrayContaining(['transactions.merchant', 'transactions.violations', 'transactions.leaf_hash', 'log_entries.data', 'log_entries.seq']),
    );
    expect(OTHER_COLUMNS.map((x) => `${x.table}.${x.column}`)).toEqual(
      expect.arrayContaining(['policy_versions.document', 'agents.owner', 'gl_rules.account_code', 'spend_rollups.amount_minor', 'api_keys.roles']),
    );
  });

  it('verifies the seeded ledger clean, with refunds, foreign currency and violations in it', async () => {
    await clean();
    expect(c.txs).toHaveLength(41);
    expect(c.txs.some((t) => t.refund_of !== null && t.amount.startsWith('-'))).toBe(true);
    expect(c.txs.some((t) => t.currency !== 'USD' && t.fx_rate !== null && t.fx_rate_time !== null)).toBe(true);
    expect(new Set(c.txs.flatMap((t) => t.violations)).size).toBeGreaterThanOrEqual(8);
    await expect(env.sql(`update transactions set merchant = 'x'`)).rejects.toThrow(/append-only/);
  });

  it.each(ENTRY_COLUMNS.map((x) => [`${x.table}.${x.column}`, x] as const))('catches an UPDATE of %s', async (_name, col) => {
    await clean();
    const { seq } = await updateColumn(col);
    const r = await failing();
    expect(firstSeq(r), show(r)).toBe(seq);
  });

  it.each(OTHER_COLUMNS.map((x) => [`${x.table}.${x.column}`, x] as const))('catches an UPDATE of %s', async (name, col) => {
    await clean();
    await updateColumn(col);
    if (name === 'orgs.org_id') {
      // The organisation under audit no longer exists under its id: verify refuses to vouch for anything.
      await expect(verify(env, c)).rejects.toMatchObject({ code: 'ORG_NOT_FOUND' });
      return;
    }
    await failing();
  });

  it('catches an UPDATE of log_entries.data that stays canonical JSON', async () => {
    const [e] = await env.sql(`select seq from log_entries where org_id = $1 and kind = 'agent' and entity_id = 'support-bot'`, [ORG]);
    await disableTriggers(env, 'log_entries');
    await env.sql(`update log_entries set data = replace(data, 'alice@acme.test', 'mallory@acme.test') where org_id = $1 and seq = $2`, [ORG, e?.seq]);
    const r = await failing();
    expect(firstSeq(r), show(r)).toBe(Number(e?.seq));
  });

  it('catches an UPDATE of transactions.merchant with its leaf_hash recomputed, by the signed checkpoint root', async () => {
    const seq = c.solo.seq;
    await disableTriggers(env, 'transactions');
    await env.sql(`update transactions set merchant = 'AWS Marketplace' where org_id = $1 and seq = $2`, [ORG, seq]);
    await recomputeLeaf(env, seq);
    await rewriteTreeHead(env);
    const r = await failing();
    // Alone in its batch, the entry is exactly the interval between two checkpoints.
    expect(firstSeq(r), show(r)).toBe(seq);
    expect(r.findings[0]?.what).toMatch(new RegExp(`\\[${seq}, ${seq + 1}\\).*root signed at size ${seq + 1}`));
  });

  it('catches a recomputed rewrite inside a batch and names the checkpoint interval that holds it', async () => {
    const t = c.txs.find((x) => {
      const [prev, size] = interval(x.seq);
      return x.seq > prev && size - prev >= 3;
    });
    expect(t).toBeDefined();
    const seq = t?.seq ?? -1;
    const [prev, size] = interval(seq);
    await disableTriggers(env, 'transactions');
    await env.sql(`update transactions set business_purpose = 'Team offsite' where org_id = $1 and seq = $2`, [ORG, seq]);
    await recomputeLeaf(env, seq);
    await rewriteTreeHead(env);
    const r = await failing();
    expect(firstSeq(r), show(r)).toBe(prev);
    expect(r.findings[0]?.what).toContain(`[${prev}, ${size})`);
  });

  it('catches a rewritten log entry whose leaf hash, projection and tree head were made consistent', async () => {
    const [e] = await env.sql(`select seq, data from log_entries where org_id = $1 and kind = 'agent' and entity_id = 'support-bot'`, [ORG]);
    const seq = Number(e?.seq);
    const data = String(e?.data).replace('alice@acme.test', 'mallory@acme.test');
    const { leafHash } = await import('../src/domain/merkle/tree-hash.ts');
    await disableTriggers(env, 'log_entries');
    await env.sql(`update log_entries set data = $1, leaf_hash = decode($2, 'hex') where org_id = $3 and seq = $4`, [data, leafHash(data).toString('hex'), ORG, seq]);
    await env.sql(`update agents set owner = 'mallory@acme.test' where org_id = $1 and agent_id = 'support-bot'`, [ORG]);
    await rewriteTreeHead(env);
    const r = await failing();
    const [prev] = interval(seq);
    expect(prev).toBe(seq); // one entry per setup call
    expect(firstSeq(r), show(r)).toBe(seq);
    expect(r.findings.map((f) => f.what).join('\n')).toMatch(/root signed at size/);
  });

  it('catches a DELETE of one transaction in the middle', async () => {
    const seq = c.txs[20]?.seq ?? -1;
    await disableTriggers(env, 'transactions');
    await env.sql(`delete from transactions where org_id = $1 and seq = $2`, [ORG, seq]);
    const r = await failing();
    expect(firstSeq(r), show(r)).toBe(seq);
    expect(r.findings[0]?.what).toMatch(/missing/);
  });

  it('catches a DELETE of the last entries while their checkpoints remain', async () => {
    const cut = c.checkpointSizes[c.checkpointSizes.length - 3] ?? -1;
    await disableTriggers(env, 'transactions');
    await env.sql(`delete from transactions where org_id = $1 and seq >= $2`, [ORG, cut]);
    const r = await failing();
    expect(firstSeq(r), show(r)).toBe(cut);
  });

  it('catches a DELETE of the last entries and of every checkpoint covering them, by the tree head and spend totals', async () => {
    const cut = c.checkpointSizes[c.checkpointSizes.length - 3] ?? -1;
    await disableTriggers(env, 'transactions', 'checkpoints');
    await env.sql(`delete from transactions where org_id = $1 and seq >= $2`, [ORG, cut]);
    await env.sql(`delete from checkpoints where org_id = $1 and tree_size > $2`, [ORG, cut]);
    const r = await failing();
    const what = r.findings.map((f) => f.what).join('\n');
    expect(what).toMatch(new RegExp(`tree head \\(size ${corpusSize()}\\) does not match the entries \\(size \\d+\\)`));
    expect(what).toMatch(/spend total/);
  });

  /** What a careful attacker does after changing transactions: the summary rollups made to agree with them. */
  const rebuildSummaryRollups = async (): Promise<void> => {
    await env.sql(`delete from summary_rollups where org_id = $1`, [ORG]);
    await env.sql(`insert into summary_rollups ${ROLLUPS_FROM_TRANSACTIONS} where t.org_id = $1 group by 1, 2, 3, 4, 5`, [ORG]);
  };

  it('cannot see a careful truncation on its own; a checkpoint held outside the database shows it', async () => {
    // The auditor's copy of the newest checkpoint, taken before the attack.
    const [held] = await env.sql(`select tree_size, note from checkpoints where org_id = $1 order by tree_size desc limit 1`, [ORG]);
    const heldCp = openCheckpoint(String(held?.note), env.signer.note);
    const cut = c.checkpointSizes[c.checkpointSizes.length - 3] ?? -1;
    await disableTriggers(env, 'transactions', 'checkpoints');
    await env.sql(`delete from transactions where org_id = $1 and seq >= $2`, [ORG, cut]);
    await env.sql(`delete from checkpoints where org_id = $1 and tree_size > $2`, [ORG, cut]);
    await rewriteTreeHead(env);
    await env.sql(`delete from spend_rollups where org_id = $1`, [ORG]);
    for (const [prefix, fmt] of [['D', 'YYYY-MM-DD'], ['M', 'YYYY-MM']] as const) {
      await env.sql(
        `insert into spend_rollups (org_id, agent_id, period, amount_minor)
         select org_id, agent_id, '${prefix}' || to_char(ts at time zone 'UTC', '${fmt}'), sum(greatest(reporting_minor, 0))
           from transactions where org_id = $1 group by 1, 2, 3`,
        [ORG],
      );
    }
    await rebuildSummaryRollups();
    const r = await verify(env, c);
    // The documented limit: the shortened log is self-consistent and signed up to `cut`.
    expect(r.findings).toEqual([]);
    expect(r.tree_size).toBe(cut);
    // What catches it: the report is smaller than a checkpoint the log once signed.
    expect(heldCp.size).toBe(corpusSize());
    expect(r.tree_size).toBeLessThan(heldCp.size);
  });

  it('catches an INSERT of a forged transaction after the end of the log', async () => {
    const top = corpusSize();
    const src = c.txs[10]?.seq ?? -1;
    await disableTriggers(env, 'transactions');
    await env.sql(
      `insert into transactions select org_id, $2, gen_random_uuid(), recorded_at, recorded_by, 'ch_forged', agent_id, ts, type,
         refund_of, amount, currency, reporting_amount, reporting_minor, reporting_currency, fx_rate, fx_rate_source, fx_rate_time,
         payment_rail, merchant, merchant_category, business_purpose, accounting_code, accounting_code_source, approver,
         approval_ref, authorization_id, policy_snapshot_id, violations, spend_before_daily, spend_before_monthly, input_hash, leaf_hash
       from transactions where org_id = $1 and seq = $3`,
      [ORG, top, src],
    );
    const r = await failing();
    expect(firstSeq(r), show(r)).toBe(top);
  });

  it('catches a forged transaction with a consistent leaf hash, spend totals and tree head, as not covered by a checkpoint', async () => {
    const top = corpusSize();
    const last = c.txs[c.txs.length - 1] as (typeof c.txs)[number];
    await disableTriggers(env, 'transactions');
    // Spend before it is what the ledger says, so only the missing signature can give it away.
    const [sb] = await env.sql(
      `select coalesce(sum(greatest(reporting_minor, 0)) filter (where (ts at time zone 'UTC')::date = $2::date), 0) as d,
              coalesce(sum(greatest(reporting_minor, 0)), 0) as m
         from transactions where org_id = $1 and agent_id = 'support-bot'
          and ts >= '2026-03-01T00:00:00Z' and ts < '2026-04-01T00:00:00Z'`,
      [ORG, last.timestamp.slice(0, 10)],
    );
    const money = (v: unknown): string => (Number(v) / 100).toFixed(2);
    await env.sql(
      `insert into transactions select org_id, $2, gen_random_uuid(), recorded_at, recorded_by, 'ch_forged_2', agent_id, ts, type,
         refund_of, amount, currency, reporting_amount, reporting_minor, reporting_currency, fx_rate, fx_rate_source, fx_rate_time,
         payment_rail, merchant, merchant_category, business_purpose, accounting_code, accounting_code_source, approver,
         approval_ref, authorization_id, policy_snapshot_id, violations, $4, $5, input_hash, leaf_hash
       from transactions where org_id = $1 and seq = $3`,
      [ORG, top, last.seq, money(sb?.d), money(sb?.m)],
    );
    await recomputeLeaf(env, top);
    // Budgets count gross spend: a refund adds nothing to the windows.
    const minor = Math.max(0, Number((await readTx(env, top)).reporting_amount.replace('.', '')));
    await env.sql(`update spend_rollups set amount_minor = amount_minor + $1 where org_id = $2 and agent_id = 'support-bot' and period in ($3, $4)`, [
      minor,
      ORG,
      `D${last.timestamp.slice(0, 10)}`,
      `M${last.timestamp.slice(0, 7)}`,
    ]);
    await rebuildSummaryRollups();
    await rewriteTreeHead(env);
    const r = await failing();
    expect(firstSeq(r), show(r)).toBe(top);
    expect(r.findings.map((f) => f.what)).toEqual([`entries from ${top} on are not covered by any signed checkpoint (inserted behind the product's back)`]);
  });

  it('catches an INSERT of a transaction at an existing seq (a duplicate entry)', async () => {
    const [e] = await env.sql(`select max(seq) as seq from log_entries where org_id = $1`, [ORG]);
    const seq = Number(e?.seq);
    expect(c.txs.some((t) => t.seq === seq)).toBe(false);
    await disableTriggers(env, 'transactions');
    await env.sql(
      `insert into transactions select org_id, $2, gen_random_uuid(), recorded_at, recorded_by, 'ch_dup', agent_id, ts, type,
         refund_of, amount, currency, reporting_amount, reporting_minor, reporting_currency, fx_rate, fx_rate_source, fx_rate_time,
         payment_rail, merchant, merchant_category, business_purpose, accounting_code, accounting_code_source, approver,
         approval_ref, authorization_id, policy_snapshot_id, violations, spend_before_daily, spend_before_monthly, input_hash, leaf_hash
       from transactions where org_id = $1 and seq = $3`,
      [ORG, seq, c.txs[3]?.seq],
    );
    const r = await failing();
    expect(firstSeq(r), show(r)).toBe(seq);
    expect(r.findings[0]?.what).toMatch(/appears 2 times/);
  });

  it('catches an INSERT of a log entry at the seq of a transaction', async () => {
    const seq = c.txs[5]?.seq ?? -1;
    await disableTriggers(env, 'log_entries');
    await env.sql(`insert into log_entries select org_id, $2, kind, entity_id, data, leaf_hash from log_entries where org_id = $1 and seq = 2`, [ORG, seq]);
    const r = await failing();
    expect(firstSeq(r), show(r)).toBe(seq);
  });

  it('catches a reorder: the seq values of two transactions swapped', async () => {
    const a = c.txs[4]?.seq ?? -1;
    const b = c.txs[30]?.seq ?? -1;
    await disableTriggers(env, 'transactions');
    await env.sql(`update transactions set seq = -1 where org_id = $1 and seq = $2`, [ORG, a]);
    await env.sql(`update transactions set seq = $2 where org_id = $1 and seq = $3`, [ORG, a, b]);
    await env.sql(`update transactions set seq = $2 where org_id = $1 and seq = -1`, [ORG, b]);
    const r = await failing();
    expect(firstSeq(r), show(r)).toBe(Math.min(a, b));
  });

  it('catches a reorder with both leaf hashes recomputed, by the checkpoint root', async () => {
    const a = c.txs[4]?.seq ?? -1;
    const b = c.txs[30]?.seq ?? -1;
    await disableTriggers(env, 'transactions');
    await env.sql(`update transactions set seq = -1 where org_id = $1 and seq = $2`, [ORG, a]);
    await env.sql(`update transactions set seq = $2 where org_id = $1 and seq = $3`, [ORG, a, b]);
    await env.sql(`update transactions set seq = $2 where org_id = $1 and seq = -1`, [ORG, b]);
    await recomputeLeaf(env, a);
    await recomputeLeaf(env, b);
    await rewriteTreeHead(env);
    const r = await failing();
    expect(firstSeq(r), show(r)).toBe(interval(a)[0]);
  });

  it('catches a TRUNCATE of transactions', async () => {
    await disableTriggers(env, 'transactions');
    await env.sql(`truncate transactions`);
    const r = await failing();
    expect(firstSeq(r), show(r)).toBe(c.txs[0]?.seq);
  });

  it('catches a replayed old checkpoint: newer ones deleted, the entry after it rewritten consistently', async () => {
    const k = c.solo.seq; // a checkpoint was signed at size k, and the entry at k is alone in its batch
    expect(c.checkpointSizes).toContain(k);
    await disableTriggers(env, 'transactions', 'checkpoints');
    await env.sql(`delete from checkpoints where org_id = $1 and tree_size > $2`, [ORG, k]);
    await env.sql(`update transactions set approver = 'carol@acme.test', violations = '{}' where org_id = $1 and seq = $2`, [ORG, k]);
    await recomputeLeaf(env, k);
    await rewriteTreeHead(env);
    const r = await failing();
    expect(firstSeq(r), show(r)).toBe(k);
    expect(r.findings[0]?.what).toMatch(/not covered by any signed checkpoint/);
  });

  it('catches a replayed old checkpoint with a later entry rewritten, naming both', async () => {
    const k = c.solo.seq;
    const later = c.txs[25]?.seq ?? -1;
    await disableTriggers(env, 'transactions', 'checkpoints');
    await env.sql(`delete from checkpoints where org_id = $1 and tree_size > $2`, [ORG, k]);
    await env.sql(`update transactions set merchant = 'Elsewhere' where org_id = $1 and seq = $2`, [ORG, later]);
    const r = await failing();
    expect(firstSeq(r), show(r)).toBe(k);
    expect(r.findings.some((f) => f.seq === later && /differs from what was hashed/.test(f.what))).toBe(true);
  });

  it('catches forged checkpoints signed with another key over a consistently rewritten entry', async () => {
    const k = c.solo.seq;
    const forger = ephemeralSigner(); // same key name as the real one, different key
    await disableTriggers(env, 'transactions', 'checkpoints');
    await env.sql(`update transactions set approver = 'carol@acme.test', violations = '{}' where org_id = $1 and seq = $2`, [ORG, k]);
    await recomputeLeaf(env, k);
    await rewriteTreeHead(env);
    const { rootOf } = await import('../src/domain/merkle/tree-hash.ts');
    const leaves = (
      await env.sql(`select seq, leaf_hash from log_entries where org_id = $1 union all select seq, leaf_hash from transactions where org_id = $1 order by seq`, [ORG])
    ).map((x) => toBuf(x.leaf_hash));
    const newer = c.checkpointSizes.filter((s) => s > k);
    await env.sql(`delete from checkpoints where org_id = $1 and tree_size > $2`, [ORG, k]);
    for (const size of newer) {
      const root = rootOf(leaves.slice(0, size));
      const note = forger.sign({ origin: `spendtrail.local/${ORG}`, size, root });
      await env.sql(`insert into checkpoints (org_id, tree_size, root, note, created_at) values ($1, $2, decode($3, 'hex'), $4, now())`, [
        ORG,
        size,
        root.toString('hex'),
        note,
      ]);
    }
    const r = await failing();
    expect(firstSeq(r), show(r)).toBe(k);
    expect(r.findings.filter((f) => f.seq === null && /^checkpoint at size \d+:/.test(f.what))).toHaveLength(newer.length);
  });

  it('catches a forged checkpoint over a forged appended transaction', async () => {
    const top = corpusSize();
    const forger = ephemeralSigner('spendtrail.forged');
    await disableTriggers(env, 'transactions', 'checkpoints');
    await env.sql(
      `insert into transactions select org_id, $2, gen_random_uuid(), recorded_at, recorded_by, 'ch_forged_3', agent_id, ts, type,
         refund_of, amount, currency, reporting_amount, reporting_minor, reporting_currency, fx_rate, fx_rate_source, fx_rate_time,
         payment_rail, merchant, merchant_category, business_purpose, accounting_code, accounting_code_source, approver,
         approval_ref, authorization_id, policy_snapshot_id, violations, spend_before_daily, spend_before_monthly, input_hash, leaf_hash
       from transactions where org_id = $1 and seq = $3`,
      [ORG, top, c.txs[40]?.seq],
    );
    await recomputeLeaf(env, top);
    const root = await rewriteTreeHead(env);
    await env.sql(`insert into checkpoints (org_id, tree_size, root, note, created_at) values ($1, $2, decode($3, 'hex'), $4, now())`, [
      ORG,
      top + 1,
      root.toString('hex'),
      forger.sign({ origin: `spendtrail.local/${ORG}`, size: top + 1, root }),
    ]);
    const r = await failing();
    expect(firstSeq(r), show(r)).toBeLessThanOrEqual(top);
    expect(r.findings.some((f) => f.seq === top && /not covered/.test(f.what))).toBe(true);
    expect(r.findings.some((f) => f.seq === null && f.what.startsWith(`checkpoint at size ${top + 1}:`))).toBe(true);
  });

  it('catches a DELETE of every checkpoint', async () => {
    await disableTriggers(env, 'checkpoints');
    await env.sql(`delete from checkpoints where org_id = $1`, [ORG]);
    const r = await failing();
    expect(firstSeq(r), show(r)).toBe(0);
  });

  it('catches a forged Merkle tile', async () => {
    await disableTriggers(env, 'merkle_tiles');
    await env.sql(`insert into merkle_tiles (org_id, level, idx, hash) values ($1, 8, 0, decode(repeat('ab', 32), 'hex'))`, [ORG]);
    const r = await failing();
    expect(r.findings.some((f) => /stored tree node at level 8, index 0/.test(f.what))).toBe(true);
  });

  it('catches an INSERT of a backdoor API key that is not in the log', async () => {
    await env.sql(
      `insert into api_keys (key_id, org_id, principal, roles, agent_id, secret_hash, created_at, revoked_at)
       values ('k_backdoor0000', $1, 'mallory', array['admin'], null, encode(sha256('s'::bytea), 'hex'), now(), null)`,
      [ORG],
    );
    const r = await failing();
    expect(r.findings.map((f) => f.what)).toContain('API key k_backdoor0000 is in its table but not in the log');
  });
});
