import ExcelJS from 'exceljs';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from './server.ts';
import { ENGINES } from '../../../test/support/engines.ts';
import type { TestEnv } from '../../../test/support/engines.ts';
import { rawTx, seededSuite } from '../../../test/support/fixtures.ts';
import type { Seeded } from '../../../test/support/fixtures.ts';
import { caller, issueKey } from '../../../test/support/http.ts';

/**
 * The change-control API end to end over HTTP: real API keys issued through the API, the same
 * server the product runs, on PGlite and on PostgreSQL. The use cases have their own storage
 * tests; these check what a client sees — statuses, error codes and fields, and that the
 * routes really reach the rules (segregation of duties, tickets, roles).
 *
 * Tests of one engine share one organisation and run in order. Each sets the clock forward to
 * its own day, so policy versions and authorizations never go back in time.
 */

const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const EXPORT_HEADER_START = 'change_id,agent_id,timestamp,changed_by,field_changed,old_value,new_value';


describe.each(ENGINES)('policy change control over HTTP on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  let app: FastifyInstance | undefined;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });

  /** API keys by person; filled in through POST /v1/api-keys before the tests. */
  const key = { admin: '', carol: '', dave: '', alice: '', auditor: '', bot: '' };

  const call = caller(() => app);

  const propose = (agent: string, by: string, body: Record<string, unknown>) => call('POST', `/v1/agents/${agent}/policy/changes`, by, body);
  const approve = (changeId: string, by: string, comment?: string) =>
    call('POST', `/v1/policy-changes/${changeId}/approve`, by, comment === undefined ? {} : { comment });
  /** The current policy document as an admin reads it. */
  const policyOf = async (agent: string): Promise<{ document: Record<string, unknown>; policy_snapshot_id: string }> => {
    const r = await call('GET', `/v1/agents/${agent}/policy`, key.admin);
    expect(r.statusCode).toBe(200);
    return r.json();
  };

  beforeAll(async () => {
    // seededSuite's beforeAll ran first (hooks run in order) and decided whether to skip.
    if (suite.skipped()) return;
    app = await buildServer(env.deps, { verifier: env.signer.note });
    key.admin = org.adminKey;
    const issue = (principal: string, roles: string[], agentId?: string): Promise<string> => issueKey(call, key.admin, principal, roles, agentId);
    // carol holds both roles so that her approving her own change is refused for segregation
    // of duties, not for a missing role.
    key.carol = await issue('carol@acme.test', ['policy_admin', 'approver']);
    key.dave = await issue('dave@acme.test', ['approver']);
    // alice@acme.test owns support-bot in the fixture.
    key.alice = await issue('alice@acme.test', ['policy_admin', 'approver']);
    key.auditor = await issue('erin@acme.test', ['auditor']);
    key.bot = await issue('support-bot@agents', ['agent'], 'support-bot');
  });
  afterAll(async () => {
    // Registered after seededSuite's afterAll, so it runs before the database closes.
    await app?.close();
  });

  it('holds a widening change pending until a second approver applies it, refusing the proposer', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    env.clock.set('2026-03-02T09:00:00.000Z');
    const proposed = await propose('research-bot', key.carol, {
      changes: { monthly_limit: '15000.00' },
      justification: 'Q2 research programme doubles model usage',
      approval_ticket: 'FIN-482',
    });
    expect(proposed.statusCode).toBe(202);
    expect(proposed.json()).toMatchObject({ change: { status: 'pending', requires_approval: true, proposed_by: 'carol@acme.test' }, version: null });
    const id = proposed.json<{ change: { change_id: string } }>().change.change_id;
    // Pending means not in force.
    expect((await policyOf('research-bot')).document.monthly_limit).toBe('5000.00');

    const self = await approve(id, key.carol);
    expect(self.statusCode).toBe(403);
    expect(self.json().error.code).toBe('SEGREGATION_OF_DUTIES');
    expect((await policyOf('research-bot')).document.monthly_limit).toBe('5000.00');

    const ok = await approve(id, key.dave, 'agreed with finance');
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ change: { change_id: id, status: 'applied', decided_by: 'dave@acme.test' } });
    expect(ok.json().version).not.toBeNull();
    expect((await policyOf('research-bot')).document.monthly_limit).toBe('15000.00');

    const list = await call('GET', '/v1/policy-changes?agent_id=research-bot', key.auditor);
    expect(list.statusCode).toBe(200);
    const listed = list.json<{ changes: { change_id: string }[] }>().changes.find((c) => c.change_id === id);
    expect(listed).toMatchObject({ status: 'applied', decided_by: 'dave@acme.test', proposed_by: 'carol@acme.test', approval_ticket: 'FIN-482' });
  });

  it('applies a narrowing change at once with 201', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    env.clock.set('2026-03-03T09:00:00.000Z');
    const r = await propose('research-bot', key.carol, {
      changes: { daily_limit: '800.00' },
      justification: 'Tighter daily cap while we review usage',
      approval_ticket: 'FIN-483',
    });
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ change: { status: 'applied', requires_approval: false, decided_by: null } });
    expect(r.json().version.document.daily_limit).toBe('800.00');
    expect((await policyOf('research-bot')).document.daily_limit).toBe('800.00');
  });

  it('answers bad input with 4xx, a stable code and the field, and changes nothing', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    env.clock.set('2026-03-04T09:00:00.000Z');
    const good = { changes: { per_transaction_limit: '750.00' }, justification: 'Larger datasets', approval_ticket: 'FIN-490' };

    // A pending change an agent key then tries to approve: refused while it is still pending.
    const pending = await propose('research-bot', key.carol, good);
    expect(pending.statusCode).toBe(202);
    const pendingId = pending.json<{ change: { change_id: string } }>().change.change_id;
    const byAgent = await approve(pendingId, key.bot);
    expect(byAgent.statusCode).toBe(403);
    expect(byAgent.json().error.code).toBe('FORBIDDEN');
    expect((await call('GET', `/v1/policy-changes/${pendingId}`, key.auditor)).json()).toMatchObject({ status: 'pending', decided_by: null });
    // Decided once, so the second approval below is a replay.
    expect((await approve(pendingId, key.dave)).statusCode).toBe(200);

    const before = await policyOf('research-bot');
    const logBefore = await env.store.entryStats('acme');
    const cases: [string, () => Promise<LightMyRequestResponse>, number, string, string | undefined][] = [
      ['unknown field inside changes', () => propose('research-bot', key.carol, { ...good, changes: { colour: 'blue' } }), 400, 'UNKNOWN_FIELD', 'changes.colour'],
      ['monthly_limit as a JSON number', () => propose('research-bot', key.carol, { ...good, changes: { monthly_limit: 20000 } }), 400, 'INVALID_AMOUNT', 'changes.monthly_limit'],
      ['empty justification', () => propose('research-bot', key.carol, { ...good, justification: '   ' }), 400, 'JUSTIFICATION_REQUIRED', 'justification'],
      ['malformed ticket', () => propose('research-bot', key.carol, { ...good, approval_ticket: 'see slack' }), 400, 'INVALID_TICKET', 'approval_ticket'],
      ['unknown agent', () => propose('ghost-bot', key.carol, good), 404, 'AGENT_NOT_FOUND', 'agent_id'],
      ['approving an unknown change', () => approve('00000000-0000-4000-8000-000000000000', key.dave), 404, 'CHANGE_NOT_FOUND', 'change_id'],
      ['approving a change twice', () => approve(pendingId, key.dave), 409, 'CHANGE_NOT_PENDING', 'change_id'],
      ['an agent key proposing', () => propose('support-bot', key.bot, good), 403, 'FORBIDDEN', undefined],
      ['an agent key approving', () => approve(pendingId, key.bot), 403, 'FORBIDDEN', undefined],
    ];
    for (const [name, send, status, code, field] of cases) {
      const r = await send();
      expect(r.statusCode, name).toBe(status);
      const error = r.json<{ error: { code: string; field?: string } }>().error;
      expect(error.code, name).toBe(code);
      if (field !== undefined) expect(error.field, name).toBe(field);
    }
    // Refused input leaves neither a new policy version nor a log entry behind.
    expect(await policyOf('research-bot')).toEqual(before);
    expect(await env.store.entryStats('acme')).toEqual(logBefore);
  });

  it('exports the change log as CSV and XLSX, one row per changed field, and refuses other formats', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    env.clock.set('2026-03-05T09:00:00.000Z');
    // Its own monthly_limit change to 15000.00 (narrowing 20000.00, so applied at once).
    const own = await propose('support-bot', key.carol, {
      changes: { monthly_limit: '15000.00', daily_limit: '4500.00' },
      justification: 'Align support budget with the plan',
      approval_ticket: 'FIN-500',
    });
    expect(own.statusCode).toBe(201);
    const ownId = own.json<{ change: { change_id: string } }>().change.change_id;

    const json = await call('GET', '/v1/policy-changes', key.auditor);
    const changes = json.json<{ changes: { change_id: string; fields: unknown[] }[] }>().changes;
    const fieldCount = changes.reduce((n, c) => n + c.fields.length, 0);

    const csv = await call('GET', '/v1/policy-changes/export?format=csv', key.auditor);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.body.startsWith(EXPORT_HEADER_START)).toBe(true);
    const records = parse<Record<string, string>>(csv.body, { columns: true });
    expect(records).toHaveLength(fieldCount);
    const ownRows = records.filter((r) => r.change_id === ownId);
    expect(ownRows.map((r) => [r.field_changed, r.old_value, r.new_value]).sort()).toEqual([
      ['daily_limit', '5000.00', '4500.00'],
      ['monthly_limit', '20000.00', '15000.00'],
    ]);

    const xlsx = await call('GET', '/v1/policy-changes/export?format=xlsx', key.auditor);
    expect(xlsx.statusCode).toBe(200);
    expect(xlsx.headers['content-type']).toBe(XLSX_TYPE);
    const wb = new ExcelJS.Workbook();
    // exceljs types its Buffer against an older @types/node; the bytes are what it expects.
    await wb.xlsx.load(xlsx.rawPayload as unknown as ExcelJS.Buffer);
    const ws = wb.worksheets[0];
    expect(ws).toBeDefined();
    if (ws === undefined) return;
    // Row.values is 1-based: index 0 is always empty.
    const header = (ws.getRow(1).values as unknown[]).slice(1);
    expect(header.join(',').startsWith(EXPORT_HEADER_START)).toBe(true);
    const col = (name: string): number => header.indexOf(name) + 1;
    const rows: ExcelJS.Row[] = [];
    ws.eachRow((row, n) => {
      if (n > 1) rows.push(row);
    });
    expect(rows).toHaveLength(fieldCount);
    const monthly = rows.find((r) => r.getCell(col('change_id')).value === ownId && r.getCell(col('field_changed')).value === 'monthly_limit');
    // A typed number, so finance can sum it without converting text.
    expect(monthly?.getCell(col('new_value')).value).toBe(15000);
    expect(monthly?.getCell(col('old_value')).value).toBe(20000);

    const pdf = await call('GET', '/v1/policy-changes/export?format=pdf', key.auditor);
    expect(pdf.statusCode).toBe(400);
    expect(pdf.json().error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'format' });
  });

  it('lets a second person, not the owner, approve spend above the threshold, and the payment carries that approver', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    env.clock.set('2026-03-06T10:00:00.000Z');
    // support-bot needs approval above 2,000.00.
    const asked = await call('POST', '/v1/authorize', key.bot, {
      agent_id: 'support-bot',
      amount: '2100.00',
      currency: 'USD',
      merchant: 'AWS',
      merchant_category: '4816',
      payment_rail: 'stripe',
      business_purpose: 'Reserved capacity for the support model',
    });
    expect(asked.statusCode).toBe(200);
    expect(asked.json()).toMatchObject({ decision: 'needs_approval', reasons: ['missing_approval'] });
    const authorizationId = asked.json<{ authorization_id: string }>().authorization_id;

    const byOwner = await call('POST', '/v1/spend-approvals', key.alice, { authorization_id: authorizationId, decision: 'approve' });
    expect(byOwner.statusCode).toBe(403);
    expect(byOwner.json().error.code).toBe('SEGREGATION_OF_DUTIES');

    const approved = await call('POST', '/v1/spend-approvals', key.dave, { authorization_id: authorizationId, decision: 'approve', comment: 'Quarterly reservation' });
    expect(approved.statusCode).toBe(201);
    expect(approved.json()).toMatchObject({ decision: 'approved', approved_by: 'dave@acme.test', authorization_id: authorizationId });

    const paid = await call('POST', '/v1/transactions', key.bot, rawTx({ amount: '2100.00', timestamp: '2026-03-06T10:01:00Z', authorization_id: authorizationId }));
    expect(paid.statusCode).toBe(201);
    const t = paid.json<{ transaction: { approver: string | null; violations: string[] } }>().transaction;
    // The approver comes from the approval, never from the agent.
    expect(t.approver).toBe('dave@acme.test');
    expect(t.violations).not.toContain('missing_approval');
  });

  it('reports segregation-of-duties findings to an auditor, including an owner widening their own agent', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    env.clock.set('2026-03-07T09:00:00.000Z');
    type Finding = { kind: string; principal: string; change_id: string | null; entries: number[] };
    const findings = async (): Promise<Finding[]> => {
      const r = await call('GET', '/v1/segregation-findings', key.auditor);
      expect(r.statusCode).toBe(200);
      const body = r.json<{ findings: Finding[] }>();
      expect(Array.isArray(body.findings)).toBe(true);
      return body.findings;
    };
    const ownerRaised = (fs: Finding[]) => fs.filter((f) => f.kind === 'owner_raised_budget' && f.principal === 'alice@acme.test');
    expect(ownerRaised(await findings())).toEqual([]);

    const raise = await propose('support-bot', key.alice, {
      changes: { per_transaction_limit: '3000.00' },
      justification: 'Bigger reservations',
      approval_ticket: 'FIN-510',
    });
    expect(raise.statusCode).toBe(202);
    const change = raise.json<{ change: { change_id: string; entries: number[] } }>().change;

    const found = ownerRaised(await findings());
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ change_id: change.change_id });
    // The evidence: the agent entry naming alice as owner, then her proposal.
    expect(found[0]?.entries).toContain(change.entries[0]);
    expect(found[0]?.entries.every((n) => Number.isInteger(n) && n >= 0)).toBe(true);
  });

  it('lets only an admin relax the ticket rule, after which a ticketless change is accepted and flagged', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    env.clock.set('2026-03-08T09:00:00.000Z');
    // Blocking a merchant narrows, so it applies at once whatever limits earlier tests left.
    const ticketless = { changes: { blocked_merchants: ['Casino Royale'] }, justification: 'Cut while the vendor is re-priced' };
    // The default refuses a change without a ticket: the setting below is what lets it in.
    const refused = await propose('research-bot', key.carol, ticketless);
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error).toMatchObject({ code: 'TICKET_REQUIRED', field: 'approval_ticket' });

    const relaxed = { approval: 'widening', fields: {}, ticket_required: false, notify: 'unticketed' };
    const byCarol = await call('PUT', '/v1/settings/change-control', key.carol, relaxed);
    expect(byCarol.statusCode).toBe(403);
    expect(byCarol.json().error.code).toBe('FORBIDDEN');
    expect((await call('GET', '/v1/settings/change-control', key.auditor)).json()).toMatchObject({ ticket_required: true });

    const byAdmin = await call('PUT', '/v1/settings/change-control', key.admin, relaxed);
    expect(byAdmin.statusCode).toBe(200);
    expect(byAdmin.json()).toMatchObject({ ticket_required: false });

    const accepted = await propose('research-bot', key.carol, ticketless);
    expect(accepted.statusCode).toBe(201);
    const id = accepted.json<{ change: { change_id: string } }>().change.change_id;
    const shown = await call('GET', `/v1/policy-changes/${id}`, key.auditor);
    expect(shown.statusCode).toBe(200);
    expect(shown.json()).toMatchObject({ change_id: id, ticket_missing: true, approval_ticket: null, status: 'applied' });
  });

  it('documents the change-control paths in OpenAPI', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    if (app === undefined) throw new Error('server not built');
    const r = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(r.statusCode).toBe(200);
    expect(Object.keys(r.json<{ paths: Record<string, unknown> }>().paths)).toEqual(
      expect.arrayContaining(['/v1/policy-changes', '/v1/policy-changes/{id}/approve', '/v1/spend-approvals', '/v1/segregation-findings']),
    );
  });
});
