// Section 7 of npm run bench: the audit export (exportOrg) of a seeded log to a directory and to
// Ceph RGW with Object Lock, and an evidence bundle for part of that log, built and verified
// offline. Run on its own with BENCH_ONLY=export (see bench/run.ts); BENCH_EXPORT_N sets the
// number of transactions seeded.
import { readFileSync, statSync, statfsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { filesystemSink } from '../src/adapters/sinks/filesystem-sink.ts';
import { s3Sink } from '../src/adapters/sinks/s3-sink.ts';
import { ephemeralSigner } from '../src/adapters/signing/note-signer.ts';
import type { LoadedSigner } from '../src/adapters/signing/note-signer.ts';
import { createStore } from '../src/adapters/store/create-store.ts';
import { copyTransactionSource } from '../src/adapters/store/export-rows.ts';
import { exportOrg } from '../src/app/audit-export.ts';
import { buildEvidenceBundle } from '../src/app/evidence-bundle.ts';
import type { AppDeps } from '../src/app/deps.ts';
import { approveChange, proposePolicyChange } from '../src/app/policy-changes.ts';
import type { BlobSink } from '../src/app/ports/blob-sink.ts';
import type { TransactionRowSource } from '../src/app/ports/export-rows.ts';
import { systemClock } from '../src/app/ports/clock.ts';
import { randomIds } from '../src/app/ports/id-source.ts';
import type { Principal } from '../src/app/principal.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { generateSummary } from '../src/app/summaries.ts';
import { parseTransactionInput } from '../src/app/transaction-input.ts';
import type { TransactionInput } from '../src/domain/ledger/transaction.ts';
import { verifyBundle } from '../src/verifier/verify-bundle.ts';
import { readBundle, writeBundle } from '../src/verifier/zip.ts';
import { purgeBucket, s3Available } from '../test/support/s3.ts';
import type { S3Env } from '../test/support/s3.ts';
import type { CpuSplit } from './support.ts';
import { CpuMeter, RssSampler, fmtInt, freshDatabase, mb, pgQuery } from './support.ts';
import { StoreTimings, timedStore } from './timed-store.ts';
import { ORG_ID, Workload, seedBenchOrg } from './workload.ts';

/** Entries per export segment: exportOrg's default, passed explicitly so the report can name it. */
export const EXPORT_SEGMENT = 10_000;

export interface ExportSectionOptions {
  /** Transactions to seed (the log also holds the set-up, policy-change and summary entries). */
  readonly transactions: number;
  /** Transactions per unit of work while seeding: one signed checkpoint per chunk. */
  readonly chunk: number;
  readonly log: (line: string) => void;
  /** Called with each database created, so the driver drops it at the end. */
  readonly database: (name: string) => void;
}

interface SeedResult {
  readonly transactions: number;
  readonly entries: number;
  readonly other_entries: Record<string, number>;
  readonly checkpoints: number;
  readonly ms: number;
}

export interface ExportRun {
  readonly sink: 'filesystem' | 's3';
  /** For the directory: the file system it is on (ext4, tmpfs, ...). */
  readonly fs_type: string | null;
  readonly location: string;
  readonly entries: number;
  readonly segments: number;
  readonly objects: number;
  readonly bytes: number;
  readonly ms: number;
  /** Inside sink.put (write, fsync / HTTP PUT with its HEAD and version look-ups). */
  readonly put_ms: number;
  /** Reading the segment's rows (logEntriesPage + the COPY stream of transactions, encoded as they arrive). */
  readonly read_ms: number;
  /** Saving the export state (plan, then cursor) in its own unit of work, twice per segment. */
  readonly state_ms: number;
  readonly cpu: CpuSplit;
  readonly rss_start_mb: number;
  readonly rss_peak_mb: number;
}

export interface BundleResult {
  readonly period: { from: string; to: string };
  readonly entries: number;
  readonly transactions: number;
  readonly policies: number;
  readonly summaries: number;
  readonly first_seq: number;
  readonly end_seq: number;
  readonly build_ms: number;
  readonly build_rss_peak_mb: number;
  readonly bytes: number;
  readonly files: { name: string; bytes: number }[];
  readonly zip_ms: number;
  readonly zip_bytes: number;
  readonly unzip_ms: number;
  readonly verify_ms: number;
  readonly verify_rss_peak_mb: number;
  readonly verify_cpu_s: number;
  readonly checks: number;
  readonly ok: boolean;
}

export interface ExportResult {
  readonly seed: SeedResult;
  readonly segment: number;
  readonly filesystem: ExportRun;
  /** The RGW run, or why there is none. */
  readonly s3: ExportRun | { readonly unavailable: string };
  readonly s3_objectstore: string | null;
  readonly bundle: BundleResult;
}

const rate = (n: number, ms: number): number => (ms > 0 ? n / (ms / 1000) : 0);
const s1 = (x: number): string => x.toFixed(1);
/** A size with its unit: whole MiB from 10 MiB, one decimal below that, KiB under 1 MiB. */
const size = (b: number): string => (b >= 10 * 1024 * 1024 ? `${fmtInt(mb(b))} MiB` : b >= 1024 * 1024 ? `${s1(mb(b))} MiB` : `${fmtInt(Math.max(1, b / 1024))} KiB`);

async function openDeps(url: string, signer: LoadedSigner): Promise<AppDeps & { close(): Promise<void>; transactions: TransactionRowSource | undefined }> {
  const store = await createStore(url);
  // The export reads transactions with COPY on PostgreSQL, as the product's exporter does.
  const transactions = store.pool === undefined ? undefined : copyTransactionSource(store.pool);
  return { store, clock: systemClock, ids: randomIds, signer, transactions, close: () => store.close() };
}

/** Times the streamed reading of transactions, which includes encoding their lines as they arrive. */
function timedSource(inner: TransactionRowSource, t: { ms: number }): TransactionRowSource {
  return {
    async eachTransaction(orgId, from, to, row) {
      const t0 = performance.now();
      try {
        await inner.eachTransaction(orgId, from, to, row);
      } finally {
        t.ms += performance.now() - t0;
      }
    },
  };
}

// ---------------------------------------------------------------- seeding

/**
 * Records the workload through the product (recordTransactions in atomic chunks, the next chunk
 * generated and parsed while the previous one commits, as bench/ingest.ts does), with `midway`
 * run once between two chunks at about half-way, so the log holds policy changes and a summary
 * among the transactions and not only at its start.
 */
async function seedLog(
  deps: AppDeps,
  by: Principal,
  w: Workload,
  chunk: number,
  midway: () => Promise<void>,
  log: (s: string) => void,
): Promise<void> {
  const half = Math.floor(w.total / chunk / 2) * chunk;
  let inFlight: Promise<unknown> = Promise.resolve();
  let reported = performance.now();
  const t0 = performance.now();
  for (let start = 0; start < w.total; start += chunk) {
    const end = Math.min(w.total, start + chunk);
    const inputs: TransactionInput[] = [];
    for (let i = start; i < end; i++) inputs.push(parseTransactionInput(w.get(i), `transactions[${i - start}]`));
    await inFlight;
    if (start === half) await midway();
    inFlight = recordTransactions(deps, by, inputs, 'atomic');
    inFlight.catch(() => undefined);
    if (performance.now() - reported > 10_000) {
      reported = performance.now();
      log(`   ${fmtInt(start)} recorded, ${fmtInt(rate(start, performance.now() - t0))} tx/s`);
    }
  }
  await inFlight;
}

async function seed(url: string, deps: AppDeps, signer: LoadedSigner, opts: ExportSectionOptions): Promise<SeedResult> {
  const { admin, operator } = await seedBenchOrg(deps);
  const approver: Principal = { org_id: ORG_ID, principal: 'controller@bench.test', roles: ['approver'], agent_id: null, key_id: null };
  const finance: Principal = { org_id: ORG_ID, principal: 'fiona@bench.test', roles: ['finance'], agent_id: null, key_id: null };
  const t0 = performance.now();
  await seedLog(deps, operator, new Workload(opts.transactions), opts.chunk, async () => {
    // A narrowing change (applies at once) and a widening one (pending, then approved by a second
    // person): proposals, a decision and two new policy versions the later transactions name.
    await proposePolicyChange(deps, admin, {
      agent_id: 'devops-bot',
      changes: { per_transaction_limit: '4000.00' },
      justification: 'Tighter single-payment limit after the March review',
      approval_ticket: 'FIN-2041',
    });
    const widen = await proposePolicyChange(deps, admin, {
      agent_id: 'travel-bot',
      changes: { approval_threshold: '1000.00' },
      justification: 'Summit travel season',
      approval_ticket: 'FIN-2042',
    });
    await approveChange(deps, approver, widen.change.change_id, 'Within the travel budget');
    // A summary of the month so far, logged among the transactions. Its integrity check is the
    // verify measured in section 2; here the log was just written by this process.
    await generateSummary(deps, finance, { month: '2026-03' }, { verifier: signer.note, integrity: { findings: [] } });
  }, opts.log);
  const ms = performance.now() - t0;
  await pgQuery(url, 'analyze');
  const kinds = await pgQuery<{ kind: string; n: string }>(url, 'select kind, count(*) as n from log_entries where org_id = $1 group by kind order by kind', [ORG_ID]);
  const [c] = await pgQuery<{ txs: string; cps: string }>(
    url,
    'select (select count(*) from transactions where org_id = $1) as txs, (select count(*) from checkpoints where org_id = $1) as cps',
    [ORG_ID],
  );
  const other = Object.fromEntries(kinds.map((k) => [k.kind, Number(k.n)]));
  const txs = Number(c?.txs ?? 0);
  return {
    transactions: txs,
    entries: txs + Object.values(other).reduce((a, b) => a + b, 0),
    other_entries: other,
    checkpoints: Number(c?.cps ?? 0),
    ms,
  };
}

// ---------------------------------------------------------------- export

/** Counts what reaches the sink and the time spent inside put. */
function countingSink(inner: BlobSink): BlobSink & { readonly objects: number; readonly bytes: number; readonly put_ms: number } {
  const c = { objects: 0, bytes: 0, put_ms: 0 };
  return {
    get objects() {
      return c.objects;
    },
    get bytes() {
      return c.bytes;
    },
    get put_ms() {
      return c.put_ms;
    },
    async put(key, body, type) {
      const t0 = performance.now();
      try {
        const r = await inner.put(key, body, type);
        if (!r.existed) {
          c.objects += 1;
          c.bytes += body.length;
        }
        return r;
      } finally {
        c.put_ms += performance.now() - t0;
      }
    },
    get: (k) => inner.get(k),
    list: (p) => inner.list(p),
    check: () => inner.check(),
  };
}

async function runExport(
  deps: AppDeps & { transactions: TransactionRowSource | undefined },
  sinkKind: ExportRun['sink'],
  inner: BlobSink,
  sinkName: string,
  otherPids: readonly number[],
  log: (s: string) => void,
): Promise<ExportRun> {
  const status = await inner.check();
  const org = await deps.store.getOrg(ORG_ID);
  if (org === undefined) throw new Error('the seeded organisation is missing');
  const sink = countingSink(inner);
  const timings = new StoreTimings();
  const tdeps: AppDeps = { ...deps, store: timedStore(deps.store, timings) };
  const streamed = { ms: 0 };
  const transactions = deps.transactions === undefined ? undefined : timedSource(deps.transactions, streamed);
  let reported = performance.now();
  const rss = new RssSampler();
  const cpu = new CpuMeter(otherPids);
  const t0 = performance.now();
  const round = await exportOrg(tdeps, sink, org, { sinkName, maxEntries: EXPORT_SEGMENT, ...(transactions === undefined ? {} : { transactions }) }, (next, size) => {
    if (performance.now() - reported > 10_000) {
      reported = performance.now();
      log(`   ${fmtInt(next)} of ${fmtInt(size)} exported, ${fmtInt(rate(next, performance.now() - t0))} entries/s`);
    }
  });
  const ms = performance.now() - t0;
  const split = cpu.stop();
  const peak = rss.stop();
  if (round.next_seq !== round.tree_size) throw new Error(`EXPORT INCOMPLETE to ${status.location}: ${round.next_seq} of ${round.tree_size}`);
  const read = (n: string): number => timings.outside.get(n)?.ms ?? 0;
  return {
    sink: sinkKind,
    fs_type: sinkKind === 'filesystem' ? fsTypeOf(status.location) : null,
    location: status.location,
    entries: round.entries,
    segments: round.segments,
    objects: sink.objects,
    bytes: sink.bytes,
    ms,
    put_ms: sink.put_ms,
    read_ms: read('logEntriesPage') + read('transactionsPage') + streamed.ms,
    state_ms: timings.unitMs,
    cpu: split,
    rss_start_mb: mb(rss.start),
    rss_peak_mb: mb(peak),
  };
}

const FS_MAGIC: Record<string, string> = { ef53: 'ext4', '1021994': 'tmpfs', '794c7630': 'overlayfs', '58465342': 'xfs', '9123683e': 'btrfs', '2fc12fc1': 'zfs' };

/** The kind of file system a directory is on, from statfs(2)'s magic number. */
function fsTypeOf(dir: string): string {
  try {
    const magic = statfsSync(dir).type.toString(16);
    return FS_MAGIC[magic] ?? `file system 0x${magic}`;
  } catch {
    return 'unknown file system';
  }
}

/** PIDs of the RGW's daemons, as start-rgw.sh records them, so their CPU is counted. */
function rgwPids(dataDir: string | null): number[] {
  if (dataDir === null) return [];
  const pids: number[] = [];
  for (const name of ['rgw', 'osd', 'mon']) {
    try {
      const pid = Number(readFileSync(join(dataDir, 'pids', `${name}.pid`), 'utf8').trim());
      if (Number.isSafeInteger(pid) && pid > 0) pids.push(pid);
    } catch {
      // not started from this directory
    }
  }
  return pids;
}

function objectstoreOf(dataDir: string | null): string | null {
  if (dataDir === null) return null;
  try {
    return /^osd_objectstore = (\w+)/m.exec(readFileSync(join(dataDir, 'ceph.conf'), 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- evidence bundle

async function bundle(url: string, deps: AppDeps, signer: LoadedSigner, total: number, log: (s: string) => void): Promise<BundleResult> {
  // The period: entries recorded from the one at a quarter of the log to the one at three
  // quarters (the policy changes and the summary sit in between), as an auditor asks for a quarter
  // of a year.
  const at = async (seq: number): Promise<Date> => {
    const [r] = await pgQuery<{ t: Date }>(url, 'select recorded_at as t from transactions where org_id = $1 and seq >= $2 order by seq limit 1', [ORG_ID, seq]);
    if (r === undefined) throw new Error(`no transaction at or after entry ${seq}`);
    return r.t;
  };
  const from = await at(Math.floor(total / 4));
  // A small log may be one chunk, recorded at one instant: then the period is that instant.
  const to = new Date(Math.max((await at(Math.floor((3 * total) / 4))).getTime(), from.getTime() + 1));
  const auditor: Principal = { org_id: ORG_ID, principal: 'auditor@bench.test', roles: ['auditor'], agent_id: null, key_id: null };
  log(`   evidence bundle for ${from.toISOString()} to ${to.toISOString()}`);
  const rss = new RssSampler();
  const b0 = performance.now();
  const files = await buildEvidenceBundle(deps, auditor, { from, to }, signer.note);
  const buildMs = performance.now() - b0;
  const buildPeak = rss.stop();
  const lines = (name: string): number => {
    const b = files.get(name);
    if (b === undefined) return 0;
    let n = 0;
    for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n += 1;
    return n;
  };
  const entries = lines('entries.ndjson');
  const consistency = JSON.parse(files.get('consistency.json')?.toString('utf8') ?? '{}') as { period_start?: { tree_size?: number }; to_size?: number };
  const bytes = [...files.values()].reduce((s, b) => s + b.length, 0);
  log(`   built: ${fmtInt(entries)} entries, ${size(bytes)} in ${fmtInt(buildMs)} ms; zip it, read it back, verify`);

  const dir = await mkdtemp(join(os.tmpdir(), 'spendtrail-bench-bundle-'));
  try {
    const zip = join(dir, 'evidence.zip');
    const z0 = performance.now();
    writeBundle(zip, files);
    const zipMs = performance.now() - z0;
    const zipBytes = statSync(zip).size;
    const u0 = performance.now();
    const back = readBundle(zip);
    const unzipMs = performance.now() - u0;
    const vrss = new RssSampler();
    const cpu0 = process.cpuUsage();
    const v0 = performance.now();
    const report = verifyBundle(back, { trustedKey: signer.verifierKey });
    const verifyMs = performance.now() - v0;
    const cpu = process.cpuUsage(cpu0);
    const verifyPeak = vrss.stop();
    if (!report.ok) {
      throw new Error(`BUNDLE VERIFY FAILED: ${report.checks.filter((c) => !c.ok).slice(0, 5).map((c) => `${c.check}: ${c.detail}`).join('; ')}`);
    }
    const checks = report.checks.reduce((s, c) => s + (Number(/^(\d+) checked$/.exec(c.detail)?.[1]) || 0), 0);
    let txs = 0;
    for (const l of (files.get('entries.ndjson') ?? Buffer.alloc(0)).toString('utf8').split('\n')) if (l.includes('"kind":"transaction"')) txs += 1;
    return {
      period: { from: from.toISOString(), to: to.toISOString() },
      entries,
      transactions: txs,
      policies: lines('policies.ndjson'),
      summaries: lines('summaries.ndjson'),
      first_seq: consistency.period_start?.tree_size ?? 0,
      end_seq: consistency.to_size ?? 0,
      build_ms: buildMs,
      build_rss_peak_mb: mb(buildPeak),
      bytes,
      files: [...files.entries()].map(([name, b]) => ({ name, bytes: b.length })),
      zip_ms: zipMs,
      zip_bytes: zipBytes,
      unzip_ms: unzipMs,
      verify_ms: verifyMs,
      verify_rss_peak_mb: mb(verifyPeak),
      verify_cpu_s: (cpu.user + cpu.system) / 1e6,
      checks,
      ok: report.ok,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- the section

export async function sectionExport(opts: ExportSectionOptions): Promise<ExportResult> {
  const { log } = opts;
  log(`7. audit export and evidence bundles: ${fmtInt(opts.transactions)} transactions on PostgreSQL, segments of ${fmtInt(EXPORT_SEGMENT)} entries`);
  const { name, url } = await freshDatabase('export');
  opts.database(name);
  const signer = ephemeralSigner('spendtrail.bench');
  const deps = await openDeps(url, signer);
  const tmp = await mkdtemp(join(os.tmpdir(), 'spendtrail-bench-export-'));
  try {
    log('   seeding the log through the product (recordTransactions, atomic chunks)');
    const seeded = await seed(url, deps, signer, opts);
    log(`   ${fmtInt(seeded.entries)} entries (${fmtInt(seeded.transactions)} transactions) in ${s1(seeded.ms / 1000)} s; export to a directory`);

    const fs = await runExport(deps, 'filesystem', filesystemSink(join(tmp, 'exports')), 'bench-fs', [], log);
    log(`   filesystem: ${fmtInt(rate(fs.entries, fs.ms))} entries/s, ${fmtInt(fs.objects)} objects, ${size(fs.bytes)} in ${fmtInt(fs.ms)} ms`);
    await rm(join(tmp, 'exports'), { recursive: true, force: true });

    let s3: ExportRun | { unavailable: string };
    let env: S3Env | null = null;
    let objectstore: string | null = null;
    const bucket = `bench-export-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
    let sink: BlobSink | undefined;
    let unavailable = '';
    try {
      // Only getting a usable bucket counts as "unavailable": a failure of the export itself fails the bench.
      log('   starting (or reusing) Ceph RGW with scripts/s3/start-rgw.sh');
      env = await s3Available();
      if (env === null) throw new Error('radosgw (Ceph RGW) is not installed: apt-get install ceph-mon ceph-osd radosgw uuid-runtime jq curl');
      objectstore = objectstoreOf(env.dataDir);
      sink = s3Sink({
        bucket,
        endpoint: env.endpoint,
        region: env.region,
        forcePathStyle: true,
        credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
        mode: 'COMPLIANCE',
        retentionDays: 1,
        createBucket: true,
      });
      const status = await sink.check();
      if (status.object_lock?.enabled !== true) throw new Error(`bucket ${bucket} has no Object Lock`);
    } catch (e) {
      unavailable = e instanceof Error ? e.message.split('\n')[0] ?? e.message : String(e);
      console.error(`\n!!! bench: NO RGW FIGURES: ${unavailable}\n`);
      sink = undefined;
    }
    try {
      if (sink === undefined || env === null) s3 = { unavailable };
      else {
        log(`   export to s3://${bucket}/ at ${env.endpoint} (Object Lock COMPLIANCE)`);
        s3 = await runExport(deps, 's3', sink, `s3://${bucket}/`, rgwPids(env.dataDir), log);
        log(`   RGW: ${fmtInt(rate(s3.entries, s3.ms))} entries/s, ${fmtInt(s3.objects)} objects, ${size(s3.bytes)} in ${fmtInt(s3.ms)} ms`);
      }
    } finally {
      if (env !== null) await purgeBucket(env, bucket);
    }

    const b = await bundle(url, deps, signer, seeded.entries, log);
    log(`   bundle: build ${fmtInt(b.build_ms)} ms, verify ${fmtInt(b.verify_ms)} ms (${fmtInt(rate(b.entries, b.verify_ms))} entries/s), ok`);
    return { seed: seeded, segment: EXPORT_SEGMENT, filesystem: fs, s3, s3_objectstore: objectstore, bundle: b };
  } finally {
    await deps.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- report

function cpuText(c: CpuSplit, others?: string): string {
  const parts = [`bench process ${s1(c.self_s)} s`, `PostgreSQL ${s1(c.postgres_s)} s`];
  if (others !== undefined) parts.push(`${others} ${s1(c.children_s)} s`);
  const busy = c.self_s + c.postgres_s + c.children_s;
  return `CPU over ${s1(c.wall_s)} s: ${parts.join(', ')} — ${s1(busy / c.wall_s)} of the ${os.cpus().length} cores busy`;
}

function exportRow(what: string, r: ExportRun): string {
  return `| ${what} | ${fmtInt(rate(r.entries, r.ms))} entries/s | ${s1(mb(r.bytes) / (r.ms / 1000))} MiB/s | ${fmtInt(r.segments)} / ${fmtInt(r.objects)} | ${size(r.bytes)} | ${s1(r.ms / 1000)} s | ${fmtInt(r.rss_peak_mb)} MB (from ${fmtInt(r.rss_start_mb)}) |`;
}

function split(r: ExportRun): string {
  const pct = (x: number): string => `${Math.round((100 * x) / r.ms)}%`;
  const rest = r.ms - r.put_ms - r.read_ms - r.state_ms;
  return `reading rows and encoding their lines as they arrive ${pct(r.read_ms)}, writing objects ${pct(r.put_ms)} (${(r.put_ms / Math.max(1, r.objects)).toFixed(1)} ms per object), saving the export state ${pct(r.state_ms)}, the rest (the manifest, waiting for hashes) ${pct(Math.max(0, rest))}`;
}

export function renderExport(r: ExportResult): string {
  const { seed: s, filesystem: fs, bundle: b } = r;
  const s3 = 'unavailable' in r.s3 ? null : r.s3;
  const others = Object.entries(s.other_entries)
    .map(([k, n]) => `${fmtInt(n)} ${k}`)
    .join(', ');
  const s3Row = s3 === null ? '| Ceph RGW, Object Lock | **not measured** | | | | | |' : exportRow(`Ceph RGW, Object Lock COMPLIANCE (${r.s3_objectstore ?? 'external'})`, s3);
  const s3Text =
    s3 === null
      ? 'To RGW: nothing measured in this run (above).'
      : `To RGW: ${split(s3)}; ${cpuText(s3.cpu, 'RGW + OSD + mon')}. Every object is a HEAD (is it there already?), a PUT
with Content-MD5, retention and the SHA-256 as metadata, and a ListObjectVersions (RGW ignores If-None-Match, so the
sink checks it was first), three round trips through radosgw to the OSD${r.s3_objectstore === 'memstore' ? ', which keeps objects in RAM here (memstore): the figure has no disk in it' : ''}.`;
  return `
## 7. Audit export and evidence bundles (PostgreSQL)

A log of ${fmtInt(s.entries)} entries — ${fmtInt(s.transactions)} transactions recorded through the product
(${fmtInt(rate(s.transactions, s.ms))} tx/s, ${fmtInt(s.checkpoints)} signed checkpoints) and ${others} — exported by
\`exportOrg\` from the start, in segments of at most ${fmtInt(r.segment)} entries ending at signed tree sizes: an NDJSON object
per kind of entry and a manifest per segment. Once to a directory in ${os.tmpdir()} (\`filesystemSink\`: temp file, fsync,
read-only, link, fsync of the directory) and once to a new bucket with Object Lock on the local Ceph RGW that
\`scripts/s3/start-rgw.sh\` starts (\`s3Sink\`, COMPLIANCE, one day of retention). Peak RSS is the bench process's, sampled every 100 ms (in brackets: its RSS when the export started).

| Sink | Rate | Bandwidth | Segments / objects | Written | Time | Peak RSS |
|---|---:|---:|---:|---:|---:|---:|
${exportRow(`Directory (${fs.fs_type ?? '?'}${fs.fs_type === 'tmpfs' ? ': RAM, no disk' : ''})`, fs)}
${s3Row}
${
    'unavailable' in r.s3
      ? `\n**No RGW figures: the RGW could not be used in this run (${r.s3.unavailable}).** Nothing was put in their place; the\nexport to RGW is measured once \`scripts/s3/start-rgw.sh\` can start it (Debian's ceph-mon, ceph-osd and radosgw).\n`
      : ''
  }
Then an evidence bundle for the entries recorded from ${b.period.from} to ${b.period.to} (\`buildEvidenceBundle\`: log
entries ${fmtInt(b.first_seq)} to ${fmtInt(b.end_seq - 1)}, ${fmtInt(b.transactions)} of them transactions, ${fmtInt(b.policies)} policy
versions, ${fmtInt(b.summaries)} summar${b.summaries === 1 ? 'y' : 'ies'}), written as a .zip, read back, and checked by \`verifyBundle\` with the
trusted key, as \`spendtrail verify-bundle\` does.

| what | time | rate | size |
|---|---:|---:|---:|
| build the bundle from the database | ${fmtInt(b.build_ms)} ms | ${fmtInt(rate(b.entries, b.build_ms))} entries/s | ${size(b.bytes)} (peak RSS ${fmtInt(b.build_rss_peak_mb)} MB) |
| write it as .zip (deflate level 6) | ${fmtInt(b.zip_ms)} ms | | ${size(b.zip_bytes)} |
| read the .zip back | ${fmtInt(b.unzip_ms)} ms | | |
| verify offline (${fmtInt(b.checks)} checks, all passed) | ${fmtInt(b.verify_ms)} ms | **${fmtInt(rate(b.entries, b.verify_ms))} entries/s** | peak RSS ${fmtInt(b.verify_rss_peak_mb)} MB |

Files: ${b.files.map((f) => `\`${f.name}\` ${size(f.bytes)}`).join(', ')}.

**What limits it.** To the directory: ${split(fs)}; ${cpuText(fs.cpu)}.${
    fs.cpu.self_s >= 0.8 * fs.cpu.wall_s
      ? ' The bench process is busy nearly all the time, so this is JavaScript\'s ceiling (splitting the COPY text, encoding every entry\'s line), not the disk\'s.'
      : ''
  } The plan and the cursor move one segment at a time, but the
next segment is read and encoded while the current one is written, so the database's reading overlaps this thread's
work (the shares above then add up to more than the whole). Transactions come as one COPY text stream per segment and
each row is written as its NDJSON line straight into the segment's buffer (the canonical bytes written already escaped
as a JSON string, no row objects held); the SHA-256 of every object, the exporter's and the sink's, runs on libuv's
thread pool, off the JavaScript thread. ${s3Text} The bundle is built and verified in one thread: building finds the period's stretch of the log with
one query, reads the tree before it from stored tiles and the stretch's own leaves, computes an inclusion proof per entry
and holds the whole bundle in memory (hence its peak RSS); verifying re-hashes every entry, re-canonicalises its JSON,
checks ${fmtInt(b.entries)} inclusion proofs and re-evaluates each transaction against its policy
(${s1(b.verify_cpu_s)} s of CPU over ${s1(b.verify_ms / 1000)} s).
`;
}
