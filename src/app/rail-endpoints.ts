import { SpendtrailError } from '../domain/errors.ts';
import type { Rail } from '../domain/rails.ts';
import { isRail } from '../domain/rails.ts';
import { instantFromDate } from '../domain/time.ts';
import { appendToLog } from './append.ts';
import type { AppDeps } from './deps.ts';
import type { RailEndpointRow } from './ports/store.ts';
import type { Principal } from './principal.ts';
import { requireRole } from './principal.ts';

export interface RailEndpointView {
  readonly endpoint_id: string;
  readonly rail: Rail;
  readonly label: string | null;
  readonly created_by: string;
  readonly created_at: string;
  readonly revoked_at: string | null;
}

const view = (r: RailEndpointRow): RailEndpointView => ({
  endpoint_id: r.endpoint_id,
  rail: r.rail as Rail,
  label: r.label,
  created_by: r.created_by,
  created_at: r.created_at.toISOString(),
  revoked_at: r.revoked_at?.toISOString() ?? null,
});

/**
 * Registers an endpoint a rail calls (a Stripe webhook endpoint) with the secret the rail signs
 * with. Who added or revoked an endpoint is a log entry; the secret never is.
 */
export async function addRailEndpoint(
  deps: AppDeps,
  by: Principal,
  input: { rail: string; secret: string; label?: string | null },
): Promise<RailEndpointView> {
  requireRole(by, 'admin');
  if (!isRail(input.rail)) throw new SpendtrailError('VALIDATION_FAILED', `unknown rail ${input.rail}`, { field: 'rail' });
  const secret = input.secret.trim();
  if (secret.length < 8 || secret.length > 256 || /\s/.test(secret)) {
    throw new SpendtrailError('VALIDATION_FAILED', 'the signing secret is 8 to 256 characters without spaces', { field: 'secret' });
  }
  const label = input.label?.trim() === '' ? null : (input.label?.trim() ?? null);
  if (label !== null && label.length > 200) throw new SpendtrailError('VALIDATION_FAILED', 'a label is at most 200 characters', { field: 'label' });
  const endpointId = `rep_${deps.ids.uuid().replaceAll('-', '')}`;
  const { result } = await appendToLog(deps, by.org_id, async (ctx) => {
    const row: RailEndpointRow = {
      endpoint_id: endpointId,
      org_id: by.org_id,
      rail: input.rail,
      secret,
      label,
      created_by: by.principal,
      created_at: ctx.now,
      revoked_at: null,
    };
    ctx.sealer.addEntry('rail_endpoint', endpointId, instantFromDate(ctx.now), by.principal, { rail: row.rail, label, revoked: false });
    await ctx.tx.insertRailEndpoint(row);
    return view(row);
  });
  return result;
}

export async function revokeRailEndpoint(deps: AppDeps, by: Principal, endpointId: string): Promise<RailEndpointView> {
  requireRole(by, 'admin');
  const { result } = await appendToLog(deps, by.org_id, async (ctx) => {
    const row = await ctx.tx.getRailEndpoint(endpointId);
    if (row === undefined || row.org_id !== by.org_id) {
      throw new SpendtrailError('ENDPOINT_NOT_FOUND', `no rail endpoint ${endpointId}`, { field: 'endpoint_id' });
    }
    if (row.revoked_at !== null) return view(row);
    ctx.sealer.addEntry('rail_endpoint', endpointId, instantFromDate(ctx.now), by.principal, { rail: row.rail, label: row.label, revoked: true });
    await ctx.tx.revokeRailEndpoint(endpointId, ctx.now);
    return view({ ...row, revoked_at: ctx.now });
  });
  return result;
}

export async function listRailEndpoints(deps: AppDeps, by: Principal): Promise<RailEndpointView[]> {
  requireRole(by, 'admin', 'auditor');
  return (await deps.store.listRailEndpoints(by.org_id)).map(view);
}

/**
 * The principal a rail acts as when it calls an endpoint: it records for any agent of the
 * organisation (the agent comes from the rail's record), and its name says which endpoint.
 */
export const railPrincipal = (e: RailEndpointRow): Principal => ({
  org_id: e.org_id,
  principal: `rail:${e.rail}:${e.endpoint_id}`,
  roles: ['agent'],
  agent_id: null,
  key_id: null,
});

/** An active endpoint by id, or null (unknown, revoked or for another rail): callers answer the same for all three. */
export async function activeEndpoint(deps: AppDeps, endpointId: string, rail: Rail): Promise<RailEndpointRow | null> {
  const e = await deps.store.getRailEndpoint(endpointId);
  return e === undefined || e.revoked_at !== null || e.rail !== rail ? null : e;
}
