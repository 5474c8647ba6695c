import { createHash, timingSafeEqual } from 'node:crypto';
import { SpendtrailError } from '../domain/errors.ts';
import { findCurrency } from '../domain/money/currency.ts';
import { instantFromDate, isValidTimeZone } from '../domain/time.ts';
import type { RuleKind } from '../domain/gl/coding.ts';
import type { AppendContext } from './append.ts';
import { appendToLog, appendWithin } from './append.ts';
import type { AppDeps } from './deps.ts';
import type { Principal, Role } from './principal.ts';
import { requireRole } from './principal.ts';
import type { AccountRow, AgentRow, ApiKeyRow, OrgRow, RuleRow } from './ports/store.ts';

export interface NewOrg {
  readonly org_id: string;
  readonly name: string;
  readonly reporting_currency?: string | undefined;
  readonly timezone?: string | undefined;
  readonly log_name?: string | undefined;
}

export interface IssuedKey {
  readonly key_id: string;
  /** Shown once; only its hash is stored. */
  readonly api_key: string;
  readonly principal: string;
  readonly roles: readonly Role[];
  readonly agent_id: string | null;
}

const ORG_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/** Creates an organisation, its log (first entry: the organisation itself) and an admin key. */
export async function createOrg(deps: AppDeps, input: NewOrg): Promise<{ org: OrgRow; admin: IssuedKey }> {
  if (!ORG_ID.test(input.org_id)) {
    throw new SpendtrailError('VALIDATION_FAILED', 'organisation id: lower-case letters, digits and "-"', { field: 'org_id' });
  }
  const currency = input.reporting_currency ?? 'USD';
  if (findCurrency(currency)?.kind !== 'fiat') {
    throw new SpendtrailError('UNKNOWN_CURRENCY', `unknown reporting currency ${currency}`, { field: 'reporting_currency' });
  }
  const timezone = input.timezone ?? 'UTC';
  if (!isValidTimeZone(timezone)) {
    throw new SpendtrailError('VALIDATION_FAILED', `unknown time zone ${timezone}`, { field: 'timezone' });
  }
  const existing = await deps.store.getOrg(input.org_id);
  if (existing !== undefined) throw new SpendtrailError('ORG_EXISTS', `organisation ${input.org_id} exists`, { field: 'org_id' });
  const now = deps.clock.now();
  const org: OrgRow = {
    org_id: input.org_id,
    name: input.name,
    reporting_currency: currency,
    timezone,
    log_origin: `${input.log_name ?? 'spendtrail.local'}/${input.org_id}`,
    verifier_key: deps.signer.verifierKey,
    created_at: now,
  };
  // One unit of work: the organisation, its first log entry and its admin key exist together or not at all.
  const admin = await deps.store.unitOfWork(async (tx) => {
    await tx.insertOrg(org);
    const { result } = await appendWithin(deps, tx, org.org_id, async (ctx) => {
      ctx.sealer.addEntry('org', org.org_id, instantFromDate(now), 'operator@cli', {
        name: org.name,
        reporting_currency: org.reporting_currency,
        timezone: org.timezone,
        log_origin: org.log_origin,
        verifier_key: org.verifier_key,
      });
      return addKey(deps, ctx, 'admin', ['admin'], null, 'operator@cli');
    });
    return result;
  });
  return { org, admin };
}

/** Issues a key inside an append: the key row and its log entry are written together. */
async function addKey(
  deps: AppDeps,
  { tx, sealer, now, org }: AppendContext,
  principal: string,
  roles: readonly Role[],
  agentId: string | null,
  by: string,
): Promise<IssuedKey> {
  const keyId = `k_${deps.ids.secret().slice(0, 12)}`;
  const secret = deps.ids.secret();
  if (agentId !== null && (await tx.getAgents(org.org_id, [agentId])).length === 0) {
    throw new SpendtrailError('AGENT_NOT_FOUND', `no agent ${agentId}`, { field: 'agent_id' });
  }
  const row: ApiKeyRow = {
    key_id: keyId,
    org_id: org.org_id,
    principal,
    roles: [...roles].sort(),
    agent_id: agentId,
    secret_hash: hashSecret(secret),
    created_at: now,
    revoked_at: null,
  };
  await tx.insertApiKey(row);
  // The log holds the key's identity, roles and secret hash (not the secret): verify can then
  // prove that no key was added, widened or swapped behind the product's back.
  sealer.addEntry('api_key', keyId, instantFromDate(now), by, {
    key_id: keyId,
    principal,
    roles: row.roles,
    agent_id: agentId,
    secret_hash: row.secret_hash,
    revoked: false,
  });
  return { key_id: keyId, api_key: `st_${keyId.slice(2)}_${secret}`, principal, roles: [...row.roles] as Role[], agent_id: agentId };
}

export async function issueApiKey(
  deps: AppDeps,
  by: Principal,
  input: { principal: string; roles: readonly Role[]; agent_id?: string | null | undefined },
): Promise<IssuedKey> {
  requireRole(by, 'admin');
  const agentId = input.agent_id ?? null;
  if (input.roles.includes('agent') && agentId === null) {
    throw new SpendtrailError('VALIDATION_FAILED', 'an agent key names its agent', { field: 'agent_id' });
  }
  const { result } = await appendToLog(deps, by.org_id, (ctx) => addKey(deps, ctx, input.principal, input.roles, agentId, by.principal));
  return result;
}

export async function revokeApiKey(deps: AppDeps, by: Principal, keyId: string): Promise<void> {
  requireRole(by, 'admin');
  await appendToLog(deps, by.org_id, async ({ tx, sealer, now }) => {
    const key = await tx.getApiKey(keyId);
    // Another organisation's key is "not found" too: ids are not confirmed across organisations.
    if (key === undefined || key.org_id !== by.org_id) {
      throw new SpendtrailError('API_KEY_NOT_FOUND', `no key ${keyId}`, { field: 'key_id' });
    }
    if (key.revoked_at !== null) return;
    await tx.revokeApiKey(keyId, now);
    sealer.addEntry('api_key', keyId, instantFromDate(now), by.principal, {
      key_id: keyId,
      principal: key.principal,
      roles: [...key.roles],
      agent_id: key.agent_id,
      secret_hash: key.secret_hash,
      revoked: true,
    });
  });
  // After the commit: a lookup racing the revocation must not keep the old row cached.
  revocations += 1;
  keyCache(deps.store).delete(keyId);
}

/**
 * Keys looked up in the last two seconds are served from memory: every API call authenticates,
 * and a database round trip per call would cost more than the work. The staleness window is
 * KEY_TTL_MS: a revocation applies at once in the process that made it (its entry is dropped
 * after the commit) and within KEY_TTL_MS in every other process. Concurrent calls with the same
 * key share one lookup, so an expiring entry under load costs one query, not one per request.
 */
const KEY_TTL_MS = 2000;
const MAX_CACHED_KEYS = 10_000;
interface KeyEntry {
  readonly at: number;
  readonly row: Promise<ApiKeyRow | undefined>;
}
const keyCaches = new WeakMap<object, Map<string, KeyEntry>>();
const keyCache = (store: object): Map<string, KeyEntry> => {
  let c = keyCaches.get(store);
  if (c === undefined) {
    c = new Map<string, KeyEntry>();
    keyCaches.set(store, c);
  }
  return c;
};

/** Bumped by every revocation in this process: a lookup that began before one is not kept. */
let revocations = 0;

function findKey(deps: AppDeps, keyId: string): Promise<ApiKeyRow | undefined> {
  const cache = keyCache(deps.store);
  const now = Date.now();
  const hit = cache.get(keyId);
  if (hit !== undefined && now - hit.at < KEY_TTL_MS) return hit.row;
  const generation = revocations;
  const row = deps.store.getApiKey(keyId);
  if (cache.size >= MAX_CACHED_KEYS) cache.clear();
  const entry: KeyEntry = { at: now, row };
  cache.set(keyId, entry);
  const forget = (): void => {
    if (cache.get(keyId) === entry) cache.delete(keyId);
  };
  // Unknown ids are not remembered once answered (a flood of random keys must not grow the
  // cache), nor is a row read before a revocation in this process, nor a failed lookup.
  row.then((r) => {
    if (r === undefined || generation !== revocations) forget();
  }, forget);
  return row;
}

/** Resolves an API key to its principal; unknown, malformed and revoked keys are all UNAUTHENTICATED. */
export async function authenticate(deps: AppDeps, apiKey: string): Promise<Principal> {
  const m = /^st_([A-Za-z0-9_-]{12})_([A-Za-z0-9_-]{20,64})$/.exec(apiKey);
  const deny = (): never => {
    throw new SpendtrailError('UNAUTHENTICATED', 'missing, unknown or revoked API key');
  };
  if (m === null) return deny();
  const key = await findKey(deps, `k_${m[1]}`);
  if (key === undefined || key.revoked_at !== null) return deny();
  const given = Buffer.from(hashSecret(m[2] ?? ''), 'hex');
  const stored = Buffer.from(key.secret_hash, 'hex');
  if (given.length !== stored.length || !timingSafeEqual(given, stored)) return deny();
  return { org_id: key.org_id, principal: key.principal, roles: key.roles as Role[], agent_id: key.agent_id, key_id: key.key_id };
}

export async function upsertAgent(
  deps: AppDeps,
  by: Principal,
  input: { agent_id: string; name: string; owner: string; cluster: string },
): Promise<AgentRow> {
  requireRole(by, 'admin', 'policy_admin');
  const { result } = await appendToLog(deps, by.org_id, async ({ tx, sealer, now }) => {
    const e = sealer.addEntry('agent', input.agent_id, instantFromDate(now), by.principal, {
      agent_id: input.agent_id,
      name: input.name,
      owner: input.owner,
      cluster: input.cluster,
    });
    const row: AgentRow = { org_id: by.org_id, ...input, seq: e.seq };
    await tx.upsertAgent(row);
    return row;
  });
  return result;
}

export async function upsertAccount(
  deps: AppDeps,
  by: Principal,
  input: { code: string; name: string; active?: boolean | undefined },
): Promise<AccountRow> {
  requireRole(by, 'admin', 'policy_admin', 'finance');
  const { result } = await appendToLog(deps, by.org_id, async ({ tx, sealer, now }) => {
    const active = input.active ?? true;
    const e = sealer.addEntry('account', input.code, instantFromDate(now), by.principal, { code: input.code, name: input.name, active });
    const row: AccountRow = { org_id: by.org_id, code: input.code, name: input.name, active, seq: e.seq };
    await tx.upsertAccount(row);
    return row;
  });
  return result;
}

/** Rules are keyed by what they match, so setting a rule for the same match replaces it. */
export const ruleId = (kind: RuleKind, match: string | null): string =>
  kind === 'default' ? 'default' : `${kind}:${kind === 'merchant' ? (match ?? '').trim().toLowerCase() : (match ?? '')}`;

export async function upsertRule(
  deps: AppDeps,
  by: Principal,
  input: { kind: RuleKind; match?: string | null | undefined; account_code: string; active?: boolean | undefined },
): Promise<RuleRow> {
  requireRole(by, 'admin', 'policy_admin', 'finance');
  const match = input.kind === 'default' ? null : (input.match ?? null);
  if (input.kind !== 'default' && match === null) {
    throw new SpendtrailError('VALIDATION_FAILED', `a ${input.kind} rule needs a match`, { field: 'match' });
  }
  if (input.kind === 'mcc' && !/^[0-9]{4}$/.test(match ?? '')) {
    throw new SpendtrailError('VALIDATION_FAILED', 'an MCC rule matches a four-digit code', { field: 'match' });
  }
  const { result } = await appendToLog(deps, by.org_id, async ({ tx, sealer, now }) => {
    const accounts = await tx.getAccounts(by.org_id);
    if (!accounts.some((a) => a.code === input.account_code && a.active)) {
      throw new SpendtrailError('ACCOUNT_NOT_FOUND', `no active account ${input.account_code}`, { field: 'account_code' });
    }
    if (input.kind === 'agent' && (await tx.getAgents(by.org_id, [match ?? ''])).length === 0) {
      throw new SpendtrailError('AGENT_NOT_FOUND', `no agent ${match}`, { field: 'match' });
    }
    const id = ruleId(input.kind, match);
    const active = input.active ?? true;
    const e = sealer.addEntry('gl_rule', id, instantFromDate(now), by.principal, {
      rule_id: id,
      kind: input.kind,
      match,
      account_code: input.account_code,
      active,
    });
    const row: RuleRow = { org_id: by.org_id, rule_id: id, kind: input.kind, match, account_code: input.account_code, active, seq: e.seq };
    await tx.upsertRule(row);
    return row;
  });
  return result;
}
