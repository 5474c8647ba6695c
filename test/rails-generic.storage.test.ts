import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { importTransactions } from '../src/app/import-transactions.ts';
import { verifyLog } from '../src/app/verify.ts';
import { mapRecord, mapRows, parseColumnMapping } from '../src/adapters/import/column-mapping.ts';
import type { ColumnMapping } from '../src/adapters/import/column-mapping.ts';
import { readCsv, readJsonArray, readNdjson } from '../src/adapters/import/transaction-file.ts';
import { SpendtrailError } from '../src/domain/errors.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { errorOf, seededSuite } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';

/**
 * Generic imports through a column mapping: a card processor's CSV statement (money out
 * negative, a credit linked to its charge), a rail's NDJSON (JSON paths, minor units, Unix
 * times), a JSON export; each row kept as its transaction's rail payload.
 */
const CARD_CSV = [
  'Transaction ID,Posted At,Card,Merchant Name,MCC,Amount,Currency,Original Transaction,Memo',
  'txn_001,2026-03-12 10:00:00,**** 4242,AWS,4816,-210.00,USD,,"Inference, batch 12"',
  'txn_002,2026-03-12 11:30:00,**** 1881,OpenAI,5734,-45.10,USD,,Embeddings',
  'txn_003,2026-03-13 09:00:00,**** 4242,AWS,4816,10.00,USD,txn_001,Partial credit',
].join('\r\n');

const cardMapping = (over: Record<string, unknown> = {}): ColumnMapping =>
  parseColumnMapping({
    format: 'csv',
    fields: {
      external_id: 'Transaction ID',
      agent_id: { column: 'Card', map: { '**** 4242': 'support-bot', '**** 1881': 'research-bot' } },
      timestamp: 'Posted At',
      amount: 'Amount',
      currency: 'Currency',
      payment_rail: { value: 'card' },
      merchant: 'Merchant Name',
      merchant_category: 'MCC',
      business_purpose: 'Memo',
      refund_of: 'Original Transaction',
      ...over,
    },
    amount: { unit: 'decimal', sign: 'payments_negative' },
    timestamp: { format: 'iso', assume_zone: 'Z' },
  });

const csvRows = (text: string, m: ColumnMapping) => mapRows(readCsv(Readable.from([text]), { keepSource: m.keep_source }), m);

describe.each(ENGINES)('mapped imports on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });

  it('imports a card statement through its mapping and keeps each CSV row beside its transaction', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const m = cardMapping();
    expect(await importTransactions(env.deps, org.admin, csvRows(CARD_CSV, m))).toEqual({ lines: 3, recorded: 3, duplicates: 0 });
    const found = await env.deps.store.findTransactionsByExternal('acme', ['txn_001', 'txn_002', 'txn_003'].map((external_id) => ({ payment_rail: 'card', external_id })));
    const byId = new Map(found.map((t) => [t.record.external_id, t]));
    const [charge, other, credit] = [byId.get('txn_001'), byId.get('txn_002'), byId.get('txn_003')];
    expect(charge?.record).toMatchObject({ agent_id: 'support-bot', amount: '210.00', type: 'payment', timestamp: '2026-03-12T10:00:00.000Z', merchant_category: '4816', business_purpose: 'Inference, batch 12' });
    expect(credit?.record).toMatchObject({ type: 'refund', amount: '-10.00', refund_of: charge?.record.tx_id });
    expect(other?.record).toMatchObject({ agent_id: 'research-bot', amount: '45.10', merchant: 'OpenAI' });
    const [row] = await env.deps.store.getRailPayloads('acme', [{ rail: 'card', source_id: 'txn_002' }]);
    expect(row?.body.toString('utf8')).toBe('Transaction ID,Posted At,Card,Merchant Name,MCC,Amount,Currency,Original Transaction,Memo\ntxn_002,2026-03-12 11:30:00,**** 1881,OpenAI,5734,-45.10,USD,,Embeddings');
    expect(row?.content_type).toBe('text/csv; header=present');
    expect(row?.tx_ids).toEqual([other?.record.tx_id]);
    expect((await verifyLog(env.deps, org.admin, env.signer.note)).findings).toEqual([]);
  });

  it('counts a re-run of the same file as duplicates, and refuses it under a changed mapping', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    expect(await importTransactions(env.deps, org.admin, csvRows(CARD_CSV, cardMapping()))).toEqual({ lines: 3, recorded: 0, duplicates: 3 });
    const changed = cardMapping({ business_purpose: { value: 'Card spend' } });
    expect(await errorOf(importTransactions(env.deps, org.admin, csvRows(CARD_CSV, changed)))).toEqual({ code: 'IDEMPOTENCY_CONFLICT', field: 'line 2.external_id' });
  });

  it('names the line and field of a row the mapping cannot translate, and commits none of its chunk', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const unknownCard = `${CARD_CSV.split('\r\n')[0]}\ntxn_101,2026-03-14 10:00:00,**** 4242,AWS,4816,-5.00,USD,,ok\ntxn_102,2026-03-14 10:00:00,**** 9999,AWS,4816,-5.00,USD,,x`;
    expect(await errorOf(importTransactions(env.deps, org.admin, csvRows(unknownCard, cardMapping())))).toEqual({ code: 'VALIDATION_FAILED', field: 'line 3.agent_id' });
    expect(await env.deps.store.findTransactionsByExternal('acme', [{ payment_rail: 'card', external_id: 'txn_101' }])).toEqual([]);
    const badAmount = `${CARD_CSV.split('\r\n')[0]}\ntxn_103,2026-03-14 10:00:00,**** 4242,AWS,4816,"-1,234.00",USD,,x`;
    expect(await errorOf(importTransactions(env.deps, org.admin, csvRows(badAmount, cardMapping())))).toEqual({ code: 'INVALID_AMOUNT', field: 'line 2.amount' });
  });

  it('imports NDJSON through JSON paths, minor units and Unix times, keeping each line as sent', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const line = '{"id":"ch_9001","created":1773309600,"amount":2599,"currency":"usd","merchant":{"name":"Vercel","mcc":"5734"},"metadata":{"agent":"support-bot"}}';
    const m = parseColumnMapping({
      fields: {
        external_id: { path: '$.id' },
        agent_id: { path: '$.metadata.agent' },
        timestamp: { path: '$.created' },
        amount: { path: '$.amount' },
        currency: { path: '$.currency' },
        payment_rail: { value: 'other' },
        merchant: { path: '$.merchant.name' },
        merchant_category: { path: 'merchant.mcc' },
      },
      amount: { unit: 'minor' },
      timestamp: { format: 'unix_seconds' },
    });
    expect(await importTransactions(env.deps, org.admin, mapRows(readNdjson(Readable.from([`${line}\n`]), { keepSource: true }), m))).toMatchObject({ recorded: 1 });
    const [t] = await env.deps.store.findTransactionsByExternal('acme', [{ payment_rail: 'other', external_id: 'ch_9001' }]);
    expect(t?.record).toMatchObject({ amount: '25.99', currency: 'USD', merchant: 'Vercel', merchant_category: '5734', timestamp: '2026-03-12T10:00:00.000Z' });
    const [row] = await env.deps.store.getRailPayloads('acme', [{ rail: 'other', source_id: 'ch_9001' }]);
    expect(row?.body.toString('utf8')).toBe(line);
  });

  it('imports a JSON export under records_path without keeping rows when the mapping says not to', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const doc = JSON.stringify({ data: [{ ref: 'exp_1', when: '2026-03-15T12:00:00Z', total: 12.5, who: 'support-bot', payee: 'Figma' }] });
    const m = parseColumnMapping({
      format: 'json',
      records_path: 'data',
      keep_source: false,
      fields: { external_id: 'ref', agent_id: 'who', timestamp: 'when', amount: 'total', currency: { value: 'EUR' }, payment_rail: { value: 'other' }, merchant: 'payee', fx_rate: { value: '1.08' }, fx_rate_source: { value: 'ECB' }, fx_rate_time: { value: '2026-03-15T00:00:00Z' } },
    });
    expect(await importTransactions(env.deps, org.admin, mapRows(readJsonArray(Readable.from([doc]), { keepSource: m.keep_source, recordsPath: m.records_path }), m))).toMatchObject({ recorded: 1 });
    const [t] = await env.deps.store.findTransactionsByExternal('acme', [{ payment_rail: 'other', external_id: 'exp_1' }]);
    expect(t?.record).toMatchObject({ amount: '12.50', currency: 'EUR', reporting_amount: '13.50' });
    expect(await env.deps.store.getRailPayloads('acme', [{ rail: 'other', source_id: 'exp_1' }])).toEqual([]);
  });
});

describe('a column mapping', () => {
  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      if (e instanceof SpendtrailError) return `${e.code}@${e.field ?? ''}`;
      throw e;
    }
    throw new Error('expected the mapping to fail');
  };
  const row = { 'Transaction ID': 't1', 'Posted At': '2026-03-12T10:00:00+01:00', Card: '**** 4242', 'Merchant Name': 'AWS', MCC: null, Amount: '-0.00', Currency: 'usd', 'Original Transaction': null, Memo: null };

  it('flips money-out amounts to payments and leaves zero alone', () => {
    expect(mapRecord(cardMapping(), { ...row, Amount: '-12.50' })).toMatchObject({ amount: '12.50', currency: 'USD', timestamp: '2026-03-12T10:00:00+01:00' });
    expect(mapRecord(cardMapping(), { ...row, Amount: '+3.00' }).amount).toBe('-3.00');
    expect(mapRecord(cardMapping(), { ...row, Amount: '0.00' }).amount).toBe('0.00');
  });

  it('uses a default for an empty cell and refuses a column the file does not have', () => {
    const m = cardMapping({ business_purpose: { column: 'Memo', default: 'Card spend' } });
    expect(mapRecord(m, row).business_purpose).toBe('Card spend');
    expect(code(() => mapRecord(cardMapping({ merchant: 'Vendor' }), row))).toBe('VALIDATION_FAILED@merchant');
  });

  it('refuses a JSON float amount that is not exact, and a mapping with a misspelt target', () => {
    const m = parseColumnMapping({ fields: { external_id: 'id', agent_id: 'a', timestamp: 't', amount: 'v', currency: 'c', payment_rail: { value: 'other' }, merchant: 'm' } });
    expect(code(() => mapRecord(m, { id: 'x', a: 'support-bot', t: '2026-03-12T10:00:00Z', v: 0.1 + 0.2, c: 'USD', m: 'X' }))).toBe('AMOUNT_NOT_EXACT@amount');
    expect(code(() => parseColumnMapping({ fields: { external_id: 'id', agent_id: 'a', timestamp: 't', amount: 'v', currency: 'c', payment_rail: { value: 'other' }, merchant: 'm', agent: 'a' } }))).toBe('UNKNOWN_FIELD@mapping.fields.agent');
  });
});
