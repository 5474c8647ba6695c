import type { StatementFormat, StatementRun } from '../../app/agent-statements.ts';
import { writeStatementCsv } from './statement-csv.ts';
import type { Paper } from './statement-pdf.ts';
import { writeStatementPdf } from './statement-pdf.ts';
import { writeStatementXlsx } from './statement-xlsx.ts';

/** The media type of each statement format, as the HTTP API sends it. */
export const STATEMENT_CONTENT_TYPES: Readonly<Record<StatementFormat, string>> = {
  csv: 'text/csv; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pdf: 'application/pdf',
};

/** Writes a statement in a format into `out`, which is ended when it is complete. */
export function writeStatement(run: StatementRun, format: StatementFormat, out: NodeJS.WritableStream, opts: { paper?: Paper | undefined } = {}): Promise<void> {
  if (format === 'xlsx') return writeStatementXlsx(run, out);
  if (format === 'pdf') return writeStatementPdf(run, out, opts);
  return writeStatementCsv(run, out);
}
