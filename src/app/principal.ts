import { SpendtrailError } from '../domain/errors.ts';

/** Roles from the architecture; `admin` holds every role of its organisation. */
export const ROLES = ['admin', 'agent', 'policy_admin', 'approver', 'finance', 'auditor'] as const;
export type Role = (typeof ROLES)[number];
export const isRole = (s: string): s is Role => (ROLES as readonly string[]).includes(s);

/** An authenticated caller. Every write carries one; it is never a free-text name. */
export interface Principal {
  readonly org_id: string;
  readonly principal: string;
  readonly roles: readonly Role[];
  /** Set for agent keys: they act for this agent only. */
  readonly agent_id: string | null;
  readonly key_id: string | null;
}

export function hasRole(p: Principal, ...any: readonly Role[]): boolean {
  return p.roles.includes('admin') || any.some((r) => p.roles.includes(r));
}

export function requireRole(p: Principal, ...any: readonly Role[]): void {
  if (!hasRole(p, ...any)) {
    throw new SpendtrailError('FORBIDDEN', `this needs one of the roles: ${any.join(', ')}`, {
      details: { principal: p.principal, roles: [...p.roles] },
    });
  }
}

/** Agent keys may act only for their own agent; other roles for any agent of their org. */
export function requireActsFor(p: Principal, agentId: string, field = 'agent_id'): void {
  if (p.agent_id !== null && p.agent_id !== agentId && !p.roles.includes('admin')) {
    throw new SpendtrailError('FORBIDDEN', `this key acts for agent ${p.agent_id} only`, { field });
  }
}

/** The identity the CLI uses when it talks to the database directly (operator on the host). */
export const operator = (orgId: string): Principal => ({
  org_id: orgId,
  principal: 'operator@cli',
  roles: ['admin'],
  agent_id: null,
  key_id: null,
});

/**
 * An agent cannot vouch for its own spending: the approver on a payment it submits would be a
 * name it chose. Approvals come from other principals.
 */
export function requireNoSelfApproval(p: Principal, approver: string | null | undefined): void {
  if (p.agent_id !== null && !p.roles.includes('admin') && approver !== null && approver !== undefined && approver.trim() !== '') {
    throw new SpendtrailError('FORBIDDEN', 'an agent key cannot name the approver of its own payment', { field: 'approver' });
  }
  // Any other key (an admin recording on an agent's behalf) cannot name itself either.
  if (approver !== null && approver !== undefined && sameName(approver, p.principal)) {
    throw new SpendtrailError('SEGREGATION_OF_DUTIES', 'nobody approves spend they record themselves', { field: 'approver' });
  }
}

/**
 * The owner of an agent does not approve that agent's spend, whoever records it: a payment (or an
 * authorization request) naming the owner as its approver is refused.
 */
export function requireApproverNotOwner(approver: string | null | undefined, owner: string | undefined, agentId: string): void {
  if (approver !== null && approver !== undefined && owner !== undefined && sameName(approver, owner)) {
    throw new SpendtrailError('SEGREGATION_OF_DUTIES', `the owner of agent ${agentId} does not approve its spend`, { field: 'approver' });
  }
}

/** Principal names compare as e-mail addresses do in practice: case and surrounding spaces do not count. */
const sameName = (a: string, b: string): boolean => a.trim() !== '' && a.trim().toLowerCase() === b.trim().toLowerCase();
