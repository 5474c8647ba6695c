// The API server in its own process, so the load generator does not share its event loop.
//   DATABASE_URL=postgres://... SPENDTRAIL_SIGNING_KEY=... node --import tsx bench/serve-child.ts
// Prints `LISTENING <url>` once ready. Commands on stdin, one a line: `reset` starts counting
// store timings afresh, `report` prints `TIMINGS <json>`. Exits on SIGTERM or when stdin closes.
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
commands.on('line', (line) => {
  if (line.trim() === 'reset') timings.reset();
  if (line.trim() === 'report') process.stdout.write(`TIMINGS ${JSON.stringify(timings.snapshot())}\n`);
});
commands.on('close', () => void shutdown());
