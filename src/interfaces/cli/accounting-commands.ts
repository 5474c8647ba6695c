import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import type { Principal } from '../../app/principal.ts';
import type { AccountingExport } from '../../app/accounting-export.ts';
import { exportAccounting } from '../../app/accounting-export.ts';
import { ACCOUNTING_FORMATS } from '../../app/accounting-export-schema.ts';
import { writeAccountingFiles } from '../../adapters/accounting/index.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import { formatMinor } from '../../domain/money/decimal.ts';
import type { Runtime } from '../runtime.ts';

interface Ctx {
  readonly withRuntime: <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;
  readonly actor: (rt: Runtime) => Promise<Principal>;
  readonly out: (s: string) => void;
}

interface ExportOptions {
  format: string;
  month?: string;
  from?: string;
  to?: string;
  agent?: string;
  cluster?: string;
  settings?: string;
  uncoded?: string;
  rollup: boolean;
  rollupBelow?: string;
  rollupRails?: string;
  out?: string;
}

export function registerAccountingCommands(program: Command, { withRuntime, actor, out }: Ctx): void {
  const accounting = program.command('accounting').description('journal exports for accounting systems: QuickBooks Desktop (IIF), Xero, NetSuite, hledger');
  accounting
    .command('export')
    .description("a period's transactions as balanced journal entries for an accounting system (docs/accounting.md)")
    .addOption(new Option('--format <format>', 'target').choices(ACCOUNTING_FORMATS).makeOptionMandatory())
    .option('--month <YYYY-MM>', "a calendar month in the organisation's time zone")
    .option('--from <day-or-instant>', "inclusive: a day in the organisation's time zone (2026-03-01) or an instant")
    .option('--to <day-or-instant>', 'exclusive')
    .option('--agent <id>', 'one agent')
    .option('--cluster <cluster>', "one cluster's agents")
    .option('--settings <file>', 'export settings as JSON: funding accounts, suspense, roll-up, account mapping, target options')
    .addOption(new Option('--uncoded <mode>', 'transactions without a GL code: refuse the export (default) or post to suspense').choices(['refuse', 'suspense']))
    .option('--rollup-below <amount>', 'roll up payments below this reporting-currency amount (default 1.00)')
    .option('--rollup-rails <rails>', 'comma-separated rails whose small payments are rolled up (default x402,l402)')
    .option('--no-rollup', 'post every transaction as its own entry')
    .option('--out <file-or-dir>', 'a file, or a directory (existing, or ending in /) for every file of the export; default: stdout')
    .action(async (o: ExportOptions) => {
      await withRuntime(async (rt) => {
        const request = requestFrom(o);
        const r = await exportAccounting(rt.deps, await actor(rt), request, writeAccountingFiles);
        const journals = r.files.filter((f) => f.role === 'journal');
        if (o.out === undefined) {
          const [only] = journals;
          if (only === undefined || journals.length > 1) {
            throw new SpendtrailError('VALIDATION_FAILED', `the export is ${journals.length} files (Xero takes at most 300 lines per file): give --out DIR`, { field: 'out' });
          }
          process.stdout.write(only.bytes);
          for (const line of describe(r)) process.stderr.write(`${line}\n`);
          if (r.files.length > journals.length) process.stderr.write('roll-up drill-down not written: give --out to write it beside the journal\n');
          return;
        }
        const written = place(r, o.out);
        for (const line of describe(r)) out(line);
        for (const w of written) out(`wrote ${w}`);
      });
    });
}

function requestFrom(o: ExportOptions): Record<string, unknown> {
  let settings: Record<string, unknown> = {};
  if (o.settings !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(o.settings, 'utf8'));
    } catch (e) {
      throw new SpendtrailError('VALIDATION_FAILED', `settings file ${o.settings}: ${(e as Error).message}`, { field: 'settings' });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new SpendtrailError('VALIDATION_FAILED', `settings file ${o.settings} is not a JSON object`, { field: 'settings' });
    }
    settings = { ...(parsed as Record<string, unknown>) };
  }
  // Flags override the file, field by field.
  if (o.uncoded !== undefined) settings.uncoded = o.uncoded;
  if (!o.rollup) {
    if (o.rollupBelow !== undefined || o.rollupRails !== undefined) {
      throw new SpendtrailError('VALIDATION_FAILED', '--no-rollup cannot be combined with --rollup-below or --rollup-rails', { field: 'rollup' });
    }
    settings.rollup = false;
  } else if (o.rollupBelow !== undefined || o.rollupRails !== undefined) {
    const base = typeof settings.rollup === 'object' && settings.rollup !== null ? (settings.rollup as Record<string, unknown>) : {};
    settings.rollup = {
      ...base,
      ...(o.rollupBelow === undefined ? {} : { below: o.rollupBelow }),
      ...(o.rollupRails === undefined ? {} : { rails: o.rollupRails.split(',').map((s) => s.trim()).filter(Boolean) }),
    };
  }
  const request: Record<string, unknown> = { format: o.format, month: o.month, from: o.from, to: o.to, agent_id: o.agent, cluster: o.cluster, settings };
  for (const k of Object.keys(request)) if (request[k] === undefined) delete request[k];
  return request;
}

const isDirectory = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/**
 * A directory gets every file under its own name. A file path names the journal; parts of a
 * split journal and the drill-down go beside it, named after it.
 */
function place(r: AccountingExport, target: string): string[] {
  const journals = r.files.filter((f) => f.role === 'journal');
  const asDir = target.endsWith('/') || isDirectory(target);
  const dir = asDir ? target : dirname(target);
  mkdirSync(dir, { recursive: true });
  const ext = extname(target);
  const stem = asDir ? '' : join(dir, basename(target, ext));
  const written: string[] = [];
  for (const f of r.files) {
    let path: string;
    if (asDir) path = join(dir, f.name);
    else if (f.role === 'drilldown') path = `${stem}-rollups.csv`;
    else if (journals.length === 1) path = target;
    else path = `${stem}-part${journals.indexOf(f) + 1}-of-${journals.length}${ext}`;
    writeFileSync(path, f.bytes);
    written.push(path);
  }
  return written;
}

function describe(r: AccountingExport): string[] {
  const { report: rep, currency, exponent, timezone } = r.journal;
  const amount = (m: bigint): string => `${formatMinor(m, exponent)} ${currency}`;
  const p = r.context.period;
  return [
    `${r.format}: ${rep.entries} entries, ${rep.lines} lines from ${rep.transactions} transactions (${r.context.scope}, ${p.from} to ${p.to}, days in ${timezone})`,
    `  ${rep.posted_individually} posted one by one; ${rep.rollups} roll-ups of ${rep.rolled_up} micro-payments; ` +
      `${rep.uncoded} uncoded${rep.posted_to_suspense > 0 ? ' (posted to suspense)' : ''}; ${rep.zero_value} worth 0, not posted`,
    `  debits ${amount(rep.debit_minor)} = credits ${amount(rep.credit_minor)}`,
  ];
}
