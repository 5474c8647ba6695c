import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../src/interfaces/http/server.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { rawTx, seededSuite } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';
import { event, paymentIntent } from './rails-stripe-fixtures.ts';
import {
  BAD_AMOUNTS,
  BAD_BODIES,
  BAD_CURRENCIES,
  BAD_TEXT,
  BAD_TIMESTAMPS,
  HOSTILE_TEXT,
  INVALID_UTF8,
  jsonWithRawBytes,
} from './support/bad-input-corpus.ts';

/**
 * The bad-input corpus sent over real HTTP (a listening server, fetch on loopback) to every
 * ingest endpoint. A refused input answers 4xx with a stable code (and the field at fault) and
 * leaves every table exactly as it was; hostile but legitimate text is stored and comes back
 * character for character. No input may produce a 5xx.
 */
const SECRET = 'whsec_bad_input_corpus_0123456789abcdef';

type Key = 'agent' | 'admin' | 'none';
interface Answer {
  readonly status: number;
  readonly body: { error?: { code: string; field?: string; message: string } } & Record<string, unknown>;
  readonly text: string;
}

/** An ingest route as the corpus drives it: what a good body looks like and where its fields sit in error paths. */
interface Route {
  readonly name: string;
  readonly url: string;
  readonly key: Key;
  /** Bodies are taken raw (rail records): malformed ones are MALFORMED_PAYLOAD, not VALIDATION_FAILED. */
  readonly raw: boolean;
  /** A good body with `over` applied at the field paths the corpus feeds. */
  readonly body: (over: Record<string, unknown>) => unknown;
  /** Error path prefix of the fields (e.g. `transactions[1].`). */
  readonly prefix: string;
  readonly amount?: string;
  readonly currency?: string;
  readonly timestamp?: string;
  readonly texts: readonly string[];
  /** Largest body the route accepts. */
  readonly limit: number;
  /** The good body is a whole record (rails whose records need signed documents get only body-level cases). */
  readonly complete: boolean;
  /** Amount values that mean something else here (null lifts a limit). */
  readonly amountAllows?: readonly unknown[];
}

const authorizeBody = (over: Record<string, unknown>) => ({
  agent_id: 'support-bot',
  amount: '12.00',
  currency: 'USD',
  merchant: 'AWS',
  merchant_category: '4816',
  payment_rail: 'stripe',
  business_purpose: 'inference',
  ...over,
});

let changeNo = 0;
const changeBody = (over: Record<string, unknown>) => {
  const { daily_limit, ...rest } = over;
  changeNo += 1;
  return {
    justification: 'Tighter budget after review',
    approval_ticket: 'FIN-9',
    ...rest,
    changes: { daily_limit: daily_limit === undefined ? `${4000 - changeNo}.00` : daily_limit },
  };
};

let recordNo = 0;
const ap4mBody = (over: Record<string, unknown>) => {
  recordNo += 1;
  return {
    format: 'spendtrail.ap4m.v0',
    record_id: `ap4m_${recordNo}_${Math.random().toString(36).slice(2, 8)}`,
    agent_id: 'support-bot',
    amount: '3.00',
    currency: 'USD',
    merchant: 'AWS',
    merchant_category: '4816',
    timestamp: '2026-03-12T10:00:00Z',
    status: 'settled',
    business_purpose: 'inference',
    raw: { network_ref: 'n1' },
    ...over,
  };
};

const ROUTES: readonly Route[] = [
  {
    name: 'POST /v1/transactions',
    url: '/v1/transactions',
    key: 'agent',
    raw: false,
    body: (over) => rawTx(over),
    prefix: '',
    amount: 'amount',
    currency: 'currency',
    timestamp: 'timestamp',
    texts: ['merchant', 'business_purpose', 'external_id'],
    limit: 64 * 1024,
    complete: true,
  },
  {
    name: 'POST /v1/transactions/batch',
    url: '/v1/transactions/batch',
    key: 'agent',
    raw: false,
    body: (over) => ({ transactions: [rawTx(), rawTx(over)] }),
    prefix: 'transactions[1].',
    amount: 'amount',
    currency: 'currency',
    timestamp: 'timestamp',
    texts: ['merchant', 'business_purpose', 'approval_ref'],
    limit: 32 * 1024 * 1024,
    complete: true,
  },
  {
    name: 'POST /v1/authorize',
    url: '/v1/authorize',
    key: 'agent',
    raw: false,
    body: authorizeBody,
    prefix: '',
    amount: 'amount',
    currency: 'currency',
    timestamp: 'timestamp',
    texts: ['merchant', 'business_purpose'],
    limit: 64 * 1024,
    complete: true,
  },
  {
    name: 'POST /v1/agents/:agent_id/policy/changes',
    url: '/v1/agents/support-bot/policy/changes',
    key: 'admin',
    raw: false,
    body: changeBody,
    prefix: '',
    amount: 'daily_limit',
    texts: ['justification'],
    limit: 32 * 1024 * 1024,
    complete: true,
    amountAllows: [null],
  },
  {
    name: 'POST /v1/rails/x402/payments',
    url: '/v1/rails/x402/payments',
    key: 'agent',
    raw: false,
    body: (over) => ({ agent_id: 'support-bot', business_purpose: 'inference', ...over }),
    prefix: '',
    texts: ['merchant', 'business_purpose'],
    limit: 256 * 1024,
    complete: false,
  },
  {
    name: 'POST /v1/rails/x402/authorize',
    url: '/v1/rails/x402/authorize',
    key: 'agent',
    raw: false,
    body: (over) => ({ agent_id: 'support-bot', business_purpose: 'inference', ...over }),
    prefix: '',
    texts: ['merchant', 'business_purpose'],
    limit: 256 * 1024,
    complete: false,
  },
  {
    name: 'POST /v1/rails/ap4m/payments',
    url: '/v1/rails/ap4m/payments',
    key: 'agent',
    raw: true,
    body: ap4mBody,
    prefix: '',
    amount: 'amount',
    currency: 'currency',
    timestamp: 'timestamp',
    texts: ['merchant', 'business_purpose', 'record_id'],
    limit: 1024 * 1024,
    complete: true,
  },
  {
    name: 'POST /v1/rails/l402/payments',
    url: '/v1/rails/l402/payments',
    key: 'agent',
    raw: true,
    body: (over) => ({ agent_id: 'support-bot', ...over }),
    prefix: '',
    texts: [],
    limit: 1024 * 1024,
    complete: false,
  },
  {
    name: 'POST /v1/rails/ap2/payments',
    url: '/v1/rails/ap2/payments',
    key: 'agent',
    raw: true,
    body: (over) => ({ agent_id: 'support-bot', ...over }),
    prefix: '',
    texts: [],
    limit: 1024 * 1024,
    complete: false,
  },
];

/** Codes a refused whole body may answer with: the parser's, or the schema's when the JSON is well-formed but not the record. */
const BODY_CODES = ['VALIDATION_FAILED', 'MALFORMED_PAYLOAD', 'UNKNOWN_FIELD'];

describe.each(ENGINES)('bad input over HTTP on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  let app: FastifyInstance | undefined;
  let base = '';
  const keys: Record<Key, string> = { agent: '', admin: '', none: '' };
  let endpoint = '';
  let cases = 0;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });

  beforeAll(async () => {
    if (suite.skipped()) return;
    app = await buildServer(env.deps, { verifier: env.signer.note });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    keys.admin = org.adminKey;
    keys.agent = (await send('POST', '/v1/api-keys', 'admin', { principal: 'support-bot@agents', roles: ['agent'], agent_id: 'support-bot' })).body.api_key as string;
    endpoint = (await send('POST', '/v1/rail-endpoints', 'admin', { rail: 'stripe', secret: SECRET })).body.endpoint_id as string;
    env.clock.set('2026-03-12T12:00:00Z');
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    console.info(`bad-input corpus on ${engine}: ${cases} HTTP cases`);
  });

  async function send(method: string, url: string, key: Key, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const raw = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const r = await fetch(`${base}${url}`, {
      method,
      headers: {
        ...(key === 'none' ? {} : { authorization: `Bearer ${keys[key]}` }),
        ...(raw === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(raw === undefined ? {} : { body: raw }),
    });
    const text = await r.text();
    let parsed: Answer['body'] = {};
    try {
      parsed = JSON.parse(text) as Answer['body'];
    } catch {
      // Not JSON: the assertions below report the text.
    }
    return { status: r.status, body: parsed, text };
  }

  /** Row counts of every table of the schema, and the log's size: what "nothing written" is checked against. */
  let countQuery: string | undefined;
  async function snapshot(): Promise<Record<string, number>> {
    if (countQuery === undefined) {
      const tables = await env.sql("select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' order by 1");
      countQuery = tables.map((t) => `select '${String(t.table_name)}' as t, count(*)::int as n from ${String(t.table_name)}`).join(' union all ');
    }
    const rows = await env.sql(countQuery);
    const out: Record<string, number> = Object.fromEntries(rows.map((r) => [String(r.t), Number(r.n)]));
    const stats = await env.store.entryStats('acme');
    out['log size'] = stats.maxSeqPlusOne;
    return out;
  }

  /** Sends a body and expects a refusal with `code` (and `field` when given), the database untouched. */
  async function refused(
    label: string,
    method: string,
    url: string,
    key: Key,
    body: unknown,
    code: string | readonly string[],
    field?: string | readonly string[] | null,
    headers?: Record<string, string>,
    status?: number,
  ): Promise<Answer> {
    cases += 1;
    const before = await snapshot();
    const r = await send(method, url, key, body, headers);
    const context = `${label}: ${r.status} ${r.text.slice(0, 300)}`;
    expect(r.status, context).toBeGreaterThanOrEqual(400);
    expect(r.status, context).toBeLessThan(500);
    if (status !== undefined) expect(r.status, context).toBe(status);
    const codes = typeof code === 'string' ? [code] : code;
    expect(codes, context).toContain(r.body.error?.code);
    if (field === null) expect(r.body.error?.field, context).toBeUndefined();
    else if (typeof field === 'string') expect(r.body.error?.field, context).toBe(field);
    else if (field !== undefined) expect(field, context).toContain(r.body.error?.field);
    expect(await snapshot(), `${label}: the database changed`).toEqual(before);
    return r;
  }

  describe.each(ROUTES)('$name', (route) => {
    const encode = (v: unknown): string | Buffer => (typeof v === 'string' || Buffer.isBuffer(v) ? v : JSON.stringify(v));

    it('refuses malformed, oddly encoded, deeply nested and non-object bodies', async (ctx) => {
      if (suite.skipped()) return ctx.skip();
      for (const [name, body] of BAD_BODIES) {
        await refused(`${route.name} ${name}`, 'POST', route.url, route.key, body, BODY_CODES);
      }
      for (const [name, bytes] of INVALID_UTF8) {
        const field = route.texts[0] ?? 'agent_id';
        await refused(`${route.name} ${name} in ${field}`, 'POST', route.url, route.key, jsonWithRawBytes(route.body({}) as Record<string, unknown>, field, bytes), BODY_CODES);
      }
      await refused(`${route.name} an empty body`, 'POST', route.url, route.key, '', BODY_CODES);
      await refused(`${route.name} text/plain`, 'POST', route.url, route.key, encode(route.body({})), BODY_CODES, undefined, { 'content-type': 'text/plain' });
      if (route.complete) await refused(`${route.name} an unknown field`, 'POST', route.url, route.key, route.body({ colour: 'blue' }), 'UNKNOWN_FIELD', `${route.prefix}colour`);
    });

    it('refuses a body over its limit with 413 PAYLOAD_TOO_LARGE', async (ctx) => {
      if (suite.skipped()) return ctx.skip();
      const pad = 'x'.repeat(route.limit + 1024);
      await refused(`${route.name} ${route.limit + 1024} bytes`, 'POST', route.url, route.key, JSON.stringify({ pad }), 'PAYLOAD_TOO_LARGE', undefined, undefined, 413);
    });

    it('refuses bad amounts, currencies and timestamps naming the field', async (ctx) => {
      if (suite.skipped() || route.amount === undefined) return ctx.skip();
      for (const [name, value] of BAD_AMOUNTS) {
        if (route.amountAllows?.includes(value) === true) continue;
        const field = `${route.prefix}${route.amount === 'daily_limit' ? 'changes.daily_limit' : route.amount}`;
        // A rail record's amount that parses but is beyond the ledger is refused while recording its transaction.
        const fields = route.raw ? [field, `transactions[0].${field}`] : [field];
        // A limit that parses but is huge fails the policy's own checks (daily above monthly).
        const codes = route.amountAllows === undefined ? ['INVALID_AMOUNT'] : ['INVALID_AMOUNT', 'POLICY_INVALID'];
        await refused(`${route.name} amount ${name}`, 'POST', route.url, route.key, route.body({ [route.amount]: value }), codes, fields);
      }
      if (route.currency !== undefined) {
        for (const [name, value, code] of BAD_CURRENCIES) {
          await refused(`${route.name} currency ${name}`, 'POST', route.url, route.key, route.body({ [route.currency]: value }), code, `${route.prefix}${route.currency}`);
        }
      }
      if (route.timestamp !== undefined) {
        for (const [name, value, code] of BAD_TIMESTAMPS) {
          await refused(`${route.name} timestamp ${name}`, 'POST', route.url, route.key, route.body({ [route.timestamp]: value }), code, `${route.prefix}${route.timestamp}`);
        }
      }
    });

    it('refuses control characters, lone surrogates and wrong types in text fields naming the field', async (ctx) => {
      if (suite.skipped() || route.texts.length === 0) return ctx.skip();
      for (const f of route.texts) {
        for (const [name, value] of BAD_TEXT) {
          await refused(`${route.name} ${f} ${name}`, 'POST', route.url, route.key, route.body({ [f]: value }), 'VALIDATION_FAILED', `${route.prefix}${f}`);
        }
      }
      if (route.url.includes('/policy/')) return;
      for (const [name, value] of [
        ['SQL in an identifier', "support-bot' OR '1'='1"],
        ['a NUL in an identifier', 'support-bot\u0000'],
        ['path traversal', '../../etc/passwd'],
      ] as const) {
        await refused(`${route.name} agent_id ${name}`, 'POST', route.url, route.key, route.body({ agent_id: value }), 'VALIDATION_FAILED', `${route.prefix}agent_id`);
      }
    });
  });

  it('stores hostile but legitimate text inertly and gives it back character for character', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    for (const [name, value] of HOSTILE_TEXT) {
      cases += 1;
      const before = await snapshot();
      const body = rawTx({ merchant: value, business_purpose: value, approval_ref: value, external_id: `${value.slice(0, 180)}#${cases}` });
      const r = await send('POST', '/v1/transactions', 'agent', body);
      expect(r.status, `${name}: ${r.text}`).toBe(201);
      const tx = (r.body.transaction ?? {}) as Record<string, unknown>;
      const got = await send('GET', `/v1/transactions/${String(tx.tx_id)}`, 'agent');
      const stored = (got.body.transaction ?? {}) as Record<string, unknown>;
      for (const f of ['merchant', 'business_purpose', 'approval_ref', 'external_id'] as const) expect(stored[f], `${name}: ${f}`).toBe(body[f]);
      const after = await snapshot();
      expect(after.transactions, name).toBe((before.transactions ?? 0) + 1);
      // The same body again is a duplicate and writes nothing.
      const again = await send('POST', '/v1/transactions', 'agent', body);
      expect([again.status, (again.body.transaction as { tx_id?: string } | undefined)?.tx_id], name).toEqual([200, tx.tx_id]);
      expect(await snapshot(), `${name}: the replay wrote`).toEqual(after);
    }
  });

  it('stores hostile text in a batch, an AP4M record and a policy change justification', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const values = HOSTILE_TEXT.map(([, v]) => v);
    const lines = values.map((v) => rawTx({ merchant: v, business_purpose: v }));
    const batch = await send('POST', '/v1/transactions/batch', 'agent', { transactions: lines });
    cases += 1;
    expect(batch.status, batch.text).toBe(201);
    const results = batch.body.results as { transaction: { merchant: string; business_purpose: string } }[];
    expect(results.map((x) => x.transaction.merchant), batch.text.slice(0, 2000)).toEqual(values);
    expect(results.map((x) => x.transaction.business_purpose)).toEqual(values);

    for (const v of values) {
      cases += 1;
      const body = JSON.stringify(ap4mBody({ merchant: v, business_purpose: v }));
      const r = await send('POST', '/v1/rails/ap4m/payments', 'agent', body);
      expect(r.status, r.text).toBe(201);
      const [t] = r.body.transactions as { tx_id: string; merchant: string; business_purpose: string }[];
      expect([t?.merchant, t?.business_purpose]).toEqual([v, v]);
      const [row] = await env.deps.store.getRailPayloads('acme', [{ rail: 'ap4m', source_id: r.body.source_id as string }]);
      // The stored payload is the body byte for byte.
      expect(Buffer.compare(Buffer.from(row?.body ?? []), Buffer.from(body, 'utf8'))).toBe(0);
      const before = await snapshot();
      const again = await send('POST', '/v1/rails/ap4m/payments', 'agent', body);
      expect(again.status, again.text).toBe(200);
      expect(await snapshot()).toEqual(before);
    }

    for (const v of values) {
      cases += 1;
      const r = await send('POST', '/v1/agents/support-bot/policy/changes', 'admin', changeBody({ justification: v }));
      expect([201, 202], r.text).toContain(r.status);
      const id = (r.body.change as { change_id: string }).change_id;
      const got = await send('GET', `/v1/policy-changes/${id}`, 'admin');
      expect(got.body.justification ?? (got.body.change as { justification?: string } | undefined)?.justification, got.text).toBe(v);
    }
  });

  it('refuses a batch that is empty, too long, not a list, or holds one bad or repeated line, writing none of it', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const url = '/v1/transactions/batch';
    await refused('empty batch', 'POST', url, 'agent', { transactions: [] }, 'VALIDATION_FAILED', 'transactions');
    await refused('10,001 lines', 'POST', url, 'agent', { transactions: Array.from({ length: 10_001 }, () => ({})) }, 'VALIDATION_FAILED', 'transactions');
    await refused('not a list', 'POST', url, 'agent', { transactions: 'x' }, 'VALIDATION_FAILED', 'transactions');
    await refused('a null line', 'POST', url, 'agent', { transactions: [rawTx(), null] }, 'VALIDATION_FAILED', 'transactions[1]');
    const line = rawTx();
    await refused('one external id twice with different content', 'POST', url, 'agent', { transactions: [line, rawTx(), { ...line, amount: '22.00' }] }, ['DUPLICATE_IN_BATCH', 'IDEMPOTENCY_CONFLICT']);
    await refused('the last of 500 lines bad', 'POST', url, 'agent', { transactions: [...Array.from({ length: 499 }, () => rawTx()), rawTx({ amount: '1e3' })] }, 'INVALID_AMOUNT', 'transactions[499].amount');
  });

  it('refuses out-of-range holds and path parameters', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    for (const hold of [0, -1, 1.5, 86_401, 1e300, '60', null]) {
      await refused(`hold_seconds ${String(hold)}`, 'POST', '/v1/authorize', 'agent', authorizeBody({ hold_seconds: hold }), 'VALIDATION_FAILED', 'hold_seconds');
    }
    for (const agent of ['%00', 'a%27%20OR%20%271%27%3D%271', 'x'.repeat(65), '%F0%9F%92%B8']) {
      await refused(`agent path ${agent.slice(0, 20)}`, 'POST', `/v1/agents/${agent}/policy/changes`, 'admin', changeBody({}), 'VALIDATION_FAILED', 'agent_id');
    }
    // A surrogate percent-encoded as UTF-8 is not valid percent-encoding: the router refuses it in the API's error shape.
    await refused('agent path %ED%A0%80', 'POST', '/v1/agents/%ED%A0%80/policy/changes', 'admin', changeBody({}), 'VALIDATION_FAILED', 'path');
    await refused('an empty change', 'POST', '/v1/agents/support-bot/policy/changes', 'admin', { justification: 'x', approval_ticket: 'FIN-1', changes: {} }, 'NO_CHANGE');
    await refused('an unknown policy field', 'POST', '/v1/agents/support-bot/policy/changes', 'admin', { justification: 'x', approval_ticket: 'FIN-1', changes: { colour: 'blue' } }, 'UNKNOWN_FIELD', 'changes.colour');
  });

  describe('Stripe webhook', () => {
    const url = () => `/v1/rails/stripe/${endpoint}`;
    /** Stripe's v1 scheme over the exact bytes: HMAC-SHA256 of `${t}.${body}` with the endpoint secret. */
    const sign = (body: string | Buffer, at = env.clock.now(), secret = SECRET): Record<string, string> => {
      const t = Math.floor(at.getTime() / 1000);
      const v1 = createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
      return { 'stripe-signature': `t=${t},v1=${v1}` };
    };
    const anEvent = () => JSON.stringify(event('payment_intent.succeeded', paymentIntent({ amount: 500, currency: 'usd', created: env.clock.now(), metadata: {} }), env.clock.now()), null, 2);

    it('refuses forged, stale, future, malformed and missing signatures and unknown endpoints, writing nothing', async (ctx) => {
      if (suite.skipped()) return ctx.skip();
      const body = anEvent();
      const now = env.clock.now();
      const t = Math.floor(now.getTime() / 1000);
      await refused('wrong secret', 'POST', url(), 'none', body, 'INVALID_SIGNATURE', 'stripe-signature', sign(body, now, 'whsec_someone_else_entirely'));
      await refused('signed 301 s ago', 'POST', url(), 'none', body, 'SIGNATURE_EXPIRED', 'stripe-signature', sign(body, new Date(now.getTime() - 301_000)));
      await refused('signed 301 s ahead', 'POST', url(), 'none', body, 'SIGNATURE_EXPIRED', 'stripe-signature', sign(body, new Date(now.getTime() + 301_000)));
      await refused('a body changed after signing', 'POST', url(), 'none', body.replace('500', '501'), 'INVALID_SIGNATURE', 'stripe-signature', sign(body));
      for (const header of [
        '',
        'garbage',
        `t=${t}`,
        `v1=${'0'.repeat(64)}`,
        `t=${t},v1=zz`,
        `t=${t},v0=${'0'.repeat(64)}`,
        `t=abc,v1=${'0'.repeat(64)}`,
        `t=${t},t=${t},v1=${'0'.repeat(64)}`,
        `t=-1,v1=${'0'.repeat(64)}`,
        `t=1e9,v1=${'0'.repeat(64)}`,
        `t=${t},v1=${'0'.repeat(64)}`,
        `${'t=1,'.repeat(2000)}v1=0`,
        '=,=,=',
      ]) {
        await refused(`signature header "${header.slice(0, 30)}"`, 'POST', url(), 'none', body, 'INVALID_SIGNATURE', 'stripe-signature', header === '' ? {} : { 'stripe-signature': header });
      }
      for (const id of ['rep_nope', `rep_${'0'.repeat(32)}`, '..%2F..%2Fv1%2Ftransactions', '%00']) {
        await refused(`endpoint ${id.slice(0, 20)}`, 'POST', `/v1/rails/stripe/${id}`, 'none', body, 'ENDPOINT_NOT_FOUND', undefined, sign(body));
      }
      // Past the router's parameter length limit and broken percent-encoding: refused before any route runs, in the API's error shape.
      await refused('endpoint id of 500 characters', 'POST', `/v1/rails/stripe/${'x'.repeat(500)}`, 'none', body, 'VALIDATION_FAILED', 'path', sign(body));
      await refused('endpoint id with broken percent-encoding', 'POST', '/v1/rails/stripe/%E0%A4%A', 'none', body, 'VALIDATION_FAILED', 'path', sign(body));
      await refused('over 1 MiB', 'POST', url(), 'none', 'x'.repeat(1024 * 1024 + 1), 'PAYLOAD_TOO_LARGE', undefined, sign('x'.repeat(1024 * 1024 + 1)), 413);
    });

    it('refuses signed bodies that are not a Stripe event, including invalid UTF-8', async (ctx) => {
      if (suite.skipped()) return ctx.skip();
      for (const [name, body] of BAD_BODIES) {
        await refused(`signed ${name}`, 'POST', url(), 'none', body, ['MALFORMED_PAYLOAD', 'UNSUPPORTED_EVENT'], undefined, sign(body));
      }
      for (const [name, bytes] of INVALID_UTF8) {
        const body = jsonWithRawBytes(JSON.parse(anEvent()) as Record<string, unknown>, 'description', bytes);
        await refused(`signed event with ${name}`, 'POST', url(), 'none', body, 'MALFORMED_PAYLOAD', undefined, sign(body));
      }
    });

    it('answers a replayed event as a duplicate and a reused event id with other bytes as a conflict, writing nothing', async (ctx) => {
      if (suite.skipped()) return ctx.skip();
      const body = anEvent();
      const first = await send('POST', url(), 'none', body, sign(body));
      expect(first.status, first.text).toBe(200);
      const after = await snapshot();
      for (const delay of [0, 1000, 299_000]) {
        cases += 1;
        const replay = await send('POST', url(), 'none', body, sign(body, new Date(env.clock.now().getTime() - delay)));
        expect(replay.status, replay.text).toBe(200);
        expect(await snapshot()).toEqual(after);
      }
      const other = body.replace('"livemode": false', '"livemode": true');
      expect(other).not.toBe(body);
      await refused('reused event id', 'POST', url(), 'none', other, 'IDEMPOTENCY_CONFLICT', undefined, sign(other), 409);
    });
  });
});
