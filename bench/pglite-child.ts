// Runs in its own process so its RSS is the embedded engine's and the ingest's, nothing else's.
//   node --import tsx bench/pglite-child.ts prepare <dir>                  create, migrate, seed the org
//   node --import tsx bench/pglite-child.ts ingest <dir> <count> <chunk>   open the existing directory, ingest, verify
//   node --import tsx bench/pglite-child.ts copy <dir> <count>             the raw COPY baseline
// The checkpoint key comes from SPENDTRAIL_SIGNING_KEY, so that both processes sign one log.
// Progress goes to stderr; the last stdout line is `RESULT <json>`.
import { PGlite } from '@electric-sql/pglite';
import { loadSigner } from '../src/adapters/signing/note-signer.ts';
import { createStore } from '../src/adapters/store/create-store.ts';
import { pgliteOptions } from '../src/adapters/store/open-database.ts';
import { copyInMessage } from '../src/adapters/store/pglite-copy-in.ts';
import type { AppDeps } from '../src/app/deps.ts';
import { systemClock } from '../src/app/ports/clock.ts';
import { randomIds } from '../src/app/ports/id-source.ts';
import { operator } from '../src/app/principal.ts';
import { ingest, verifyAll } from './ingest.ts';
import { RssSampler, mb } from './support.ts';
import { ORG_ID, TX_COPY_COLUMNS, Workload, copyLine, seedBenchOrg, storedRowValues } from './workload.ts';

const [mode, dir, countText, chunkText] = process.argv.slice(2);
const count = Number(countText);
const say = (s: string): void => void process.stderr.write(`    [pglite] ${s}\n`);

const signer = loadSigner({ keyFile: '/nonexistent', name: 'spendtrail.bench', create: false, env: process.env });

/** First use of a directory: PGlite runs initdb, then migrations and the organisation. */
async function runPrepare(): Promise<unknown> {
  const rss = new RssSampler(100);
  const t0 = performance.now();
  const store = await createStore(dir ?? '');
  const openMs = performance.now() - t0;
  await seedBenchOrg({ store, clock: systemClock, ids: randomIds, signer });
  await store.close();
  return { rss_peak_mb: mb(rss.stop()), open_ms: openMs };
}

async function runIngest(): Promise<unknown> {
  const rss = new RssSampler(100);
  const t0 = performance.now();
  const store = await createStore(dir ?? '');
  const openMs = performance.now() - t0;
  const deps: AppDeps = { store, clock: systemClock, ids: randomIds, signer };
  const by = operator(ORG_ID);
  const rssReady = process.memoryUsage().rss;
  const cpu0 = process.cpuUsage();
  const stats = await ingest(deps, by, new Workload(count), Number(chunkText ?? 5000), (done, rate) =>
    say(`${done.toLocaleString('en-US')} recorded, ${Math.round(rate).toLocaleString('en-US')} tx/s, rss ${Math.round(mb(process.memoryUsage().rss))} MB`),
  );
  const cpu = process.cpuUsage(cpu0);
  const peakIngest = rss.stop();
  const rssV = new RssSampler(100);
  const verify = await verifyAll(deps, by, signer.note);
  const peakVerify = rssV.stop();
  await store.close();
  return {
    stats,
    verify,
    open_ms: openMs,
    cpu_s: (cpu.user + cpu.system) / 1e6,
    rss_start_mb: mb(rss.start),
    rss_ready_mb: mb(rssReady),
    rss_peak_mb: mb(peakIngest),
    rss_peak_verify_mb: mb(peakVerify),
    heap_used_mb: mb(process.memoryUsage().heapUsed),
  };
}

/**
 * Raw COPY of the same rows into an indexed copy of `transactions` on PGlite (the baseline):
 * one `COPY … FROM STDIN` whose data goes in CopyData messages, as the ingest sends it, with the
 * engine settings the product uses.
 */
async function runCopy(): Promise<unknown> {
  const store = await createStore(dir ?? '');
  await store.close();
  const db = new PGlite(dir, pgliteOptions());
  await db.waitReady;
  await db.exec('create table copy_idx (like transactions including defaults including constraints including indexes)');
  const w = new Workload(count);
  const at = new Date().toISOString();
  const pieces: string[] = [];
  for (let i = 0; i < count; i += 500) {
    let piece = '';
    for (let k = i; k < Math.min(count, i + 500); k++) piece += copyLine(storedRowValues(w, k, at));
    pieces.push(piece);
  }
  const message = copyInMessage(`copy copy_idx (${TX_COPY_COLUMNS.join(', ')}) from stdin`, pieces);
  const t0 = performance.now();
  await db.execProtocol(message);
  const ms = performance.now() - t0;
  const n = (await db.query<{ n: number }>('select count(*)::int as n from copy_idx')).rows[0]?.n ?? 0;
  await db.close();
  return { rows: n, ms, bytes: message.byteLength };
}

try {
  const result = mode === 'copy' ? await runCopy() : mode === 'prepare' ? await runPrepare() : await runIngest();
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
} catch (e) {
  process.stderr.write(`pglite child failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
}
