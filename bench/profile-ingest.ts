// Profiling aid: `node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/profile-ingest.ts [postgres-url]`
// records 50k transactions (PROFILE_N=… for another count) into a fresh schema and leaves a .cpuprofile to open in
// Chrome DevTools. bench/ingest-cpu.ts gives the CPU per 1,000 transactions of Node and of PostgreSQL for the same path.
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { createStore } from '../src/adapters/store/create-store.ts';
import { ephemeralSigner } from '../src/adapters/signing/note-signer.ts';
import { systemClock } from '../src/app/ports/clock.ts';
import { randomIds } from '../src/app/ports/id-source.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { parseTransactionInput } from '../src/app/transaction-input.ts';
import { Workload, seedBenchOrg } from './workload.ts';

const base = process.argv[2] ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `prof_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: base });
await admin.connect();
await admin.query(`create schema ${schema}`);
const store = await createStore(`${base}?options=${encodeURIComponent(`-c search_path=${schema}`)}`);
const signer = ephemeralSigner();
const deps = { store, clock: systemClock, ids: randomIds, signer };
const { admin: by } = await seedBenchOrg(deps);
const w = new Workload(Number(process.env.PROFILE_N ?? 50_000), 1);
const t0 = performance.now();
for (let s = 0; s < w.total; s += 5000) {
  const inputs = Array.from({ length: Math.min(5000, w.total - s) }, (_, k) => parseTransactionInput(w.get(s + k)));
  await recordTransactions(deps, by, inputs, 'atomic');
}
console.log(`${Math.round(w.total / ((performance.now() - t0) / 1000))} tx/s`);
await store.close();
if (process.env.KEEP_SCHEMA === undefined) await admin.query(`drop schema ${schema} cascade`);
else console.log(`kept schema ${schema}`);
await admin.end();
