import { SpendtrailError } from '../domain/errors.ts';
import { codeTransaction } from '../domain/gl/coding.ts';
import { findCurrency } from '../domain/money/currency.ts';
import { parseDecimal } from '../domain/money/decimal.ts';
import type { Decision } from '../domain/policy/evaluate.ts';
import { decide, evaluate } from '../domain/policy/evaluate.ts';
import { policyInForce } from '../domain/policy/policy.ts';
import type { Violation } from '../domain/policy/violation.ts';
import type { Rail } from '../domain/rails.ts';
import type { Instant } from '../domain/time.ts';
import { instantFromDate, instantMs, localDay, localMonth, parseInstant } from '../domain/time.ts';
import type { AppDeps } from './deps.ts';
import type { ConfigSnapshot } from './config-snapshot.ts';
import { configCacheFor } from './config-snapshot.ts';
import type { Principal } from './principal.ts';
import { requireActsFor, requireApproverNotOwner, requireNoSelfApproval, requireRole } from './principal.ts';
import type { AuthorizationRow, Store, StoreTx } from './ports/store.ts';
import { GroupCommitQueue } from './group-commit.ts';

export interface AuthorizeInput {
  readonly agent_id: string;
  readonly amount: string;
  readonly currency: string;
  readonly merchant: string;
  readonly merchant_category?: string | null | undefined;
  readonly payment_rail: Rail;
  readonly business_purpose?: string | null | undefined;
  readonly approver?: string | null | undefined;
  readonly timestamp?: string | undefined;
  readonly hold_seconds?: number | undefined;
}

export interface AuthorizeResult {
  readonly authorization_id: string;
  readonly decision: Decision;
  readonly reasons: readonly Violation[];
  readonly policy_snapshot_id: string | null;
  /** Present when the amount is held against the budgets until settled, released or expired. */
  readonly expires_at: string | null;
}

const DEFAULT_HOLD_SECONDS = 15 * 60;
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

/** One asked authorization, waiting for its batch. Its id and clock reading come from its caller. */
interface Ask {
  readonly by: Principal;
  readonly input: AuthorizeInput;
  readonly id: string;
  readonly now: Date;
  readonly resolve: (r: AuthorizeResult) => void;
  readonly reject: (e: unknown) => void;
}

/** What an ask becomes once checked against the organisation's configuration. */
interface Checked {
  readonly ask: Ask;
  readonly amount: bigint;
  readonly at: Instant;
  readonly day: string;
  readonly month: string;
}

/**
 * The pre-spend question. Authorizations of one agent are serialised by a row lock on the
 * agent, and the spend they count (settled + unexpired holds) is read after taking it, in one
 * statement, so concurrent requests — in this process or any other — can never together pass a
 * limit. An `allow` holds the amount until the payment is recorded with this authorization_id,
 * released, or the hold expires.
 *
 * Calls are grouped per organisation (see GroupCommitQueue): one unit of work locks the agents of
 * every queued call, reads all their windows in one statement, decides the calls in arrival
 * order — each one counting the holds of the allows decided before it in the same group — and
 * inserts all the authorizations at once. Five round trips for the group instead of nine per call;
 * each caller is answered only after the commit, so every answer is durable.
 */
export async function authorize(deps: AppDeps, by: Principal, input: AuthorizeInput): Promise<AuthorizeResult> {
  requireRole(by, 'agent');
  requireActsFor(by, input.agent_id);
  requireNoSelfApproval(by, input.approver);
  if (findCurrency(input.currency) === undefined) throw new SpendtrailError('UNKNOWN_CURRENCY', `unknown currency ${input.currency}`, { field: 'currency' });
  return new Promise<AuthorizeResult>((resolve, reject) => {
    queueFor(deps).push(by.org_id, { by, input, id: deps.ids.uuid(), now: deps.clock.now(), resolve, reject });
  });
}

/** Largest group; PostgreSQL's parameter limit is far away (14 arrays, one parameter each). */
const MAX_GROUP = 1000;
const queues = new WeakMap<object, GroupCommitQueue<Ask>>();

/** One queue per store (the store is the database's identity); ids and clock readings come with each ask. */
function queueFor(deps: AppDeps): GroupCommitQueue<Ask> {
  const store = deps.store;
  let q = queues.get(store);
  if (q === undefined) {
    q = new GroupCommitQueue<Ask>((orgId, batch) => decideGroup(store, orgId, batch), MAX_GROUP, 2);
    queues.set(deps.store, q);
  }
  return q;
}

async function decideGroup(store: Store, orgId: string, asks: readonly Ask[]): Promise<void> {
  try {
    const outcomes = await store.unitOfWork((tx) => decideWithin(store, tx, orgId, asks));
    asks.forEach((a, i) => {
      const o = outcomes[i];
      if (o === undefined) a.reject(new SpendtrailError('INTERNAL', 'no outcome for a queued authorization'));
      else if (o.ok) a.resolve(o.result);
      else a.reject(o.error);
    });
  } catch (e) {
    if (asks.length === 1 || !(e instanceof SpendtrailError) || e.code === 'STORE_UNAVAILABLE') {
      for (const a of asks) a.reject(e);
      return;
    }
    // The group failed as a whole (an id asked twice, say): one caller's request must not fail
    // the others, so each is decided on its own.
    for (const a of asks) await decideGroup(store, orgId, [a]);
  }
}

type Outcome = { readonly ok: true; readonly result: AuthorizeResult } | { readonly ok: false; readonly error: SpendtrailError };

async function decideWithin(store: Store, tx: StoreTx, orgId: string, asks: readonly Ask[]): Promise<Outcome[]> {
  const agentIds = [...new Set(asks.map((a) => a.input.agent_id))].sort();
  const locked = await tx.lockAgents(orgId, agentIds);
  const configSeq = locked.config_seq ?? (locked.agents.size === 0 ? (await tx.getTreeHead(orgId))?.config_seq : undefined) ?? -1;
  const config = await configCacheFor(store).get(tx, orgId, configSeq);
  if (config === undefined) return asks.map(() => ({ ok: false, error: new SpendtrailError('ORG_NOT_FOUND', `no organisation ${orgId}`) }));
  const org = config.org;

  const outcomes: (Outcome | Checked)[] = asks.map((ask) => {
    try {
      return check(ask, org.reporting_currency, org.timezone, locked.agents, config.agents);
    } catch (e) {
      if (!(e instanceof SpendtrailError)) throw e;
      return { ok: false, error: e };
    }
  });
  const checked = outcomes.filter((o): o is Checked => !('ok' in o));
  const windows = new Map<string, { agent_id: string; day: string; month: string }>();
  for (const c of checked) windows.set(`${c.ask.input.agent_id}\u0000${c.day}\u0000${c.month}`, { agent_id: c.ask.input.agent_id, day: c.day, month: c.month });
  // Holds are counted as of the earliest call in the group: never fewer than any one call would count.
  const sums =
    checked.length === 0 ? new Map<string, { daily: bigint; monthly: bigint }>() : await tx.spendWithHoldsMany(orgId, [...windows.values()], new Date(Math.min(...checked.map((c) => c.ask.now.getTime()))));
  const daily = new Map<string, bigint>();
  const monthly = new Map<string, bigint>();
  for (const [k, w] of windows) {
    const s = sums.get(k) ?? { daily: 0n, monthly: 0n };
    daily.set(`${w.agent_id}\u0000${w.day}`, s.daily);
    monthly.set(`${w.agent_id}\u0000${w.month}`, s.monthly);
  }

  const rows: AuthorizationRow[] = [];
  const results = outcomes.map((o): Outcome => {
    if ('ok' in o) return o;
    const { ask, amount, at, day, month } = o;
    const input = ask.input;
    const dKey = `${input.agent_id}\u0000${day}`;
    const mKey = `${input.agent_id}\u0000${month}`;
    const soFar = { daily: daily.get(dKey) ?? 0n, monthly: monthly.get(mKey) ?? 0n };
    const policy = policyInForce(config.policies.get(input.agent_id) ?? [], instantMs(at));
    const merchant = input.merchant.trim();
    const coding = codeTransaction(config.rules, { accountingCode: null, agentId: input.agent_id, merchant, merchantCategory: input.merchant_category ?? null });
    const reasons = evaluate(
      policy,
      {
        amount,
        atMs: instantMs(at),
        merchant,
        merchantCategory: input.merchant_category ?? null,
        rail: input.payment_rail,
        businessPurpose: input.business_purpose ?? null,
        approver: input.approver ?? null,
        accountingCode: coding?.code ?? null,
      },
      soFar,
    );
    const decision = decide(reasons);
    const holds = decision === 'allow';
    if (holds) {
      // The next call of the group for this agent counts this hold, as it would after a commit.
      daily.set(dKey, soFar.daily + amount);
      monthly.set(mKey, soFar.monthly + amount);
    }
    const expires = new Date(ask.now.getTime() + (input.hold_seconds ?? DEFAULT_HOLD_SECONDS) * 1000);
    const row: AuthorizationRow = {
      authorization_id: ask.id,
      org_id: org.org_id,
      agent_id: input.agent_id,
      requested_by: ask.by.principal,
      ts: new Date(at),
      day,
      month,
      amount_minor: amount,
      decision,
      reasons,
      policy_snapshot_id: policy?.snapshotId ?? null,
      // A needs_approval answer waits for an approver and holds nothing until approved.
      status: holds ? 'held' : decision === 'needs_approval' ? 'pending_approval' : 'declined',
      expires_at: expires,
      created_at: ask.now,
      settled_tx_id: null,
    };
    rows.push(row);
    return {
      ok: true,
      result: { authorization_id: row.authorization_id, decision, reasons, policy_snapshot_id: row.policy_snapshot_id, expires_at: holds ? expires.toISOString() : null },
    };
  });
  await tx.insertAuthorizations(rows);
  return results;
}

/** The checks that need the organisation but not the ledger, in the order a lone call makes them. */
function check(ask: Ask, reportingCode: string, timezone: string, agents: ReadonlySet<string>, owners: ConfigSnapshot['agents']): Checked {
  const input = ask.input;
  const reporting = findCurrency(reportingCode);
  const currency = findCurrency(input.currency);
  if (currency === undefined) throw new SpendtrailError('UNKNOWN_CURRENCY', `unknown currency ${input.currency}`, { field: 'currency' });
  if (reporting === undefined || currency.code !== reporting.code) {
    throw new SpendtrailError('CURRENCY_MISMATCH', `authorize takes amounts in the reporting currency ${reportingCode}`, { field: 'currency' });
  }
  const amount = parseDecimal(input.amount, currency.exponent, { allowNegative: false, field: 'amount' });
  if (amount === 0n) throw new SpendtrailError('INVALID_AMOUNT', 'an authorization is for a positive amount', { field: 'amount' });
  if (amount >= 2n ** 63n) throw new SpendtrailError('INVALID_AMOUNT', 'amount is beyond what the ledger records', { field: 'amount' });
  const at = input.timestamp === undefined ? instantFromDate(ask.now) : parseInstant(input.timestamp, 'timestamp');
  // A caller-chosen date would let an exhausted budget be dodged (tomorrow's window) or an
  // older, looser policy be picked: authorize judges a payment about to happen.
  if (Math.abs(instantMs(at) - ask.now.getTime()) > MAX_CLOCK_SKEW_MS) {
    throw new SpendtrailError('VALIDATION_FAILED', 'timestamp must be within 5 minutes of now: authorize is asked just before paying', { field: 'timestamp' });
  }
  if (!agents.has(input.agent_id)) throw new SpendtrailError('AGENT_NOT_FOUND', `no agent ${input.agent_id}`, { field: 'agent_id' });
  requireApproverNotOwner(input.approver, owners.get(input.agent_id)?.owner, input.agent_id);
  return { ask, amount, at, day: localDay(at, timezone), month: localMonth(at, timezone) };
}

/** Gives a held amount back to the budgets (the payment did not happen). */
export async function releaseAuthorization(deps: AppDeps, by: Principal, authorizationId: string): Promise<void> {
  requireRole(by, 'agent');
  await deps.store.unitOfWork(async (tx) => {
    const a = await tx.getAuthorization(by.org_id, authorizationId);
    if (a === undefined) throw new SpendtrailError('AUTHORIZATION_NOT_FOUND', `no authorization ${authorizationId}`);
    requireActsFor(by, a.agent_id);
    await tx.lockAgent(by.org_id, a.agent_id);
    if (a.status === 'held') await tx.setAuthorizationStatus(by.org_id, a.authorization_id, 'released', null);
  });
}
