import ExcelJS from 'exceljs';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../src/interfaces/http/server.ts';
import { STATEMENT_COLUMNS } from '../src/adapters/reports/statement-csv.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { rawTx, seededSuite } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';
import { caller, issueKey } from './support/http.ts';
import { parseCsv } from './statements-tools.ts';

/**
 * The statement endpoints as a client sees them, with real API keys issued through the API:
 * content types, download file names, the bodies in each format, and the refusals (before any
 * byte of a statement is sent) with their codes.
 */
describe.each(ENGINES)('agent spend statements over HTTP on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  let app: FastifyInstance | undefined;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });
  const call = caller(() => app);
  const key = { finance: '', auditor: '', approver: '', research: '' };
  const get = (url: string, bearer: string = key.finance): Promise<LightMyRequestResponse> => call('GET', url, bearer);
  const expectError = (r: LightMyRequestResponse, status: number, code: string, field?: string): void => {
    expect(r.statusCode).toBe(status);
    const error = r.json<{ error: { code: string; field?: string } }>().error;
    expect(error.code).toBe(code);
    if (field !== undefined) expect(error.field).toBe(field);
  };

  beforeAll(async () => {
    if (suite.skipped()) return;
    app = await buildServer(env.deps, { verifier: env.signer.note });
    key.finance = await issueKey(call, org.adminKey, 'fiona@acme.test', ['finance']);
    key.auditor = await issueKey(call, org.adminKey, 'erin@acme.test', ['auditor']);
    key.approver = await issueKey(call, org.adminKey, 'dave@acme.test', ['approver']);
    key.research = await issueKey(call, org.adminKey, 'research-bot@agents', ['agent'], 'research-bot');
    env.clock.set('2026-04-02T09:00:00.000Z');
    const batch = await call('POST', '/v1/transactions/batch', org.adminKey, {
      transactions: [
        rawTx({ external_id: 'a1', agent_id: 'support-bot', amount: '21.00', timestamp: '2026-03-10T10:00:00Z' }),
        rawTx({ external_id: 'a2', agent_id: 'support-bot', amount: '120.50', timestamp: '2026-03-20T10:00:00Z', merchant: 'OpenAI', merchant_category: null }),
        rawTx({ external_id: 'r1', agent_id: 'research-bot', amount: '45.25', timestamp: '2026-03-12T10:00:00Z', merchant: 'OpenAI', merchant_category: null, payment_rail: 'x402' }),
      ],
    });
    expect(batch.statusCode).toBe(201);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('sends an agent statement as CSV with its file name', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const r = await get('/v1/agents/support-bot/statement?month=2026-03&format=csv');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(r.headers['content-disposition']).toBe('attachment; filename="statement-support-bot-2026-03.csv"');
    const rows = parseCsv(r.body);
    expect(Object.keys(rows[0] ?? {})).toEqual([...STATEMENT_COLUMNS]);
    expect(rows.filter((x) => x.record_type === 'transaction').map((x) => x.merchant)).toEqual(['AWS', 'OpenAI']);
    expect(rows.find((x) => x.record_type === 'total_net')?.reporting_amount).toBe('141.50');
  });

  it('takes from/to (to exclusive) and names the file by the first and last day', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const r = await get('/v1/agents/support-bot/statement?from=2026-03-01&to=2026-03-16');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-disposition']).toBe('attachment; filename="statement-support-bot-2026-03-01_2026-03-15.csv"');
    expect(parseCsv(r.body).find((x) => x.record_type === 'total_net')?.reporting_amount).toBe('21.00');
  });

  it('sends XLSX and PDF with their media types', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const x = await get('/v1/agents/support-bot/statement?month=2026-03&format=xlsx', key.auditor);
    expect(x.statusCode).toBe(200);
    expect(x.headers['content-type']).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(x.headers['content-disposition']).toBe('attachment; filename="statement-support-bot-2026-03.xlsx"');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(x.rawPayload as unknown as ExcelJS.Buffer);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['support-bot']);

    const p = await get('/v1/agents/support-bot/statement?month=2026-03&format=pdf&paper=a4');
    expect(p.statusCode).toBe(200);
    expect(p.headers['content-type']).toBe('application/pdf');
    expect(p.headers['content-disposition']).toBe('attachment; filename="statement-support-bot-2026-03.pdf"');
    expect(p.rawPayload.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    // A4 landscape.
    expect(p.rawPayload.toString('latin1')).toMatch(/\/MediaBox \[0 0 841\.89 595\.28\]/);
  });

  it('sends a cluster as one sheet per agent', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const r = await get('/v1/clusters/support/statement?month=2026-03&format=xlsx');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-disposition']).toBe('attachment; filename="statement-cluster-support-2026-03.xlsx"');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(r.rawPayload as unknown as ExcelJS.Buffer);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['support-bot']);
  });

  it("answers 403 to an agent key asking for another agent's statement or a cluster's, and serves its own", async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    expectError(await get('/v1/agents/support-bot/statement?month=2026-03', key.research), 403, 'FORBIDDEN');
    expectError(await get('/v1/clusters/research/statement?month=2026-03', key.research), 403, 'FORBIDDEN');
    expectError(await get('/v1/agents/support-bot/statement?month=2026-03', key.approver), 403, 'FORBIDDEN');
    const own = await get('/v1/agents/research-bot/statement?month=2026-03', key.research);
    expect(own.statusCode).toBe(200);
    expect(parseCsv(own.body).find((x) => x.record_type === 'total_net')?.reporting_amount).toBe('45.25');
  });

  it('refuses bad input with a code and the field, before sending anything', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    expectError(await get('/v1/agents/support-bot/statement?month=2026-3'), 400, 'VALIDATION_FAILED', 'month');
    expectError(await get('/v1/agents/support-bot/statement'), 400, 'VALIDATION_FAILED', 'month');
    expectError(await get('/v1/agents/support-bot/statement?month=2026-03&from=2026-03-01&to=2026-03-02'), 400, 'VALIDATION_FAILED', 'from');
    expectError(await get('/v1/agents/support-bot/statement?month=2026-03&format=docx'), 400, 'VALIDATION_FAILED', 'format');
    expectError(await get('/v1/agents/support-bot/statement?month=2026-03&limit=5'), 400, 'UNKNOWN_FIELD');
    expectError(await get('/v1/agents/no-such-bot/statement?month=2026-03'), 404, 'AGENT_NOT_FOUND');
    expectError(await get('/v1/clusters/nobody/statement?month=2026-03'), 404, 'CLUSTER_NOT_FOUND');
    expectError(await get('/v1/agents/support-bot/statement?month=2026-03', ''), 401, 'UNAUTHENTICATED');
  });
});
