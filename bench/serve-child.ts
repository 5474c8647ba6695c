// The API server in its own process, so the load generator does not share its event loop.
//   DATABASE_URL=postgres://... SPENDTRAIL_SIGNING_KEY=... node --import tsx bench/serve-child.ts
// Prints `LISTENING <url>` once ready; exits on SIGTERM or when its stdin closes (parent gone).
import { openRuntime } from '../src/interfaces/runtime.ts';
import { buildServer } from '../src/interfaces/http/server.ts';

const rt = await openRuntime({ db: process.env.DATABASE_URL, createKey: false });
const app = await buildServer(rt.deps, { verifier: rt.signer.note, logger: false });
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
process.stdin.on('end', () => void shutdown());
process.stdin.resume();
