import type { TransactionRecord } from '../../domain/ledger/transaction.ts';
import { defuseText, quoteCsv } from './cell-text.ts';

export const LEDGER_COLUMNS = [
  'tx_id', 'seq', 'timestamp', 'agent_id', 'type', 'amount', 'currency', 'reporting_amount', 'reporting_currency',
  'payment_rail', 'merchant', 'merchant_category', 'accounting_code', 'business_purpose', 'approver', 'approval_ref',
  'policy_snapshot_id', 'violations', 'external_id', 'refund_of', 'fx_rate', 'fx_rate_source', 'fx_rate_time',
  'recorded_at', 'recorded_by',
] as const;

/** Columns holding product-formatted numbers; every other column is free text and is defused. */
const NUMERIC = new Set<string>(['seq', 'amount', 'reporting_amount', 'fx_rate']);

/**
 * RFC 4180 CSV. Free text is defused (cell-text.ts), so `=HYPERLINK(...)` in a merchant name
 * stays text in Excel, LibreOffice and Sheets; the numeric columns are written as they are.
 */
export function csvCell(value: string | number | null, column?: string): string {
  if (value === null) return '';
  const s = String(value);
  return quoteCsv(column !== undefined && NUMERIC.has(column) ? s : defuseText(s));
}

export const ledgerCsvHeader = (): string => `${LEDGER_COLUMNS.join(',')}\r\n`;

export function ledgerCsvRow(t: TransactionRecord): string {
  const value = (c: (typeof LEDGER_COLUMNS)[number]): string | number | null => {
    if (c === 'violations') return t.violations.join(';');
    return t[c];
  };
  return `${LEDGER_COLUMNS.map((c) => csvCell(value(c), c)).join(',')}\r\n`;
}
