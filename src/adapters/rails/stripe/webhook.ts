import { authorize, releaseAuthorization } from '../../../app/authorize.ts';
import type { AppDeps } from '../../../app/deps.ts';
import type { RailEndpointRow } from '../../../app/ports/store.ts';
import type { Principal } from '../../../app/principal.ts';
import { activeEndpoint, railPrincipal } from '../../../app/rail-endpoints.ts';
import type { RailCapture, RailIngestResult } from '../../../app/rail-ingest.ts';
import { ingestRailCapture } from '../../../app/rail-ingest.ts';
import { shortReason } from '../../../app/retry.ts';
import { valuationRulesOf } from '../../../app/valuation-rules.ts';
import { canonicalize } from '../../../domain/canonical/index.ts';
import type { ErrorCode } from '../../../domain/errors.ts';
import { SpendtrailError } from '../../../domain/errors.ts';
import { findCurrency } from '../../../domain/money/currency.ts';
import type { FactsWanted, LedgerPayment, SpendtrailHold, StripeEvent, StripeFacts, StripeMapping } from './events.ts';
import { STRIPE_CONTENT_TYPE, authorizationAskOf, factsWanted, mapStripeEvent, parseStripeEvent, reasonOf, spendtrailAuthorizationId } from './events.ts';
import { verifyStripeSignature } from './signature.ts';

export interface StripeRailOptions {
  /**
   * Longest the ledger may take to decide an `issuing_authorization.request`. Stripe waits 2 s
   * for the answer, network both ways included; past this the answer is a decline.
   */
  readonly authorizationDeadlineMs: number;
  /** How long an approved card authorization holds its amount against the agent's budgets until its capture settles it. */
  readonly holdSeconds: number;
  /** How long after an event was created a refund of a payment not in the ledger yet is answered with an error, so Stripe retries. */
  readonly orderingGraceMs: number;
}

export const STRIPE_RAIL_DEFAULTS: StripeRailOptions = {
  // Half of Stripe's window: the other half is for the network path both ways, TLS and any
  // queue in front of the server. An answer that arrives after 2 s is not an answer at all.
  authorizationDeadlineMs: 1000,
  // Stripe captures most card authorizations within 24 hours; until then the approved amount
  // must count against the budgets, or a second purchase the same day could pass the limit.
  holdSeconds: 24 * 60 * 60,
  // Stripe does not deliver events in order: a refund may come before its payment. Within an
  // hour the retry brings it after the payment; later, the refund is kept as noted instead.
  orderingGraceMs: 60 * 60 * 1000,
};

/**
 * The API version named in the answer to a real-time authorization when the event names none:
 * the version of the stripe-node release the fixtures are built from. Stripe reads the answer
 * body against the version it is given; `{approved}` means the same in every version that
 * takes direct answers.
 */
export const STRIPE_API_VERSION = '2026-10-28.endive';

// --- events that are recorded (everything but the authorization request)

export interface StripeReceipt {
  readonly event_id: string;
  readonly type: string;
  readonly status: RailIngestResult['status'];
  readonly outcome: RailIngestResult['outcome'];
  /** Why the event was kept as noted (null when booked, and for duplicates, whose reason is in the log). */
  readonly reason: string | null;
  readonly tx_ids: readonly string[];
}

/**
 * Errors that say the ledger cannot book this event's content as it stands. The event is then
 * kept as a noted record with the reason (and the webhook answers 200): Stripe would retry the
 * same content for days and get the same answer. Anything else (the store unavailable) is
 * answered as an error so Stripe retries.
 */
const NOT_BOOKABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'VALIDATION_FAILED',
  'INVALID_AMOUNT',
  'INVALID_TIMESTAMP',
  'UNKNOWN_CURRENCY',
  'CURRENCY_MISMATCH',
  'FX_RATE_REQUIRED',
  'AGENT_NOT_FOUND',
  'ACCOUNT_NOT_FOUND',
  'REFUND_TARGET_NOT_FOUND',
  'REFUND_EXCEEDS_ORIGINAL',
  'AUTHORIZATION_NOT_FOUND',
  'AUTHORIZATION_NOT_USABLE',
  'AMOUNT_NOT_EXACT',
  'IDEMPOTENCY_CONFLICT',
]);

/** A database sum ("-12.50", "-12.5", "0") as positive minor units at the currency's exponent. */
function refundedMinor(text: string | undefined, exponent: number): bigint {
  if (text === undefined) return 0n;
  const [int = '0', frac = ''] = text.replace(/^-/, '').split('.');
  return BigInt(int + frac.padEnd(exponent, '0').slice(0, exponent));
}

async function readFacts(deps: AppDeps, orgId: string, wanted: FactsWanted): Promise<StripeFacts> {
  const org = await deps.store.getOrg(orgId);
  if (org === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `no organisation ${orgId}`);
  const foreign = wanted.currencies.some((c) => c !== org.reporting_currency);
  const stored =
    wanted.paymentExternalIds.length === 0
      ? []
      : (await deps.store.findTransactionsByExternal(orgId, wanted.paymentExternalIds.map((external_id) => ({ payment_rail: 'stripe', external_id })))).filter(
          (s) => s.record.type === 'payment',
        );
  const refunded = stored.length === 0 ? new Map<string, string>() : await deps.store.refundedSoFar(orgId, stored.map((s) => s.record.tx_id));
  const payments = new Map<string, LedgerPayment>(
    stored.map((s) => [
      s.record.external_id,
      {
        tx_id: s.record.tx_id,
        agent_id: s.record.agent_id,
        currency: s.record.currency,
        merchant: s.record.merchant,
        merchant_category: s.record.merchant_category,
        business_purpose: s.record.business_purpose,
        refunded_minor: refundedMinor(refunded.get(s.record.tx_id), findCurrency(s.record.currency)?.exponent ?? 0),
      },
    ]),
  );
  const holds = new Map<string, SpendtrailHold>();
  for (const stripeId of wanted.stripeAuthorizations) {
    const a = await deps.store.getAuthorization(orgId, spendtrailAuthorizationId(orgId, stripeId));
    if (a !== undefined) {
      holds.set(stripeId, { authorization_id: a.authorization_id, agent_id: a.agent_id, decision: a.decision, status: a.status, amount_minor: a.amount_minor });
    }
  }
  return { reportingCurrency: org.reporting_currency, valuationRules: foreign ? await valuationRulesOf(deps.store, orgId) : [], payments, holds };
}

/**
 * Stripe may send an event again with `pending_webhooks` changed (it counts the endpoints
 * still to be served), so the bytes differ while the event does not. Everything else must be
 * the same for it to be the same event.
 */
function sameEvent(a: Buffer, b: Buffer): boolean {
  try {
    const strip = (raw: Buffer): string => {
      const { pending_webhooks: _ignored, ...rest } = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
      return canonicalize(rest);
    };
    return strip(a) === strip(b);
  } catch {
    return false;
  }
}

const asNoted = (c: RailCapture, reason: string): RailCapture => ({ ...c, outcome: 'noted', reason, transactions: [] });

async function ingest(deps: AppDeps, by: Principal, m: StripeMapping): Promise<{ result: RailIngestResult; reason: string | null }> {
  try {
    return { result: await ingestRailCapture(deps, by, m.capture), reason: m.capture.reason };
  } catch (e) {
    if (!(e instanceof SpendtrailError)) throw e;
    if (e.code === 'IDEMPOTENCY_CONFLICT' && e.field === 'source_id') {
      // The event id was recorded with other bytes: the same event re-sent is answered from
      // the stored record (by offering its stored bytes); a different body under that id is a conflict.
      const [prior] = await deps.store.getRailPayloads(by.org_id, [{ rail: 'stripe', source_id: m.capture.source_id }]);
      if (prior !== undefined && sameEvent(prior.body, m.capture.payload)) {
        return { result: await ingestRailCapture(deps, by, { ...m.capture, payload: prior.body }), reason: null };
      }
      throw e;
    }
    if (e.code === 'IDEMPOTENCY_CONFLICT' && m.alternate !== null && /(^|\.)external_id$/.test(e.field ?? '')) {
      return ingest(deps, by, { ...m, capture: m.alternate, alternate: null });
    }
    if ((e.code === 'AUTHORIZATION_NOT_USABLE' || e.code === 'AUTHORIZATION_NOT_FOUND') && m.capture.transactions.some((t) => t.authorization_id !== null)) {
      // The hold was released or settled since it was read: the capture is booked without it, not lost.
      const capture = { ...m.capture, transactions: m.capture.transactions.map((t) => ({ ...t, authorization_id: null })) };
      return ingest(deps, by, { ...m, capture });
    }
    if (m.capture.outcome === 'settled' && NOT_BOOKABLE.has(e.code)) {
      const reason = reasonOf(e);
      return { result: await ingestRailCapture(deps, by, asNoted(m.capture, reason)), reason };
    }
    throw e;
  }
}

/**
 * Records one verified Stripe event (any type but the real-time authorization request): the
 * raw body under the event id, with the ledger transactions it amounts to, or as noted with
 * the reason it was not booked. A refund whose payment is not in the ledger yet is refused
 * with REFUND_TARGET_NOT_FOUND while the event is young (Stripe retries it), and noted after.
 */
export async function receiveStripeEvent(
  deps: AppDeps,
  endpoint: RailEndpointRow,
  payload: Buffer,
  event: StripeEvent,
  options: StripeRailOptions = STRIPE_RAIL_DEFAULTS,
): Promise<StripeReceipt> {
  const by = railPrincipal(endpoint);
  const facts = await readFacts(deps, by.org_id, factsWanted(event));
  const m = mapStripeEvent(event, payload, facts);
  if (m.waitingFor !== null && deps.clock.now().getTime() - event.created * 1000 < options.orderingGraceMs) {
    const [seen] = await deps.store.getRailPayloads(by.org_id, [{ rail: 'stripe', source_id: event.id }]);
    // A replay of an event already kept is answered from the record, not refused again.
    if (seen === undefined) {
      throw new SpendtrailError('REFUND_TARGET_NOT_FOUND', `payment ${m.waitingFor} is not in the ledger yet; Stripe will retry this event`, {
        field: 'refund_of',
      });
    }
  }
  if (m.release !== null) await releaseAuthorization(deps, by, m.release);
  const { result, reason } = await ingest(deps, by, m);
  return {
    event_id: event.id,
    type: event.type,
    status: result.status,
    outcome: result.outcome,
    reason: result.status === 'duplicate' ? null : reason,
    tx_ids: result.transactions.map((t) => t.tx_id),
  };
}

// --- real-time authorization

export interface AuthorizationAnswer {
  readonly approved: boolean;
  /** The API version the answer is written in (the event's own, when it names one). */
  readonly stripe_version: string;
  /**
   * Writes the request as a noted rail record whose reason is the decision: approved or
   * declined, the ledger's decision and reasons, the policy snapshot id and the Spendtrail
   * authorization id. After a deadline it waits for the ledger's late answer (and gives back
   * any hold it made). Resolves to null, writing nothing, for a request never verified.
   */
  readonly record: () => Promise<RailIngestResult | null>;
}

interface Decided {
  readonly approved: boolean;
  /** The hold of a fresh allow: given back if the answer went out as a decline meanwhile. */
  readonly holds: string | null;
  readonly evidence: string;
}

async function decide(deps: AppDeps, by: Principal, event: StripeEvent, holdSeconds: number): Promise<Decided> {
  const q = authorizationAskOf(event);
  if ('decline' in q) return { approved: false, holds: null, evidence: `declined without asking the ledger: ${q.decline}` };
  const ask = q.ask;
  const id = spendtrailAuthorizationId(by.org_id, ask.stripe_authorization_id);
  try {
    let r: Awaited<ReturnType<typeof authorize>>;
    try {
      // The id source is pinned for this one call so the authorization gets the id derived from
      // Stripe's; the capture later finds it (and its agent) from the Stripe id alone.
      r = await authorize({ ...deps, ids: { uuid: () => id, secret: () => deps.ids.secret() } }, by, {
        agent_id: ask.agent_id,
        amount: ask.amount,
        currency: ask.currency,
        merchant: ask.merchant,
        merchant_category: ask.merchant_category,
        payment_rail: 'stripe',
        business_purpose: ask.business_purpose,
        hold_seconds: holdSeconds,
      });
    } catch (e) {
      // Asked before (the derived id exists): answered as then. Looked up only on this rare
      // path, so a first request costs no extra read on Stripe's clock.
      const prior = e instanceof SpendtrailError && e.code === 'IDEMPOTENCY_CONFLICT' ? await deps.store.getAuthorization(by.org_id, id) : undefined;
      if (prior === undefined) throw e;
      const approved = prior.decision === 'allow' && (prior.status === 'held' || prior.status === 'settled');
      return {
        approved,
        holds: null,
        evidence: `${approved ? 'approved' : 'declined'}: asked again, answered as before: decision ${prior.decision}${because(prior.reasons)}; policy_snapshot_id ${prior.policy_snapshot_id ?? 'none'}; Spendtrail authorization ${id}`,
      };
    }
    const approved = r.decision === 'allow';
    const note = r.decision === 'needs_approval' ? ' (no approver can answer within Stripe\'s window, so it is declined)' : '';
    return {
      approved,
      holds: approved ? id : null,
      evidence: `${approved ? 'approved' : 'declined'}: decision ${r.decision}${because(r.reasons)}${note}; policy_snapshot_id ${r.policy_snapshot_id ?? 'none'}; Spendtrail authorization ${id} for ${ask.agent_id}, ${ask.amount} ${ask.currency} at ${ask.merchant}`,
    };
  } catch (e) {
    if (e instanceof SpendtrailError) return { approved: false, holds: null, evidence: `declined: ${reasonOf(e)}` };
    return { approved: false, holds: null, evidence: `declined: the ledger failed (${shortReason(e instanceof Error ? e.message : String(e))})` };
  }
}

const because = (reasons: readonly string[]): string => (reasons.length === 0 ? '' : ` (${reasons.join(', ')})`);

/** The api_version a body names, read without trusting it: it only labels an answer that declines. */
function versionIn(payload: Buffer): string {
  try {
    const v = (JSON.parse(payload.toString('utf8')) as { api_version?: unknown }).api_version;
    return typeof v === 'string' && v.length <= 64 ? v : STRIPE_API_VERSION;
  } catch {
    return STRIPE_API_VERSION;
  }
}

/** Whether a body says it is an authorization request (unverified: it only picks the path with the deadline). */
export function saysAuthorizationRequest(payload: Buffer): boolean {
  try {
    return (JSON.parse(payload.toString('utf8')) as { type?: unknown }).type === 'issuing_authorization.request';
  } catch {
    return false;
  }
}

/**
 * Answers Stripe's `issuing_authorization.request` from the agent's policy: the endpoint is
 * found, the signature checked, then `authorize` is asked with the pending amount, merchant
 * and category, and an approved answer holds the amount. The deadline runs from `startedAt`
 * (the request's arrival) over all of it, the endpoint lookup included: past it the answer is
 * a decline. The compliance layer fails closed: a declined card purchase can be tried again,
 * an unchecked one cannot be taken back, and leaving it to Stripe's timeout setting could
 * approve it. A late allow is then given back so the declined purchase holds no budget.
 * Before the deadline, an unknown endpoint, a bad signature or a malformed body are refused
 * with their errors as for any event. Nothing but the authorization itself is written on the
 * way to the answer; the evidence record is `record()`, for after it.
 */
export async function answerAuthorizationRequest(
  deps: AppDeps,
  endpointOf: (endpointId: string) => Promise<RailEndpointRow | null>,
  endpointId: string,
  payload: Buffer,
  signature: string | readonly string[] | undefined,
  options: StripeRailOptions = STRIPE_RAIL_DEFAULTS,
  startedAt: number = performance.now(),
): Promise<AuthorizationAnswer> {
  const verified = (async () => {
    const endpoint = await endpointOf(endpointId);
    if (endpoint === null) throw new SpendtrailError('ENDPOINT_NOT_FOUND', 'no such endpoint');
    verifyStripeSignature(payload, signature, endpoint.secret, deps.clock.now());
    return { endpoint, event: parseStripeEvent(payload) };
  })();
  const deadlineAt = startedAt + options.authorizationDeadlineMs;
  const decided = verified.then(async (v) => ({
    ...v,
    // Verified only after the answer went out: the ledger is not asked for a decision nobody hears.
    decision:
      performance.now() >= deadlineAt
        ? { approved: false, holds: null, evidence: 'the request was verified after the deadline; the ledger was not asked' }
        : await decide(deps, railPrincipal(v.endpoint), v.event, options.holdSeconds),
  }));
  // Handled here so that a failure after the deadline, when nobody waits for it, is not an unhandled rejection.
  decided.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), Math.max(0, deadlineAt - performance.now()));
  });
  try {
    const first = await Promise.race([decided, deadline]);
    // Checked against the clock as well: on the embedded engine the store runs on this thread,
    // and a busy stretch can keep the timer from firing before the decision resolves.
    if (first !== null && performance.now() <= deadlineAt) {
      return {
        approved: first.decision.approved,
        stripe_version: first.event.api_version ?? STRIPE_API_VERSION,
        record: () => recordAuthorizationRequest(deps, first.endpoint, payload, first.event, first.decision.evidence),
      };
    }
  } finally {
    clearTimeout(timer);
  }
  const missed = `declined: no decision within ${options.authorizationDeadlineMs} ms (the deadline answers decline)`;
  return {
    approved: false,
    stripe_version: versionIn(payload),
    record: async () => {
      const v = await verified.catch(() => null);
      if (v === null) return null;
      const late = await decided.then(
        async ({ decision: d }) => {
          if (d.holds === null) return d.evidence.startsWith('the request was verified after') ? d.evidence : `the ledger answered late: ${d.evidence}`;
          await releaseAuthorization(deps, railPrincipal(v.endpoint), d.holds);
          return `the ledger answered late: ${d.evidence}; its hold was released`;
        },
        (e: unknown) => `the ledger failed late: ${shortReason(e instanceof Error ? e.message : String(e))}`,
      ).catch((e: unknown) => `releasing the late hold failed: ${shortReason(e instanceof Error ? e.message : String(e))}`);
      return recordAuthorizationRequest(deps, v.endpoint, payload, v.event, `${missed}; ${late}`);
    },
  };
}

/** The authorization request itself, kept as a noted rail record whose reason is the decision. */
export async function recordAuthorizationRequest(
  deps: AppDeps,
  endpoint: RailEndpointRow,
  payload: Buffer,
  event: StripeEvent,
  evidence: string,
): Promise<RailIngestResult> {
  const capture: RailCapture = { rail: 'stripe', source_id: event.id, content_type: STRIPE_CONTENT_TYPE, payload, outcome: 'noted', reason: `real-time authorization ${evidence}`, transactions: [] };
  return (await ingest(deps, railPrincipal(endpoint), { capture, waitingFor: null, alternate: null, release: null })).result;
}

/**
 * Active Stripe endpoints by id, kept for a short while: the endpoint is read for every
 * webhook, and an authorization request should not wait for the store to learn a secret it
 * read a moment ago. A revocation through this process applies at once (`forget`), through
 * another one within `ttlMs`, as for API keys. Unknown ids are not kept.
 */
export class EndpointCache {
  readonly #rows = new Map<string, { readonly row: RailEndpointRow; readonly until: number }>();

  constructor(
    private readonly deps: AppDeps,
    private readonly ttlMs = 2000,
    private readonly maxEntries = 1000,
  ) {}

  async get(endpointId: string): Promise<RailEndpointRow | null> {
    const hit = this.#rows.get(endpointId);
    if (hit !== undefined && hit.until > performance.now()) return hit.row;
    const row = await activeEndpoint(this.deps, endpointId, 'stripe');
    if (row === null) {
      this.#rows.delete(endpointId);
      return null;
    }
    if (this.#rows.size >= this.maxEntries) this.#rows.clear();
    this.#rows.set(endpointId, { row, until: performance.now() + this.ttlMs });
    return row;
  }

  forget(endpointId: string): void {
    this.#rows.delete(endpointId);
  }
}

/**
 * Writes evidence after the answer has gone out, one record at a time, and out of the way of
 * decisions: a record waits while an authorization request is being decided (they share the
 * store; on the embedded engine, its one connection), but never longer than `maxDeferMs`
 * after it was queued, so evidence lags a burst by at most that. A record that fails for a
 * reason other than its content is tried again a couple of times, then reported.
 */
export class EvidenceWriter {
  #tail: Promise<void> = Promise.resolve();
  #deciding = 0;
  readonly #waiters = new Set<() => void>();

  constructor(
    private readonly onError: (e: unknown) => void,
    private readonly maxDeferMs = 1000,
    private readonly retryDelaysMs: readonly number[] = [200, 2000],
  ) {}

  /** Runs a decision; records queued meanwhile wait for it (see the class comment). */
  async deciding<T>(work: () => Promise<T>): Promise<T> {
    this.#deciding += 1;
    try {
      return await work();
    } finally {
      this.#deciding -= 1;
      if (this.#deciding === 0) for (const wake of [...this.#waiters]) wake();
    }
  }

  push(job: () => Promise<unknown>): void {
    const queued = performance.now();
    this.#tail = this.#tail.then(() => this.#attempt(job, queued)).catch((e: unknown) => this.onError(e));
  }

  #quiet(queued: number): Promise<void> {
    const left = queued + this.maxDeferMs - performance.now();
    if (this.#deciding === 0 || left <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, left);
      this.#waiters.add(wake);
    });
  }

  async #attempt(job: () => Promise<unknown>, queued: number): Promise<void> {
    for (let i = 0; ; i++) {
      // Back to the event loop first, so requests waiting on sockets and timers go before this record.
      await new Promise((r) => setImmediate(r));
      await this.#quiet(queued);
      try {
        await job();
        return;
      } catch (e) {
        const delay = this.retryDelaysMs[i];
        if (e instanceof SpendtrailError || delay === undefined) throw e;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Resolves when every record pushed so far (and any pushed while waiting) is written or reported. */
  async idle(): Promise<void> {
    let tail: Promise<void>;
    do {
      tail = this.#tail;
      await tail;
    } while (tail !== this.#tail);
  }
}
