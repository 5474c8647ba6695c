import { createWriteStream, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Principal } from '../../app/principal.ts';
import { approveChange, changeControlOf, proposePolicyChange, rejectChange, setChangeControl } from '../../app/policy-changes.ts';
import type { ChangeView } from '../../app/policy-changes.ts';
import { changeLogRows, listChanges } from '../../app/change-history.ts';
import { segregationFindings } from '../../app/duty-findings.ts';
import { decideSpend } from '../../app/spend-approvals.ts';
import { deliverPendingNotices } from '../../app/change-notices.ts';
import { changeControlInput, changeQuery, findingQuery, parseInput, policyChangeInput, spendDecisionInput } from '../../app/schemas.ts';
import { POLICY_FIELDS } from '../../domain/policy/change.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import { changeLogCsvHeader, changeLogCsvRow } from '../../adapters/reports/change-log-csv.ts';
import type { Runtime } from '../runtime.ts';
import { json, table } from './output.ts';

interface Ctx {
  readonly withRuntime: <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;
  readonly actor: (rt: Runtime) => Promise<Principal>;
  readonly out: (s: string) => void;
}

/** A value as a reader says it: null means no limit, any, or no expiry, depending on the field. */
function show(field: string, v: string | boolean | readonly string[] | null): string {
  if (v === null) {
    const kind = (POLICY_FIELDS as Record<string, string>)[field];
    return kind === 'money' ? 'no limit' : kind === 'allow_list' ? 'any' : 'none';
  }
  if (typeof v === 'string' || typeof v === 'boolean') return String(v);
  return v.length === 0 ? '(none)' : v.join(', ');
}

/** `field=value` from the command line, typed by the field: lists are comma-separated, "none" lifts a limit. */
function parseAssignment(a: string): [string, unknown] {
  const i = a.indexOf('=');
  if (i <= 0) throw new SpendtrailError('VALIDATION_FAILED', `"${a}" is not field=value`, { field: 'set' });
  const field = a.slice(0, i).trim();
  const raw = a.slice(i + 1).trim();
  const kind = (POLICY_FIELDS as Record<string, string>)[field];
  const lifted = raw === '' || raw.toLowerCase() === 'none' || raw.toLowerCase() === 'null';
  if (kind === 'boolean') return [field, raw === 'true' ? true : raw === 'false' ? false : raw];
  if (kind === 'allow_list') return [field, lifted ? null : raw.split(',').map((x) => x.trim()).filter(Boolean)];
  if (kind === 'block_list') return [field, lifted ? [] : raw.split(',').map((x) => x.trim()).filter(Boolean)];
  return [field, lifted ? null : raw];
}

function summary(c: ChangeView): string {
  // A first policy has nothing before it: its old values are not "no limit".
  const lines = c.fields.map((f) => `  ${f.field}: ${c.base_version === 0 ? '(no policy)' : show(f.field, f.old_value)} → ${show(f.field, f.new_value)}  (${f.direction})`);
  return [
    `change ${c.change_id}  ${c.status.toUpperCase()}  agent ${c.agent_id}`,
    `  by ${c.proposed_by} at ${c.proposed_at}; ticket ${c.approval_ticket ?? 'NONE (flagged)'}`,
    `  justification: ${c.justification}`,
    ...lines,
    ...(c.decided_by === null ? [] : [`  decided by ${c.decided_by} at ${c.decided_at}${c.decision_comment === null ? '' : `: ${c.decision_comment}`}`]),
    ...(c.policy_snapshot_id_after === null ? [] : [`  now in force: version ${c.version} ${c.policy_snapshot_id_after}`]),
  ].join('\n');
}

export function registerChangeCommands(policy: Command, program: Command, { withRuntime, actor, out }: Ctx): void {
  policy
    .command('propose <agent_id>')
    .description('change some fields of a policy; widening changes wait for a second person')
    .requiredOption('--set <field=value...>', 'e.g. monthly_limit=15000.00, allowed_categories=5734,7372, valid_until=none')
    .option('--justification <text>', 'why (required)')
    .option('--ticket <key-or-url>', 'approval ticket: FIN-123, CHG0012345 or a link')
    .option('--effective-from <iso>', 'when it takes effect (default: when applied)')
    .option('--json')
    .action(async (agentId: string, o: { set: string[]; justification?: string; ticket?: string; effectiveFrom?: string; json?: boolean }) => {
      await withRuntime(async (rt) => {
        const body = parseInput(policyChangeInput, {
          changes: Object.fromEntries(o.set.map(parseAssignment)),
          justification: o.justification,
          approval_ticket: o.ticket,
          effective_from: o.effectiveFrom,
        });
        const r = await proposePolicyChange(rt.deps, await actor(rt), {
          agent_id: agentId,
          changes: body.changes,
          justification: body.justification ?? '',
          approval_ticket: body.approval_ticket,
          effective_from: body.effective_from,
        });
        await deliverPendingNotices(rt.deps, { attemptsPerRound: 1 });
        out(o.json === true ? json(r) : summary(r.change));
      });
    });
  for (const [name, verb] of [
    ['approve', 'approved'],
    ['reject', 'rejected'],
  ] as const) {
    policy
      .command(`${name} <change_id>`)
      .description(name === 'approve' ? 'approve a pending change (not your own, not for an agent you own)' : 'reject a pending change, saying why')
      .option('--comment <text>', name === 'reject' ? 'why (required)' : 'a note for the record')
      .option('--json')
      .action(async (changeId: string, o: { comment?: string; json?: boolean }) => {
        await withRuntime(async (rt) => {
          const by = await actor(rt);
          const r = verb === 'approved' ? await approveChange(rt.deps, by, changeId, o.comment) : await rejectChange(rt.deps, by, changeId, o.comment ?? '');
          out(o.json === true ? json(r) : summary(r.change));
        });
      });
  }
  policy
    .command('history')
    .description('the change log: who changed what, old → new, justification, ticket, approval')
    .option('--agent <agent_id>')
    .option('--from <iso>')
    .option('--to <iso>')
    .option('--status <status>', 'pending, applied, rejected or superseded')
    .option('--json')
    .option('--format <fmt>', 'csv or xlsx (one row per field change)')
    .option('--out <file>', 'write the CSV/XLSX here (default for csv: stdout)')
    .action(async (o: { agent?: string; from?: string; to?: string; status?: string; json?: boolean; format?: string; out?: string }) => {
      await withRuntime(async (rt) => {
        const q = parseInput(changeQuery, { agent_id: o.agent, from: o.from, to: o.to, status: o.status });
        const changes = await listChanges(rt.deps, await actor(rt), q);
        if (o.format === 'csv') {
          const csv = changeLogCsvHeader() + changeLogRows(changes).map(changeLogCsvRow).join('');
          if (o.out === undefined) process.stdout.write(csv);
          else writeFileSync(o.out, csv);
        } else if (o.format === 'xlsx') {
          if (o.out === undefined) throw new SpendtrailError('VALIDATION_FAILED', 'give --out FILE for an XLSX', { field: 'out' });
          const { writeChangeLogXlsx } = await import('../../adapters/reports/change-log-xlsx.ts');
          await writeChangeLogXlsx(changeLogRows(changes), createWriteStream(o.out));
          out(`${o.out}: ${changes.length} changes`);
        } else if (o.format !== undefined) {
          throw new SpendtrailError('VALIDATION_FAILED', 'format is csv or xlsx', { field: 'format' });
        } else if (o.json === true) out(json(changes));
        else if (changes.length === 0) out('no policy changes');
        else out(changes.map(summary).join('\n\n'));
      });
    });
  policy
    .command('pending')
    .description('the approvals queue: changes waiting for a second person')
    .option('--json')
    .action(async (o: { json?: boolean }) => {
      await withRuntime(async (rt) => {
        const changes = await listChanges(rt.deps, await actor(rt), { status: 'pending' });
        out(o.json === true ? json(changes) : changes.length === 0 ? 'nothing waits for approval' : changes.map(summary).join('\n\n'));
      });
    });

  program
    .command('approve-spend')
    .description('approve or reject spend above an approval threshold (an authorization or a recorded payment)')
    .option('--authorization <id>')
    .option('--tx <tx_id>')
    .option('--reject', 'reject instead of approve')
    .option('--comment <text>')
    .action(async (o: { authorization?: string; tx?: string; reject?: boolean; comment?: string }) => {
      await withRuntime(async (rt) => {
        const input = parseInput(spendDecisionInput, {
          authorization_id: o.authorization,
          tx_id: o.tx,
          decision: o.reject === true ? 'reject' : 'approve',
          comment: o.comment,
        });
        out(json(await decideSpend(rt.deps, await actor(rt), input)));
      });
    });

  program
    .command('findings')
    .description('segregation-of-duties findings over a period, each naming the log entries it rests on')
    .option('--agent <agent_id>')
    .option('--from <iso>')
    .option('--to <iso>')
    .option('--json')
    .action(async (o: { agent?: string; from?: string; to?: string; json?: boolean }) => {
      await withRuntime(async (rt) => {
        const f = await segregationFindings(rt.deps, await actor(rt), parseInput(findingQuery, { agent_id: o.agent, from: o.from, to: o.to }));
        if (o.json === true) out(json(f));
        else if (f.length === 0) out('no segregation-of-duties findings');
        else out(table(['kind', 'agent', 'principal', 'at', 'entries', 'what'], f.map((x) => [x.kind, x.agent_id, x.principal, x.at, x.entries.join(','), x.message])));
      });
    });

  program
    .command('change-control')
    .description('show or set which policy changes need a second person, whether tickets are required, and notices')
    .option('--approval <mode>', 'widening (default), always or never')
    .option('--field <field=mode...>', 'per-field override, e.g. approval_threshold=always')
    .option('--ticket-required <bool>', 'true (default) refuses changes without a ticket; false accepts and flags them')
    .option('--notify <which>', 'unticketed (default), all or none')
    .action(async (o: { approval?: string; field?: string[]; ticketRequired?: string; notify?: string }) => {
      await withRuntime(async (rt) => {
        const by = await actor(rt);
        const current = await changeControlOf(rt.store, by.org_id);
        if (o.approval === undefined && o.field === undefined && o.ticketRequired === undefined && o.notify === undefined) {
          out(json(current));
          return;
        }
        const fields: Record<string, string> = { ...current.fields };
        for (const f of o.field ?? []) {
          const [k, v] = f.split('=');
          if (k !== undefined && v !== undefined) fields[k.trim()] = v.trim();
        }
        const next = parseInput(changeControlInput, {
          approval: o.approval ?? current.approval,
          fields,
          ticket_required: o.ticketRequired === undefined ? current.ticket_required : o.ticketRequired === 'true',
          notify: o.notify ?? current.notify,
        });
        out(json(await setChangeControl(rt.deps, by, next)));
      });
    });
}
