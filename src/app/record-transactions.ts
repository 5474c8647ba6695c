import { SpendtrailError } from '../domain/errors.ts';
import { sha256Hex } from '../domain/hash.ts';
import { codeTransaction } from '../domain/gl/coding.ts';
import type { TransactionInput, TransactionRecord } from '../domain/ledger/transaction.ts';
import { encodeTransaction, encodeTransactionInput } from '../domain/ledger/transaction.ts';
import { leafHash } from '../domain/merkle/tree-hash.ts';
import { findCurrency } from '../domain/money/currency.ts';
import { convert, formatMinor, fxConsistent, parseDecimal, parseRate } from '../domain/money/decimal.ts';
import { budgetAmount, evaluate } from '../domain/policy/evaluate.ts';
import { policyInForce } from '../domain/policy/policy.ts';
import { addToRollups } from '../domain/summary/rollup.ts';
import type { SummaryRollup } from '../domain/summary/rollup.ts';
import { instantFromDate, instantMs, localDay } from '../domain/time.ts';
import type { AppendContext } from './append.ts';
import { appendToLog } from './append.ts';
import { configCacheFor } from './config-snapshot.ts';
import type { AppDeps } from './deps.ts';
import type { Principal } from './principal.ts';
import { requireActsFor, requireApproverNotOwner, requireNoSelfApproval, requireRole } from './principal.ts';
import type { AuthorizationRow, OrgRow, RollupDelta, StoredTransaction, StoreTx } from './ports/store.ts';

export type RecordStatus = 'recorded' | 'duplicate';

export interface RecordResult {
  readonly status: RecordStatus;
  readonly transaction: TransactionRecord;
}

export type ItemOutcome = { readonly ok: true; readonly result: RecordResult } | { readonly ok: false; readonly error: SpendtrailError };

/**
 * `atomic`: the batch is all or nothing, the first bad item fails it (a batch API call, a file
 * chunk). `independent`: each item succeeds or fails on its own (single calls that were
 * grouped into one commit by the batcher).
 */
export type BatchMode = 'atomic' | 'independent';

const inputHash = (t: TransactionInput): string => sha256Hex(encodeTransactionInput(t));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const key = (rail: string, ext: string): string => `${rail}\u0000${ext}`;
const rollKey = (agent: string, period: string): string => `${agent}\u0000${period}`;

export async function recordTransactions(
  deps: AppDeps,
  by: Principal,
  inputs: readonly TransactionInput[],
  mode: BatchMode = 'atomic',
  fieldOf: (i: number) => string = (i) => `transactions[${i}]`,
): Promise<ItemOutcome[]> {
  return recordFor(deps, by.org_id, inputs.map((input) => ({ by, input })), mode, fieldOf);
}

/**
 * Records items that may come from different principals of one organisation in one unit of
 * work (the group commit of single calls). Each item is checked against its own principal.
 */
export async function recordFor(
  deps: AppDeps,
  orgId: string,
  items: readonly { readonly by: Principal; readonly input: TransactionInput }[],
  mode: BatchMode,
  fieldOf: (i: number) => string = (i) => `transactions[${i}]`,
): Promise<ItemOutcome[]> {
  const pre = precheck(orgId, items, fieldOf);
  const firstPre = pre.find((e) => e !== null);
  if (mode === 'atomic' && firstPre) throw firstPre;
  const attempt = async (lookup: boolean): Promise<ItemOutcome[]> =>
    (
      await appendToLog(deps, orgId, (ctx) =>
        buildBatch(ctx.tx, ctx.org, ctx.head.config_seq, items, pre, mode, fieldOf, deps, ctx.now, lookup, (hash) => ctx.sealer.addTransactionLeaf(hash), () => ctx.sealer.nextSeq),
      )
    ).result;
  // Writes are almost always new data: write without probing the idempotency index for every
  // key, and let the unique index itself say when one was seen before. Then, and only then, the
  // unit of work is redone with the lookups, which sorts replays from conflicts exactly. A replay
  // costs one extra unit of work; every other write saves a lookup per key.
  try {
    return await attempt(false);
  } catch (e) {
    if (e instanceof SpendtrailError && e.code === 'IDEMPOTENCY_CONFLICT' && e.details?.constraint !== undefined) return attempt(true);
    throw e;
  }
}

/** Who may record what: each item against its own principal, before anything is read. */
function precheck(
  orgId: string,
  items: readonly { readonly by: Principal; readonly input: TransactionInput }[],
  fieldOf: (i: number) => string,
): (SpendtrailError | null)[] {
  return items.map(({ by, input }, i) => {
    try {
      if (by.org_id !== orgId) throw new SpendtrailError('FORBIDDEN', 'principal of another organisation');
      requireRole(by, 'agent');
      requireActsFor(by, input.agent_id);
      requireNoSelfApproval(by, input.approver);
      return null;
    } catch (e) {
      if (!(e instanceof SpendtrailError)) throw e;
      return e.under(fieldOf(i));
    }
  });
}

/**
 * Records transactions all or nothing inside an append the caller opened, so that other
 * entries (a rail's payload entry) commit with them. Replays of recorded keys come back as
 * duplicates.
 */
export async function recordWithin(
  deps: AppDeps,
  ctx: AppendContext,
  by: Principal,
  inputs: readonly TransactionInput[],
  fieldOf: (i: number) => string = (i) => `transactions[${i}]`,
): Promise<RecordResult[]> {
  const items = inputs.map((input) => ({ by, input }));
  const pre = precheck(ctx.org.org_id, items, fieldOf);
  const firstPre = pre.find((e) => e !== null);
  if (firstPre) throw firstPre;
  const outcomes = await buildBatch(ctx.tx, ctx.org, ctx.head.config_seq, items, pre, 'atomic', fieldOf, deps, ctx.now, true,
    (hash) => ctx.sealer.addTransactionLeaf(hash), () => ctx.sealer.nextSeq);
  return outcomes.map((o) => {
    if (!o.ok) throw o.error;
    return o.result;
  });
}

/** The same key again: the original if the content matches, a conflict if not. */
function replayOutcome(prior: StoredTransaction, hash: string, orgId: string, t: TransactionInput): ItemOutcome {
  if (prior.record.input_hash !== hash || prior.record.org_id !== orgId) {
    return {
      ok: false,
      error: new SpendtrailError(
        'IDEMPOTENCY_CONFLICT',
        `external_id ${t.external_id} on ${t.payment_rail} was recorded with different content (tx ${prior.record.tx_id})`,
        { field: 'external_id', details: { tx_id: prior.record.tx_id } },
      ),
    };
  }
  return { ok: true, result: { status: 'duplicate', transaction: prior.record } };
}

/** A database sum ("-12.50", "-12.5", "0") as minor units at the currency's exponent. */
function decimalToMinor(text: string, exponent: number): bigint {
  const [int = '0', frac = ''] = text.replace(/^-/, '').split('.');
  const minor = BigInt(int + frac.padEnd(exponent, '0').slice(0, exponent));
  return text.startsWith('-') ? -minor : minor;
}

/** Reporting amounts live in int8 columns; anything beyond is refused before it reaches them. */
const INT8_MAX = 2n ** 63n - 1n;

async function buildBatch(
  tx: StoreTx,
  org: OrgRow,
  configSeq: number,
  items: readonly { readonly by: Principal; readonly input: TransactionInput }[],
  pre: readonly (SpendtrailError | null)[],
  mode: BatchMode,
  fieldOf: (i: number) => string,
  deps: AppDeps,
  now: Date,
  lookup: boolean,
  addLeaf: (hash: Buffer) => void,
  nextSeq: () => number,
): Promise<ItemOutcome[]> {
  const orgId = org.org_id;
  const inputs = items.map((x) => x.input);
  const reporting = findCurrency(org.reporting_currency);
  if (reporting === undefined) throw new SpendtrailError('INTERNAL', `organisation currency ${org.reporting_currency} unknown`);
  // Store calls run one after another: a unit of work owns a single connection.
  const config = await configCacheFor(deps.store).get(tx, orgId, configSeq);
  const existing = lookup
    ? await tx.findTransactionsByExternal(orgId, inputs.map((t) => ({ payment_rail: t.payment_rail, external_id: t.external_id })))
    : [];
  if (config === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `no organisation ${orgId}`);
  const { activeAccounts, rules: book, policies } = config;
  const byKey = new Map<string, StoredTransaction>(existing.map((s) => [key(s.record.payment_rail, s.record.external_id), s]));

  // Refund targets: by tx_id or by external id on the same rail, stored or earlier in this batch.
  const refundRefs = inputs.filter((t) => t.refund_of !== null);
  const targetIds = refundRefs.map((t) => t.refund_of ?? '').filter((r) => UUID.test(r));
  const byIdRows = await tx.findTransactionsById(orgId, targetIds);
  const byExtRows = await tx.findTransactionsByExternal(orgId, refundRefs.map((t) => ({ payment_rail: t.payment_rail, external_id: t.refund_of ?? '' })));
  const targets = new Map<string, StoredTransaction>();
  for (const s of [...byIdRows, ...byExtRows]) targets.set(s.record.tx_id, s);
  const refunded = new Map<string, bigint>();
  for (const [id, total] of await tx.refundedSoFar(orgId, [...targets.keys()])) {
    const target = targets.get(id);
    const exp = target === undefined ? undefined : findCurrency(target.record.currency)?.exponent;
    if (exp !== undefined) refunded.set(id, decimalToMinor(total, exp));
  }

  // One local-day computation per row (the month is its prefix), and each (agent, window) asked
  // for once per chunk: a chunk of thousands of rows touches a few dozen budget windows.
  const windows = inputs.map((t) => {
    const day = localDay(t.timestamp, org.timezone);
    return { day: `D${day}`, month: `M${day.slice(0, 7)}` };
  });
  const windowKeys = new Map<string, { agent_id: string; period: string }>();
  inputs.forEach((t, i) => {
    const w = windows[i] ?? { day: '', month: '' };
    for (const period of [w.day, w.month]) {
      const k = rollKey(t.agent_id, period);
      if (!windowKeys.has(k)) windowKeys.set(k, { agent_id: t.agent_id, period });
    }
  });
  const rollups = await tx.getRollups(orgId, [...windowKeys.values()]);

  const authIds = [...new Set(inputs.map((t) => t.authorization_id).filter((a): a is string => a !== null))];
  const auths = new Map<string, AuthorizationRow>();
  for (const id of authIds) {
    const a = await tx.getAuthorization(orgId, id);
    if (a !== undefined) auths.set(a.authorization_id, a);
  }

  const outcomes: ItemOutcome[] = [];
  const rows: StoredTransaction[] = [];
  const deltas: RollupDelta[] = [];
  const summaryDeltas = new Map<string, SummaryRollup>();
  const settle: { id: string; tx: string }[] = [];
  const settledHere = new Set<string>();
  const recordedAt = instantFromDate(now);

  for (let i = 0; i < inputs.length; i++) {
    const raw = inputs[i] as TransactionInput;
    const preError = pre[i];
    if (preError) {
      outcomes.push({ ok: false, error: preError });
      continue;
    }
    // The reporting amount is written at the reporting currency's exponent before hashing, so
    // "110.0" and "110.00" are the same content on a replay.
    let t = raw;
    try {
      if (raw.reporting_amount !== null) {
        t = { ...raw, reporting_amount: formatMinor(parseDecimal(raw.reporting_amount, reporting.exponent, { allowNegative: true, field: 'reporting_amount' }), reporting.exponent) };
      }
      const hash = inputHash(t);
      const k = key(t.payment_rail, t.external_id);
      const prior = byKey.get(k);
      if (prior !== undefined) {
        const replay = replayOutcome(prior, hash, orgId, t);
        if (!replay.ok) throw replay.error;
        outcomes.push(replay);
        continue;
      }
      if (!config.agents.has(t.agent_id)) throw new SpendtrailError('AGENT_NOT_FOUND', `no agent ${t.agent_id}`, { field: 'agent_id' });
      requireApproverNotOwner(t.approver, config.agents.get(t.agent_id)?.owner, t.agent_id);
      if (t.accounting_code !== null && !activeAccounts.has(t.accounting_code)) {
        throw new SpendtrailError('ACCOUNT_NOT_FOUND', `no active account ${t.accounting_code} in the chart of accounts`, {
          field: 'accounting_code',
        });
      }
      const currency = findCurrency(t.currency);
      if (currency === undefined) throw new SpendtrailError('UNKNOWN_CURRENCY', `unknown currency ${t.currency}`, { field: 'currency' });
      const minor = parseDecimal(t.amount, currency.exponent, { allowNegative: true, field: 'amount' });

      // Reporting-currency value: same currency passes through; otherwise a rate or a reported amount is required.
      let reportingMinor: bigint;
      if (t.currency === reporting.code) {
        if (t.fx_rate !== null || t.reporting_amount !== null) {
          throw new SpendtrailError('VALIDATION_FAILED', 'fx_rate and reporting_amount are only for foreign-currency amounts', { field: 'fx_rate' });
        }
        reportingMinor = minor;
      } else if (t.reporting_amount !== null) {
        reportingMinor = parseDecimal(t.reporting_amount, reporting.exponent, { allowNegative: minor < 0n, field: 'reporting_amount' });
        if (t.fx_rate === null || t.fx_rate_source === null || t.fx_rate_time === null) {
          throw new SpendtrailError('FX_RATE_REQUIRED', 'a foreign-currency amount needs fx_rate, fx_rate_source and fx_rate_time', { field: 'fx_rate' });
        }
        if ((reportingMinor < 0n) !== (minor < 0n) || reportingMinor === 0n) {
          throw new SpendtrailError('INVALID_AMOUNT', 'reporting_amount must be non-zero with the sign of amount', { field: 'reporting_amount' });
        }
        if (!fxConsistent(minor, currency.exponent, t.fx_rate, reportingMinor, reporting.exponent)) {
          throw new SpendtrailError('INVALID_AMOUNT', `reporting_amount does not match amount × fx_rate (${t.fx_rate})`, { field: 'reporting_amount' });
        }
      } else if (t.fx_rate !== null) {
        if (t.fx_rate_source === null || t.fx_rate_time === null) {
          throw new SpendtrailError('FX_RATE_REQUIRED', 'an exchange rate needs fx_rate_source and fx_rate_time', { field: 'fx_rate_source' });
        }
        reportingMinor = convert(minor, currency.exponent, parseRate(t.fx_rate, 'fx_rate'), reporting.exponent);
      } else {
        throw new SpendtrailError(
          'FX_RATE_REQUIRED',
          `${t.currency} is not the reporting currency ${reporting.code}: give fx_rate (with fx_rate_source and fx_rate_time) or reporting_amount`,
          { field: 'currency' },
        );
      }

      let approver = t.approver;
      let approvalRef = t.approval_ref;
      if (t.authorization_id !== null) {
        const a = auths.get(t.authorization_id);
        if (a === undefined || a.agent_id !== t.agent_id) {
          throw new SpendtrailError('AUTHORIZATION_NOT_FOUND', `no authorization ${t.authorization_id} for ${t.agent_id}`, { field: 'authorization_id' });
        }
        const approved = a.decision === 'needs_approval' && (a.approved_by ?? null) !== null;
        if ((a.decision !== 'allow' && !approved) || a.status !== 'held' || settledHere.has(a.authorization_id)) {
          throw new SpendtrailError('AUTHORIZATION_NOT_USABLE', `authorization ${a.authorization_id} is ${a.status === 'held' && settledHere.has(a.authorization_id) ? 'settled' : a.status}, not an open hold: record the payment without it`, { field: 'authorization_id' });
        }
        if (reportingMinor > a.amount_minor) {
          throw new SpendtrailError('AUTHORIZATION_NOT_USABLE', 'the payment is larger than its authorization: authorize the difference or record it without authorization_id', { field: 'amount' });
        }
        // The approver of an approved authorization is the principal who approved it, taken from
        // the approval, never a name the paying agent supplies.
        if (approved) {
          approver = a.approved_by ?? null;
          approvalRef = a.approval_id ?? null;
        }
      }

      if (reportingMinor > INT8_MAX || reportingMinor < -INT8_MAX) {
        throw new SpendtrailError('INVALID_AMOUNT', 'amount is beyond what the ledger records', { field: 'amount' });
      }
      let refundOf: string | null = null;
      if (t.refund_of !== null) {
        const target =
          (UUID.test(t.refund_of) ? targets.get(t.refund_of.toLowerCase()) : undefined) ??
          [...targets.values()].find((s) => s.record.payment_rail === t.payment_rail && s.record.external_id === t.refund_of) ??
          rows.find((s) => s.record.payment_rail === t.payment_rail && s.record.external_id === t.refund_of);
        if (target === undefined || target.record.type !== 'payment') {
          throw new SpendtrailError('REFUND_TARGET_NOT_FOUND', `no payment ${t.refund_of} to refund`, { field: 'refund_of' });
        }
        if (target.record.agent_id !== t.agent_id) {
          throw new SpendtrailError('VALIDATION_FAILED', 'a refund belongs to the agent of the original payment', { field: 'agent_id' });
        }
        if (target.record.currency !== t.currency) {
          throw new SpendtrailError('CURRENCY_MISMATCH', `a refund is in the currency of the original payment (${target.record.currency})`, { field: 'currency' });
        }
        // Capped in the original currency: exchange-rate moves must neither block a full refund
        // nor let a refund return more than was paid.
        const original = parseDecimal(target.record.amount, currency.exponent, { allowNegative: false, field: 'refund_of' });
        const already = refunded.get(target.record.tx_id) ?? 0n;
        if (original + already + minor < 0n) {
          throw new SpendtrailError('REFUND_EXCEEDS_ORIGINAL', 'refunds would exceed the original payment', { field: 'amount' });
        }
        refunded.set(target.record.tx_id, already + minor);
        refundOf = target.record.tx_id;
      }

      const coding = codeTransaction(book, {
        accountingCode: t.accounting_code,
        agentId: t.agent_id,
        merchant: t.merchant,
        merchantCategory: t.merchant_category,
      });
      const atMs = instantMs(t.timestamp);
      const policy = policyInForce(policies.get(t.agent_id) ?? [], atMs);
      const w = windows[i] ?? { day: '', month: '' };
      const dailyBefore = rollups.get(rollKey(t.agent_id, w.day)) ?? 0n;
      const monthlyBefore = rollups.get(rollKey(t.agent_id, w.month)) ?? 0n;
      const violations = evaluate(
        policy,
        {
          amount: reportingMinor,
          atMs,
          merchant: t.merchant,
          merchantCategory: t.merchant_category,
          rail: t.payment_rail,
          businessPurpose: t.business_purpose,
          approver,
          accountingCode: coding?.code ?? null,
        },
        { daily: dailyBefore, monthly: monthlyBefore },
      );
      const record: TransactionRecord = {
        kind: 'transaction',
        seq: nextSeq(),
        org_id: orgId,
        tx_id: deps.ids.uuid(),
        recorded_at: recordedAt,
        recorded_by: (items[i] as (typeof items)[number]).by.principal,
        external_id: t.external_id,
        agent_id: t.agent_id,
        timestamp: t.timestamp,
        type: t.type,
        refund_of: refundOf,
        amount: t.amount,
        currency: t.currency,
        reporting_amount: formatMinor(reportingMinor, reporting.exponent),
        reporting_currency: reporting.code,
        fx_rate: t.fx_rate,
        fx_rate_source: t.fx_rate_source,
        fx_rate_time: t.fx_rate_time,
        payment_rail: t.payment_rail,
        merchant: t.merchant,
        merchant_category: t.merchant_category,
        business_purpose: t.business_purpose,
        accounting_code: coding?.code ?? null,
        accounting_code_source: coding?.source ?? null,
        approver,
        approval_ref: approvalRef,
        authorization_id: t.authorization_id,
        policy_snapshot_id: policy?.snapshotId ?? null,
        violations,
        spend_before_daily: formatMinor(dailyBefore, reporting.exponent),
        spend_before_monthly: formatMinor(monthlyBefore, reporting.exponent),
        input_hash: hash,
      };
      const leaf = leafHash(encodeTransaction(record));
      addLeaf(leaf);
      rows.push({ record, leaf_hash: leaf, reporting_minor: reportingMinor });
      byKey.set(k, rows[rows.length - 1] as StoredTransaction);
      // Budgets count gross spend: money coming back does not reopen a budget (a refund dated
      // later would otherwise let the agent spend its limit plus the refund that day).
      const counted = budgetAmount(reportingMinor);
      rollups.set(rollKey(t.agent_id, w.day), dailyBefore + counted);
      rollups.set(rollKey(t.agent_id, w.month), monthlyBefore + counted);
      deltas.push({ agent_id: t.agent_id, period: w.day, delta: counted }, { agent_id: t.agent_id, period: w.month, delta: counted });
      addToRollups(summaryDeltas, {
        day: w.day.slice(1),
        agent_id: t.agent_id,
        accounting_code: record.accounting_code,
        payment_rail: t.payment_rail,
        reporting_minor: reportingMinor,
        violations,
      });
      if (t.authorization_id !== null) {
        settle.push({ id: t.authorization_id, tx: record.tx_id });
        settledHere.add(t.authorization_id);
      }
      outcomes.push({ ok: true, result: { status: 'recorded', transaction: record } });
    } catch (e) {
      if (!(e instanceof SpendtrailError)) throw e;
      if (!lookup) {
        // Written without the idempotency lookup: a replay can fail a check that the original
        // passed (a full refund refunded again, a since-deactivated account). Before reporting
        // anything, ask whether this key was recorded already.
        const [prior] = await tx.findTransactionsByExternal(orgId, [{ payment_rail: t.payment_rail, external_id: t.external_id }]);
        if (prior !== undefined) {
          const replay = replayOutcome(prior, inputHash(t), orgId, t);
          if (replay.ok) {
            outcomes.push(replay);
            continue;
          }
          if (mode === 'atomic') throw replay.error.under(fieldOf(i));
          outcomes.push({ ok: false, error: replay.error.under(fieldOf(i)) });
          continue;
        }
      }
      const err = e.under(fieldOf(i));
      if (mode === 'atomic') throw err;
      outcomes.push({ ok: false, error: err });
    }
  }

  await tx.insertTransactions(orgId, rows);
  await tx.addRollups(orgId, deltas, [...summaryDeltas.values()]);
  for (const s of settle) {
    // Conditional on the hold still being open: a concurrent release wins or loses whole.
    if (!(await tx.setAuthorizationStatus(orgId, s.id, 'settled', s.tx))) {
      throw new SpendtrailError('AUTHORIZATION_NOT_USABLE', `authorization ${s.id} was released or settled meanwhile`, { field: 'authorization_id' });
    }
  }
  return outcomes;
}
