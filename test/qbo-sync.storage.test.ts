import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { qboConnector } from '../src/adapters/qbo/index.ts';
import type { FetchFn } from '../src/adapters/qbo/http.ts';
import { aesGcmSecretBox } from '../src/adapters/qbo/secret-box.ts';
import { prepareJournal } from '../src/app/accounting-export.ts';
import type { AppDeps } from '../src/app/deps.ts';
import type { Principal } from '../src/app/principal.ts';
import type { QboContext } from '../src/app/qbo-connect.ts';
import { completeQboConnect, startQboConnect } from '../src/app/qbo-connect.ts';
import { setQboMappings } from '../src/app/qbo-mappings.ts';
import { docNumberFor, requestIdFor } from '../src/app/qbo-plan.ts';
import type { QboPorts } from '../src/app/qbo-ports.ts';
import type { QboSyncReport } from '../src/app/qbo-sync.ts';
import { syncToQbo } from '../src/app/qbo-sync.ts';
import { SpendtrailError } from '../src/domain/errors.ts';
import { seedAccountingLedger } from './accounting-ledger.ts';
import { ENGINES, openTestEnv, postgresAvailable } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import type { FakeAccount } from './support/qbo-fake.ts';
import { QboFake } from './support/qbo-fake.ts';

const finance: Principal = { org_id: 'acme', principal: 'fiona@acme.test', roles: ['finance'], agent_id: null, key_id: null };
const MARCH = { month: '2026-03', settings: { uncoded: 'suspense' } } as const;

/** The company's chart: expense accounts, the card clearing account as a credit card, the USDC wallet as a bank account. */
const ACCOUNTS: FakeAccount[] = [
  { Id: '57', Name: 'Cloud infrastructure', AcctNum: '6400', AccountType: 'Expense' },
  { Id: '58', Name: 'API services', AcctNum: '6420', AccountType: 'Expense' },
  { Id: '59', Name: 'Research data & tools', AcctNum: '6450', AccountType: 'Expense' },
  { Id: '60', Name: 'Agent spend suspense', AcctNum: '1999', AccountType: 'Other Current Asset' },
  { Id: '61', Name: 'Agent card clearing', AcctNum: '2110', AccountType: 'Credit Card' },
  { Id: '62', Name: 'USDC wallet', AcctNum: '1150', AccountType: 'Bank' },
  { Id: '63', Name: 'Lightning wallet', AcctNum: '1160', AccountType: 'Other Current Asset' },
  { Id: '64', Name: 'Old cloud account', AccountType: 'Expense', Active: false },
];
const MAP: Record<string, string> = { '6400': '57', '6420': '58', '6450': '59', '1999': '60', '2110': '61', '1150': '62', '1160': '63' };
const CODE_OF = new Map(Object.entries(MAP).map(([code, id]) => [id, code]));

class SimulatedCrash extends Error {}

/** Faults a test injects between the sync and the fake, as a dying process or a broken proxy would. */
interface Faults {
  /** The process dies right after QuickBooks answered the n-th successful create: the answer is never recorded. */
  crashAfterCreate?: number;
  /** Rewrites a create's body on its way out. */
  tamper?: (body: string) => string;
}

const isCreate = (url: string): boolean => /\/(journalentry|purchase)\?/.test(url);

function faultyFetch(faults: Faults): FetchFn {
  let created = 0;
  return async (url, init) => {
    const body = isCreate(url) && faults.tamper !== undefined && typeof init.body === 'string' ? faults.tamper(init.body) : init.body;
    const res = await fetch(url, { ...init, body });
    if (isCreate(url) && res.status === 200) {
      created += 1;
      if (faults.crashAfterCreate === created) throw new SimulatedCrash(`the process died after QuickBooks accepted create ${created}`);
    }
    return res;
  };
}

interface Harness {
  readonly fake: QboFake;
  readonly ctx: QboContext;
  readonly faults: Faults;
  readonly waits: number[];
}

/** Signed cents per journal account code, debit positive. */
function totalsOfCreated(fake: QboFake): Map<string, bigint> {
  const out = new Map<string, bigint>();
  const add = (id: unknown, cents: bigint): void => {
    const code = CODE_OF.get(String(id)) ?? `unknown ${String(id)}`;
    out.set(code, (out.get(code) ?? 0n) + cents);
  };
  for (const c of fake.created) {
    const lines = c.object.Line as Record<string, Record<string, unknown>>[];
    if (c.entity === 'JournalEntry') {
      for (const l of lines) {
        const d = l.JournalEntryLineDetail as { PostingType: string; AccountRef: { value: string } };
        add(d.AccountRef.value, (d.PostingType === 'Debit' ? 1n : -1n) * centsOf(l.Amount));
      }
    } else {
      const sign = c.object.Credit === true ? -1n : 1n;
      let total = 0n;
      for (const l of lines) {
        const d = l.AccountBasedExpenseLineDetail as { AccountRef: { value: string } };
        add(d.AccountRef.value, sign * centsOf(l.Amount));
        total += centsOf(l.Amount);
      }
      add((c.object.AccountRef as { value: string }).value, -sign * total);
    }
  }
  return out;
}

const centsOf = (v: unknown): bigint => {
  const [w = '0', f = ''] = String(v).split('.');
  return BigInt(w) * 100n + BigInt((f + '00').slice(0, 2));
};

describe.each(ENGINES)('QuickBooks Online sync on %s', (engine) => {
  let env: TestEnv;
  let deps: AppDeps;
  let skipped = false;
  let realms = 0;
  const fakes: QboFake[] = [];
  const secrets = aesGcmSecretBox(randomBytes(32));
  /** What the ledger's journal says per account: the target every sync must reach. */
  const ledger = new Map<string, bigint>();
  let entryIds: string[] = [];

  beforeAll(async () => {
    if (engine === 'postgres' && !(await postgresAvailable())) {
      skipped = true;
      return;
    }
    env = await openTestEnv(engine);
    ({ deps } = await seedAccountingLedger(env));
    const { journal } = await prepareJournal(deps, finance, { format: 'hledger', ...MARCH });
    entryIds = journal.entries.map((e) => e.external_id);
    for (const e of journal.entries) for (const l of e.lines) ledger.set(l.account_code, (ledger.get(l.account_code) ?? 0n) + l.debit_minor - l.credit_minor);
  });
  afterEach(async () => {
    for (const f of fakes.splice(0)) await f.stop();
  });
  afterAll(async () => {
    if (!skipped) await env.close();
  });

  /** A fresh QuickBooks company (its own realm, so states and mappings start empty), connected and mapped. */
  async function connected(options: { map?: Record<string, string>; attempts?: number } = {}): Promise<Harness> {
    realms += 1;
    const fake = await new QboFake({ realmId: `91303500${engine === 'pglite' ? 1 : 2}${String(realms).padStart(7, '0')}`, accounts: ACCOUNTS, vendors: [{ Id: '201', DisplayName: 'AWS' }, { Id: '202', DisplayName: 'OpenAI' }], now: () => env.clock.now().getTime() }).start();
    fakes.push(fake);
    const faults: Faults = {};
    const waits: number[] = [];
    const ports: QboPorts = {
      connector: qboConnector({
        clientId: fake.clientId,
        clientSecret: fake.clientSecret,
        redirectUri: fake.redirectUri,
        authorizeUrl: `${fake.baseUrl}/connect/oauth2`,
        tokenUrl: fake.tokenUrl,
        baseUrl: fake.baseUrl,
        fetch: faultyFetch(faults),
        retry: {
          attempts: options.attempts ?? 4,
          baseDelayMs: 20,
          maxDelayMs: 5000,
          timeoutMs: 10_000,
          sleep: (ms) => {
            waits.push(ms);
            return Promise.resolve();
          },
          random: () => 0.999,
          now: () => env.clock.now().getTime(),
        },
      }),
      secrets,
    };
    const ctx: QboContext = { deps, store: env.store, ports };
    const { state } = await startQboConnect(ctx, finance);
    await completeQboConnect(ctx, finance, { code: fake.issueCode(), realm_id: fake.realmId, state });
    await setQboMappings(ctx, finance, { kind: 'account', set: options.map ?? MAP });
    return { fake, ctx, faults, waits };
  }

  const sync = (h: Harness, over: Record<string, unknown> = {}): Promise<QboSyncReport> => syncToQbo(h.ctx, finance, { ...MARCH, ...over });
  const states = async (h: Harness) => env.store.getQboSyncStates('acme', h.fake.realmId, {});
  const creates = (h: Harness) => h.fake.apiRequests().filter((r) => r.method === 'POST');

  async function failure(p: Promise<unknown>): Promise<SpendtrailError> {
    try {
      await p;
    } catch (e) {
      if (e instanceof SpendtrailError) return e;
      throw e;
    }
    throw new Error('expected the call to fail');
  }

  it('posts every entry once as a balanced JournalEntry on the mapped accounts, with minorversion 75, a requestid and the evidence', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected();
    const r = await sync(h);
    expect(r).toMatchObject({ entries: 9, posted: 9, already_posted: 0, failed: [], as: 'JournalEntry' });
    expect(h.fake.created).toHaveLength(9);
    for (const c of h.fake.created) {
      expect(c.entity).toBe('JournalEntry');
      let balance = 0n;
      for (const l of c.object.Line as Record<string, unknown>[]) {
        const d = l.JournalEntryLineDetail as { PostingType: string };
        balance += (d.PostingType === 'Debit' ? 1n : -1n) * centsOf(l.Amount);
        // Evidence travels with the line: its transaction(s) and policy snapshot(s).
        expect(String(l.Description)).toMatch(/^(tx|refund|rollup) .*policy (sha256:[0-9a-f]{64}|none)/);
      }
      expect(balance).toBe(0n);
      expect(String(c.object.PrivateNote)).toMatch(/^STR?-/);
      // Amounts go out as exact two-decimal literals, never through a float.
      for (const m of c.raw.matchAll(/"Amount":([^,}]+)/g)) expect(m[1]).toMatch(/^[0-9]+\.[0-9]{2}$/);
    }
    expect(Object.fromEntries(totalsOfCreated(h.fake))).toEqual(Object.fromEntries([...ledger].filter(([, v]) => v !== 0n)));
    for (const req of h.fake.apiRequests()) expect(req.query.get('minorversion')).toBe('75');
    const sent = creates(h).map((q) => q.query.get('requestid'));
    expect(sent).toEqual(entryIds.map((id) => requestIdFor(h.fake.realmId, id, 0)));
    for (const id of sent) expect(id?.length).toBeLessThanOrEqual(50);
    const s = await states(h);
    expect(s.map((x) => [x.status, x.entity, x.qbo_id !== null, x.sync_token])).toEqual(entryIds.map(() => ['posted', 'JournalEntry', true, '0']));
    // Per transaction: the entry holding it, posted, with its QuickBooks id.
    const refund = s.find((x) => x.external_id.startsWith('ST-') && x.tx_ids.length === 1 && h.fake.created.some((c) => c.object.Id === x.qbo_id && String(c.object.PrivateNote).includes('refund')));
    expect(refund).toBeDefined();
    const byTx = await env.store.getQboSyncStates('acme', h.fake.realmId, { tx_id: refund?.tx_ids[0] ?? '' });
    expect(byTx.map((x) => [x.external_id, x.status, x.qbo_id])).toEqual([[refund?.external_id, 'posted', refund?.qbo_id]]);
  });

  it('posts nothing on a re-run', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected();
    await sync(h);
    const before = creates(h).length;
    const again = await sync(h);
    expect(again).toMatchObject({ posted: 0, already_posted: 9, failed: [], changed_since_posted: [] });
    expect(creates(h)).toHaveLength(before);
    expect(h.fake.created).toHaveLength(9);
  });

  it('resumes after the process died between QuickBooks accepting entry 3 and the state being saved, creating every entry exactly once', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected();
    h.faults.crashAfterCreate = 3;
    await expect(sync(h)).rejects.toBeInstanceOf(SimulatedCrash);
    expect(h.fake.created).toHaveLength(3);
    const mid = await states(h);
    expect(mid.filter((x) => x.status === 'posted')).toHaveLength(2);
    const inDoubt = mid.find((x) => x.external_id === entryIds[2]);
    expect(inDoubt).toMatchObject({ status: 'pending', request_id: requestIdFor(h.fake.realmId, entryIds[2] ?? '', 0), attempts: 1 });

    h.faults.crashAfterCreate = undefined;
    const r = await sync(h);
    expect(r).toMatchObject({ posted: 7, already_posted: 2, failed: [] });
    expect(h.fake.created).toHaveLength(9);
    expect([...h.fake.createdPerRequestId().values()].every((n) => n === 1)).toBe(true);
    // The entry in doubt was sent again under its requestid, and QuickBooks answered with the original.
    expect(creates(h).filter((q) => q.query.get('requestid') === inDoubt?.request_id)).toHaveLength(2);
    expect((await states(h)).every((x) => x.status === 'posted')).toBe(true);
    expect(Object.fromEntries(totalsOfCreated(h.fake))).toEqual(Object.fromEntries([...ledger].filter(([, v]) => v !== 0n)));
  });

  it('finds an entry created by a lost attempt by its DocNumber once QuickBooks no longer remembers the requestid', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected();
    h.faults.crashAfterCreate = 5;
    await expect(sync(h)).rejects.toBeInstanceOf(SimulatedCrash);
    h.fake.forgetRequestIds();
    h.faults.crashAfterCreate = undefined;
    const r = await sync(h);
    expect(r).toMatchObject({ posted: 5, recovered: 1, already_posted: 4, failed: [] });
    expect(h.fake.created).toHaveLength(9);
    expect(h.fake.createdWithDocNumber(docNumberFor(entryIds[4] ?? ''))).toHaveLength(1);
    const s = (await states(h)).find((x) => x.external_id === entryIds[4]);
    expect(s?.qbo_id).toBe(h.fake.createdWithDocNumber(docNumberFor(entryIds[4] ?? ''))[0]?.object.Id);
  });

  it('sends a create again under the same requestid when the connection drops after QuickBooks processed it', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected();
    h.fake.dropAfterProcessing(1);
    const r = await sync(h);
    expect(r).toMatchObject({ posted: 9, failed: [] });
    expect(h.fake.created).toHaveLength(9);
    const first = requestIdFor(h.fake.realmId, entryIds[0] ?? '', 0);
    expect(creates(h).filter((q) => q.query.get('requestid') === first).map((q) => q.status)).toEqual([0, 200]);
  });

  it('refreshes an expired access token and keeps the rotated refresh token, sealed', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected();
    env.clock.advance(2 * 3600_000);
    const r = await sync(h, { month: '2026-03' });
    expect(r.posted).toBe(9);
    expect(h.fake.tokenGrants.filter((g) => g.grant_type === 'refresh_token')).toEqual([{ grant_type: 'refresh_token', ok: true }]);
    const [row] = await env.sql(`select refresh_token, access_token from qbo_connections where org_id = 'acme'`);
    // At rest only ciphertext: the fake's tokens start "RT1-" and "eyJ".
    expect(String(row?.refresh_token)).toMatch(/^v1\.[0-9a-f]{8}\./);
    expect(String(row?.refresh_token)).not.toContain('RT1-');
    expect(String(row?.access_token)).not.toContain('eyJ');
    // The fake spends a refresh token when it is used: a second refresh works only with the rotated one.
    env.clock.advance(2 * 3600_000);
    expect((await sync(h)).already_posted).toBe(9);
    expect(h.fake.tokenGrants.filter((g) => g.grant_type === 'refresh_token')).toEqual([
      { grant_type: 'refresh_token', ok: true },
      { grant_type: 'refresh_token', ok: true },
    ]);
  });

  it('refreshes when QuickBooks refuses an access token before its hour is over, and carries on', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected();
    h.fake.expireAccessTokens();
    const seen = h.fake.apiRequests().length;
    const r = await sync(h);
    expect(r.posted).toBe(9);
    expect(h.fake.apiRequests().slice(seen, seen + 2).map((q) => q.status)).toEqual([401, 200]);
    expect(h.fake.tokenGrants.filter((g) => g.grant_type === 'refresh_token' && g.ok)).toHaveLength(1);
  });

  it('stops with QBO_REAUTHORIZE, posting nothing, when the refresh token was revoked', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected();
    h.fake.revokeRefreshTokens();
    env.clock.advance(2 * 3600_000);
    const e = await failure(sync(h));
    expect(e.code).toBe('QBO_REAUTHORIZE');
    expect(e.message).toContain('spendtrail qbo connect');
    expect(h.fake.created).toHaveLength(0);
    expect(creates(h)).toHaveLength(0);
  });

  it('retries 429 and 503 answers, waiting as Retry-After says or doubling, and posts everything once', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected();
    h.fake.failNext(1, 429, '2', /journalentry/);
    h.fake.failNext(2, 503, null, /journalentry/);
    const r = await sync(h);
    expect(r).toMatchObject({ posted: 9, failed: [] });
    // 2 s as asked, then the second and third retries' backoff, doubling from 20 ms (jitter pinned at its top).
    expect(h.waits).toEqual([2000, 39, 79]);
    expect(h.fake.created).toHaveLength(9);
  });

  it('stops with QBO_UNAVAILABLE when QuickBooks stays down, leaving the entry pending, and the next run resumes without duplicates', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected({ attempts: 3 });
    h.fake.failNext(3, 503, null, /journalentry/);
    const e = await failure(sync(h));
    expect(e.code).toBe('QBO_UNAVAILABLE');
    expect(e.details).toMatchObject({ external_id: entryIds[0], posted: 0, remaining: 9 });
    expect((await states(h)).find((x) => x.external_id === entryIds[0])).toMatchObject({ status: 'pending', error_code: 'QBO_UNAVAILABLE' });
    const r = await sync(h);
    expect(r).toMatchObject({ posted: 9, failed: [] });
    expect(h.fake.created).toHaveLength(9);
  });

  it('refuses before posting anything when a journal account has no QuickBooks account, naming it', async (ctx) => {
    if (skipped) return ctx.skip();
    const { '6450': _dropped, ...partial } = MAP;
    const h = await connected({ map: partial });
    const e = await failure(sync(h));
    expect(e.code).toBe('ACCOUNT_NOT_MAPPED');
    expect(e.message).toContain('6450 Research data & tools');
    expect(e.details).toEqual({ accounts: ['6450'] });
    expect(creates(h)).toHaveLength(0);
  });

  it('refuses before posting anything when a mapped QuickBooks account is inactive', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected({ map: { ...MAP, '6400': '64' } });
    const e = await failure(sync(h));
    expect(e.code).toBe('ACCOUNT_NOT_MAPPED');
    expect(e.message).toContain('6400 is mapped to QuickBooks account 64, which is inactive');
    expect(creates(h)).toHaveLength(0);
  });

  it('marks an entry QuickBooks refuses as unbalanced failed with the reason, posts the rest, and posts it under a new requestid once fixed', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected();
    const victim = entryIds[1] ?? '';
    // A corrupted body on the way out: one line of the second entry off by a cent.
    h.faults.tamper = (body) => (body.includes(`"PrivateNote":"${victim} `) ? body.replace(/"Amount":([0-9]+)\.([0-9]{2})/, (_m, w: string, f: string) => `"Amount":${w}.${f === '99' ? '98' : String(Number(f) + 1).padStart(2, '0')}`) : body);
    const r = await sync(h);
    expect(r.posted).toBe(8);
    expect(r.failed).toEqual([{ external_id: victim, tx_ids: expect.any(Array) as unknown, code: '6000', message: expect.stringMatching(/debits .* and credits .* must be equal/) as unknown }]);
    expect(h.fake.created).toHaveLength(8);
    expect((await states(h)).find((x) => x.external_id === victim)).toMatchObject({ status: 'failed', error_code: '6000', generation: 1 });

    h.faults.tamper = undefined;
    const again = await sync(h);
    expect(again).toMatchObject({ posted: 1, already_posted: 8, failed: [] });
    // QuickBooks would replay the refusal for the old requestid: the retry carries the next one.
    expect(creates(h).filter((q) => q.body.includes(`"PrivateNote":"${victim} `)).map((q) => q.query.get('requestid'))).toEqual([
      requestIdFor(h.fake.realmId, victim, 0),
      requestIdFor(h.fake.realmId, victim, 1),
    ]);
    expect(h.fake.created).toHaveLength(9);
  });

  it('stops at the first refusal when asked to, leaving the rest unattempted', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected();
    const victim = entryIds[1] ?? '';
    h.faults.tamper = (body) => (body.includes(`"PrivateNote":"${victim} `) ? body.replace(/"Amount":([0-9]+\.[0-9]{2})/, '"Amount":1.5000') : body);
    const r = await sync(h, { on_rejection: 'stop' });
    expect(r).toMatchObject({ posted: 1, not_attempted: 7 });
    expect(r.failed.map((f) => [f.external_id, f.code])).toEqual([[victim, '6000']]);
    expect(h.fake.created).toHaveLength(1);
    expect((await states(h)).filter((x) => x.status === 'pending' && x.attempts === 0)).toHaveLength(7);
  });

  it('posts card spend as Purchases (a refund as a card credit), and what a Purchase cannot carry as JournalEntries, with vendors', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected();
    await setQboMappings(h.ctx, finance, { kind: 'vendor', set: { AWS: '201', openai: '202' } });
    const r = await sync(h, { as: 'purchase' });
    expect(r).toMatchObject({ posted: 9, failed: [], as: 'Purchase' });
    const purchases = h.fake.created.filter((c) => c.entity === 'Purchase');
    const journals = h.fake.created.filter((c) => c.entity === 'JournalEntry');
    // Card payments (credit card 2110) and the USDC ones (bank 1150) are Purchases; the Lightning
    // wallet is neither a bank nor a card account, so its roll-up stays a journal entry.
    expect(journals).toHaveLength(1);
    expect(r.posted_as_journal).toEqual([{ external_id: expect.stringMatching(/^STR-2026-03-06-/) as unknown, reason: expect.stringContaining('Other Current Asset') as unknown }]);
    expect(purchases.filter((c) => c.object.PaymentType === 'CreditCard')).toHaveLength(6);
    expect(purchases.filter((c) => c.object.PaymentType === 'Cash')).toHaveLength(2);
    const refund = purchases.filter((c) => c.object.Credit === true);
    expect(refund.map((c) => [c.object.EntityRef, (c.object.Line as { Amount: number }[])[0]?.Amount])).toEqual([[{ value: '202', type: 'Vendor' }, 12.4]]);
    expect(purchases.filter((c) => (c.object.EntityRef as { value?: string } | undefined)?.value === '201')).toHaveLength(2);
    expect(Object.fromEntries(totalsOfCreated(h.fake))).toEqual(Object.fromEntries([...ledger].filter(([, v]) => v !== 0n)));
  });

  it('refuses before posting anything when vendors are required and a merchant has none', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected();
    await setQboMappings(h.ctx, finance, { kind: 'vendor', set: { AWS: '201' } });
    const e = await failure(sync(h, { vendors: 'required' }));
    expect(e.code).toBe('VENDOR_NOT_MAPPED');
    expect(e.message).toContain('OpenAI (2 entries)');
    expect(creates(h)).toHaveLength(0);
  });

  it('takes a redirect only with the state it issued, and links to Intuit with client id, scope, redirect URI and state', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected();
    const before = await env.store.getQboConnection('acme');
    const { url, state } = await startQboConnect(h.ctx, finance);
    const u = new URL(url);
    expect(Object.fromEntries(u.searchParams)).toEqual({
      client_id: h.fake.clientId,
      response_type: 'code',
      scope: 'com.intuit.quickbooks.accounting',
      redirect_uri: h.fake.redirectUri,
      state,
    });
    const e = await failure(completeQboConnect(h.ctx, finance, { code: h.fake.issueCode(), realm_id: '123', state: 'forged-state' }));
    expect([e.code, e.field]).toEqual(['VALIDATION_FAILED', 'state']);
    env.clock.advance(16 * 60_000);
    expect((await failure(completeQboConnect(h.ctx, finance, { code: h.fake.issueCode(), realm_id: '123', state }))).field).toBe('state');
    // The connection in use was left as it was, and still works.
    expect((await env.store.getQboConnection('acme'))?.realm_id).toBe(before?.realm_id);
    expect((await sync(h)).posted).toBe(9);
  });

  it('lists a posted entry whose ledger content changed since, and does not post it again', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected({ map: { ...MAP, '6401': '57' } });
    await sync(h);
    // The books now call cloud infrastructure 6401: the two AWS entries read differently than what was posted.
    const renamed = { ...MARCH, settings: { ...MARCH.settings, accounts: { '6400': { code: '6401' } } } };
    const r = await syncToQbo(h.ctx, finance, renamed);
    expect(r).toMatchObject({ posted: 0, already_posted: 9 });
    expect(r.changed_since_posted.map((c) => c.external_id).sort()).toEqual([entryIds[0], entryIds[8]].sort());
    expect(h.fake.created).toHaveLength(9);
  });

  it('remembers what a lost attempt sent: an entry in doubt that changed before the resume reads as changed once posted', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected({ map: { ...MAP, '6401': '57' } });
    h.faults.crashAfterCreate = 1;
    await expect(sync(h)).rejects.toBeInstanceOf(SimulatedCrash);
    h.faults.crashAfterCreate = undefined;
    const renamed = { ...MARCH, settings: { ...MARCH.settings, accounts: { '6400': { code: '6401' } } } };
    expect(await syncToQbo(h.ctx, finance, renamed)).toMatchObject({ posted: 9, changed_since_posted: [] });
    // QuickBooks answered the resume with the object of the lost attempt, made with the old content.
    const later = await syncToQbo(h.ctx, finance, renamed);
    expect(later.changed_since_posted.map((c) => c.external_id)).toEqual([entryIds[0]]);
    expect(h.fake.created).toHaveLength(9);
  });

  it('sends an entry in doubt again as what it was sent as, whatever the resumed run is asked', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected();
    h.faults.crashAfterCreate = 1;
    await expect(sync(h, { as: 'purchase' })).rejects.toBeInstanceOf(SimulatedCrash);
    h.faults.crashAfterCreate = undefined;
    expect(await sync(h, { as: 'journal' })).toMatchObject({ posted: 9, failed: [] });
    expect(h.fake.created.map((c) => c.entity)).toEqual(['Purchase', ...entryIds.slice(1).map(() => 'JournalEntry')]);
    expect(creates(h).filter((q) => q.path.endsWith('/purchase')).map((q) => q.query.get('requestid'))).toEqual([
      requestIdFor(h.fake.realmId, entryIds[0] ?? '', 0),
      requestIdFor(h.fake.realmId, entryIds[0] ?? '', 0),
    ]);
  });

  it('builds every posting and posts nothing on a dry run', async (ctx) => {
    if (skipped) return ctx.skip();
    const h = await connected();
    const r = await sync(h, { dry_run: true });
    expect(r).toMatchObject({ dry_run: true, to_post: 9, posted: 0 });
    expect(creates(h)).toHaveLength(0);
    expect(await states(h)).toEqual([]);
  });
});
