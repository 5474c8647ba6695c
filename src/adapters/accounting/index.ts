import type { AccountingFormat } from '../../app/accounting-export-schema.ts';
import type { ExportFile, WriteContext } from '../../app/accounting-export.ts';
import type { Journal } from '../../domain/journal/journal.ts';
import { writeHledger } from './hledger.ts';
import { writeIif } from './iif.ts';
import { writeNetsuiteCsv } from './netsuite-csv.ts';
import { writeRollupDrilldown } from './rollup-drilldown.ts';
import { writeXeroCsv } from './xero-csv.ts';

const WRITERS: Readonly<Record<AccountingFormat, (journal: Journal, ctx: WriteContext) => ExportFile[]>> = {
  iif: writeIif,
  xero: writeXeroCsv,
  netsuite: writeNetsuiteCsv,
  hledger: writeHledger,
};

/** The journal in a target's format, plus the roll-up drill-down whenever there are roll-ups. */
export function writeAccountingFiles(format: AccountingFormat, journal: Journal, ctx: WriteContext): ExportFile[] {
  const files = WRITERS[format](journal, ctx);
  return journal.rollups.length === 0 ? files : [...files, writeRollupDrilldown(journal, ctx)];
}
