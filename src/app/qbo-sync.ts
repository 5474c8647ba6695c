import { SpendtrailError, isSpendtrailError } from '../domain/errors.ts';
import type { JournalEntry } from '../domain/journal/journal.ts';
import { merchantKey } from '../domain/policy/policy.ts';
import type { Instant } from '../domain/time.ts';
import { prepareJournal } from './accounting-export.ts';
import type { Principal } from './principal.ts';
import { requireRole } from './principal.ts';
import type { QboSyncRow } from './ports/store.ts';
import type { QboContext } from './qbo-connect.ts';
import { connectedCompany } from './qbo-connect.ts';
import { entryHash, planPosting, requestIdFor } from './qbo-plan.ts';
import type { QboAccount, QboCompany, QboEntity, QboPosting } from './qbo-ports.ts';
import type { QboSyncRequest } from './qbo-schemas.ts';
import { qboSyncRequest } from './qbo-schemas.ts';
import { parseInput } from './schemas.ts';

export interface QboSyncProgress {
  readonly total: number;
  readonly done: number;
  readonly posted: number;
  readonly already_posted: number;
  readonly failed: number;
  readonly external_id: string | null;
}

export interface QboSyncFailure {
  readonly external_id: string;
  readonly tx_ids: readonly string[];
  /** QuickBooks' error code (e.g. 6000, 2500). */
  readonly code: string;
  readonly message: string;
}

export interface QboSyncReport {
  readonly realm_id: string;
  readonly period: { readonly from: Instant; readonly to: Instant; readonly label: string };
  readonly scope: string;
  readonly currency: string;
  readonly as: QboEntity;
  readonly dry_run: boolean;
  readonly entries: number;
  readonly transactions: number;
  /** Created in QuickBooks by this run. */
  readonly posted: number;
  /** Of those, created by an earlier attempt whose answer was lost, and found by their DocNumber. */
  readonly recovered: number;
  /** Posted by an earlier run: left alone. */
  readonly already_posted: number;
  /** Posted earlier, and the ledger's entry has changed since (a late payment in a rolled-up day): not re-posted. */
  readonly changed_since_posted: readonly { readonly external_id: string; readonly entity: QboEntity | null; readonly qbo_id: string | null }[];
  readonly failed: readonly QboSyncFailure[];
  /** Entries not tried because the run stopped at a refusal (on_rejection: stop). */
  readonly not_attempted: number;
  /** Asked as Purchases, posted as JournalEntries: why a Purchase could not carry them. */
  readonly posted_as_journal: readonly { readonly external_id: string; readonly reason: string }[];
  /** Dry run: the entries a real run would post now. */
  readonly to_post: number;
}

const ENTITY: Readonly<Record<NonNullable<QboSyncRequest['as']>, QboEntity>> = { journal: 'JournalEntry', purchase: 'Purchase' };
/** QuickBooks' duplicate DocNumber refusal: the entry is already there under its number. */
const DUPLICATE_DOC_NUMBER = '6140';
const LISTED = 10;

/**
 * Posts a period's journal to the connected QuickBooks Online company, each entry as one
 * JournalEntry (or expense Purchase) in one call, so no entry is ever half posted.
 *
 * Before anything is posted: every account of the journal must be mapped to a QuickBooks
 * account that exists and is active (ACCOUNT_NOT_MAPPED otherwise, naming them), and, with
 * `vendors: required`, every merchant to a vendor (VENDOR_NOT_MAPPED).
 *
 * Exactly once: each entry's state is kept per company. An entry posted before is skipped. Each
 * attempt is recorded before it is sent, and its requestid is derived from the entry, so an
 * attempt whose answer was lost (a crash, a dropped connection) is sent again with the same
 * requestid and QuickBooks answers with the object it created the first time.
 *
 * Refusals (validation faults) mark the entry failed with QuickBooks' reason; the run goes on
 * with the next entry (`on_rejection: continue`, the default) or stops (`stop`). Throttling and
 * server errors are retried with backoff inside the adapter; when retries run out
 * (QBO_UNAVAILABLE) or the connection must be made again (QBO_REAUTHORIZE) the run stops at
 * once, the entry in flight stays pending, and the next run resumes with it.
 */
export async function syncToQbo(
  ctx: QboContext,
  by: Principal,
  raw: unknown,
  options: { readonly onProgress?: (p: QboSyncProgress) => void } = {},
): Promise<QboSyncReport> {
  requireRole(by, 'finance');
  const req = parseInput(qboSyncRequest, raw);
  const company = await connectedCompany(ctx, by.org_id);
  const realm = company.realm_id;
  const { journal, context } = await prepareJournal(ctx.deps, by, {
    // prepareJournal serves every target; the file format it is told plays no part in the journal.
    format: 'hledger',
    ...(req.month === undefined ? { from: req.from, to: req.to } : { month: req.month }),
    ...(req.agent_id === undefined ? {} : { agent_id: req.agent_id }),
    ...(req.cluster === undefined ? {} : { cluster: req.cluster }),
    ...(req.settings === undefined ? {} : { settings: req.settings }),
  });
  if (journal.exponent > 2) {
    throw new SpendtrailError('UNSUPPORTED_CURRENCY', `QuickBooks amounts have two decimals; ${journal.currency} has ${journal.exponent}`);
  }
  const home = req.settings?.home_currency;
  if (home !== undefined && home !== journal.currency) {
    throw new SpendtrailError('UNSUPPORTED_CURRENCY', `the journal is in ${journal.currency}, the QuickBooks company's home currency is ${home}`, { field: 'settings.home_currency' });
  }

  const mappings = await ctx.store.listQboMappings(by.org_id, realm);
  const accountIds = new Map(mappings.filter((m) => m.kind === 'account').map((m) => [m.key, m.qbo_id]));
  const vendorIds = new Map(mappings.filter((m) => m.kind === 'vendor').map((m) => [merchantKey(m.key), m.qbo_id]));
  checkMapped(journal.entries, accountIds, vendorIds, req.vendors ?? 'optional');
  const qboAccounts = await checkInQbo(company, journal.entries, accountIds, vendorIds);

  const as = ENTITY[req.as ?? 'journal'];
  const plan = journal.entries.map((e) => {
    const planning = {
      exponent: journal.exponent,
      account_ids: accountIds,
      vendor_id: vendorIds.get(merchantKey(e.vendor)) ?? null,
      qboAccount: (code: string) => qboAccounts.get(accountIds.get(code) ?? ''),
    };
    return { entry: e, hash: entryHash(e), ...planPosting(e, as, planning), replan: (entity: QboEntity) => planPosting(e, entity, planning).posting };
  });

  const known = new Map(
    (await ctx.store.getQboSyncStates(by.org_id, realm, { external_ids: journal.entries.map((e) => e.external_id) })).map((s) => [s.external_id, s]),
  );
  const report = {
    realm_id: realm,
    period: context.period,
    scope: context.scope,
    currency: journal.currency,
    as,
    dry_run: req.dry_run === true,
    entries: journal.entries.length,
    transactions: journal.report.transactions,
    posted: 0,
    recovered: 0,
    already_posted: 0,
    changed_since_posted: [] as QboSyncReport['changed_since_posted'][number][],
    failed: [] as QboSyncFailure[],
    not_attempted: 0,
    posted_as_journal: [] as QboSyncReport['posted_as_journal'][number][],
    to_post: 0,
  };
  const now = (): Date => ctx.deps.clock.now();

  // Every entry of the period gets its state now, so each transaction reads as pending until posted.
  const fresh: QboSyncRow[] = [];
  for (const p of plan) {
    const s = known.get(p.entry.external_id);
    if (s === undefined) fresh.push(newState(by.org_id, realm, p.entry, p.hash, now()));
    else if (s.status !== 'posted' && (s.entry_sha256 !== p.hash || s.entry_date !== p.entry.date)) {
      fresh.push({ ...s, entry_sha256: p.hash, entry_date: p.entry.date, tx_ids: p.entry.tx_ids, updated_at: now() });
    }
  }
  if (!report.dry_run) {
    await ctx.store.putQboSyncStates(fresh);
    for (const s of fresh) known.set(s.external_id, s);
  }

  const progress = (externalId: string | null, done: number): void =>
    options.onProgress?.({ total: plan.length, done, posted: report.posted, already_posted: report.already_posted, failed: report.failed.length, external_id: externalId });
  progress(null, 0);

  for (let i = 0; i < plan.length; i++) {
    const p = plan[i];
    if (p === undefined) continue;
    const id = p.entry.external_id;
    const state = known.get(id) ?? newState(by.org_id, realm, p.entry, p.hash, now());
    if (state.status === 'posted') {
      report.already_posted += 1;
      if (state.sent_sha256 !== p.hash) report.changed_since_posted.push({ external_id: id, entity: state.entity, qbo_id: state.qbo_id });
      progress(id, i + 1);
      continue;
    }
    // An attempt whose outcome is unknown pins what was sent: the same object under the same
    // requestid, whatever this run was asked, or QuickBooks could end up holding two.
    const inDoubt = state.status === 'pending' && state.request_id !== null && state.entity !== null;
    const posting = inDoubt && state.entity !== null && state.entity !== p.posting.entity ? p.replan(state.entity) : p.posting;
    if (inDoubt && posting.entity !== state.entity) {
      throw new SpendtrailError(
        'QBO_REJECTED',
        `entry ${id} was sent as a ${state.entity} by an earlier run whose answer was lost, and a ${state.entity} can no longer carry it: ` +
          `look for DocNumber ${posting.doc_number} in QuickBooks before anything else; nothing more was posted`,
        { details: { external_id: id, posted: report.posted } },
      );
    }
    if (report.dry_run) {
      report.to_post += 1;
      if (p.fallback !== null && !inDoubt) report.posted_as_journal.push({ external_id: id, reason: p.fallback });
      progress(id, i + 1);
      continue;
    }
    const requestId = requestIdFor(realm, id, state.generation);
    const attempt: QboSyncRow = {
      ...state,
      status: 'pending',
      entity: posting.entity,
      request_id: requestId,
      // In doubt, QuickBooks may hold what the lost attempt sent, and will answer with that object.
      sent_sha256: inDoubt ? state.sent_sha256 : p.hash,
      attempts: state.attempts + 1,
      updated_at: now(),
    };
    // Written before the call: a crash after QuickBooks accepted leaves this row, and the next
    // run sends the same requestid again.
    await ctx.store.putQboSyncStates([attempt]);
    let outcome: Awaited<ReturnType<QboCompany['create']>>;
    try {
      outcome = await company.create(posting, requestId);
      if (outcome.kind === 'rejected' && outcome.code === DUPLICATE_DOC_NUMBER) outcome = await findExisting(company, posting, outcome);
    } catch (e) {
      if (!isSpendtrailError(e)) throw e;
      await ctx.store.putQboSyncStates([{ ...attempt, error_code: e.code, error: e.message, updated_at: now() }]);
      throw new SpendtrailError(e.code, `${e.message} (stopped at entry ${id}, ${i} of ${plan.length} done: ${report.posted} posted now, ${report.failed.length} refused; run the sync again to resume)`, {
        field: e.field,
        details: { ...e.details, external_id: id, posted: report.posted, failed: report.failed.length, remaining: plan.length - i },
        cause: e,
      });
    }
    if (outcome.kind === 'created') {
      const recovered = 'recovered' in outcome;
      await ctx.store.putQboSyncStates([
        { ...attempt, status: 'posted', qbo_id: outcome.id, sync_token: outcome.sync_token, error_code: null, error: null, posted_at: now(), updated_at: now() },
      ]);
      report.posted += 1;
      if (recovered) report.recovered += 1;
      if (p.fallback !== null && posting.entity === 'JournalEntry') report.posted_as_journal.push({ external_id: id, reason: p.fallback });
    } else {
      // Refused: nothing was created, so the next attempt may (and must) use a new requestid.
      await ctx.store.putQboSyncStates([
        { ...attempt, status: 'failed', generation: state.generation + 1, error_code: outcome.code, error: outcome.message, updated_at: now() },
      ]);
      report.failed.push({ external_id: id, tx_ids: p.entry.tx_ids, code: outcome.code, message: outcome.message });
      if (req.on_rejection === 'stop') {
        report.not_attempted = plan.length - i - 1;
        progress(id, i + 1);
        break;
      }
    }
    progress(id, i + 1);
  }
  return report;
}

function newState(orgId: string, realmId: string, e: JournalEntry, hash: string, now: Date): QboSyncRow {
  return {
    org_id: orgId,
    realm_id: realmId,
    external_id: e.external_id,
    status: 'pending',
    entity: null,
    generation: 0,
    request_id: null,
    entry_sha256: hash,
    sent_sha256: null,
    entry_date: e.date,
    tx_ids: e.tx_ids,
    qbo_id: null,
    sync_token: null,
    error_code: null,
    error: null,
    attempts: 0,
    created_at: now,
    updated_at: now,
    posted_at: null,
  };
}

/**
 * QuickBooks refused the DocNumber as a duplicate: an earlier attempt created the entry and its
 * requestid is no longer remembered. The object carrying the number is the entry if its note
 * starts with the entry's external id (as every posting's does); anything else is not ours.
 */
async function findExisting(
  company: QboCompany,
  posting: QboPosting,
  refusal: { readonly kind: 'rejected'; readonly http_status: number; readonly code: string; readonly message: string },
): Promise<{ kind: 'created'; id: string; sync_token: string; recovered: true } | typeof refusal> {
  const found = (await company.findByDocNumber(posting.entity, posting.doc_number)).filter((o) => o.private_note.startsWith(`${posting.entry.external_id} `));
  const [only] = found;
  if (found.length !== 1 || only === undefined) {
    return { ...refusal, message: `${refusal.message} (${found.length} ${posting.entity} objects carry DocNumber ${posting.doc_number} and this entry's id; expected one)` };
  }
  return { kind: 'created', id: only.id, sync_token: only.sync_token, recovered: true };
}

/** Every account of the journal mapped; with vendors required, every merchant too. */
function checkMapped(entries: readonly JournalEntry[], accountIds: ReadonlyMap<string, string>, vendorIds: ReadonlyMap<string, string>, vendors: 'optional' | 'required'): void {
  const missing = new Map<string, { name: string; lines: number }>();
  const merchants = new Map<string, { vendor: string; entries: number }>();
  for (const e of entries) {
    for (const l of e.lines) {
      if (accountIds.has(l.account_code)) continue;
      const m = missing.get(l.account_code) ?? { name: l.account_name, lines: 0 };
      m.lines += 1;
      missing.set(l.account_code, m);
    }
    const key = merchantKey(e.vendor);
    if (vendors === 'required' && !vendorIds.has(key)) {
      const v = merchants.get(key) ?? { vendor: e.vendor, entries: 0 };
      v.entries += 1;
      merchants.set(key, v);
    }
  }
  if (missing.size > 0) {
    const codes = [...missing.keys()].sort();
    throw new SpendtrailError(
      'ACCOUNT_NOT_MAPPED',
      `no QuickBooks account is mapped for ${codes.map((c) => `${c} ${missing.get(c)?.name} (${missing.get(c)?.lines} lines)`).join(', ')}: ` +
        `map them with \`spendtrail qbo map accounts ${codes[0]}=<QuickBooks Account Id>\` (or --from-qbo); nothing was posted`,
      { field: 'accounts', details: { accounts: codes } },
    );
  }
  if (merchants.size > 0) {
    const names = [...merchants.values()].sort((a, b) => (a.vendor < b.vendor ? -1 : 1));
    throw new SpendtrailError(
      'VENDOR_NOT_MAPPED',
      `no QuickBooks vendor is mapped for ${names.slice(0, LISTED).map((v) => `${v.vendor} (${v.entries} entries)`).join(', ')}${names.length > LISTED ? `, and ${names.length - LISTED} more` : ''}: ` +
        'map them with `spendtrail qbo map vendors "<merchant>=<QuickBooks Vendor Id>"` (or --from-qbo), or sync with vendors optional; nothing was posted',
      { field: 'vendors', details: { vendors: names.map((v) => v.vendor) } },
    );
  }
}

/**
 * The mapped ids must exist in the company and be active: QuickBooks would refuse every entry
 * naming one (2500 Invalid Reference Id), so the sync stops before the first post instead.
 * Returns QuickBooks' accounts by id (their types decide what a Purchase can be paid from).
 */
async function checkInQbo(
  company: QboCompany,
  entries: readonly JournalEntry[],
  accountIds: ReadonlyMap<string, string>,
  vendorIds: ReadonlyMap<string, string>,
): Promise<Map<string, QboAccount>> {
  const accounts = new Map((await company.accounts()).map((a) => [a.id, a]));
  const usedCodes = new Set(entries.flatMap((e) => e.lines.map((l) => l.account_code)));
  const bad = [...usedCodes]
    .sort()
    .map((code) => ({ code, id: accountIds.get(code) ?? '' }))
    .filter(({ id }) => accounts.get(id)?.active !== true);
  if (bad.length > 0) {
    throw new SpendtrailError(
      'ACCOUNT_NOT_MAPPED',
      `${bad.map((b) => `${b.code} is mapped to QuickBooks account ${b.id}, which ${accounts.has(b.id) ? 'is inactive' : 'the company does not have'}`).join('; ')}: ` +
        'fix the mapping with `spendtrail qbo map accounts`; nothing was posted',
      { field: 'accounts', details: { accounts: bad.map((b) => b.code) } },
    );
  }
  const usedVendors = new Map<string, string>();
  for (const e of entries) {
    const id = vendorIds.get(merchantKey(e.vendor));
    if (id !== undefined) usedVendors.set(id, e.vendor);
  }
  if (usedVendors.size > 0) {
    const vendors = new Map((await company.vendors()).map((v) => [v.id, v]));
    const missing = [...usedVendors].filter(([id]) => vendors.get(id)?.active !== true);
    if (missing.length > 0) {
      throw new SpendtrailError(
        'VENDOR_NOT_MAPPED',
        `${missing.map(([id, vendor]) => `${vendor} is mapped to QuickBooks vendor ${id}, which ${vendors.has(id) ? 'is inactive' : 'the company does not have'}`).join('; ')}: ` +
          'fix the mapping with `spendtrail qbo map vendors`; nothing was posted',
        { field: 'vendors', details: { vendors: missing.map(([, v]) => v) } },
      );
    }
  }
  return accounts;
}

/** The sync states of a company: all, of some entries, or of the entry holding a transaction. */
export async function qboSyncStates(ctx: QboContext, by: Principal, filter: { readonly tx_id?: string } = {}): Promise<{ realm_id: string; states: QboSyncRow[] }> {
  requireRole(by, 'finance', 'auditor');
  const c = await ctx.store.getQboConnection(by.org_id);
  if (c?.realm_id === null || c?.realm_id === undefined) {
    throw new SpendtrailError('QBO_NOT_CONNECTED', `organisation ${by.org_id} is not connected to QuickBooks Online: run \`spendtrail qbo connect\``);
  }
  return { realm_id: c.realm_id, states: await ctx.store.getQboSyncStates(by.org_id, c.realm_id, filter.tx_id === undefined ? {} : { tx_id: filter.tx_id }) };
}

