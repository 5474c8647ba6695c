import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import cliProgress from 'cli-progress';
import type { Principal } from '../../app/principal.ts';
import type { QboContext } from '../../app/qbo-connect.ts';
import { completeQboConnect, qboConnection, startQboConnect } from '../../app/qbo-connect.ts';
import { autoMapQbo, listQboMappings, qboDirectory, setQboMappings } from '../../app/qbo-mappings.ts';
import type { QboSyncProgress, QboSyncReport } from '../../app/qbo-sync.ts';
import { qboSyncStates, syncToQbo } from '../../app/qbo-sync.ts';
import { awaitRedirect, isLoopbackRedirect, qboPortsFromEnv } from '../../adapters/qbo/index.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import type { Runtime } from '../runtime.ts';
import { json, table } from './output.ts';

interface Ctx {
  readonly withRuntime: <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;
  readonly actor: (rt: Runtime) => Promise<Principal>;
  readonly out: (s: string) => void;
}

const qboContext = (rt: Runtime): QboContext => ({ deps: rt.deps, store: rt.store, ports: qboPortsFromEnv(process.env, rt.home) });

const KINDS: Readonly<Record<string, 'account' | 'vendor'>> = { accounts: 'account', vendors: 'vendor' };

function readSettings(file: string | undefined): Record<string, unknown> | undefined {
  if (file === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new SpendtrailError('VALIDATION_FAILED', `settings file ${file}: ${(e as Error).message}`, { field: 'settings' });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new SpendtrailError('VALIDATION_FAILED', `settings file ${file} is not a JSON object`, { field: 'settings' });
  return parsed as Record<string, unknown>;
}

const defined = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
const when = (d: Date | null | undefined): string => (d === null || d === undefined ? '-' : d.toISOString());

export function registerQboCommands(program: Command, { withRuntime, actor, out }: Ctx): void {
  const qbo = program.command('qbo').description('post the journal to QuickBooks Online (docs/accounting.md, "QuickBooks Online")');

  qbo
    .command('connect')
    .description('authorize Spendtrail for a QuickBooks Online company: prints the consent link; then --code and --realm from the redirect (or --listen)')
    .option('--code <code>', "the `code` of the address Intuit redirected to")
    .option('--realm <realmId>', "the `realmId` of that address (the company id)")
    .option('--state <state>', "the `state` of that address: checked against the link's")
    .option('--listen', 'wait for the redirect on the loopback redirect URI and complete by itself')
    .option('--timeout <seconds>', 'with --listen: how long to wait', '300')
    .action(async (o: { code?: string; realm?: string; state?: string; listen?: boolean; timeout: string }) => {
      await withRuntime(async (rt) => {
        const ctx = qboContext(rt);
        const by = await actor(rt);
        if (o.code !== undefined || o.realm !== undefined) {
          const r = await completeQboConnect(ctx, by, defined({ code: o.code, realm_id: o.realm, state: o.state }));
          out(`connected to QuickBooks company ${r.realm_id}; the refresh token is stored encrypted${r.refresh_expires_at === null ? '' : ` and must be used before ${r.refresh_expires_at.toISOString()}`}`);
          return;
        }
        const start = await startQboConnect(ctx, by);
        if (o.listen !== true) {
          out('open this link, sign in and choose the company:');
          out(`  ${start.url}`);
          out(`Intuit then sends the browser to ${start.redirect_uri}?code=…&state=…&realmId=…; with those values run:`);
          out(`  spendtrail qbo connect --code <code> --realm <realmId> --state ${start.state}`);
          out('(the link is good for 15 minutes)');
          return;
        }
        if (!isLoopbackRedirect(start.redirect_uri)) {
          throw new SpendtrailError('VALIDATION_FAILED', `--listen needs a redirect URI on this machine such as http://localhost:8765/qbo/callback (SPENDTRAIL_QBO_REDIRECT_URI is ${start.redirect_uri})`, {
            field: 'listen',
          });
        }
        const got = await awaitRedirect(start.redirect_uri, start.state, Number(o.timeout) * 1000, () => {
          out('open this link, sign in and choose the company; waiting for the redirect…');
          out(`  ${start.url}`);
        });
        const r = await completeQboConnect(ctx, by, { code: got.code, realm_id: got.realm_id, state: got.state });
        out(`connected to QuickBooks company ${r.realm_id}; the refresh token is stored encrypted`);
      });
    });

  qbo
    .command('status')
    .description('the connection, and the sync state of posted, pending and failed entries')
    .option('--tx <tx_id>', 'only the entry holding this transaction')
    .option('--json', 'print JSON')
    .action(async (o: { tx?: string; json?: boolean }) => {
      await withRuntime(async (rt) => {
        const ctx = qboContext(rt);
        const by = await actor(rt);
        const c = await qboConnection(ctx, by);
        const { realm_id, states } = await qboSyncStates(ctx, by, o.tx === undefined ? {} : { tx_id: o.tx });
        if (o.json === true) {
          const connection = c === undefined ? null : { realm_id: c.realm_id, connected_by: c.connected_by, connected_at: c.connected_at, access_expires_at: c.access_expires_at, refresh_expires_at: c.refresh_expires_at };
          out(json({ connection, states: states.map(({ org_id: _o, ...s }) => s) }));
          return;
        }
        out(`company ${realm_id}, connected by ${c?.connected_by ?? '-'} at ${when(c?.connected_at)}; access token until ${when(c?.access_expires_at)}, refresh token until ${when(c?.refresh_expires_at)}`);
        const count = (s: string): number => states.filter((x) => x.status === s).length;
        out(`entries: ${count('posted')} posted, ${count('pending')} pending, ${count('failed')} failed`);
        const shown = o.tx === undefined ? states.filter((s) => s.status !== 'posted') : states;
        if (shown.length > 0) {
          out(table(['entry', 'date', 'status', 'as', 'qbo id', 'tx', 'reason'], shown.map((s) => [s.external_id, s.entry_date, s.status, s.entity ?? '-', s.qbo_id ?? '-', String(s.tx_ids.length), s.error === null ? '' : `${s.error_code ?? ''} ${s.error}`])));
        }
      });
    });

  qbo
    .command('map <kind> [pairs...]')
    .description('map journal accounts (accounts 6400=57) or merchants (vendors "AWS=12") to QuickBooks ids; without pairs, list the mapping')
    .option('--remove <keys...>', 'remove these entries')
    .option('--from-qbo', "map what is unmapped by matching QuickBooks' accounts (number, then name) or vendors (display name)")
    .option('--list-qbo', 'list what the QuickBooks company has (ids to map to)')
    .option('--month <YYYY-MM>', "with --from-qbo: the period whose accounts or merchants to match (vendors need one)")
    .option('--from <day-or-instant>', 'with --from-qbo: period start')
    .option('--to <day-or-instant>', 'with --from-qbo: period end (exclusive)')
    .option('--settings <file>', 'with --from-qbo and a period: the journal settings of the sync')
    .action(async (kindText: string, pairs: string[], o: { remove?: string[]; fromQbo?: boolean; listQbo?: boolean; month?: string; from?: string; to?: string; settings?: string }) => {
      const kind = KINDS[kindText];
      if (kind === undefined) throw new SpendtrailError('VALIDATION_FAILED', `map accounts or vendors, not ${kindText}`, { field: 'kind' });
      await withRuntime(async (rt) => {
        const ctx = qboContext(rt);
        const by = await actor(rt);
        if (o.listQbo === true) {
          const list = await qboDirectory(ctx, by, kind);
          out(table(['id', 'number', 'name', 'type', 'active'], list.map((x) => [x.id, x.number ?? '', x.name, x.type ?? '', x.active ? 'yes' : 'no'])));
          return;
        }
        if (o.fromQbo === true) {
          const r = await autoMapQbo(ctx, by, defined({ kind, month: o.month, from: o.from, to: o.to, settings: readSettings(o.settings) }));
          for (const m of r.matched) out(`mapped ${m.key} → ${m.qbo_id} ${m.qbo_name} (by ${m.by})`);
          if (r.kept.length > 0) out(`kept as mapped: ${r.kept.join(', ')}`);
          for (const u of r.unmatched) out(`no match for ${u.key} ${u.name === u.key ? '' : u.name}`.trimEnd());
          return;
        }
        if (pairs.length > 0 || o.remove !== undefined) {
          const set: Record<string, string> = {};
          for (const p of pairs) {
            const at = p.lastIndexOf('=');
            if (at <= 0) throw new SpendtrailError('VALIDATION_FAILED', `"${p}" is not <${kind === 'account' ? 'account code' : 'merchant'}>=<QuickBooks id>`, { field: 'pairs' });
            set[p.slice(0, at)] = p.slice(at + 1);
          }
          const r = await setQboMappings(ctx, by, defined({ kind, set: pairs.length > 0 ? set : undefined, remove: o.remove }));
          out(`${r.set} set, ${r.removed} removed`);
          return;
        }
        const { realm_id, mappings } = await listQboMappings(ctx, by);
        const rows = mappings.filter((m) => m.kind === kind);
        out(`company ${realm_id}: ${rows.length} ${kindText} mapped`);
        if (rows.length > 0) out(table([kind === 'account' ? 'account' : 'merchant', 'qbo id', 'qbo name', 'by', 'at'], rows.map((m) => [m.key, m.qbo_id, m.qbo_name ?? '', m.updated_by, m.updated_at.toISOString()])));
      });
    });

  qbo
    .command('sync')
    .description("post a period's journal to QuickBooks Online: one JournalEntry (or Purchase) per entry, each exactly once")
    .option('--month <YYYY-MM>', "a calendar month in the organisation's time zone")
    .option('--from <day-or-instant>', 'inclusive')
    .option('--to <day-or-instant>', 'exclusive')
    .option('--agent <id>', 'one agent')
    .option('--cluster <cluster>', "one cluster's agents")
    .addOption(new Option('--as <entity>', 'JournalEntry per entry (journal), or expense Purchase where one can carry it (purchase)').choices(['journal', 'purchase']))
    .option('--settings <file>', 'journal settings as for `accounting export` (roll-up, suspense, funding accounts, …)')
    .addOption(new Option('--uncoded <mode>', 'transactions without a GL code: refuse (default) or post to suspense').choices(['refuse', 'suspense']))
    .addOption(new Option('--vendors <mode>', 'unmapped merchants: post without a vendor (optional, default) or stop before posting (required)').choices(['optional', 'required']))
    .option('--stop-on-rejection', 'stop at the first entry QuickBooks refuses (default: mark it failed and go on)')
    .option('--dry-run', 'check mappings and build every posting; post nothing')
    .option('--no-progress', 'no progress output')
    .action(async (o: { month?: string; from?: string; to?: string; agent?: string; cluster?: string; as?: string; settings?: string; uncoded?: string; vendors?: string; stopOnRejection?: boolean; dryRun?: boolean; progress: boolean }) => {
      await withRuntime(async (rt) => {
        const settings = readSettings(o.settings) ?? {};
        if (o.uncoded !== undefined) settings.uncoded = o.uncoded;
        const request = defined({
          month: o.month,
          from: o.from,
          to: o.to,
          agent_id: o.agent,
          cluster: o.cluster,
          as: o.as,
          settings,
          vendors: o.vendors,
          on_rejection: o.stopOnRejection === true ? 'stop' : undefined,
          dry_run: o.dryRun === true ? true : undefined,
        });
        const progress = o.progress ? progressReporter() : null;
        let report: QboSyncReport;
        try {
          report = await syncToQbo(qboContext(rt), await actor(rt), request, progress === null ? {} : { onProgress: progress.update });
        } finally {
          progress?.stop();
        }
        for (const line of describe(report)) out(line);
        if (report.failed.length > 0) {
          throw new SpendtrailError('QBO_REJECTED', `QuickBooks refused ${report.failed.length} entr${report.failed.length === 1 ? 'y' : 'ies'} (listed above); fix the cause and run the sync again: it posts only what is not posted`, {
            details: { failed: report.failed.map((f) => f.external_id) },
          });
        }
      });
    });
}

/** A bar on a terminal; elsewhere (logs, CI) a line every 100 entries. */
function progressReporter(): { update: (p: QboSyncProgress) => void; stop: () => void } {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: 'posting [{bar}] {value}/{total} entries | {posted} posted, {already_posted} already, {failed} refused', stream: process.stderr },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update: (p) => {
        if (!started) bar.start(Math.max(p.total, 1), 0, p);
        started = true;
        bar.update(p.done, p);
      },
      stop: () => bar.stop(),
    };
  }
  return {
    update: (p) => {
      if (p.done > 0 && (p.done % 100 === 0 || p.done === p.total)) {
        process.stderr.write(`posting: ${p.done}/${p.total} entries, ${p.posted} posted, ${p.already_posted} already posted, ${p.failed} refused\n`);
      }
    },
    stop: () => undefined,
  };
}

function describe(r: QboSyncReport): string[] {
  const lines = [
    `${r.dry_run ? 'dry run: ' : ''}QuickBooks company ${r.realm_id}, ${r.scope}, ${r.period.from} to ${r.period.to}: ${r.entries} entries from ${r.transactions} transactions, as ${r.as}`,
    r.dry_run
      ? `  would post ${r.to_post}; ${r.already_posted} already posted`
      : `  ${r.posted} posted now${r.recovered > 0 ? ` (${r.recovered} found already in QuickBooks by DocNumber)` : ''}, ${r.already_posted} already posted, ${r.failed.length} refused${r.not_attempted > 0 ? `, ${r.not_attempted} not attempted (stopped at the refusal)` : ''}`,
  ];
  for (const f of r.failed) lines.push(`  refused ${f.external_id}: ${f.code} ${f.message}`);
  if (r.posted_as_journal.length > 0) lines.push(`  ${r.posted_as_journal.length} posted as JournalEntry, a Purchase cannot carry them (first: ${r.posted_as_journal[0]?.external_id}: ${r.posted_as_journal[0]?.reason})`);
  for (const c of r.changed_since_posted) {
    lines.push(`  changed since posted: ${c.external_id} (${c.entity ?? '?'} ${c.qbo_id ?? '?'}) differs from the ledger now; it is not posted again: adjust it in QuickBooks`);
  }
  return lines;
}
