import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Command } from 'commander';
import { STATEMENT_FORMATS, openStatements, periodOf, statementQuery } from '../../app/agent-statements.ts';
import type { StatementFormat } from '../../app/agent-statements.ts';
import type { Principal } from '../../app/principal.ts';
import { identifier, parseInput } from '../../app/schemas.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import { combineTotals } from '../../domain/statement/totals.ts';
import { statementCsvChunks } from '../../adapters/reports/statement-csv.ts';
import type { Runtime } from '../runtime.ts';

interface Ctx {
  readonly withRuntime: <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;
  readonly actor: (rt: Runtime) => Promise<Principal>;
  readonly out: (s: string) => void;
}

interface Options {
  agent?: string;
  cluster?: string;
  month?: string;
  from?: string;
  to?: string;
  format?: string;
  paper?: string;
  out?: string;
}

const fromExtension = (file: string | undefined): StatementFormat | undefined => {
  const ext = file === undefined ? '' : extname(file).slice(1).toLowerCase();
  return (STATEMENT_FORMATS as readonly string[]).includes(ext) ? (ext as StatementFormat) : undefined;
};

/**
 * Writes to standard output with backpressure; stdout itself is never ended. A reader that goes
 * away (`| head`) ends the statement quietly, as with any Unix filter.
 */
async function toStdout(chunks: AsyncIterable<string>): Promise<void> {
  let failure: NodeJS.ErrnoException | undefined;
  // Stays attached: a write still queued when the reader leaves fails after this returns.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    failure ??= e;
  });
  for await (const c of chunks) {
    if (failure !== undefined) break;
    if (!process.stdout.write(c)) {
      await new Promise<void>((resolve) => {
        process.stdout.once('drain', () => resolve());
        process.stdout.once('error', () => resolve());
      });
    }
  }
  if (failure !== undefined && failure.code !== 'EPIPE') throw failure;
}

export function registerStatementCommands(program: Command, { withRuntime, actor, out }: Ctx): void {
  program
    .command('statement')
    .description("an agent's spend statement for a period, or one per agent of a cluster: CSV, XLSX (a sheet per agent) or PDF")
    .option('--agent <id>', 'the agent')
    .option('--cluster <cluster>', 'every agent of a cluster (instead of --agent)')
    .option('--month <YYYY-MM>', 'a calendar month in the organisation time zone')
    .option('--from <day-or-iso>', 'start, inclusive: a day (2026-03-01, in the organisation time zone) or an ISO instant')
    .option('--to <day-or-iso>', 'end, exclusive: --from 2026-03-01 --to 2026-04-01 is March')
    .option('--format <format>', 'csv, xlsx or pdf (default: from the --out extension, else csv)')
    .option('--paper <size>', 'PDF paper: letter (default) or a4')
    .option('--out <file>', 'the file to write; without it a CSV goes to standard output')
    .action(async (o: Options) => {
      const q = parseInput(statementQuery, {
        month: o.month,
        from: o.from,
        to: o.to,
        format: o.format ?? fromExtension(o.out) ?? 'csv',
        paper: o.paper,
      });
      const agent = o.agent === undefined ? undefined : parseInput(identifier, o.agent, 'agent_id');
      const cluster = o.cluster === undefined ? undefined : parseInput(identifier, o.cluster, 'cluster');
      if (q.format !== 'csv' && o.out === undefined) {
        throw new SpendtrailError('VALIDATION_FAILED', `give --out FILE for ${q.format}`, { field: 'out' });
      }
      await withRuntime(async (rt) => {
        const run = await openStatements(rt.deps, await actor(rt), { agent_id: agent, cluster, period: periodOf(q) });
        if (o.out === undefined) return toStdout(statementCsvChunks(run));
        const file = createWriteStream(o.out);
        try {
          const { writeStatement } = await import('../../adapters/reports/statement-writer.ts');
          await writeStatement(run, q.format, file, { paper: q.paper });
        } catch (e) {
          // A statement cut short must not be left looking like a complete one. The stream opens
          // its file asynchronously, so it is closed first or it could re-create the file after rm.
          if (!file.closed) await new Promise<void>((resolve) => file.once('close', () => resolve()).destroy());
          await rm(o.out, { force: true });
          throw e;
        }
        const totals = run.statements.map((s) => s.totals());
        const sum = combineTotals(totals, run.org.reporting_currency);
        const who = run.cluster === null ? `agent ${run.statements[0]?.header.agent.agent_id ?? ''}` : `cluster ${run.cluster} (${run.statements.length} agents)`;
        out(`${o.out}: statement of ${who}, ${run.period.label}: ${sum.net.count} transactions, net ${sum.net.amount} ${run.org.reporting_currency}`);
      });
    });
}
