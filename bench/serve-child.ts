// The API server in its own process, so the load generator does not share its event loop.
//   DATABASE_URL=postgres://... SPENDTRAIL_SIGNING_KEY=... node --import tsx bench/serve-child.ts
// Prints `LISTENING <url>` once ready. Commands on stdin, one a line: `reset` starts counting
// store timings afresh, `report` prints `TIMINGS <json>`. Exits on SIGTERM or when stdin closes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openRuntime } from '../src/interfaces/runtime.ts';
import { buildServer } from '../src/interfaces/http/server.ts';
import { StoreTimings, timedStore } from './timed-store.ts';

const rt = await openRuntime({ db: process.env.DATABASE_URL, createKey: false });
const timings = new StoreTimings();
const deps = { ...rt.deps, store: timedStore(rt.deps.store, timings) };
const app = await buildServer(deps, { verifier: rt.signer.note, logger: false });
const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`LISTENING ${url}\n`);

let closing = false;
async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  await app.close();
  await rt.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
const commands = createInterface({ input: process.stdin });
// BENCH_PROF_WINDOW=<dir>: a CPU profile of the measured window only (from `reset` to `report`),
// without the start-up and warm-up that a whole-process --cpu-prof is mostly made of.
const profDir = process.env.BENCH_PROF_WINDOW;
const session = profDir === undefined ? undefined : new Session();
session?.connect();
const post = (method: string): Promise<unknown> =>
  new Promise((res, rej) => session?.post(method, (err, r) => (err ? rej(err) : res(r))));
commands.on('line', (line) => {
  if (line.trim() === 'reset') {
    timings.reset();
    if (session !== undefined) void post('Profiler.enable').then(() => post('Profiler.start'));
  }
  if (line.trim() === 'report') {
    const snapshot = timings.snapshot();
    const written =
      session === undefined || profDir === undefined
        ? Promise.resolve()
        : post('Profiler.stop').then((r) => {
            mkdirSync(profDir, { recursive: true });
            writeFileSync(join(profDir, `window-${process.pid}-${Date.now()}.cpuprofile`), JSON.stringify((r as { profile: unknown }).profile));
          });
    void written.finally(() => process.stdout.write(`TIMINGS ${JSON.stringify(snapshot)}\n`));
  }
});
commands.on('close', () => void shutdown());
