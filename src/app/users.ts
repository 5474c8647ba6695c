import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { SpendtrailError } from '../domain/errors.ts';
import { instantFromDate } from '../domain/time.ts';
import type { AppendContext } from './append.ts';
import { appendToLog } from './append.ts';
import type { AppDeps } from './deps.ts';
import type { Principal, Role } from './principal.ts';
import { requireRole } from './principal.ts';
import type { UserRow, WebSessionRow } from './ports/store.ts';
import { apiKeyLoginInput, loginInput, parseInput, userInput, userRolesInput } from './schemas.ts';
import { authenticate } from './setup.ts';

/**
 * Dashboard people: users with an email and a password, their roles, and their sessions.
 * Creating a user, changing roles and disabling are `user` log entries (identity, roles and the
 * disabled flag, never the password hash), so the tamper-evident log shows who got which role.
 */

// scrypt is memory-hard: N=2^15, r=8 uses 32 MiB per hash, which makes guessing on GPUs costly.
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, keylen: 32 } as const;
const maxmem = (n: number, r: number, p: number): number => 128 * n * r * p + 16 * 1024 * 1024;

function scryptAsync(password: string, salt: Buffer, n: number, r: number, p: number, keylen: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keylen, { N: n, r, p, maxmem: maxmem(n, r, p) }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** `scrypt$N$r$p$salt$hash` (salt and hash base64url): the parameters travel with the hash. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p, SCRYPT.keylen);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function checkPassword(password: string, stored: string): Promise<boolean> {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(stored);
  if (m === null) return false;
  const [n, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // A stored string asking for absurd work would be a denial of service on sign-in.
  if (!(n >= 2 && n <= 2 ** 20 && r >= 1 && r <= 32 && p >= 1 && p <= 16)) return false;
  const want = Buffer.from(m[5] ?? '', 'base64url');
  const got = await scryptAsync(password, Buffer.from(m[4] ?? '', 'base64url'), n, r, p, want.length || 32);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** Compared against when the email is unknown, so a miss costs what a hit does. */
let decoy: Promise<string> | undefined;

/** A password to hand over once: 18 random bytes, 24 characters. */
export const generatePassword = (): string => randomBytes(18).toString('base64url');

export const PERSON_ROLES: readonly Role[] = ['admin', 'policy_admin', 'approver', 'finance', 'auditor'];

/** A user as shown and logged: everything but the password hash. */
export interface UserView {
  readonly user_id: string;
  readonly org_id: string;
  readonly email: string;
  readonly principal: string;
  readonly roles: readonly Role[];
  readonly created_at: Date;
  readonly created_by: string;
  readonly disabled_at: Date | null;
}

const view = (u: UserRow): UserView => ({
  user_id: u.user_id,
  org_id: u.org_id,
  email: u.email,
  principal: u.principal,
  roles: u.roles as Role[],
  created_at: u.created_at,
  created_by: u.created_by,
  disabled_at: u.disabled_at,
});

function logUser(ctx: AppendContext, u: { user_id: string; email: string; principal: string; roles: readonly string[]; disabled: boolean }, by: string): void {
  ctx.sealer.addEntry('user', u.user_id, instantFromDate(ctx.now), by, {
    user_id: u.user_id,
    email: u.email,
    principal: u.principal,
    roles: [...u.roles],
    disabled: u.disabled,
  });
}

/** Creates a user; without a password one is generated and returned (shown once, never stored). */
export async function createUser(deps: AppDeps, by: Principal, input: unknown): Promise<{ user: UserView; password: string | null }> {
  requireRole(by, 'admin');
  const i = parseInput(userInput, input);
  const generated = i.password === undefined ? generatePassword() : null;
  const passwordHash = await hashPassword(i.password ?? (generated as string));
  if ((await deps.store.getUserByEmail(i.email)) !== undefined) {
    throw new SpendtrailError('VALIDATION_FAILED', `a user with email ${i.email} exists`, { field: 'email' });
  }
  const { result } = await appendToLog(deps, by.org_id, async (ctx) => {
    const row: UserRow = {
      user_id: `u_${deps.ids.secret().slice(0, 16)}`,
      org_id: by.org_id,
      email: i.email,
      principal: i.email,
      roles: [...new Set(i.roles)].sort(),
      password_hash: passwordHash,
      created_at: ctx.now,
      created_by: by.principal,
      disabled_at: null,
    };
    await ctx.tx.insertUser(row);
    logUser(ctx, { ...row, disabled: false }, by.principal);
    return row;
  });
  return { user: view(result), password: generated };
}

async function changeUser(
  deps: AppDeps,
  by: Principal,
  userId: string,
  change: (u: UserRow) => { roles: readonly string[]; disabled: boolean },
): Promise<UserView> {
  requireRole(by, 'admin');
  const { result } = await appendToLog(deps, by.org_id, async (ctx) => {
    const u = await ctx.tx.getUser(userId);
    if (u === undefined || u.org_id !== by.org_id) throw new SpendtrailError('VALIDATION_FAILED', `no user ${userId}`, { field: 'user_id' });
    const next = change(u);
    const disabledAt = u.disabled_at ?? (next.disabled ? ctx.now : null);
    await ctx.tx.updateUser(u.user_id, { roles: next.roles, disabled_at: disabledAt });
    logUser(ctx, { ...u, roles: next.roles, disabled: disabledAt !== null }, by.principal);
    return { ...u, roles: next.roles, disabled_at: disabledAt };
  });
  // Sessions carry the roles they were opened with: end them, so the change applies at once.
  await deps.store.revokeUserSessions(userId, deps.clock.now());
  return view(result);
}

export async function setUserRoles(deps: AppDeps, by: Principal, input: unknown): Promise<UserView> {
  const i = parseInput(userRolesInput, input);
  return changeUser(deps, by, i.user_id, (u) => {
    if (u.disabled_at !== null) throw new SpendtrailError('FORBIDDEN', 'this user is disabled', { field: 'user_id' });
    return { roles: [...new Set(i.roles)].sort(), disabled: false };
  });
}

/** Disabling is final (create a new user to let the person back in): the log keeps who it was. */
export async function disableUser(deps: AppDeps, by: Principal, userId: string): Promise<UserView> {
  if (by.principal === (await deps.store.getUser(userId))?.principal) {
    throw new SpendtrailError('FORBIDDEN', 'you cannot disable yourself', { field: 'user_id' });
  }
  return changeUser(deps, by, userId, (u) => ({ roles: u.roles, disabled: true }));
}

export async function listUsers(deps: AppDeps, by: Principal): Promise<UserView[]> {
  requireRole(by, 'admin');
  return (await deps.store.listUsers(by.org_id)).map(view);
}

// ---- Sessions ----

export const SESSION_IDLE_MS = 30 * 60 * 1000;
export const SESSION_MAX_MS = 12 * 60 * 60 * 1000;
/** last_seen_at is written at most this often: not one write per page view. */
const TOUCH_EVERY_MS = 60 * 1000;

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export interface OpenedSession {
  /** The cookie value: 32 random bytes, base64url. Only its hash is stored. */
  readonly token: string;
  readonly session: WebSessionRow;
}

const LOGIN_FAILED = 'email or password is wrong, or the account is disabled';

async function openSession(deps: AppDeps, s: Omit<WebSessionRow, 'token_hash' | 'csrf' | 'created_at' | 'last_seen_at' | 'expires_at' | 'revoked_at'>): Promise<OpenedSession> {
  const token = randomBytes(32).toString('base64url');
  const now = deps.clock.now();
  const session: WebSessionRow = {
    ...s,
    token_hash: hashToken(token),
    csrf: randomBytes(32).toString('base64url'),
    created_at: now,
    last_seen_at: now,
    expires_at: new Date(now.getTime() + SESSION_MAX_MS),
    revoked_at: null,
  };
  await deps.store.insertWebSession(session);
  return { token, session };
}

/** Email and password: a new session each time (never one carried over from before sign-in). */
export async function login(deps: AppDeps, input: unknown): Promise<OpenedSession> {
  const i = parseInput(loginInput, input);
  const user = await deps.store.getUserByEmail(i.email);
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  const ok = await checkPassword(i.password, user?.password_hash ?? (await decoy));
  if (user === undefined || !ok || user.disabled_at !== null) throw new SpendtrailError('UNAUTHENTICATED', LOGIN_FAILED);
  return openSession(deps, { org_id: user.org_id, user_id: user.user_id, key_id: null, principal: user.principal, roles: user.roles, display: user.email });
}

/** Sign-in with an API key (the first admin has no password yet). Agent keys act for machines and are refused. */
export async function apiKeyLogin(deps: AppDeps, input: unknown): Promise<OpenedSession> {
  const i = parseInput(apiKeyLoginInput, input);
  const p = await authenticate(deps, i.api_key);
  if (p.agent_id !== null || p.roles.includes('agent') || p.key_id === null) {
    throw new SpendtrailError('FORBIDDEN', 'agent keys cannot sign in to the dashboard', { field: 'api_key' });
  }
  return openSession(deps, { org_id: p.org_id, user_id: null, key_id: p.key_id, principal: p.principal, roles: p.roles, display: p.principal });
}

export interface ActiveSession {
  readonly principal: Principal;
  readonly display: string;
  readonly csrf: string;
  readonly token_hash: string;
}

/**
 * The session behind a cookie, or null: unknown, revoked, idle past 30 minutes, older than 12
 * hours, or its user disabled or its API key revoked since (checked on every request).
 */
export async function resumeSession(deps: AppDeps, token: string): Promise<ActiveSession | null> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const s = await deps.store.getWebSession(hashToken(token));
  const now = deps.clock.now();
  if (s === undefined || s.revoked_at !== null) return null;
  if (now >= s.expires_at || now.getTime() - s.last_seen_at.getTime() >= SESSION_IDLE_MS) return null;
  let roles = s.roles as Role[];
  if (s.user_id !== null) {
    const u = await deps.store.getUser(s.user_id);
    if (u === undefined || u.disabled_at !== null) return null;
    roles = u.roles as Role[];
  } else {
    const k = s.key_id === null ? undefined : await deps.store.getApiKey(s.key_id);
    if (k === undefined || k.revoked_at !== null) return null;
  }
  if (now.getTime() - s.last_seen_at.getTime() >= TOUCH_EVERY_MS) await deps.store.touchWebSession(s.token_hash, now);
  return {
    principal: { org_id: s.org_id, principal: s.principal, roles, agent_id: null, key_id: s.key_id },
    display: s.display,
    csrf: s.csrf,
    token_hash: s.token_hash,
  };
}

export async function endSession(deps: AppDeps, tokenHash: string): Promise<void> {
  await deps.store.revokeWebSession(tokenHash, deps.clock.now());
}
