import { z } from 'zod';
import { accountingSettings } from './accounting-export-schema.ts';
import { identifier, text } from './schemas.ts';

/** QuickBooks ids (realm, Account, Vendor) are decimal strings. */
const qboId = z.string().regex(/^[0-9]{1,20}$/, 'a QuickBooks id: digits, as QuickBooks shows it');
const bound = z.string().max(40);

/** `qbo sync`: the period and scope as for an accounting export, and how to post. */
export const qboSyncRequest = z
  .strictObject({
    month: z.string().regex(/^[0-9]{4}-(0[1-9]|1[0-2])$/, 'a month as YYYY-MM, e.g. 2026-03').optional(),
    from: bound.optional(),
    to: bound.optional(),
    agent_id: identifier.optional(),
    cluster: identifier.optional(),
    /** journal: a JournalEntry per entry (default); purchase: an expense Purchase where one can carry the entry. */
    as: z.enum(['journal', 'purchase']).optional(),
    /** The journal's settings, as for `accounting export` (roll-up, suspense, funding accounts, …). */
    settings: accountingSettings.optional(),
    /** optional (default): an unmapped merchant posts without a vendor; required: it stops the sync before anything is posted. */
    vendors: z.enum(['optional', 'required']).optional(),
    /** continue (default): an entry QuickBooks refuses is marked failed and the next one is posted; stop: the sync ends there. */
    on_rejection: z.enum(['continue', 'stop']).optional(),
    /** Check mappings and build every posting, post nothing. */
    dry_run: z.boolean().optional(),
  })
  .refine((r) => r.agent_id === undefined || r.cluster === undefined, { message: 'give an agent or a cluster, not both', path: ['cluster'] })
  .refine((r) => (r.month === undefined) !== (r.from === undefined && r.to === undefined), {
    message: 'give the period as month, or as from and to',
    path: ['month'],
  })
  .refine((r) => r.month !== undefined || (r.from !== undefined && r.to !== undefined), { message: 'give both from and to', path: ['to'] });
export type QboSyncRequest = z.infer<typeof qboSyncRequest>;

/** `qbo connect --code … --realm …`: what Intuit's redirect carried back. */
export const qboConnectRequest = z.strictObject({
  code: text(2000).min(1),
  realm_id: qboId,
  /** The redirect's `state`; when given it must be the one `qbo connect` issued. */
  state: text(200).min(1).optional(),
});
export type QboConnectRequest = z.infer<typeof qboConnectRequest>;

/** `qbo map accounts|vendors`: set and remove entries of one mapping table. */
export const qboMappingRequest = z.strictObject({
  kind: z.enum(['account', 'vendor']),
  /** Journal account code (or merchant, for vendors) → QuickBooks id. */
  set: z.record(text(200).min(1), qboId).optional(),
  remove: z.array(text(200).min(1)).max(10_000).optional(),
});
export type QboMappingRequest = z.infer<typeof qboMappingRequest>;

/**
 * `qbo map accounts|vendors --from-qbo`: match by number or name against the company. The
 * candidates are the accounts or merchants of a period's journal when one is given (vendors
 * need one), else the chart of accounts with the default funding and suspense accounts.
 */
export const qboAutoMapRequest = z
  .strictObject({
    kind: z.enum(['account', 'vendor']),
    month: z.string().regex(/^[0-9]{4}-(0[1-9]|1[0-2])$/, 'a month as YYYY-MM, e.g. 2026-03').optional(),
    from: bound.optional(),
    to: bound.optional(),
    settings: accountingSettings.optional(),
  })
  .refine((r) => r.month === undefined || (r.from === undefined && r.to === undefined), { message: 'give the period as month, or as from and to', path: ['month'] })
  .refine((r) => (r.from === undefined) === (r.to === undefined), { message: 'give both from and to', path: ['to'] })
  .refine((r) => r.kind === 'account' || r.month !== undefined || r.from !== undefined, {
    message: "vendors are matched for a period's merchants: give --month, or --from and --to",
    path: ['month'],
  });
export type QboAutoMapRequest = z.infer<typeof qboAutoMapRequest>;
