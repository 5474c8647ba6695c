import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../src/app/principal.ts';
import { ingestRailCapture } from '../src/app/rail-ingest.ts';
import { verifyLog } from '../src/app/verify.ts';
import { AP4M_FORMAT, ap4mCapture } from '../src/adapters/rails/ap4m/ap4m-record.ts';
import { valuationFields } from '../src/domain/money/valuation.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { errorOf, seededSuite } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';

/** AP4M placeholder records (docs/rails/ap4m.md) into the ledger on both engines. */
const agent: Principal = { org_id: 'acme', principal: 'agent:support-bot', roles: ['agent'], agent_id: 'support-bot', key_id: null };

const ap4m = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  format: AP4M_FORMAT,
  record_id: `ap4m_${randomUUID()}`,
  agent_id: 'support-bot',
  amount: '12.40',
  currency: 'USD',
  merchant: 'Parking Garage 7',
  merchant_category: '7523',
  timestamp: '2026-03-12T08:30:00+01:00',
  status: 'settled',
  business_purpose: 'Fleet vehicle parking during customer visit',
  // Whatever the network returned: opaque to Spendtrail, kept byte for byte in the payload.
  raw: { network_ref: 'MC-7781-Z', verifiable_intent: { id: 'vi_19', limits: [{ per_tx: 5000, unit: 'minor' }] }, rate: 0.1 },
  ...over,
});

describe.each(ENGINES)('AP4M records on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });
  const record = async (r: Record<string, unknown>, bytes = Buffer.from(JSON.stringify(r))) =>
    ingestRailCapture(env.deps, agent, ap4mCapture(bytes, (asset, at) => valuationFields([], asset, 'USD', at)));

  it('records a settled record and keeps it, raw object included, byte for byte', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const r = ap4m();
    // Spacing and key order of the sender, kept as sent.
    const bytes = Buffer.from(JSON.stringify(r, null, 1));
    const res = await record(r, bytes);
    expect(res).toMatchObject({ status: 'recorded', rail: 'ap4m', source_id: r.record_id, outcome: 'settled' });
    expect(res.transactions[0]).toMatchObject({ external_id: r.record_id, amount: '12.40', merchant_category: '7523', timestamp: '2026-03-12T07:30:00.000Z', payment_rail: 'ap4m' });
    const [stored] = await env.deps.store.getRailPayloads('acme', [{ rail: 'ap4m', source_id: r.record_id as string }]);
    expect(stored?.body.equals(bytes)).toBe(true);
    expect((JSON.parse(stored?.body.toString('utf8') ?? '{}') as { raw: unknown }).raw).toEqual(r.raw);
    expect((await verifyLog(env.deps, org.admin, env.signer.note)).findings).toEqual([]);
  });

  it('answers a replay with the first result and refuses the same record id with other content', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const r = ap4m();
    const first = await record(r);
    expect((await record(r)).transactions.map((t) => t.tx_id)).toEqual(first.transactions.map((t) => t.tx_id));
    expect(await errorOf(record({ ...r, amount: '12.41' }))).toEqual({ code: 'IDEMPOTENCY_CONFLICT', field: 'source_id' });
  });

  it('keeps a failed record without a transaction and refuses a pending one', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const failed = ap4m({ status: 'failed', failure_reason: 'spend limit of the machine credential reached' });
    expect(await record(failed)).toMatchObject({ outcome: 'failed', transactions: [] });
    expect(await env.deps.store.findTransactionsByExternal('acme', [{ payment_rail: 'ap4m', external_id: failed.record_id as string }])).toEqual([]);
    expect(await errorOf(record(ap4m({ status: 'pending' })))).toEqual({ code: 'PAYMENT_NOT_SETTLED', field: 'status' });
  });

  it('refuses a float amount, a missing raw object and an unknown field, naming it', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    expect(await errorOf(record(ap4m({ amount: 12.4 })))).toEqual({ code: 'INVALID_AMOUNT', field: 'amount' });
    expect(await errorOf(record(ap4m({ raw: undefined })))).toEqual({ code: 'VALIDATION_FAILED', field: 'raw' });
    expect(await errorOf(record(ap4m({ tip: '1.00' })))).toEqual({ code: 'UNKNOWN_FIELD', field: 'tip' });
    expect(await errorOf(record(ap4m({ format: 'mastercard.ap4m.v1' })))).toEqual({ code: 'VALIDATION_FAILED', field: 'format' });
  });
});
