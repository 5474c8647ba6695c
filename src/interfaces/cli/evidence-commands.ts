import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { buildEvidenceBundle, SUMMARY_ENTRIES } from '../../app/evidence-bundle.ts';
import type { Principal } from '../../app/principal.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import { parseInstant } from '../../domain/time.ts';
import { verifyBundle } from '../../verifier/verify-bundle.ts';
import { readBundle, writeBundle } from '../../verifier/zip.ts';
import type { Runtime } from '../runtime.ts';
import { json } from './output.ts';

interface Ctx {
  readonly withRuntime: <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;
  readonly actor: (rt: Runtime) => Promise<Principal>;
  readonly out: (s: string) => void;
}

/** A bare date means midnight UTC. */
const dayOrInstant = (s: string): string => (/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : s);

export function registerEvidenceCommands(program: Command, { withRuntime, actor, out }: Ctx): void {
  program
    .command('evidence')
    .description("an evidence bundle of the entries recorded in [from, to) and the summaries of the period's months, with proofs, for an auditor (a .zip or a directory)")
    .requiredOption('--from <ISO>', 'start of the period (inclusive)')
    .requiredOption('--to <ISO>', 'end of the period (exclusive)')
    .requiredOption('--out <path>', 'q1-evidence.zip, or a directory')
    .action(async (o: { from: string; to: string; out: string }) => {
      const from = new Date(parseInstant(dayOrInstant(o.from), 'from'));
      const to = new Date(parseInstant(dayOrInstant(o.to), 'to'));
      await withRuntime(async (rt) => {
        const files = await buildEvidenceBundle(rt.deps, await actor(rt), { from, to }, rt.signer.note);
        writeBundle(o.out, files);
        const lines = (name: string): number => (files.get(name)?.toString('utf8').split('\n').length ?? 1) - 1;
        const later = lines(SUMMARY_ENTRIES) > 0 ? ` (+${lines(SUMMARY_ENTRIES)} summary entries logged outside its span)` : '';
        out(`${o.out}: ${lines('entries.ndjson')} entries${later}, ${files.size} files; check with: spendtrail verify-bundle ${o.out} --trusted-key '<key>'`);
      });
    });
  program
    .command('verify-bundle <path>')
    .description('check an evidence bundle offline (no database): exits 0 when every check passes, 1 otherwise')
    .option('--trusted-key <key>', "the log's verifier key as you hold it (Go note format)")
    .option('--known-checkpoint <file>', 'a checkpoint of this log you kept earlier: the bundle must be consistent with it')
    .option('--json')
    .action((path: string, o: { trustedKey?: string; knownCheckpoint?: string; json?: boolean }) => {
      let files: Map<string, Buffer>;
      try {
        files = readBundle(path);
      } catch (e) {
        throw new SpendtrailError('BUNDLE_INVALID', `cannot read ${path}: ${(e as Error).message}`);
      }
      const known = o.knownCheckpoint === undefined ? undefined : readFileSync(o.knownCheckpoint, 'utf8');
      const r = verifyBundle(files, { ...(o.trustedKey === undefined ? {} : { trustedKey: o.trustedKey }), ...(known === undefined ? {} : { knownCheckpoint: known }) });
      if (o.json === true) out(json(r));
      else {
        for (const c of r.checks) out(`${c.ok ? 'PASS' : 'FAIL'}  ${c.check}${c.file === undefined ? '' : `  ${c.file}${c.line === undefined ? '' : `:${c.line}`}`}  ${c.detail}`);
        out(r.ok ? 'VERIFIED: every check passed' : `FAILED: ${r.checks.filter((c) => !c.ok).length} check(s) failed`);
      }
      if (!r.ok) process.exitCode = 1;
    });
}
