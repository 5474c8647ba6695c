import { createReadStream, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { SpendtrailError, isSpendtrailError } from '../../domain/errors.ts';
import type { Principal } from '../../app/principal.ts';
import { isRole } from '../../app/principal.ts';
import { authenticate, createOrg, issueApiKey, revokeApiKey, upsertAccount, upsertAgent, upsertRule } from '../../app/setup.ts';
import { setPolicy } from '../../app/policy-changes.ts';
import { registerChangeCommands } from './change-commands.ts';
import { registerSummaryCommands } from './summary-commands.ts';
import { registerExportCommands } from './export-commands.ts';
import { registerRailCommands } from './rail-commands.ts';
import { registerStatementCommands } from './statement-commands.ts';
import { registerAccountingCommands } from './accounting-commands.ts';
import { registerQboCommands } from './qbo-commands.ts';
import { exportAll } from '../../app/audit-export.ts';
import { bulkReader, exportSinkFrom } from '../runtime.ts';
import { registerEvidenceCommands } from './evidence-commands.ts';
import { registerValuationCommands } from './valuation-commands.ts';
import { registerUserCommands } from './user-commands.ts';
import { SummaryScheduler } from '../../app/summary-scheduler.ts';
import { NoticeDispatcher } from '../../app/change-notices.ts';
import { deliverSummaries } from '../../app/summary-deliveries.ts';
import { authorize } from '../../app/authorize.ts';
import { getTransaction, listLedger, policyHistory, showPolicy } from '../../app/ledger-queries.ts';
import { createCheckpoint } from '../../app/checkpoint.ts';
import { verifyLog } from '../../app/verify.ts';
import { importTransactions } from '../../app/import-transactions.ts';
import { seedDemo } from '../../app/demo.ts';
import { accountInput, agentInput, authorizeRequest, ledgerQuery, parseInput, policyInput, ruleInput } from '../../app/schemas.ts';
import { readCsv, readJsonArray, readNdjson } from '../../adapters/import/transaction-file.ts';
import { mapRows, parseColumnMapping } from '../../adapters/import/column-mapping.ts';
import { parseJsonDocument } from '../../adapters/import/json-document.ts';
import { ledgerCsvHeader, ledgerCsvRow } from '../../adapters/reports/ledger-csv.ts';
import type { Runtime } from '../runtime.ts';
import { openRuntime, redactUrl } from '../runtime.ts';
import { json, ledgerTable, table } from './output.ts';
import { canonicalize } from '../../domain/canonical/jcs.ts';

interface GlobalOptions {
  db?: string;
  home?: string;
  org?: string;
  apiKey?: string;
}

const program = new Command();
program
  .name('spendtrail')
  .description('Compliance ledger for money spent by AI agents: record, authorize, report and prove.')
  .option('--db <url-or-dir>', 'postgres:// URL or PGlite directory (default: $DATABASE_URL, else <home>/db)')
  .option('--home <dir>', 'data directory for the embedded database and the checkpoint key', process.env.SPENDTRAIL_HOME ?? '.spendtrail')
  .option('--org <id>', 'organisation (default: $SPENDTRAIL_ORG, or the only one)')
  .option('--api-key <key>', 'act as the principal of this API key (default: $SPENDTRAIL_API_KEY; without one, the host operator)')
  .showHelpAfterError();

const globals = (): GlobalOptions => program.opts<GlobalOptions>();

async function withRuntime<T>(fn: (rt: Runtime) => Promise<T>): Promise<T> {
  const g = globals();
  const rt = await openRuntime({ db: g.db, home: g.home });
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

/**
 * Who the CLI acts as: the principal of an API key when one is given (so a second person can
 * approve from a terminal), otherwise the operator on the host, named after the OS user.
 */
async function operatorFor(rt: Runtime): Promise<Principal> {
  const key = globals().apiKey ?? process.env.SPENDTRAIL_API_KEY;
  if (key !== undefined && key !== '') return authenticate(rt.deps, key);
  const wanted = globals().org ?? process.env.SPENDTRAIL_ORG;
  const orgs = await rt.store.listOrgs();
  const org = wanted === undefined ? (orgs.length === 1 ? orgs[0] : undefined) : orgs.find((o) => o.org_id === wanted);
  if (org === undefined) {
    throw new SpendtrailError(
      'ORG_NOT_FOUND',
      wanted === undefined
        ? orgs.length === 0
          ? 'no organisation yet: run `spendtrail init`'
          : `several organisations (${orgs.map((o) => o.org_id).join(', ')}): pick one with --org`
        : `no organisation ${wanted}`,
    );
  }
  return { org_id: org.org_id, principal: `cli:${userInfo().username}`, roles: ['admin'], agent_id: null, key_id: null };
}

const out = (s: string): void => {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
};

program
  .command('init')
  .description('create the database, the checkpoint key and an organisation (with --demo: a demo month)')
  .option('--org-id <id>', 'organisation id', 'demo')
  .option('--name <name>', 'organisation name')
  .option('--currency <code>', 'reporting currency', 'USD')
  .option('--timezone <tz>', 'organisation time zone for budget windows', 'UTC')
  .option('--demo', 'load the demo organisation with a month of transactions')
  .action(async (o: { orgId: string; name?: string; currency: string; timezone: string; demo?: boolean }) => {
    await withRuntime(async (rt) => {
      if (o.demo === true) {
        const r = await seedDemo(rt.deps, { orgId: o.orgId });
        out(`demo organisation ${r.org_id}: ${r.agents} agents, ${r.transactions} transactions`);
        out(`admin API key (shown once): ${r.admin_api_key}`);
        for (const u of r.users) out(`dashboard user ${u.email} (${u.roles.join(', ')}), password (shown once): ${u.password}`);
      } else {
        const { org, admin } = await createOrg(rt.deps, { org_id: o.orgId, name: o.name ?? o.orgId, reporting_currency: o.currency, timezone: o.timezone });
        out(`organisation ${org.org_id} created (log ${org.log_origin})`);
        out(`admin API key (shown once): ${admin.api_key}`);
      }
      out(`checkpoint verifier key: ${rt.signer.verifierKey}`);
    });
  });

program
  .command('serve')
  .description('run the HTTP API; on an empty database, first create the demo organisation')
  .option('--port <n>', 'port', process.env.PORT ?? '8787')
  .option('--host <addr>', 'address to listen on', process.env.HOST ?? '127.0.0.1')
  .option('--no-demo', 'do not create the demo organisation on an empty database')
  .action(async (o: { port: string; host: string; demo: boolean }) => {
    const started = performance.now();
    const g = globals();
    const rt = await openRuntime({ db: g.db, home: g.home });
    if ((await rt.store.listOrgs()).length === 0 && o.demo) {
      out('first start: creating the demo organisation with a month of transactions…');
      const r = await seedDemo(rt.deps, {});
      out(`demo organisation "${r.org_id}": ${r.agents} agents, ${r.transactions} transactions`);
      out(`admin API key (shown once, keep it): ${r.admin_api_key}`);
      for (const u of r.users) out(`dashboard user ${u.email} (${u.roles.join(', ')}), password (shown once): ${u.password}`);
    }
    const exportTo = exportSinkFrom(process.env, process.env.SPENDTRAIL_EXPORT_DIR ?? join(rt.home, 'audit'), false);
    // Loaded here: the server (Fastify, every route and page, the PDF and spreadsheet writers)
    // is most of what the CLI would otherwise load for every command, a bulk import included.
    const { buildServer } = await import('../http/server.ts');
    const app = await buildServer(rt.deps, {
      verifier: rt.signer.note,
      logger: process.env.SPENDTRAIL_LOG === '1',
      exportSinkName: exportTo.name,
      // Behind a TLS-terminating proxy the dashboard's cookies must carry Secure.
      secureCookies: process.env.SPENDTRAIL_SECURE_COOKIES === 'true',
    });
    const url = await app.listen({ port: Number(o.port), host: o.host });
    out(`Spendtrail API listening on ${url}  (database: ${rt.store.engine} ${redactUrl(rt.location)})`);
    out(`OpenAPI: ${url}/openapi.json    ready in ${Math.round(performance.now() - started)} ms`);
    out(`Dashboard: ${url}/login  (sign in with the admin API key printed at first start, or a dashboard user)`);
    // On the 1st (and at start, to catch up) last month's summaries are made for every cluster,
    // then emailed and, when they need review, ticketed; failed deliveries retry every minute.
    const deliveries = new NoticeDispatcher(rt.deps, {}, (e) => process.stderr.write(`summary delivery failed: ${String(e)}\n`), deliverSummaries);
    const summaries = new SummaryScheduler(
      rt.deps,
      rt.signer.note,
      (made) => {
        for (const g of made) out(`summary ${g.summary_id}: ${g.period} cluster ${g.cluster}`);
        deliveries.kick();
      },
      (e) => process.stderr.write(`scheduled summaries failed: ${String(e)}\n`),
    );
    summaries.start();
    const retry = setInterval(() => deliveries.kick(), 60_000);
    retry.unref();
    // Continuous audit export: every 30 s, what is not yet written goes to the sink; a failed
    // round leaves its segment planned and is retried on the next one.
    let exporting: Promise<unknown> | null = null;
    const exportRound = (): void => {
      if (exporting !== null || process.env.SPENDTRAIL_EXPORT === 'off') return;
      exporting = exportAll(rt.deps, exportTo.sink, { sinkName: exportTo.name, records: exportTo.records, ...bulkReader(rt) })
        .then((r) => {
          for (const e of r.errors) process.stderr.write(`audit export of ${e.org_id} to ${exportTo.name} failed: ${e.error}\n`);
        })
        .catch((e: unknown) => process.stderr.write(`audit export failed: ${String(e)}\n`))
        .finally(() => {
          exporting = null;
        });
    };
    exportRound();
    const exportTimer = setInterval(exportRound, 30_000);
    exportTimer.unref();
    const stop = async (): Promise<void> => {
      clearInterval(retry);
      clearInterval(exportTimer);
      await exporting;
      await summaries.stop();
      await deliveries.idle();
      await app.close();
      await rt.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
  });

const agents = program.command('agents').description('agents that spend');
agents
  .command('list', { isDefault: true })
  .option('--json', 'print JSON')
  .action(async (o: { json?: boolean }) => {
    await withRuntime(async (rt) => {
      const p = await operatorFor(rt);
      const list = await rt.store.getAgents(p.org_id);
      out(o.json === true ? json(list) : table(['agent_id', 'name', 'owner', 'cluster'], list.map((a) => [a.agent_id, a.name, a.owner, a.cluster])));
    });
  });
agents
  .command('set <agent_id>')
  .description('create or update an agent')
  .requiredOption('--name <name>')
  .requiredOption('--owner <principal>', 'the person accountable for the agent')
  .requiredOption('--cluster <cluster>', 'reporting cluster')
  .action(async (agentId: string, o: { name: string; owner: string; cluster: string }) => {
    await withRuntime(async (rt) => {
      const a = await upsertAgent(rt.deps, await operatorFor(rt), parseInput(agentInput, { agent_id: agentId, ...o }));
      out(json(a));
    });
  });

const accounts = program.command('accounts').description('chart of accounts');
accounts
  .command('list', { isDefault: true })
  .action(async () => {
    await withRuntime(async (rt) => {
      const p = await operatorFor(rt);
      out(table(['code', 'name', 'active'], (await rt.store.getAccounts(p.org_id)).map((a) => [a.code, a.name, String(a.active)])));
    });
  });
accounts
  .command('set <code>')
  .requiredOption('--name <name>')
  .option('--inactive', 'mark the account inactive')
  .action(async (code: string, o: { name: string; inactive?: boolean }) => {
    await withRuntime(async (rt) => {
      out(json(await upsertAccount(rt.deps, await operatorFor(rt), parseInput(accountInput, { code, name: o.name, active: o.inactive !== true }))));
    });
  });

const rules = program.command('rules').description('GL coding rules: transaction code > agent > merchant > MCC > default');
rules
  .command('list', { isDefault: true })
  .action(async () => {
    await withRuntime(async (rt) => {
      const p = await operatorFor(rt);
      out(table(['rule_id', 'kind', 'match', 'account', 'active'], (await rt.store.getRules(p.org_id)).map((r) => [r.rule_id, r.kind, r.match ?? '', r.account_code, String(r.active)])));
    });
  });
rules
  .command('set')
  .addOption(new Option('--kind <kind>', 'what the rule matches').choices(['agent', 'merchant', 'mcc', 'default']).makeOptionMandatory())
  .option('--match <value>', 'agent id, merchant name or MCC')
  .requiredOption('--account <code>', 'GL account code')
  .action(async (o: { kind: string; match?: string; account: string }) => {
    await withRuntime(async (rt) => {
      const input = parseInput(ruleInput, { kind: o.kind, match: o.match ?? null, account_code: o.account });
      out(json(await upsertRule(rt.deps, await operatorFor(rt), input)));
    });
  });

const policy = program.command('policy').description('spending policies (immutable versions)');
policy
  .command('set <agent_id>')
  .description('replace every term of a policy (flags, or --file with a JSON document of terms): a change, approved by a second person when it widens spending')
  .option('--file <path>', 'JSON file with the policy terms')
  .option('--per-transaction <amount>')
  .option('--daily <amount>')
  .option('--monthly <amount>')
  .option('--approval-threshold <amount>')
  .option('--allowed-categories <mccs>', 'comma-separated MCCs')
  .option('--blocked-categories <mccs>', 'comma-separated MCCs')
  .option('--allowed-merchants <names>', 'comma-separated')
  .option('--blocked-merchants <names>', 'comma-separated')
  .option('--allowed-rails <rails>', 'comma-separated')
  .option('--valid-from <iso>', 'when it takes effect (default: when applied; only a first policy may start in the past)')
  .option('--valid-until <iso>')
  .option('--justification <text>', 'why (required)')
  .option('--ticket <key-or-url>', 'approval ticket: FIN-123, CHG0012345 or a link')
  .action(async (agentId: string, o: Record<string, string | undefined>) => {
    await withRuntime(async (rt) => {
      const { readFileSync } = await import('node:fs');
      const list = (s: string | undefined): string[] | undefined => (s === undefined ? undefined : s.split(',').map((x) => x.trim()).filter(Boolean));
      const terms: Record<string, unknown> =
        o.file !== undefined
          ? (JSON.parse(readFileSync(o.file, 'utf8')) as Record<string, unknown>)
          : {
              per_transaction_limit: o.perTransaction,
              daily_limit: o.daily,
              monthly_limit: o.monthly,
              approval_threshold: o.approvalThreshold,
              allowed_categories: list(o.allowedCategories),
              blocked_categories: list(o.blockedCategories),
              allowed_merchants: list(o.allowedMerchants),
              blocked_merchants: list(o.blockedMerchants),
              allowed_rails: list(o.allowedRails),
              valid_from: o.validFrom,
              valid_until: o.validUntil,
            };
      for (const k of Object.keys(terms)) if (terms[k] === undefined) delete terms[k];
      const input = parseInput(policyInput, terms);
      const r = await setPolicy(rt.deps, await operatorFor(rt), agentId, input, {
        justification: o.justification ?? input.justification ?? '',
        approval_ticket: o.ticket ?? input.approval_ticket,
      });
      if (r.version !== null) out(`policy version ${r.version.document.version} for ${agentId}: ${r.version.policy_snapshot_id} (change ${r.change.change_id})`);
      else out(`change ${r.change.change_id} is pending: it widens spending and needs approval by another approver (spendtrail policy approve ${r.change.change_id})`);
    });
  });
policy
  .command('show <agent_id>')
  .description('the policy document; its snapshot id is sha256 of its RFC 8785 encoding')
  .option('--json', 'print exactly the hashed document')
  .option('--canonical', 'print its RFC 8785 bytes (no newline): pipe to sha256sum')
  .option('--version <n>', 'a specific version')
  .action(async (agentId: string, o: { json?: boolean; canonical?: boolean; version?: string }) => {
    await withRuntime(async (rt) => {
      const p = await showPolicy(rt.deps, await operatorFor(rt), agentId, o.version === undefined ? undefined : Number(o.version));
      if (o.canonical === true) process.stdout.write(canonicalize(p.document));
      else if (o.json === true) out(JSON.stringify(p.document, null, 2));
      else {
        out(`policy_snapshot_id: ${p.policy_snapshot_id}`);
        out(table(['field', 'value'], Object.entries(p.document).map(([k, v]) => [k, v === null ? '—' : Array.isArray(v) ? v.join(', ') : String(v)])));
      }
    });
  });
policy
  .command('versions <agent_id>')
  .description('every version of an agent policy')
  .option('--json')
  .action(async (agentId: string, o: { json?: boolean }) => {
    await withRuntime(async (rt) => {
      const h = await policyHistory(rt.deps, await operatorFor(rt), agentId);
      if (o.json === true) out(json(h));
      else
        out(table(['version', 'valid_from', 'per_tx', 'daily', 'monthly', 'snapshot'], h.map((v) => [String(v.document.version), v.document.valid_from, v.document.per_transaction_limit ?? '—', v.document.daily_limit ?? '—', v.document.monthly_limit ?? '—', v.policy_snapshot_id])));
    });
  });

registerChangeCommands(policy, program, { withRuntime, actor: operatorFor, out });
registerSummaryCommands(program, { withRuntime, actor: operatorFor, out });
registerExportCommands(program, { withRuntime, actor: operatorFor, out });
registerRailCommands(program, { withRuntime, actor: operatorFor, out });
registerEvidenceCommands(program, { withRuntime, actor: operatorFor, out });
registerValuationCommands(program, { withRuntime, actor: operatorFor, out });
registerStatementCommands(program, { withRuntime, actor: operatorFor, out });
registerAccountingCommands(program, { withRuntime, actor: operatorFor, out });
registerQboCommands(program, { withRuntime, actor: operatorFor, out });
registerUserCommands(program, { withRuntime, actor: operatorFor, out });

program
  .command('record <file>')
  .description('record settled transactions from an NDJSON or CSV file ("-" for stdin), in all-or-nothing chunks')
  .addOption(new Option('--format <format>', 'input format (default: from the file extension)').choices(['ndjson', 'csv']))
  .option('--chunk <n>', 'transactions per database transaction', '2000')
  .option('--no-progress', 'no progress bar')
  .action(async (file: string, o: { format?: string; chunk: string; progress: boolean }) => {
    await withRuntime(async (rt) => {
      const by = await operatorFor(rt);
      const format = o.format ?? (file.endsWith('.csv') ? 'csv' : 'ndjson');
      const stream = file === '-' ? process.stdin : createReadStream(file);
      const total = file === '-' ? 0 : statSync(file).size;
      const bar = o.progress && process.stderr.isTTY
        ? new cliProgress.SingleBar({ format: 'recording [{bar}] {percentage}% | {lines} lines | {recorded} new, {duplicates} already recorded', stream: process.stderr }, cliProgress.Presets.shades_classic)
        : null;
      bar?.start(Math.max(total, 1), 0, { lines: 0, recorded: 0, duplicates: 0 });
      const source = format === 'csv' ? readCsv(stream) : readNdjson(stream);
      try {
        const r = await importTransactions(rt.deps, by, source, {
          chunk: Number(o.chunk),
          onProgress: (p) => bar?.update(file === '-' ? 0 : (stream as { bytesRead?: number }).bytesRead ?? 0, p),
        });
        bar?.update(Math.max(total, 1), r);
        bar?.stop();
        out(`${r.lines} lines: ${r.recorded} recorded, ${r.duplicates} already recorded`);
      } finally {
        bar?.stop();
      }
    });
  });

program
  .command('import <file>')
  .description("import another system's export (card processor CSV, JSON, NDJSON) through a column mapping; each row is kept beside its transaction")
  .requiredOption('--mapping <file>', 'JSON column mapping (docs/rails/generic-import.md)')
  .option('--chunk <n>', 'rows per database transaction', '500')
  .action(async (file: string, o: { mapping: string; chunk: string }) => {
    await withRuntime(async (rt) => {
      const mapping = parseColumnMapping(parseJsonDocument(readFileSync(o.mapping), 'the mapping file'));
      const format = mapping.format ?? (file.endsWith('.csv') ? 'csv' : file.endsWith('.json') ? 'json' : 'ndjson');
      const stream = file === '-' ? process.stdin : createReadStream(file);
      const keepSource = mapping.keep_source;
      const rows = format === 'csv' ? readCsv(stream, { keepSource }) : format === 'json' ? readJsonArray(stream, { keepSource, recordsPath: mapping.records_path }) : readNdjson(stream, { keepSource });
      const r = await importTransactions(rt.deps, await operatorFor(rt), mapRows(rows, mapping), { chunk: Number(o.chunk) });
      out(`${r.lines} rows: ${r.recorded} recorded, ${r.duplicates} already recorded`);
    });
  });

program
  .command('authorize')
  .description('ask before spending: allow / deny / needs_approval, with reasons and the policy snapshot')
  .requiredOption('--agent <id>')
  .requiredOption('--amount <decimal>')
  .option('--currency <code>', 'reporting currency', 'USD')
  .requiredOption('--merchant <name>')
  .option('--mcc <code>', 'merchant category code')
  .requiredOption('--rail <rail>')
  .option('--purpose <text>', 'business purpose')
  .option('--approver <principal>')
  .option('--json')
  .action(async (o: { agent: string; amount: string; currency: string; merchant: string; mcc?: string; rail: string; purpose?: string; approver?: string; json?: boolean }) => {
    await withRuntime(async (rt) => {
      const req = parseInput(authorizeRequest, {
        agent_id: o.agent, amount: o.amount, currency: o.currency, merchant: o.merchant, merchant_category: o.mcc ?? null,
        payment_rail: o.rail, business_purpose: o.purpose ?? null, approver: o.approver ?? null,
      });
      const r = await authorize(rt.deps, await operatorFor(rt), req);
      if (o.json === true) out(json(r));
      else out(`${r.decision.toUpperCase()}${r.reasons.length > 0 ? `: ${r.reasons.join(', ')}` : ''}\npolicy ${r.policy_snapshot_id ?? '(none)'}\nauthorization ${r.authorization_id}${r.expires_at === null ? '' : ` held until ${r.expires_at}`}`);
      if (r.decision === 'deny') process.exitCode = 3;
    });
  });

program
  .command('ledger')
  .description("an agent's statement (or any filter) for a period")
  .option('--agent <id>')
  .option('--cluster <cluster>')
  .option('--from <iso>', 'inclusive, e.g. 2026-03-01T00:00:00Z')
  .option('--to <iso>', 'exclusive')
  .option('--gl <code>', 'accounting code')
  .option('--rail <rail>')
  .option('--violation <kind>')
  .addOption(new Option('--format <format>').choices(['table', 'json', 'csv']).default('table'))
  .option('--limit <n>', 'maximum rows (all when omitted)')
  .action(async (o: { agent?: string; cluster?: string; from?: string; to?: string; gl?: string; rail?: string; violation?: string; format: string; limit?: string }) => {
    await withRuntime(async (rt) => {
      const by = await operatorFor(rt);
      const q = parseInput(ledgerQuery, { agent_id: o.agent, cluster: o.cluster, from: o.from, to: o.to, accounting_code: o.gl, payment_rail: o.rail, violation: o.violation });
      const max = o.limit === undefined ? Infinity : Number(o.limit);
      let cursor: string | undefined;
      let n = 0;
      const all = [];
      if (o.format === 'csv') process.stdout.write(ledgerCsvHeader());
      // Pages stream out as they come, so a year of transactions never sits in memory for CSV.
      do {
        const page = await listLedger(rt.deps, by, { ...q, cursor, limit: Math.min(1000, max - n) });
        n += page.transactions.length;
        if (o.format === 'csv') process.stdout.write(page.transactions.map(ledgerCsvRow).join(''));
        else all.push(...page.transactions);
        cursor = page.next_cursor ?? undefined;
      } while (cursor !== undefined && n < max);
      if (o.format === 'json') out(json(all));
      if (o.format === 'table') out(`${ledgerTable(all)}\n${all.length} transactions`);
    });
  });

program
  .command('tx <tx_id>')
  .description('one transaction with the policy in force and its inclusion proof')
  .option('--json')
  .action(async (txId: string, o: { json?: boolean }) => {
    await withRuntime(async (rt) => {
      const d = await getTransaction(rt.deps, await operatorFor(rt), txId);
      if (o.json === true) return out(json(d));
      out(table(['field', 'value'], Object.entries(d.transaction).map(([k, v]) => [k, v === null ? '—' : Array.isArray(v) ? v.join(', ') : String(v)])));
      out(`\npolicy in force (${d.transaction.policy_snapshot_id ?? 'none'}):\n${d.policy === null ? '(no policy)' : JSON.stringify(d.policy, null, 2)}`);
      if (d.inclusion_proof !== null) {
        out(`\ninclusion proof: leaf ${d.inclusion_proof.leaf_index} of ${d.inclusion_proof.tree_size}, ${d.inclusion_proof.audit_path.length} hashes\n${d.inclusion_proof.checkpoint}`);
      }
    });
  });

program
  .command('checkpoint')
  .description('sign (or show) the checkpoint of the current tree')
  .action(async () => {
    await withRuntime(async (rt) => {
      const cp = await createCheckpoint(rt.deps, await operatorFor(rt));
      out(cp.note);
    });
  });

program
  .command('verify')
  .description('recompute every hash, the tree, checkpoints and projections; exits 1 naming the first bad entry')
  .option('--json')
  .option('--full', 'recompute the whole log (the default)')
  .option('--incremental', 'resume from the tree the last verify proved at a signed checkpoint and check only the entries after it (as summaries do); rows before it are not re-read')
  .action(async (o: { json?: boolean; full?: boolean; incremental?: boolean }) => {
    await withRuntime(async (rt) => {
      if (o.full === true && o.incremental === true) throw new SpendtrailError('VALIDATION_FAILED', 'give --full or --incremental, not both', { field: 'incremental' });
      const r = await verifyLog(rt.deps, await operatorFor(rt), rt.signer.note, { incremental: o.incremental === true });
      if (o.json === true) out(json(r));
      else if (r.ok) {
        const resumed = r.mode === 'incremental' ? ` after the ${r.resumed_from} verified before` : '';
        out(`OK: ${r.entries_checked} entries${resumed}, ${r.checkpoints_checked} checkpoints, root ${r.root ?? '(empty)'} (${r.elapsed_ms} ms)`);
      }
      else {
        out(`FAILED: ${r.findings.length} finding(s); first bad entry: ${r.findings[0]?.seq ?? 'n/a'}`);
        for (const f of r.findings) out(`  ${f.seq === null ? '-' : `#${f.seq}`}  ${f.what}`);
      }
      if (!r.ok) process.exitCode = 1;
    });
  });

const keys = program.command('keys').description('API keys (stored hashed)');
keys
  .command('create')
  .requiredOption('--principal <name>', 'who the key belongs to, e.g. alice@example.com')
  .requiredOption('--roles <roles>', 'comma-separated: admin, agent, policy_admin, approver, finance, auditor')
  .option('--agent <id>', 'for agent keys: the agent it acts for')
  .action(async (o: { principal: string; roles: string; agent?: string }) => {
    await withRuntime(async (rt) => {
      const roles = o.roles.split(',').map((r) => r.trim());
      const bad = roles.find((r) => !isRole(r));
      if (bad !== undefined) throw new SpendtrailError('VALIDATION_FAILED', `unknown role ${bad}`, { field: 'roles' });
      const k = await issueApiKey(rt.deps, await operatorFor(rt), { principal: o.principal, roles: roles.filter(isRole), agent_id: o.agent ?? null });
      out(`key ${k.key_id} for ${k.principal} (${k.roles.join(', ')}): ${k.api_key}`);
    });
  });
keys
  .command('revoke <key_id>')
  .action(async (keyId: string) => {
    await withRuntime(async (rt) => {
      await revokeApiKey(rt.deps, await operatorFor(rt), keyId);
      out(`revoked ${keyId}`);
    });
  });

export async function main(argv: readonly string[]): Promise<void> {
  try {
    await program.parseAsync([...argv]);
  } catch (e) {
    if (isSpendtrailError(e)) {
      process.stderr.write(`error ${e.code}${e.field === undefined ? '' : ` at ${e.field}`}: ${e.message}\n`);
      if (e.details?.committed !== undefined) process.stderr.write(`already committed before the error: ${JSON.stringify(e.details.committed)}\n`);
    } else {
      process.stderr.write(`error INTERNAL: ${e instanceof Error ? e.message : String(e)}\n`);
    }
    process.exitCode = 1;
  }
}
