import type { Journal } from '../../domain/journal/journal.ts';
import type { ExportFile, WriteContext } from '../../app/accounting-export.ts';
import { csvRow, csvText, major } from './common.ts';

/**
 * The sidecar that resolves a roll-up reference (ru_… in a memo) to its transactions: one row
 * per transaction with its roll-up, entry, amounts and policy snapshot. `rollup_id` is
 * "ru_" + the first 32 hex digits of SHA-256 over the sorted tx ids joined by LF, so anyone
 * holding this file can check that a roll-up holds exactly the transactions listed.
 */
export const DRILLDOWN_COLUMNS = [
  'rollup_id', 'entry_external_id', 'date', 'vendor', 'gl_code', 'account_code', 'posted', 'rollup_reporting_total',
  'rollup_original_totals', 'tx_id', 'timestamp', 'agent_id', 'payment_rail', 'type', 'amount', 'currency',
  'reporting_amount', 'reporting_currency', 'policy_snapshot_id',
] as const;

export function writeRollupDrilldown(journal: Journal, ctx: WriteContext): ExportFile {
  let out = csvRow([...DRILLDOWN_COLUMNS]);
  for (const r of journal.rollups) {
    const totals = r.original_totals.map((t) => `${t.amount} ${t.currency}`).join('; ');
    for (const t of r.transactions) {
      out += csvRow([
        r.rollup_id,
        csvText(r.external_id),
        r.date,
        csvText(r.vendor),
        csvText(r.gl_code ?? ''),
        csvText(r.account_code),
        String(r.posted),
        major(r.reporting_minor, journal),
        // Product-made "amount currency" pairs: numbers stay as written, minus sign included.
        totals,
        t.tx_id,
        t.timestamp,
        csvText(t.agent_id),
        t.payment_rail,
        t.type,
        t.amount,
        t.currency,
        t.reporting_amount,
        t.reporting_currency,
        t.policy_snapshot_id ?? '',
      ]);
    }
  }
  return { name: `${ctx.base_name}-rollups.csv`, media_type: 'text/csv; charset=utf-8', role: 'drilldown', bytes: Buffer.from(out, 'utf8') };
}
