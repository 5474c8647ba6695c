import { SpendtrailError } from '../../domain/errors.ts';
import { fitEvidence } from '../../domain/journal/evidence.ts';
import type { Journal, JournalLine } from '../../domain/journal/journal.ts';
import type { ExportFile, WriteContext } from '../../app/accounting-export.ts';
import { csvRow, csvText, dayAs, major, requireBookable } from './common.ts';

/**
 * NetSuite's journal entry CSV import (Oracle help: journal entry header and line-level
 * fields). Rows sharing an External ID are one journal entry; importing again with the same
 * External IDs updates those entries (Add or Update) or is refused (Add) instead of posting twice.
 */
export const NETSUITE_COLUMNS = ['External ID', 'Date', 'Subsidiary', 'Currency', 'Account', 'Debit', 'Credit', 'Memo', 'Name'] as const;
/** Debit and Credit: at most 10 digits before the decimal point and 2 after. */
const MAX_INTEGER_DIGITS = 10;
/** The line memo is fitted to 300 characters, the size of NetSuite's free-form text fields. */
export const NETSUITE_MEMO_LIMIT = 300;

export function writeNetsuiteCsv(journal: Journal, ctx: WriteContext): ExportFile[] {
  requireBookable(journal, ctx, 'NetSuite', { maxExponent: 2, fiatOnly: true });
  const ns = ctx.settings.netsuite ?? {};
  const dateFormat = ns.date_format ?? 'MM/DD/YYYY';
  const accountAs = ns.account ?? 'number_name';
  const subsidiary = csvText(ns.subsidiary ?? '');
  let out = csvRow([...NETSUITE_COLUMNS]);
  for (const e of journal.entries) {
    for (const l of e.lines) {
      out += csvRow([
        csvText(e.external_id),
        dayAs(e.date, dateFormat),
        subsidiary,
        journal.currency,
        csvText(accountAs === 'number' ? l.account_code : accountAs === 'name' ? l.account_name : `${l.account_code} ${l.account_name}`),
        amount(l, l.debit_minor, journal),
        amount(l, l.credit_minor, journal),
        csvText(fitEvidence(l.evidence, NETSUITE_MEMO_LIMIT)),
        csvText(l.vendor),
      ]);
    }
  }
  return [{ name: `${ctx.base_name}.csv`, media_type: 'text/csv; charset=utf-8', role: 'journal', bytes: Buffer.from(out, 'utf8') }];
}

function amount(l: JournalLine, minor: bigint, journal: Journal): string {
  if (minor === 0n) return '';
  const text = major(minor, journal);
  if ((text.split('.')[0] ?? '').length > MAX_INTEGER_DIGITS) {
    throw new SpendtrailError('INVALID_AMOUNT', `line ${l.external_id} (${text} ${journal.currency}) is larger than NetSuite's ${MAX_INTEGER_DIGITS}-digit Debit/Credit fields`, {
      details: { line: l.external_id },
    });
  }
  return text;
}
