import { SpendtrailError } from '../domain/errors.ts';
import { DEFAULT_FUNDING, DEFAULT_SUSPENSE } from '../domain/journal/journal.ts';
import { merchantKey } from '../domain/policy/policy.ts';
import { prepareJournal } from './accounting-export.ts';
import type { Principal } from './principal.ts';
import { requireRole } from './principal.ts';
import type { QboMappingRow } from './ports/store.ts';
import type { QboContext } from './qbo-connect.ts';
import { connectedCompany } from './qbo-connect.ts';
import type { QboCompany } from './qbo-ports.ts';
import { qboAutoMapRequest, qboMappingRequest } from './qbo-schemas.ts';
import { parseInput } from './schemas.ts';

/**
 * The mapping tables: journal account code → QuickBooks Account Id, merchant → QuickBooks Vendor
 * Id, per connected company. Ids are checked against the company when set, so a typo is refused
 * here rather than by QuickBooks in the middle of a sync.
 */

const kindName = { account: 'account', vendor: 'vendor' } as const;

/** What QuickBooks has of a kind, by id, with the name to store beside the id. */
async function qboObjects(company: QboCompany, kind: QboMappingRow['kind']): Promise<Map<string, { name: string; number: string | null; active: boolean }>> {
  if (kind === 'account') return new Map((await company.accounts()).map((a) => [a.id, { name: a.name, number: a.acct_num, active: a.active }]));
  return new Map((await company.vendors()).map((v) => [v.id, { name: v.display_name, number: null, active: v.active }]));
}

export async function listQboMappings(ctx: QboContext, by: Principal): Promise<{ realm_id: string; mappings: QboMappingRow[] }> {
  requireRole(by, 'finance', 'auditor');
  const company = await connectedCompany(ctx, by.org_id);
  return { realm_id: company.realm_id, mappings: await ctx.store.listQboMappings(by.org_id, company.realm_id) };
}

/**
 * Sets and removes entries of one table. Errors: VALIDATION_FAILED naming an id the company does
 * not have, QBO_NOT_CONNECTED.
 */
export async function setQboMappings(ctx: QboContext, by: Principal, raw: unknown): Promise<{ set: number; removed: number }> {
  requireRole(by, 'finance');
  const req = parseInput(qboMappingRequest, raw);
  const company = await connectedCompany(ctx, by.org_id);
  const entries = Object.entries(req.set ?? {});
  let rows: QboMappingRow[] = [];
  if (entries.length > 0) {
    const known = await qboObjects(company, req.kind);
    const unknown = entries.filter(([, id]) => !known.has(id));
    if (unknown.length > 0) {
      throw new SpendtrailError(
        'VALIDATION_FAILED',
        `the QuickBooks company has no ${kindName[req.kind]} ${unknown.map(([k, id]) => `${id} (for ${k})`).join(', ')}: \`spendtrail qbo map ${req.kind}s --list-qbo\` shows what it has`,
        { field: `set.${unknown[0]?.[0] ?? ''}` },
      );
    }
    const at = ctx.deps.clock.now();
    rows = entries.map(([key, id]) => ({
      org_id: by.org_id,
      realm_id: company.realm_id,
      kind: req.kind,
      key: req.kind === 'vendor' ? key.trim() : key,
      qbo_id: id,
      qbo_name: known.get(id)?.name ?? null,
      updated_by: by.principal,
      updated_at: at,
    }));
  }
  await ctx.store.putQboMappings(rows);
  const removed = req.remove === undefined || req.remove.length === 0 ? 0 : await ctx.store.deleteQboMappings(by.org_id, company.realm_id, req.kind, req.remove);
  return { set: rows.length, removed };
}

export interface AutoMapResult {
  readonly matched: readonly { readonly key: string; readonly qbo_id: string; readonly qbo_name: string; readonly by: 'number' | 'name' }[];
  /** Already mapped: an explicit mapping is never overwritten. */
  readonly kept: readonly string[];
  readonly unmatched: readonly { readonly key: string; readonly name: string }[];
}

/**
 * Maps what is not mapped yet by matching the company's objects: an account by its number
 * (AcctNum equal to the code), then by name; a vendor by its display name. Names are compared
 * trimmed and case-insensitively, and only an unambiguous match (one active object) counts.
 */
export async function autoMapQbo(ctx: QboContext, by: Principal, raw: unknown): Promise<AutoMapResult> {
  requireRole(by, 'finance');
  const req = parseInput(qboAutoMapRequest, raw);
  const company = await connectedCompany(ctx, by.org_id);
  const candidates = await candidatesOf(ctx, by, req);
  const existing = new Set(
    (await ctx.store.listQboMappings(by.org_id, company.realm_id)).filter((m) => m.kind === req.kind).map((m) => (req.kind === 'vendor' ? merchantKey(m.key) : m.key)),
  );
  const objects = [...(await qboObjects(company, req.kind))].filter(([, o]) => o.active);
  const byNumber = new Map<string, string[]>();
  const byName = new Map<string, string[]>();
  for (const [id, o] of objects) {
    if (o.number !== null) byNumber.set(o.number, [...(byNumber.get(o.number) ?? []), id]);
    const n = merchantKey(o.name);
    byName.set(n, [...(byName.get(n) ?? []), id]);
  }
  const names = new Map(objects);
  const matched: AutoMapResult['matched'][number][] = [];
  const kept: string[] = [];
  const unmatched: AutoMapResult['unmatched'][number][] = [];
  for (const c of candidates) {
    if (existing.has(req.kind === 'vendor' ? merchantKey(c.key) : c.key)) {
      kept.push(c.key);
      continue;
    }
    const num = req.kind === 'account' ? byNumber.get(c.key) : undefined;
    const named = byName.get(merchantKey(c.name));
    const [id, how] = num?.length === 1 ? [num[0], 'number' as const] : named?.length === 1 ? [named[0], 'name' as const] : [undefined, 'name' as const];
    if (id === undefined) unmatched.push(c);
    else matched.push({ key: c.key, qbo_id: id, qbo_name: names.get(id)?.name ?? '', by: how });
  }
  const at = ctx.deps.clock.now();
  await ctx.store.putQboMappings(
    matched.map((m) => ({ org_id: by.org_id, realm_id: company.realm_id, kind: req.kind, key: m.key, qbo_id: m.qbo_id, qbo_name: m.qbo_name, updated_by: by.principal, updated_at: at })),
  );
  return { matched, kept, unmatched };
}

async function candidatesOf(ctx: QboContext, by: Principal, req: ReturnType<typeof qboAutoMapRequest.parse>): Promise<{ key: string; name: string }[]> {
  const out = new Map<string, { key: string; name: string }>();
  if (req.month !== undefined || req.from !== undefined) {
    const { journal } = await prepareJournal(ctx.deps, by, {
      format: 'hledger',
      ...(req.month === undefined ? { from: req.from, to: req.to } : { month: req.month }),
      ...(req.settings === undefined ? {} : { settings: req.settings }),
    });
    for (const e of journal.entries) {
      if (req.kind === 'vendor') out.set(merchantKey(e.vendor), { key: e.vendor, name: e.vendor });
      else for (const l of e.lines) out.set(l.account_code, { key: l.account_code, name: l.account_name });
    }
    return [...out.values()];
  }
  for (const a of await ctx.deps.store.getAccounts(by.org_id)) out.set(a.code, { key: a.code, name: a.name });
  for (const a of [...Object.values(DEFAULT_FUNDING), DEFAULT_SUSPENSE]) out.set(a.code, { key: a.code, name: a.name });
  return [...out.values()];
}

/** What the company has, to map against: accounts (id, number, name, type) or vendors. */
export async function qboDirectory(
  ctx: QboContext,
  by: Principal,
  kind: QboMappingRow['kind'],
): Promise<{ id: string; number: string | null; name: string; type: string | null; active: boolean }[]> {
  requireRole(by, 'finance', 'auditor');
  const company = await connectedCompany(ctx, by.org_id);
  if (kind === 'account') return (await company.accounts()).map((a) => ({ id: a.id, number: a.acct_num, name: a.name, type: a.account_type, active: a.active }));
  return (await company.vendors()).map((v) => ({ id: v.id, number: null, name: v.display_name, type: null, active: v.active }));
}
