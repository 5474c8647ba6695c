import { SpendtrailError } from '../domain/errors.ts';
import { codeTransaction } from '../domain/gl/coding.ts';
import { findCurrency } from '../domain/money/currency.ts';
import { parseDecimal } from '../domain/money/decimal.ts';
import type { Decision } from '../domain/policy/evaluate.ts';
import { decide, evaluate } from '../domain/policy/evaluate.ts';
import { policyInForce } from '../domain/policy/policy.ts';
import type { Violation } from '../domain/policy/violation.ts';
import type { Rail } from '../domain/rails.ts';
import { instantFromDate, instantMs, localDay, localMonth, parseInstant } from '../domain/time.ts';
import type { AppDeps } from './deps.ts';
import { configCacheFor } from './config-snapshot.ts';
import type { Principal } from './principal.ts';
import { requireActsFor, requireNoSelfApproval, requireRole } from './principal.ts';
import type { AuthorizationRow } from './ports/store.ts';

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

/**
 * The pre-spend question. Authorizations of one agent are serialised by a row lock on the
 * agent, and the spend they count (settled + unexpired holds) is read in one statement, so
 * concurrent requests can never together pass a limit. An `allow` holds the amount until the
 * payment is recorded with this authorization_id, released, or the hold expires.
 */
export async function authorize(deps: AppDeps, by: Principal, input: AuthorizeInput): Promise<AuthorizeResult> {
  requireRole(by, 'agent');
  requireActsFor(by, input.agent_id);
  requireNoSelfApproval(by, input.approver);
  return deps.store.unitOfWork(async (tx) => {
    const head = await tx.getTreeHead(by.org_id);
    const config = await configCacheFor(deps.store).get(tx, by.org_id, head?.config_seq ?? -1);
    if (config === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `no organisation ${by.org_id}`);
    const org = config.org;
    const reporting = findCurrency(org.reporting_currency);
    const currency = findCurrency(input.currency);
    if (currency === undefined) throw new SpendtrailError('UNKNOWN_CURRENCY', `unknown currency ${input.currency}`, { field: 'currency' });
    if (reporting === undefined || currency.code !== reporting.code) {
      throw new SpendtrailError('CURRENCY_MISMATCH', `authorize takes amounts in the reporting currency ${org.reporting_currency}`, {
        field: 'currency',
      });
    }
    const amount = parseDecimal(input.amount, currency.exponent, { allowNegative: false, field: 'amount' });
    if (amount === 0n) throw new SpendtrailError('INVALID_AMOUNT', 'an authorization is for a positive amount', { field: 'amount' });
    if (amount >= 2n ** 63n) throw new SpendtrailError('INVALID_AMOUNT', 'amount is beyond what the ledger records', { field: 'amount' });
    const now = deps.clock.now();
    const at = input.timestamp === undefined ? instantFromDate(now) : parseInstant(input.timestamp, 'timestamp');
    // A caller-chosen date would let an exhausted budget be dodged (tomorrow's window) or an
    // older, looser policy be picked: authorize judges a payment about to happen.
    if (Math.abs(instantMs(at) - now.getTime()) > MAX_CLOCK_SKEW_MS) {
      throw new SpendtrailError('VALIDATION_FAILED', 'timestamp must be within 5 minutes of now: authorize is asked just before paying', {
        field: 'timestamp',
      });
    }
    if (!(await tx.lockAgent(org.org_id, input.agent_id))) {
      throw new SpendtrailError('AGENT_NOT_FOUND', `no agent ${input.agent_id}`, { field: 'agent_id' });
    }
    const policy = policyInForce(config.policies.get(input.agent_id) ?? [], instantMs(at));
    const day = localDay(at, org.timezone);
    const month = localMonth(at, org.timezone);
    const soFar = await tx.spendWithHolds(org.org_id, input.agent_id, day, month, now);
    const merchant = input.merchant.trim();
    const coding = codeTransaction(config.rules, {
      accountingCode: null,
      agentId: input.agent_id,
      merchant,
      merchantCategory: input.merchant_category ?? null,
    });
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
    const expires = new Date(now.getTime() + (input.hold_seconds ?? DEFAULT_HOLD_SECONDS) * 1000);
    const row: AuthorizationRow = {
      authorization_id: deps.ids.uuid(),
      org_id: org.org_id,
      agent_id: input.agent_id,
      requested_by: by.principal,
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
      created_at: now,
      settled_tx_id: null,
    };
    await tx.insertAuthorization(row);
    return {
      authorization_id: row.authorization_id,
      decision,
      reasons,
      policy_snapshot_id: row.policy_snapshot_id,
      expires_at: holds ? expires.toISOString() : null,
    };
  });
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
