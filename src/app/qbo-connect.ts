import { SpendtrailError } from '../domain/errors.ts';
import type { AppDeps } from './deps.ts';
import type { Principal } from './principal.ts';
import { requireRole } from './principal.ts';
import type { QboConnectionRow, QboStateStore } from './ports/store.ts';
import type { AccessTokens, QboCompany, QboPorts, QboTokenGrant } from './qbo-ports.ts';
import { qboConnectRequest } from './qbo-schemas.ts';
import { parseInput } from './schemas.ts';

/** What every QuickBooks use case needs: the app's deps, the integration's state, and the Intuit adapters. */
export interface QboContext {
  readonly deps: AppDeps;
  readonly store: QboStateStore;
  readonly ports: QboPorts;
}

/** How long an issued OAuth `state` is accepted: Intuit's consent screen is a few clicks. */
const STATE_TTL_MS = 15 * 60_000;
/** An access token this close to its expiry is refreshed first, so it cannot expire in flight. */
const EXPIRY_MARGIN_MS = 60_000;
/** Attempts at writing the connection row when a concurrent writer keeps winning. */
const CAS_ATTEMPTS = 5;

const context = (orgId: string, realmId: string, which: 'refresh' | 'access'): string => `qbo:${orgId}:${realmId}:${which}_token`;
const RECONNECT = 'run `spendtrail qbo connect` to authorize Spendtrail again';

/**
 * Starts an authorization: a fresh random `state`, kept on the connection row, and Intuit's
 * consent URL carrying it. An existing connection keeps working until the new one completes.
 */
export async function startQboConnect(ctx: QboContext, by: Principal): Promise<{ url: string; state: string; redirect_uri: string }> {
  requireRole(by, 'finance');
  const state = ctx.deps.ids.secret();
  const now = ctx.deps.clock.now();
  await writeConnection(ctx, by.org_id, (prev) => ({
    ...(prev ?? emptyConnection(by.org_id, now)),
    pending_state: state,
    pending_state_expires_at: new Date(now.getTime() + STATE_TTL_MS),
    updated_at: now,
  }));
  return { url: ctx.ports.connector.auth.authorizationUrl(state), state, redirect_uri: ctx.ports.connector.auth.redirect_uri };
}

/**
 * Completes an authorization: exchanges Intuit's code for tokens and stores them sealed. When the
 * redirect's `state` is given it must be the one issued (and not expired): a code arriving with
 * another state was not asked for by this installation.
 *
 * Errors: VALIDATION_FAILED (state), QBO_REAUTHORIZE (Intuit refused the code), QBO_NOT_CONFIGURED.
 */
export async function completeQboConnect(ctx: QboContext, by: Principal, raw: unknown): Promise<{ realm_id: string; refresh_expires_at: Date | null }> {
  requireRole(by, 'finance');
  const req = parseInput(qboConnectRequest, raw);
  const now = ctx.deps.clock.now();
  if (req.state !== undefined) {
    const prev = await ctx.store.getQboConnection(by.org_id);
    const expires = prev?.pending_state_expires_at;
    if (prev?.pending_state !== req.state || expires === null || expires === undefined || expires.getTime() < now.getTime()) {
      throw new SpendtrailError('VALIDATION_FAILED', 'this authorization was not started here, or was started more than 15 minutes ago: run `spendtrail qbo connect` and use the new link', {
        field: 'state',
      });
    }
  }
  const grant = await ctx.ports.connector.auth.exchangeCode(req.code);
  const saved = await writeConnection(ctx, by.org_id, (prev) => ({
    ...sealed(ctx, by.org_id, req.realm_id, grant, now),
    version: prev?.version ?? 0,
    pending_state: null,
    pending_state_expires_at: null,
    connected_by: by.principal,
    connected_at: now,
  }));
  return { realm_id: req.realm_id, refresh_expires_at: saved.refresh_expires_at };
}

/** The connection as stored (tokens stay sealed): for status output. */
export async function qboConnection(ctx: QboContext, by: Principal): Promise<QboConnectionRow | undefined> {
  requireRole(by, 'finance', 'auditor');
  return ctx.store.getQboConnection(by.org_id);
}

/**
 * The connected QuickBooks company of an organisation, with tokens that refresh themselves.
 * Errors: QBO_NOT_CONNECTED.
 */
export async function connectedCompany(ctx: QboContext, orgId: string): Promise<QboCompany> {
  const c = await ctx.store.getQboConnection(orgId);
  if (c?.realm_id === null || c?.realm_id === undefined || c.refresh_token === null) {
    throw new SpendtrailError('QBO_NOT_CONNECTED', `organisation ${orgId} is not connected to QuickBooks Online: ${RECONNECT.replace(' again', '')}`);
  }
  return ctx.ports.connector.company(c.realm_id, new StoredAccessTokens(ctx, orgId, c.realm_id));
}

/**
 * Access tokens kept sealed in the connection row. An access token lives an hour; one about to
 * expire, or refused by the API, is replaced by refreshing, and the refresh token Intuit returns
 * (rotated or not) replaces the stored one. Writes compare the row's version: when another
 * process refreshed first, its tokens are used and ours are dropped, so its rotated refresh
 * token is never overwritten by an older one.
 */
class StoredAccessTokens implements AccessTokens {
  constructor(
    private readonly ctx: QboContext,
    private readonly orgId: string,
    private readonly realmId: string,
  ) {}

  async current(): Promise<string> {
    const row = await this.row();
    const now = this.ctx.deps.clock.now().getTime();
    if (row.access_token !== null && row.access_expires_at !== null && row.access_expires_at.getTime() - EXPIRY_MARGIN_MS > now) {
      return this.open(row.access_token, 'access');
    }
    return this.refresh(row);
  }

  async renew(rejected: string): Promise<string> {
    const row = await this.row();
    // Another caller may have refreshed since `rejected` was handed out: its token is the fresh one.
    if (row.access_token !== null && this.open(row.access_token, 'access') !== rejected) return this.current();
    return this.refresh(row);
  }

  private async row(): Promise<QboConnectionRow> {
    const row = await this.ctx.store.getQboConnection(this.orgId);
    if (row === undefined || row.realm_id !== this.realmId || row.refresh_token === null) {
      throw new SpendtrailError('QBO_REAUTHORIZE', `the QuickBooks connection of ${this.orgId} changed or was removed during the sync: ${RECONNECT}`);
    }
    return row;
  }

  private async refresh(row: QboConnectionRow): Promise<string> {
    const refreshToken = this.open(row.refresh_token ?? '', 'refresh');
    const grant = await this.ctx.ports.connector.auth.refresh(refreshToken);
    const now = this.ctx.deps.clock.now();
    const next: QboConnectionRow = { ...row, ...sealed(this.ctx, this.orgId, this.realmId, grant, now), version: row.version + 1 };
    if (await this.ctx.store.putQboConnection(next, row.version)) return grant.access_token;
    // Lost the race: the winner's tokens are stored and fresh.
    const winner = await this.row();
    if (winner.access_token === null) throw new SpendtrailError('QBO_REAUTHORIZE', `the QuickBooks connection of ${this.orgId} has no access token: ${RECONNECT}`);
    return this.open(winner.access_token, 'access');
  }

  private open(sealedText: string, which: 'refresh' | 'access'): string {
    try {
      return this.ctx.ports.secrets.open(sealedText, context(this.orgId, this.realmId, which));
    } catch (e) {
      throw new SpendtrailError(
        'QBO_REAUTHORIZE',
        `the stored QuickBooks tokens cannot be decrypted (${(e as Error).message}): set SPENDTRAIL_SECRET_KEY to the key they were stored with, or ${RECONNECT}`,
        { cause: e },
      );
    }
  }
}

function emptyConnection(orgId: string, now: Date): QboConnectionRow {
  return {
    org_id: orgId,
    realm_id: null,
    refresh_token: null,
    access_token: null,
    access_expires_at: null,
    refresh_expires_at: null,
    pending_state: null,
    pending_state_expires_at: null,
    version: 0,
    connected_by: null,
    connected_at: null,
    updated_at: now,
  };
}

/** A connection row's token fields from a grant, sealed and bound to their place. */
function sealed(ctx: QboContext, orgId: string, realmId: string, g: QboTokenGrant, now: Date): Omit<QboConnectionRow, 'version'> {
  return {
    org_id: orgId,
    realm_id: realmId,
    refresh_token: ctx.ports.secrets.seal(g.refresh_token, context(orgId, realmId, 'refresh')),
    access_token: ctx.ports.secrets.seal(g.access_token, context(orgId, realmId, 'access')),
    access_expires_at: new Date(now.getTime() + g.expires_in * 1000),
    refresh_expires_at: g.refresh_expires_in === null ? null : new Date(now.getTime() + g.refresh_expires_in * 1000),
    pending_state: null,
    pending_state_expires_at: null,
    connected_by: null,
    connected_at: null,
    updated_at: now,
  };
}

/** Read, change, compare-and-set; again when another writer came first. */
async function writeConnection(
  ctx: QboContext,
  orgId: string,
  change: (prev: QboConnectionRow | undefined) => QboConnectionRow,
): Promise<QboConnectionRow> {
  for (let i = 0; i < CAS_ATTEMPTS; i++) {
    const prev = await ctx.store.getQboConnection(orgId);
    const next = change(prev);
    const row = { ...next, connected_by: next.connected_by ?? prev?.connected_by ?? null, connected_at: next.connected_at ?? prev?.connected_at ?? null, version: (prev?.version ?? -1) + 1 };
    if (await ctx.store.putQboConnection(row, prev?.version ?? null)) return row;
  }
  throw new SpendtrailError('STORE_UNAVAILABLE', 'the QuickBooks connection is being changed by another process: try again');
}
