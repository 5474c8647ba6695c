import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Principal } from '../../app/principal.ts';
import { generateSummary, getSummary, listSummaries, signOffSummary, summaryJson } from '../../app/summaries.ts';
import { runDueSummaries } from '../../app/summary-scheduler.ts';
import { deliverSummaries, headline } from '../../app/summary-deliveries.ts';
import { parseInput, summaryRequest } from '../../app/schemas.ts';
import type { SignedSummary } from '../../domain/summary/summary.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import type { Runtime } from '../runtime.ts';
import { json, table } from './output.ts';

interface Ctx {
  readonly withRuntime: <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;
  readonly actor: (rt: Runtime) => Promise<Principal>;
  readonly out: (s: string) => void;
}

async function emit(s: SignedSummary, o: { format?: string; out?: string; paper?: string }, out: (s: string) => void): Promise<void> {
  const format = o.format ?? 'text';
  if (format === 'pdf') {
    if (o.out === undefined) throw new SpendtrailError('VALIDATION_FAILED', 'give --out FILE for a PDF', { field: 'out' });
    if (o.paper !== undefined && o.paper !== 'letter' && o.paper !== 'a4') throw new SpendtrailError('VALIDATION_FAILED', 'paper is letter or a4', { field: 'paper' });
    const { renderSummaryPdf } = await import('../../adapters/reports/summary-pdf.ts');
    writeFileSync(o.out, await renderSummaryPdf(s, { paper: (o.paper ?? 'letter') }));
    out(`${o.out}: ${s.document.status} (summary ${s.document.summary_id}, version ${s.document.version})`);
  } else if (format === 'json') {
    const text = json(summaryJson(s));
    if (o.out === undefined) out(text);
    else writeFileSync(o.out, text);
  } else if (format === 'text') {
    out([...headline(s), `summary ${s.document.summary_id}${s.signed_off_by === null ? ' (not signed off)' : ` signed off by ${s.signed_off_by} at ${s.signed_off_at}`}`].join('\n'));
  } else throw new SpendtrailError('VALIDATION_FAILED', 'format is text, json or pdf', { field: 'format' });
}

export function registerSummaryCommands(program: Command, { withRuntime, actor, out }: Ctx): void {
  const summary = program.command('summary').description('monthly compliance summaries: generate, show, sign off');
  summary
    .command('generate', { isDefault: true })
    .description('the compliance summary of a month for a cluster or every agent (a new version only if something changed)')
    .requiredOption('--month <YYYY-MM>')
    .option('--cluster <cluster>', 'one cluster (default: every agent)')
    .option('--format <fmt>', 'text (default), json or pdf')
    .option('--paper <size>', 'letter (default) or a4')
    .option('--out <file>')
    .action(async (o: { month: string; cluster?: string; format?: string; paper?: string; out?: string }) => {
      await withRuntime(async (rt) => {
        const req = parseInput(summaryRequest, { month: o.month, cluster: o.cluster });
        const r = await generateSummary(rt.deps, await actor(rt), req, { verifier: rt.signer.note });
        await emit(r.summary, o, out);
      });
    });
  summary
    .command('show <summary_id>')
    .option('--format <fmt>', 'text (default), json or pdf')
    .option('--paper <size>', 'letter (default) or a4')
    .option('--out <file>')
    .action(async (id: string, o: { format?: string; paper?: string; out?: string }) => {
      await withRuntime(async (rt) => emit(await getSummary(rt.deps, await actor(rt), id), o, out));
    });
  summary
    .command('list')
    .option('--month <YYYY-MM>')
    .option('--json')
    .action(async (o: { month?: string; json?: boolean }) => {
      await withRuntime(async (rt) => {
        const list = await listSummaries(rt.deps, await actor(rt), { month: o.month });
        if (o.json === true) out(json(list.map(summaryJson)));
        else
          out(table(['summary_id', 'period', 'cluster', 'version', 'status', 'total', 'signed off by'], list.map((s) => [s.document.summary_id, s.document.period, s.document.cluster ?? '(all)', String(s.document.version), s.document.status, `${s.document.total_spend} ${s.document.currency}`, s.signed_off_by ?? '—'])));
      });
    });
  summary
    .command('sign-off <summary_id>')
    .description('sign off a summary (finance role; use --api-key to act as yourself)')
    .action(async (id: string) => {
      await withRuntime(async (rt) => {
        const s = await signOffSummary(rt.deps, await actor(rt), id);
        out(`summary ${id} (${s.document.period}, ${s.document.cluster ?? 'all agents'}, version ${s.document.version}) signed off by ${s.signed_off_by} at ${s.signed_off_at}; hash ${s.summary_hash}`);
      });
    });
  summary
    .command('run-due')
    .description("make last month's summaries that are missing, then send queued emails and tickets (what `serve` does on the 1st)")
    .action(async () => {
      await withRuntime(async (rt) => {
        const made = await runDueSummaries(rt.deps, rt.signer.note);
        for (const g of made) out(`summary ${g.summary_id}: ${g.period} cluster ${g.cluster}`);
        const d = await deliverSummaries(rt.deps);
        out(`${made.length} summaries made; ${d.delivered} deliveries sent, ${d.failed} failed`);
      });
    });
}
