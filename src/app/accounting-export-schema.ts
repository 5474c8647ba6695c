import { z } from 'zod';
import { RAILS } from '../domain/rails.ts';
import { currencyCode, identifier, moneyString, text } from './schemas.ts';

export const ACCOUNTING_FORMATS = ['iif', 'xero', 'netsuite', 'hledger'] as const;
export type AccountingFormat = (typeof ACCOUNTING_FORMATS)[number];

const accountCode = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.:-]{0,31}$/, 'an account code such as 6400');
const accountType = z.enum(['asset', 'liability', 'expense']);
const account = z.strictObject({ code: accountCode, name: text(200).min(1), type: accountType.optional() });

/** A period bound: an instant with a zone, or a calendar day in the organisation's time zone. */
const bound = z.string().max(40);

/**
 * Export settings: how the ledger's transactions become journal entries, and what each target
 * needs. Every field has a default (docs/accounting.md), so `{}` is a valid setting.
 */
export const accountingSettings = z.strictObject({
  /** Rail → the account its money comes out of; merged over the defaults. */
  funding_accounts: z.partialRecord(z.enum(RAILS), account).optional(),
  uncoded: z.enum(['refuse', 'suspense']).optional(),
  suspense_account: account.optional(),
  /** false: no roll-up. */
  rollup: z
    .union([
      z.literal(false),
      z.strictObject({ rails: z.array(z.enum(RAILS)).min(1).max(RAILS.length).optional(), below: moneyString.optional() }),
    ])
    .optional(),
  /** chart: GL codes map to the chart of accounts, overridable in `accounts`; explicit: only `accounts` counts. */
  account_mapping: z.enum(['chart', 'explicit']).optional(),
  accounts: z.record(text(32).min(1), z.strictObject({ code: accountCode.optional(), name: text(200).min(1).optional() })).optional(),
  /** The target's home currency, when known: an export in another currency is refused. */
  home_currency: currencyCode.optional(),
  xero: z.strictObject({ tax_rate: text(100).min(1).optional(), max_lines: z.number().int().min(2).max(300).optional() }).optional(),
  netsuite: z
    .strictObject({
      subsidiary: text(200).optional(),
      account: z.enum(['number_name', 'name', 'number']).optional(),
      date_format: z.enum(['MM/DD/YYYY', 'DD/MM/YYYY', 'YYYY-MM-DD']).optional(),
    })
    .optional(),
});
export type AccountingSettings = z.infer<typeof accountingSettings>;

/** One accounting export: HTTP body, or CLI flags merged over a settings file. */
export const accountingExportRequest = z
  .strictObject({
    format: z.enum(ACCOUNTING_FORMATS),
    month: z.string().regex(/^[0-9]{4}-(0[1-9]|1[0-2])$/, 'a month as YYYY-MM, e.g. 2026-03').optional(),
    from: bound.optional(),
    to: bound.optional(),
    agent_id: identifier.optional(),
    cluster: identifier.optional(),
    settings: accountingSettings.optional(),
  })
  .refine((r) => r.agent_id === undefined || r.cluster === undefined, { message: 'give an agent or a cluster, not both', path: ['cluster'] })
  .refine((r) => (r.month === undefined) !== (r.from === undefined && r.to === undefined), {
    message: 'give the period as month, or as from and to',
    path: ['month'],
  })
  .refine((r) => r.month !== undefined || (r.from !== undefined && r.to !== undefined), { message: 'give both from and to', path: ['to'] });
export type AccountingExportRequest = z.infer<typeof accountingExportRequest>;
