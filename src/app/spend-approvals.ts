import { SpendtrailError } from '../domain/errors.ts';
import { findCurrency } from '../domain/money/currency.ts';
import { formatMinor } from '../domain/money/decimal.ts';
import { instantFromDate } from '../domain/time.ts';
import { appendToLog } from './append.ts';
import type { SpendApprovalBody } from './change-entries.ts';
import { configCacheFor } from './config-snapshot.ts';
import type { AppDeps } from './deps.ts';
import type { Principal } from './principal.ts';
import { requireRole } from './principal.ts';
import type { StoreReads } from './ports/store.ts';

export interface SpendDecisionInput {
  /** A needs_approval answer from `authorize`, or … */
  readonly authorization_id?: string | undefined;
  /** … a recorded payment that was over its approval threshold without an approver. */
  readonly tx_id?: string | undefined;
  readonly decision: 'approve' | 'reject';
  readonly comment?: string | null | undefined;
}

export interface SpendDecision {
  readonly approval_id: string;
  readonly decision: 'approved' | 'rejected';
  readonly approved_by: string;
  readonly authorization_id: string | null;
  readonly tx_id: string | null;
  /** For an approved authorization: the amount is held for the agent until this instant. */
  readonly expires_at: string | null;
  readonly seq: number;
}

const HOLD_AFTER_APPROVAL_MS = 15 * 60 * 1000;
const same = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();

/**
 * An approver's decision on spend above an approval threshold. The approver is never the agent's
 * owner nor whoever asked for the spend, and an agent key never approves. Approving an
 * authorization re-checks the budgets under the agent's lock and turns it into a hold the agent
 * then settles; the payment recorded against it carries the approver from this decision.
 */
export async function decideSpend(deps: AppDeps, by: Principal, input: SpendDecisionInput): Promise<SpendDecision> {
  requireRole(by, 'approver');
  if (by.agent_id !== null) throw new SpendtrailError('FORBIDDEN', 'an agent key cannot approve spend', { field: 'agent_id' });
  if ((input.authorization_id === undefined) === (input.tx_id === undefined)) {
    throw new SpendtrailError('VALIDATION_FAILED', 'give exactly one of authorization_id and tx_id', { field: 'authorization_id' });
  }
  const comment = input.comment == null || input.comment.trim() === '' ? null : input.comment.trim();
  if (input.decision === 'reject' && comment === null) {
    throw new SpendtrailError('VALIDATION_FAILED', 'a rejection says why', { field: 'comment' });
  }
  const decision = input.decision === 'approve' ? 'approved' : 'rejected';
  const { result } = await appendToLog(deps, by.org_id, async ({ tx, org, sealer, now }) => {
    const exp = findCurrency(org.reporting_currency)?.exponent ?? 2;
    const approvalId = deps.ids.uuid();
    let body: SpendApprovalBody;
    let expires: Date | null = null;
    const target = input.authorization_id ?? input.tx_id ?? '';
    // Decisions on one target are serialised by the tree lock this append holds.
    if ((await tx.logEntriesOfKinds(org.org_id, ['spend_approval'], [target])).length > 0) {
      throw new SpendtrailError('APPROVAL_NOT_PENDING', `${target} was already decided`, { field: input.tx_id === undefined ? 'authorization_id' : 'tx_id' });
    }
    if (input.authorization_id !== undefined) {
      const a = await tx.getAuthorization(org.org_id, input.authorization_id);
      if (a === undefined) throw new SpendtrailError('AUTHORIZATION_NOT_FOUND', `no authorization ${input.authorization_id}`, { field: 'authorization_id' });
      if (a.status !== 'pending_approval') {
        throw new SpendtrailError('APPROVAL_NOT_PENDING', `authorization ${a.authorization_id} is ${a.status}, not waiting for approval`, { field: 'authorization_id' });
      }
      await separate(tx, by, a.agent_id, a.requested_by, org.org_id);
      await tx.lockAgent(org.org_id, a.agent_id);
      if (decision === 'approved') {
        // The budgets may have moved since the request: an approval lifts the threshold, not the limits.
        const head = await tx.getTreeHead(org.org_id);
        const config = await configCacheFor(deps.store).get(tx, org.org_id, head?.config_seq ?? -1);
        const policy = (config?.policies.get(a.agent_id) ?? []).find((p) => p.snapshotId === a.policy_snapshot_id);
        const latest = (config?.policies.get(a.agent_id) ?? []).reduce((m, p) => Math.max(m, p.document.version), 0);
        if (policy === undefined || policy.document.version !== latest) {
          throw new SpendtrailError('AUTHORIZATION_NOT_USABLE', 'the agent policy changed since this was requested: authorize again', { field: 'authorization_id' });
        }
        const soFar = await tx.spendWithHolds(org.org_id, a.agent_id, a.day, a.month, now);
        if ((policy.dailyLimit !== null && soFar.daily + a.amount_minor > policy.dailyLimit) || (policy.monthlyLimit !== null && soFar.monthly + a.amount_minor > policy.monthlyLimit)) {
          throw new SpendtrailError('AUTHORIZATION_NOT_USABLE', 'the budget no longer has room for this amount', { field: 'authorization_id' });
        }
        expires = new Date(now.getTime() + HOLD_AFTER_APPROVAL_MS);
      }
      body = {
        approval_id: approvalId,
        target: 'authorization',
        authorization_id: a.authorization_id,
        tx_id: null,
        agent_id: a.agent_id,
        amount: formatMinor(a.amount_minor, exp),
        currency: org.reporting_currency,
        decision,
        comment,
        requested_by: a.requested_by,
        policy_snapshot_id: a.policy_snapshot_id,
      };
      const moved = await tx.decideAuthorization(org.org_id, a.authorization_id, {
        status: decision === 'approved' ? 'held' : 'rejected',
        approved_by: decision === 'approved' ? by.principal : null,
        approval_id: approvalId,
        expires_at: expires ?? a.expires_at,
      });
      if (!moved) throw new SpendtrailError('APPROVAL_NOT_PENDING', `authorization ${a.authorization_id} was decided meanwhile`, { field: 'authorization_id' });
    } else {
      const [t] = await tx.findTransactionsById(org.org_id, [input.tx_id ?? '']);
      if (t === undefined) throw new SpendtrailError('TRANSACTION_NOT_FOUND', `no transaction ${input.tx_id}`, { field: 'tx_id' });
      if (!t.record.violations.includes('missing_approval')) {
        throw new SpendtrailError('APPROVAL_NOT_PENDING', `transaction ${t.record.tx_id} did not need an approval`, { field: 'tx_id' });
      }
      await separate(tx, by, t.record.agent_id, t.record.recorded_by, org.org_id);
      body = {
        approval_id: approvalId,
        target: 'transaction',
        authorization_id: null,
        tx_id: t.record.tx_id,
        agent_id: t.record.agent_id,
        amount: t.record.reporting_amount,
        currency: t.record.reporting_currency,
        decision,
        comment,
        requested_by: t.record.recorded_by,
        policy_snapshot_id: t.record.policy_snapshot_id,
      };
    }
    const e = sealer.addEntry('spend_approval', target, instantFromDate(now), by.principal, body);
    return {
      approval_id: approvalId,
      decision,
      approved_by: by.principal,
      authorization_id: body.authorization_id,
      tx_id: body.tx_id,
      expires_at: expires === null ? null : expires.toISOString(),
      seq: e.seq,
    } satisfies SpendDecision;
  });
  return result;
}

async function separate(store: StoreReads, by: Principal, agentId: string, requestedBy: string, orgId: string): Promise<void> {
  if (same(requestedBy, by.principal)) {
    throw new SpendtrailError('SEGREGATION_OF_DUTIES', 'whoever asked for the spend does not approve it', { field: 'approver' });
  }
  const [agent] = await store.getAgents(orgId, [agentId]);
  if (agent !== undefined && same(agent.owner, by.principal)) {
    throw new SpendtrailError('SEGREGATION_OF_DUTIES', `you own agent ${agentId}: its spend is approved by someone else`, { field: 'approver' });
  }
}
