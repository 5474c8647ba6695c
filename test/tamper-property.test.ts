/**
 * Properties of tamper evidence: any single-column rewrite of any transaction row, to any
 * value of the column's type, makes verify fail and name that entry first; and any valid
 * sequence of recordings verifies clean. PGlite carries most runs; PostgreSQL fewer.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../src/app/principal.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { createOrg, upsertAccount, upsertAgent, upsertRule } from '../src/app/setup.ts';
import { verifyLog } from '../src/app/verify.ts';
import { findCurrency } from '../src/domain/money/currency.ts';
import { formatMinor } from '../src/domain/money/decimal.ts';
import { VIOLATIONS } from '../src/domain/policy/violation.ts';
import { RAILS } from '../src/domain/rails.ts';
import { parseTransactionInput } from '../src/app/transaction-input.ts';
import { establishPolicy } from './support/fixtures.ts';
import { ENGINES, postgresAvailable } from './support/engines.ts';
import type { EngineName, TestEnv } from './support/engines.ts';
import type { ColumnInfo, Corpus } from './support/tamper-corpus.ts';
import { ORG, columnsOf, disableTriggers, openSerializedEnv, restore, seedCorpus, snapshot, verify } from './support/tamper-corpus.ts';

// FC_RUNS raises both for a soak run; FC_SEED replays a failure.
const soak = process.env.FC_RUNS === undefined ? undefined : Number(process.env.FC_RUNS);
const RUNS: Record<EngineName, { tamper: number; clean: number }> = {
  pglite: { tamper: soak ?? 25, clean: soak ?? 25 },
  postgres: { tamper: soak ?? 10, clean: soak ?? 10 },
};

const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
/** Any text the API accepts (no control characters; fast-check graphemes are never lone surrogates). */
const anyText = (max: number): fc.Arbitrary<string> => fc.string({ unit: 'grapheme', maxLength: max }).filter((s) => !CONTROL.test(s));
const pgArray = (xs: readonly string[]): string => `{${xs.map((x) => `"${x.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
const CAST: Record<string, string> = { text: 'text', int8: 'bigint', uuid: 'uuid', timestamptz: 'timestamptz', _text: 'text[]', bytea: 'bytea' };

describe.each(ENGINES)('tamper properties on %s', (engine: EngineName) => {
  let env: TestEnv;
  let c: Corpus;
  let columns: ColumnInfo[];
  let skip = false;

  beforeAll(async () => {
    if (engine === 'postgres' && !(await postgresAvailable())) {
      skip = true;
      return;
    }
    env = await openSerializedEnv(engine);
    c = await seedCorpus(env);
    await snapshot(env);
    columns = await columnsOf(env, 'transactions');
  });
  afterAll(async () => {
    if (!skip) await env.close();
  });

  /** A new value of the column's type, as text for `$1::type` (null only where the column allows it). */
  async function valueFor(col: ColumnInfo): Promise<fc.Arbitrary<string | null>> {
    const txSeqs = new Set(c.txs.map((t) => t.seq));
    const existing = (await env.sql(`select distinct ${col.column}::text as v from transactions where ${col.column} is not null`)).map((r) => String(r.v));
    let arb: fc.Arbitrary<string>;
    if (col.column === 'seq') {
      // Anywhere but onto another transaction (the primary key would refuse it): before, inside or after the log.
      arb = fc.integer({ min: -3, max: 120 }).filter((n) => !txSeqs.has(n)).map(String);
    } else {
      switch (col.udt) {
        case 'text':
          arb = fc.oneof(fc.constantFrom(...(existing.length > 0 ? existing : ['x'])), anyText(24));
          break;
        case 'int8':
          arb = fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }).map(String);
          break;
        case 'uuid':
          arb = fc.oneof(fc.constantFrom(...(existing.length > 0 ? existing : [crypto.randomUUID()])), fc.uuid());
          break;
        case 'timestamptz':
          // Whole milliseconds: the product's instants have millisecond precision.
          arb = fc.integer({ min: Date.parse('2000-01-01T00:00:00Z'), max: Date.parse('2100-01-01T00:00:00Z') }).map((ms) => new Date(ms).toISOString());
          break;
        case '_text':
          arb = fc.array(fc.oneof(fc.constantFrom(...VIOLATIONS), anyText(12)), { maxLength: 4 }).map(pgArray);
          break;
        case 'bytea':
          arb = fc.uint8Array({ maxLength: 40 }).map((b) => `\\x${Buffer.from(b).toString('hex')}`);
          break;
        default:
          throw new Error(`no generator for ${col.column} of type ${col.udt}: add one`);
      }
    }
    return col.nullable ? fc.option(arb, { nil: null, freq: 5 }) : arb;
  }

  it('fails verification, naming the entry, after any single-column UPDATE of any transaction', async (ctx) => {
    if (skip) return ctx.skip();
    expect(columns.length).toBeGreaterThanOrEqual(33);
    const perColumn = await Promise.all(columns.map(async (col) => fc.tuple(fc.constant(col), fc.nat(c.txs.length - 1), await valueFor(col))));
    let applied = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(...perColumn), async ([col, index, value]) => {
        await restore(env);
        const seq = c.txs[index]?.seq ?? -1;
        const cast = CAST[col.udt] ?? col.udt;
        await disableTriggers(env, 'transactions');
        const changed = await env
          .sql(
            `update transactions set ${col.column} = $1::${cast} where org_id = $2 and seq = $3 and ${col.column} is distinct from $1::${cast} returning seq`,
            [value, ORG, seq],
          )
          // A value a unique index refuses (another row's tx_id or external id) never reached the table.
          .catch((e: unknown) => {
            if ((e as { code?: unknown }).code === '23505') return [];
            throw e;
          });
        fc.pre(changed.length === 1); // the value it already had, or a refused one, is no tampering
        applied++;
        const r = await verify(env, c);
        expect(r.ok).toBe(false);
        // Moving an entry down onto an earlier slot makes that slot the first bad one.
        const moved = col.column === 'seq' ? Number(value) : Infinity;
        const expected = moved >= 0 && moved < seq ? moved : seq;
        expect(r.findings[0]?.seq, `${col.column} := ${String(value)} at ${seq}: ${JSON.stringify(r.findings.slice(0, 3))}`).toBe(expected);
      }),
      { numRuns: RUNS[engine].tamper, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31), endOnFailure: false },
    );
    expect(applied).toBeGreaterThanOrEqual(RUNS[engine].tamper);
  });

  it('verifies clean after any valid sequence of recordings', async (ctx) => {
    if (skip) return ctx.skip();
    const item = fc.record({
      agent: fc.constantFrom('alpha', 'beta'),
      minor: fc.integer({ min: 1, max: 400_000 }),
      foreign: fc.boolean(),
      rail: fc.constantFrom(...RAILS),
      merchant: anyText(30).filter((s) => s.trim() !== ''),
      mcc: fc.option(fc.constantFrom('4816', '5734', '7995'), { nil: null }),
      purpose: fc.option(anyText(40), { nil: null }),
      approver: fc.option(fc.constantFrom('carol@acme.test'), { nil: null }),
      code: fc.option(fc.constantFrom('6400', '6999'), { nil: null }),
      minute: fc.integer({ min: 0, max: 40 * 24 * 60 }),
      refund: fc.option(fc.record({ target: fc.nat(), percent: fc.integer({ min: 1, max: 100 }) }), { nil: null, freq: 3 }),
    });
    const scenario = fc.record({
      timezone: fc.constantFrom('UTC', 'America/New_York', 'Asia/Kolkata', 'Pacific/Chatham'),
      currency: fc.constantFrom('USD', 'EUR', 'JPY'),
      batches: fc.array(fc.array(item, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 6 }),
    });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        n += 1;
        const orgId = `clean-${n}`;
        env.clock.set('2026-02-20T00:00:00Z');
        const { admin: key } = await createOrg(env.deps, { org_id: orgId, name: `Clean ${n}`, timezone: s.timezone, reporting_currency: s.currency });
        const admin: Principal = { org_id: orgId, principal: 'admin', roles: ['admin'], agent_id: null, key_id: key.key_id };
        const exp = findCurrency(s.currency)?.exponent ?? 2;
        const money = (minor: number): string => formatMinor(BigInt(minor), exp);
        await upsertAgent(env.deps, admin, { agent_id: 'alpha', name: 'Alpha', owner: 'a@x.test', cluster: 'one' });
        await upsertAgent(env.deps, admin, { agent_id: 'beta', name: 'Beta', owner: 'b@x.test', cluster: 'two' });
        await upsertAccount(env.deps, admin, { code: '6400', name: 'Cloud' });
        await upsertAccount(env.deps, admin, { code: '6999', name: 'Other' });
        await upsertRule(env.deps, admin, { kind: 'mcc', match: '4816', account_code: '6400' });
        await establishPolicy(env.deps, admin, 'alpha', {
          per_transaction_limit: money(300_000),
          daily_limit: money(500_000),
          monthly_limit: money(2_000_000),
          approval_threshold: money(150_000),
          blocked_categories: ['7995'],
          allowed_rails: ['stripe', 'x402', 'card'],
          valid_from: '2026-01-01T00:00:00Z',
        });
        const foreign = s.currency === 'USD' ? 'EUR' : 'USD';
        const paid: { tx_id: string; agent: string; currency: string; remaining: number }[] = [];
        let entries = 10; // api key, org, 2 agents, 2 accounts, rule, policy change + approval + version
        let ext = 0;
        for (const [b, batch] of s.batches.entries()) {
          env.clock.set(new Date(Date.parse('2026-03-01T00:00:00Z') + b * 3_600_000).toISOString());
          const inputs = batch.flatMap((t): Record<string, unknown>[] => {
            ext += 1;
            const at = new Date(Date.parse('2026-02-25T00:00:00Z') + t.minute * 60_000).toISOString();
            const common = { external_id: `e-${ext}`, timestamp: at, payment_rail: t.rail, merchant: t.merchant, merchant_category: t.mcc, business_purpose: t.purpose, approver: t.approver, accounting_code: t.code };
            if (t.refund !== null) {
              const open = paid.filter((p) => p.remaining > 0);
              const target = open[t.refund.target % Math.max(open.length, 1)];
              if (target === undefined) return [];
              const back = Math.max(1, Math.floor((target.remaining * t.refund.percent) / 100));
              target.remaining -= back;
              // Refunds are in the original's currency and capped in its units.
              const fx = target.currency === s.currency ? {} : { fx_rate: '1.0850', fx_rate_source: 'ECB', fx_rate_time: '2026-02-25T00:00:00Z' };
              const amount = target.currency === s.currency ? `-${money(back)}` : `-${formatMinor(BigInt(back), 2)}`;
              return [{ ...common, agent_id: target.agent, amount, currency: target.currency, refund_of: target.tx_id, ...fx }];
            }
            const amount = t.foreign
              ? { currency: foreign, amount: formatMinor(BigInt(t.minor), 2), fx_rate: '1.0850', fx_rate_source: 'ECB', fx_rate_time: '2026-02-25T00:00:00Z' }
              : { currency: s.currency, amount: money(t.minor) };
            return [{ ...common, agent_id: t.agent, ...amount }];
          });
          if (inputs.length === 0) continue;
          const out = await recordTransactions(env.deps, admin, inputs.map((x) => parseTransactionInput(x)));
          for (const o of out) {
            expect(o.ok).toBe(true);
            if (o.ok && o.result.transaction.type === 'payment') {
              const t = o.result.transaction;
              paid.push({ tx_id: t.tx_id, agent: t.agent_id, currency: t.currency, remaining: Number(t.amount.replace('.', '')) });
            }
          }
          entries += out.length;
        }
        const r = await verifyLog(env.deps, admin, env.signer.note);
        expect(r.findings).toEqual([]);
        expect(r.ok).toBe(true);
        expect(r.entries_checked).toBe(entries);
      }),
      { numRuns: RUNS[engine].clean, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31), endOnFailure: true },
    );
  });
});
