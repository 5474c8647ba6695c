import type { TransactionRecord } from '../../domain/ledger/transaction.ts';

/** A plain fixed-width table for terminals. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.min(48, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))));
  const fit = (s: string, w: number): string => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w));
  const line = (r: readonly string[]): string => r.map((c, i) => fit(c, widths[i] ?? 8)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function ledgerTable(txs: readonly TransactionRecord[]): string {
  return table(
    ['timestamp', 'agent', 'amount', 'cur', 'rail', 'merchant', 'mcc', 'gl', 'violations', 'tx_id'],
    txs.map((t) => [
      t.timestamp.replace('.000Z', 'Z'),
      t.agent_id,
      t.amount.padStart(10),
      t.currency,
      t.payment_rail,
      t.merchant,
      t.merchant_category ?? '',
      t.accounting_code ?? '',
      t.violations.join(','),
      t.tx_id,
    ]),
  );
}

/** JSON with bigint-safe output (amounts are already strings; this guards anything else). */
export const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 2);
