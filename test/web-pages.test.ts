import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/interfaces/http/server.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { ingestRailCapture } from '../src/app/rail-ingest.ts';
import { addRailEndpoint, railPrincipal } from '../src/app/rail-endpoints.ts';
import type { Principal } from '../src/app/principal.ts';
import type { TransactionRecord } from '../src/domain/ledger/transaction.ts';
import { openTestEnv } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { seedOrg, tx } from './support/fixtures.ts';
import type { SignedIn } from './support/web.ts';
import { createUserWithPassword, getPage, postForm, signIn } from './support/web.ts';

let env: TestEnv;
let app: FastifyInstance;
let admin: Principal;
let finance: SignedIn;
let approver: SignedIn;
let auditor: SignedIn;
let adminWeb: SignedIn;
const recorded: TransactionRecord[] = [];
let railTx: TransactionRecord;
let evil: TransactionRecord;
let blocked: TransactionRecord;

const record = async (overs: Record<string, unknown>[]): Promise<TransactionRecord[]> => {
  const out = await recordTransactions(env.deps, admin, overs.map((o) => tx(o)));
  const recs = out.map((o) => {
    if (!o.ok || o.result.status !== 'recorded') throw new Error('not recorded');
    return o.result.transaction;
  });
  recorded.push(...recs);
  return recs;
};

beforeAll(async () => {
  env = await openTestEnv('pglite');
  const seeded = await seedOrg(env.deps);
  admin = seeded.admin;
  env.clock.set('2026-03-20T12:00:00Z');
  // 60 small research-bot payments over ten days, for paging.
  await record(
    Array.from({ length: 60 }, (_, i) => ({
      agent_id: 'research-bot',
      amount: '1.25',
      merchant: 'OpenAI',
      payment_rail: 'x402',
      timestamp: `2026-03-${String(2 + (i % 10)).padStart(2, '0')}T${String(8 + Math.floor(i / 10)).padStart(2, '0')}:00:00Z`,
    })),
  );
  evil = (await record([{ merchant: '<script>alert(1)</script>', amount: '30.00', timestamp: '2026-03-15T10:00:00Z' }]))[0]!;
  blocked = (await record([{ merchant: 'Lucky Casino', merchant_category: '7995', amount: '12.00', timestamp: '2026-03-16T10:00:00Z' }]))[0]!;
  const endpoint = await addRailEndpoint(env.deps, admin, { rail: 'stripe', secret: 'whsec_pages_secret_1', label: 'Prod' });
  const stored = await env.store.getRailEndpoint(endpoint.endpoint_id);
  const out = await ingestRailCapture(env.deps, railPrincipal(stored!), {
    rail: 'stripe',
    source_id: 'evt_pages_1',
    content_type: 'application/json',
    payload: Buffer.from('{"id":"evt_pages_1","type":"payment_intent.succeeded","note":"</pre><script>x()</script>"}'),
    outcome: 'settled',
    reason: null,
    transactions: [tx({ external_id: 'pi_pages', timestamp: '2026-03-17T12:30:00Z', amount: '42.00' })],
  });
  railTx = out.transactions[0]!;
  app = await buildServer(env.deps, { verifier: env.signer.note });
  await createUserWithPassword(env.deps, admin, 'fiona@acme.test', ['finance']);
  await createUserWithPassword(env.deps, admin, 'abe@acme.test', ['approver']);
  await createUserWithPassword(env.deps, admin, 'audra@acme.test', ['auditor']);
  await createUserWithPassword(env.deps, admin, 'root@acme.test', ['admin']);
  finance = await signIn(app, 'fiona@acme.test', 'correct horse battery staple');
  approver = await signIn(app, 'abe@acme.test', 'correct horse battery staple');
  auditor = await signIn(app, 'audra@acme.test', 'correct horse battery staple');
  adminWeb = await signIn(app, 'root@acme.test', 'correct horse battery staple');
});
afterAll(async () => {
  await app?.close();
  await env?.close();
});

const rowsOf = (body: string): string[] => [...body.matchAll(/<tbody>([\s\S]*?)<\/tbody>/g)].flatMap((m) => [...(m[1] ?? '').matchAll(/<tr>[\s\S]*?<\/tr>/g)].map((x) => x[0]));

describe('overview', () => {
  it("shows this month's spend against each agent's monthly limit, from the records", async () => {
    const res = await getPage(app, '/', finance.cookie);
    expect(res.statusCode).toBe(200);
    // 60 × 1.25 + 30.00 + 12.00 + 42.00
    expect(res.body).toContain('159.00 USD');
    expect(res.body).toContain('Spend in 2026-03');
    // research-bot: 75.00 of its monthly limit; support-bot: 84.00 of 20000.00.
    expect(res.body).toMatch(/84\.00 USD of 20000\.00 USD \(0%\)/);
    expect(res.body).toMatch(/75\.00 USD of [0-9.]+ USD/);
    expect(res.body).toContain('blocked category</a>: 1 transaction(s)');
  });

  it('draws spend per day, by GL account and by rail as SVG with titles and a table of exact figures', async () => {
    const res = await getPage(app, '/', finance.cookie);
    expect(res.body.match(/<svg class="chart"/g)?.length).toBe(3);
    expect(res.body).toContain('<title id="daily-t">Spend per day, 2026-03</title>');
    // 2 March: six payments of 1.25.
    expect(res.body).toMatch(/<td data-label="Day">03-02<\/td><td data-label="Amount" class="num">7\.50 USD<\/td>/);
    expect(res.body).toMatch(/>x402<\/a><\/td><td data-label="Amount" class="num">75\.00 USD</);
    expect(res.body).not.toMatch(/style=/);
    expect(res.body).not.toMatch(/<script>(?!<\/script>)/);
  });

  it('an earlier month is one link away and shows its own figures', async () => {
    const res = await getPage(app, '/?month=2026-02', finance.cookie);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('Spend in 2026-02');
    expect(res.body).toContain('<div class="figure">0.00 USD</div>');
  });

  it('lets an auditor verify now and shows the result; an approver has no button and is refused', async () => {
    expect((await getPage(app, '/', approver.cookie)).body).not.toContain('Verify now');
    expect((await postForm(app, '/verify', approver.cookie, { csrf: approver.csrf })).statusCode).toBe(403);
    const page = await getPage(app, '/', auditor.cookie);
    expect(page.body).toContain('not run from this dashboard since the server started');
    const post = await postForm(app, '/verify', auditor.cookie, { csrf: auditor.csrf });
    expect(post.statusCode).toBe(303);
    const flash = /spendtrail_flash=([^;]*)/.exec(String(post.headers['set-cookie']))?.[1] ?? '';
    expect(decodeURIComponent(flash)).toMatch(/^Verify passed: \d+ entries/);
    const after = await getPage(app, '/', auditor.cookie);
    expect(after.body).toMatch(/<span class="badge ok">passed<\/span> at [^ ]+ by audra@acme\.test/);
  });
});

describe('ledger', () => {
  it('pages 50 at a time along the keyset, with Next and First page links', async () => {
    const first = await getPage(app, '/ledger?agent_id=research-bot', finance.cookie);
    expect(first.statusCode).toBe(200);
    expect(rowsOf(first.body)).toHaveLength(50);
    const next = /href="([^"]*cursor=[^"]*)" rel="next"/.exec(first.body)?.[1]?.replace(/&amp;/g, '&');
    expect(next).toBeDefined();
    const second = await getPage(app, next!, finance.cookie);
    expect(rowsOf(second.body)).toHaveLength(10);
    expect(second.body).toContain('Last page');
    expect(second.body).toContain('First page</a>');
    // The two pages together are every research-bot row once.
    const ids = [...`${first.body}${second.body}`.matchAll(/href="\/ledger\/([0-9a-f-]{36})"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(60);
  });

  it('sorts newest first when asked', async () => {
    const res = await getPage(app, '/ledger?order=desc', finance.cookie);
    const firstRow = rowsOf(res.body)[0] ?? '';
    expect(firstRow).toContain(railTx.tx_id);
    const asc = rowsOf((await getPage(app, '/ledger', finance.cookie)).body)[0] ?? '';
    expect(asc).toContain('2026-03-02T08:00:00');
  });

  it('filters by violation, rail, cluster, GL code and days', async () => {
    const v = await getPage(app, '/ledger?violation=blocked_category', finance.cookie);
    expect(rowsOf(v.body)).toHaveLength(1);
    expect(v.body).toContain(blocked.tx_id);
    expect(rowsOf((await getPage(app, '/ledger?payment_rail=x402', finance.cookie)).body)).toHaveLength(50);
    expect(rowsOf((await getPage(app, '/ledger?cluster=support', finance.cookie)).body)).toHaveLength(3);
    expect(rowsOf((await getPage(app, '/ledger?from=2026-03-11&to=2026-03-11', finance.cookie)).body)).toHaveLength(6);
    expect(rowsOf((await getPage(app, '/ledger?accounting_code=6420', finance.cookie)).body)).toHaveLength(50);
  });

  it('refuses a bad filter with the field named, not a 500', async () => {
    const res = await getPage(app, '/ledger?violation=nonsense', finance.cookie);
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('<code>violation</code>');
  });

  it('shows a merchant named <script> as text', async () => {
    const res = await getPage(app, `/ledger?cluster=support`, finance.cookie);
    expect(res.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(res.body).not.toContain('<script>alert(1)</script>');
    const page = await getPage(app, `/ledger/${evil.tx_id}`, finance.cookie);
    expect(page.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('downloads every matching row as CSV, not just one page', async () => {
    const res = await getPage(app, '/ledger.csv?agent_id=research-bot', finance.cookie);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/csv/);
    expect(res.headers['content-disposition']).toBe('attachment; filename="ledger-acme.csv"');
    expect(res.body.trim().split('\n')).toHaveLength(61);
  });
});

describe('transaction page', () => {
  it('shows the fields, the policy in force, the violations and the inclusion proof', async () => {
    const res = await getPage(app, `/ledger/${blocked.tx_id}`, approver.cookie);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(`<dt>merchant</dt><dd>Lucky Casino</dd>`);
    expect(res.body).toContain('<li>blocked category</li>');
    expect(res.body).toContain(`Snapshot <code>${blocked.policy_snapshot_id}</code>`);
    expect(res.body).toContain('&quot;monthly_limit&quot;: &quot;20000.00&quot;');
    expect(res.body).toMatch(new RegExp(`<dt>Leaf index</dt><dd>${blocked.seq}</dd>`));
    expect(res.body).toMatch(/— acme|spendtrail\.local\/acme/);
    // An approver does not see raw rail records.
    expect(res.body).toContain('Raw rail records are shown to finance and auditors.');
  });

  it('shows the raw rail payload as escaped text with its SHA-256 checked against the log', async () => {
    const res = await getPage(app, `/ledger/${railTx.tx_id}`, auditor.cookie);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<code>evt_pages_1</code>');
    expect(res.body).toContain('matches the log');
    expect(res.body).toContain('&lt;/pre&gt;&lt;script&gt;x()&lt;/script&gt;');
    expect(res.body).not.toContain('<script>x()</script>');
    const payments = await getPage(app, `/ledger/${blocked.tx_id}`, auditor.cookie);
    expect(payments.body).toContain('not made from a stored rail record');
  });

  it('answers 404 for an unknown transaction', async () => {
    expect((await getPage(app, '/ledger/0190a000-0000-7000-8000-000000000000', finance.cookie)).statusCode).toBe(404);
  });
});

describe('users page', () => {
  it('adds a user with a generated password shown once, changes roles, disables', async () => {
    expect((await getPage(app, '/users', finance.cookie)).statusCode).toBe(403);
    expect((await postForm(app, '/users', finance.cookie, { csrf: finance.csrf, email: 'x@acme.test', roles: ['admin'] })).statusCode).toBe(403);
    expect((await postForm(app, '/users', adminWeb.cookie, { email: 'x@acme.test', roles: ['finance'] })).statusCode).toBe(403);

    const add = await postForm(app, '/users', adminWeb.cookie, { csrf: adminWeb.csrf, email: 'New.Person@acme.test', roles: ['approver', 'auditor'], password: '' });
    expect(add.statusCode).toBe(303);
    const shownAt = String(add.headers.location);
    expect(shownAt).toMatch(/^\/users\?shown=/);
    const page = await getPage(app, shownAt, adminWeb.cookie);
    const password = /<pre>([A-Za-z0-9_-]{24})<\/pre>/.exec(page.body)?.[1];
    expect(password).toBeDefined();
    expect((await getPage(app, shownAt, adminWeb.cookie)).body).not.toContain(password);
    const person = await signIn(app, 'new.person@acme.test', password!);
    expect((await getPage(app, '/', person.cookie)).body).toContain('new.person@acme.test · approver, auditor');

    const users = await env.store.listUsers('acme');
    const id = users.find((u) => u.email === 'new.person@acme.test')!.user_id;
    expect((await postForm(app, '/users/roles', adminWeb.cookie, { csrf: adminWeb.csrf, user_id: id, roles: ['finance'] })).statusCode).toBe(303);
    expect((await env.store.getUser(id))?.roles).toEqual(['finance']);
    const bad = await postForm(app, '/users/roles', adminWeb.cookie, { csrf: adminWeb.csrf, user_id: id, roles: ['agent'] });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('<code>roles[0]</code>');
    expect((await postForm(app, '/users/disable', adminWeb.cookie, { csrf: adminWeb.csrf, user_id: id })).statusCode).toBe(303);
    const list = await getPage(app, '/users', adminWeb.cookie);
    expect(list.body).toMatch(/new\.person@acme\.test<\/td>\s*<td data-label="Roles">finance<\/td>\s*<td data-label="Status"><span class="badge bad">disabled/);
  });
});
