import { join } from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import type { Principal } from '../../app/principal.ts';
import { exportOrg, exportStatus } from '../../app/audit-export.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import type { Runtime } from '../runtime.ts';
import { bulkReader, exportSinkFrom } from '../runtime.ts';
import { json, table } from './output.ts';

interface Ctx {
  readonly withRuntime: <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;
  readonly actor: (rt: Runtime) => Promise<Principal>;
  readonly out: (s: string) => void;
}

export function registerExportCommands(program: Command, { withRuntime, actor, out }: Ctx): void {
  const exp = program.command('export').description('audit export of every log entry to write-once storage (a directory, or S3 with Object Lock)');
  exp
    .command('run')
    .description('export what is not yet written, segment by segment (resumes where it stopped)')
    .option('--dir <dir>', 'export to this directory (default: $SPENDTRAIL_EXPORT_DIR, S3 when $SPENDTRAIL_EXPORT_S3_BUCKET is set, else <home>/audit)')
    .option('--max-entries <n>', 'entries per segment', '10000')
    .option('--records', 'also write each transaction as its own object with its inclusion proof (default: $SPENDTRAIL_EXPORT_RECORDS=true)')
    .option('--no-progress')
    .action(async (o: { dir?: string; maxEntries: string; records?: boolean; progress: boolean }) => {
      await withRuntime(async (rt) => {
        const by = await actor(rt);
        const max = Number(o.maxEntries);
        if (!Number.isInteger(max) || max < 1) throw new SpendtrailError('VALIDATION_FAILED', 'max-entries is a positive integer', { field: 'max-entries' });
        const { sink, name, records } = exportSinkFrom(process.env, o.dir ?? process.env.SPENDTRAIL_EXPORT_DIR ?? join(rt.home, 'audit'), o.dir !== undefined);
        await sink.check();
        const org = await rt.store.getOrg(by.org_id);
        if (org === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `no organisation ${by.org_id}`);
        const bar = o.progress && process.stderr.isTTY ? new cliProgress.SingleBar({ format: 'export {bar} {value}/{total} entries', stream: process.stderr }) : null;
        const before = await exportStatus(rt.deps, by, name);
        bar?.start(before.tree_size, before.exported_through);
        const r = await exportOrg(rt.deps, sink, org, { sinkName: name, maxEntries: max, records: o.records === true || records, ...bulkReader(rt) }, (next) => bar?.update(next));
        bar?.stop();
        out(`${r.entries} entries in ${r.segments} segments to ${name}; exported through ${r.next_seq} of ${r.tree_size}`);
      });
    });
  exp
    .command('status')
    .description('how far the export is behind, failed attempts, last object written')
    .option('--dir <dir>')
    .option('--json')
    .action(async (o: { dir?: string; json?: boolean }) => {
      await withRuntime(async (rt) => {
        const { name } = exportSinkFrom(process.env, o.dir ?? process.env.SPENDTRAIL_EXPORT_DIR ?? join(rt.home, 'audit'), o.dir !== undefined);
        const s = await exportStatus(rt.deps, await actor(rt), name);
        out(o.json === true ? json(s) : table(['sink', 'exported through', 'tree size', 'behind', 'objects', 'failed attempts', 'last error', 'last object'], [[s.sink, String(s.exported_through), String(s.tree_size), String(s.behind), String(s.objects_written), String(s.failed_attempts), s.last_error ?? '—', s.last_object ?? '—']]));
      });
    });
}
