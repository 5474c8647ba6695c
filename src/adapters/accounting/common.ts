import { SpendtrailError } from '../../domain/errors.ts';
import type { Journal } from '../../domain/journal/journal.ts';
import { findCurrency } from '../../domain/money/currency.ts';
import { formatMinor } from '../../domain/money/decimal.ts';
import type { WriteContext } from '../../app/accounting-export.ts';
import { csvTextCell } from '../reports/cell-text.ts';

/**
 * What an accounting system can book: IIF, Xero and NetSuite take ISO currencies with at most
 * two decimals (NetSuite's Debit/Credit and Xero's Amount are two-decimal numbers; QuickBooks
 * Desktop keeps cents), and none of them books a crypto asset as a currency.
 */
export function requireBookable(journal: Journal, ctx: WriteContext, target: string, limits: { maxExponent: number | null; fiatOnly: boolean }): void {
  const home = ctx.settings.home_currency;
  if (home !== undefined && home !== journal.currency) {
    throw new SpendtrailError(
      'UNSUPPORTED_CURRENCY',
      `the journal is in ${journal.currency} (the reporting currency) but the ${target} books are in ${home}: ${target} would post these amounts as ${home}`,
      { field: 'settings.home_currency' },
    );
  }
  const c = findCurrency(journal.currency);
  if (limits.fiatOnly && c?.kind !== 'fiat') {
    throw new SpendtrailError('UNSUPPORTED_CURRENCY', `${target} books ISO 4217 currencies; ${journal.currency} is not one`);
  }
  if (limits.maxExponent !== null && journal.exponent > limits.maxExponent) {
    throw new SpendtrailError(
      'UNSUPPORTED_CURRENCY',
      `${target} amounts have at most ${limits.maxExponent} decimals; ${journal.currency} has ${journal.exponent}, so its amounts cannot be written exactly`,
    );
  }
}

export const major = (minor: bigint, journal: Journal): string => formatMinor(minor, journal.exponent);

/** Debit positive, credit negative: the one-column convention of IIF, Xero and hledger. */
export const signed = (l: { debit_minor: bigint; credit_minor: bigint }): bigint => l.debit_minor - l.credit_minor;

/** Free text on one line: tabs, line breaks and other control characters become spaces. */
export const oneLine = (s: string): string => s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();

/**
 * RFC 4180 cells of free text, on one line and defused as in every spreadsheet the product
 * writes (reports/cell-text.ts); numbers are written as they are (a credit's minus sign is data).
 */
export const csvText = (value: string): string => csvTextCell(oneLine(value));

export const csvRow = (cells: readonly string[]): string => `${cells.join(',')}\r\n`;

/** Local day "YYYY-MM-DD" in another order. */
export function dayAs(day: string, format: 'MM/DD/YYYY' | 'DD/MM/YYYY' | 'YYYY-MM-DD'): string {
  const [y = '', m = '', d = ''] = day.split('-');
  if (format === 'MM/DD/YYYY') return `${m}/${d}/${y}`;
  if (format === 'DD/MM/YYYY') return `${d}/${m}/${y}`;
  return day;
}

/** Names the parts of a split export: one file keeps the stem, several get "-part1-of-3". */
export const partName = (stem: string, ext: string, i: number, n: number): string => (n === 1 ? `${stem}.${ext}` : `${stem}-part${i + 1}-of-${n}.${ext}`);
