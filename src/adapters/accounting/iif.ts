import { SpendtrailError } from '../../domain/errors.ts';
import { fitEvidence } from '../../domain/journal/evidence.ts';
import type { Journal, JournalLine } from '../../domain/journal/journal.ts';
import type { ExportFile, WriteContext } from '../../app/accounting-export.ts';
import { dayAs, major, oneLine, requireBookable, signed } from './common.ts';

/**
 * QuickBooks Desktop IIF (Intuit Interchange Format): tab-separated, CRLF line ends as
 * QuickBooks writes them, one TRNS row and its SPL rows per entry, closed by ENDTRNS. Amounts
 * are signed (debit positive) and every block sums to zero. Column layout as in Intuit's IIF
 * reference for transactions (and civicrm's IIF export template).
 */
export const IIF_HEADER = [
  '!TRNS\tTRNSID\tTRNSTYPE\tDATE\tACCNT\tNAME\tCLASS\tAMOUNT\tDOCNUM\tMEMO',
  '!SPL\tSPLID\tTRNSTYPE\tDATE\tACCNT\tNAME\tCLASS\tAMOUNT\tDOCNUM\tMEMO',
  '!ENDTRNS',
];

/** QuickBooks Desktop's memo field (4,095 characters, as in qbXML). */
export const IIF_MEMO_LIMIT = 4095;
/** QuickBooks Desktop's name-list entries are at most 41 characters. */
export const IIF_NAME_LIMIT = 41;

export function writeIif(journal: Journal, ctx: WriteContext): ExportFile[] {
  requireBookable(journal, ctx, 'QuickBooks Desktop', { maxExponent: 2, fiatOnly: true });
  const rows: string[] = [...IIF_HEADER];
  for (const e of journal.entries) {
    e.lines.forEach((l, i) => rows.push(row(i === 0 ? 'TRNS' : 'SPL', l, journal)));
    rows.push('ENDTRNS');
  }
  const text = `${rows.join('\r\n')}\r\n`;
  return [{ name: `${ctx.base_name}.iif`, media_type: 'application/x-iif', role: 'journal', bytes: toWindows1252(text) }];
}

function row(kind: 'TRNS' | 'SPL', l: JournalLine, journal: Journal): string {
  // ACCNT must match the chart of accounts exactly, or QuickBooks makes a new account by that
  // name: an account name IIF cannot carry is refused rather than written approximately.
  if (!encodable(l.account_name) || l.account_name !== field(l.account_name)) {
    throw new SpendtrailError(
      'ACCOUNT_NOT_MAPPED',
      `account ${l.account_code} "${l.account_name}" cannot be written to an IIF file exactly (tabs, quotes or characters outside Windows-1252): map it to the name it has in QuickBooks`,
      { field: 'settings.accounts', details: { account: l.account_code } },
    );
  }
  return [
    kind,
    '',
    'GENERAL JOURNAL',
    dayAs(l.date, 'MM/DD/YYYY'),
    l.account_name,
    field(l.vendor).slice(0, IIF_NAME_LIMIT).trim(),
    '',
    major(signed(l), journal),
    '',
    field(fitEvidence(l.evidence, IIF_MEMO_LIMIT)),
  ].join('\t');
}

/** IIF has no escaping: a tab or line break would start a new field or row, and a double quote opens a quoted value. */
const field = (s: string): string => oneLine(s).replace(/"/g, "'");

// Windows-1252's 0x80–0x9F block, "_" where the code page defines no character (the rest
// below 0x100 is Latin-1 itself).
const CP1252_HIGH = '€_‚ƒ„…†‡ˆ‰Š‹Œ_Ž__‘’“”•–—˜™š›œ_žŸ';
const CP1252 = new Map<string, number>([...CP1252_HIGH].flatMap((ch, i): [string, number][] => (ch === '_' ? [] : [[ch, 0x80 + i]])));

const byteOf = (ch: string): number | undefined => {
  const high = CP1252.get(ch);
  if (high !== undefined) return high;
  const code = ch.codePointAt(0) ?? 0;
  return code < 0x80 || (code >= 0xa0 && code <= 0xff) ? code : undefined;
};

const encodable = (s: string): boolean => [...s].every((ch) => byteOf(ch) !== undefined);

/**
 * QuickBooks Desktop reads IIF files as ANSI text (Windows-1252 on the Windows systems it runs
 * on), not UTF-8: free text outside that code page becomes "?".
 */
export function toWindows1252(text: string): Buffer {
  const chars = [...text];
  const out = Buffer.alloc(chars.length);
  chars.forEach((ch, i) => {
    out[i] = byteOf(ch) ?? 0x3f;
  });
  return out;
}
