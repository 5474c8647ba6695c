import { SpendtrailError } from '../../domain/errors.ts';
import { fitEvidence } from '../../domain/journal/evidence.ts';
import type { Journal, JournalEntry } from '../../domain/journal/journal.ts';
import type { ExportFile, WriteContext } from '../../app/accounting-export.ts';
import { csvRow, csvText, dayAs, major, partName, requireBookable, signed } from './common.ts';

/**
 * Xero's manual-journal import template (help.xero.com ManualJournalsImport): rows with the
 * same Narration and Date form one journal, Amount is positive for a debit and negative for a
 * credit, AccountCode is the code (not the name), TaxRate the full name of a tax rate.
 */
export const XERO_HEADER = '*Narration,*Date,Description,*AccountCode,*TaxRate,*Amount';
/** Xero imports at most 300 lines from one template file. */
export const XERO_MAX_LINES = 300;
/** Xero account codes are at most 10 characters. */
export const XERO_CODE_LIMIT = 10;
/** Xero publishes no length for these two; 255 keeps every import well inside what it takes. */
export const XERO_TEXT_LIMIT = 255;
export const XERO_DEFAULT_TAX_RATE = 'Tax Exempt';

export function writeXeroCsv(journal: Journal, ctx: WriteContext): ExportFile[] {
  requireBookable(journal, ctx, 'Xero', { maxExponent: 2, fiatOnly: true });
  const taxRate = ctx.settings.xero?.tax_rate ?? XERO_DEFAULT_TAX_RATE;
  const max = ctx.settings.xero?.max_lines ?? XERO_MAX_LINES;
  for (const e of journal.entries) {
    for (const l of e.lines) {
      if (l.account_code.length > XERO_CODE_LIMIT) {
        throw new SpendtrailError(
          'ACCOUNT_NOT_MAPPED',
          `account code ${l.account_code} (${l.account_name}) is longer than Xero's ${XERO_CODE_LIMIT} characters: map it to its Xero code`,
          { field: 'settings.accounts', details: { account: l.account_code } },
        );
      }
    }
    if (e.lines.length > max) {
      throw new SpendtrailError('VALIDATION_FAILED', `journal ${e.external_id} has ${e.lines.length} lines, more than ${max} per Xero file`, { field: 'settings.xero.max_lines' });
    }
  }
  const files = packJournals(journal.entries, max);
  return files.map((entries, i) => ({
    name: partName(ctx.base_name, 'csv', i, files.length),
    media_type: 'text/csv; charset=utf-8',
    role: 'journal',
    bytes: Buffer.from(
      `${XERO_HEADER}\r\n${entries
        .map((e) =>
          e.lines
            .map((l) =>
              csvRow([
                csvText(e.narration.slice(0, XERO_TEXT_LIMIT)),
                dayAs(e.date, 'DD/MM/YYYY'),
                csvText(fitEvidence(l.evidence, XERO_TEXT_LIMIT)),
                csvText(l.account_code),
                csvText(taxRate),
                major(signed(l), journal),
              ]),
            )
            .join(''),
        )
        .join('')}`,
      'utf8',
    ),
  }));
}

/**
 * Fills files in journal order, starting a new file when the next journal would not fit: a
 * journal is never split across files, since each file must import as balanced journals.
 */
export function packJournals(entries: readonly JournalEntry[], maxLines: number): JournalEntry[][] {
  const files: JournalEntry[][] = [];
  let current: JournalEntry[] = [];
  let lines = 0;
  for (const e of entries) {
    if (lines + e.lines.length > maxLines && current.length > 0) {
      files.push(current);
      current = [];
      lines = 0;
    }
    current.push(e);
    lines += e.lines.length;
  }
  if (current.length > 0) files.push(current);
  return files;
}
