import type { FastifyInstance } from 'fastify';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../src/interfaces/http/server.ts';
import { ENGINES, openTestEnv, postgresAvailable } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { caller, issueKey } from './support/http.ts';
import { seedAccountingLedger } from './accounting-ledger.ts';

describe.each(ENGINES)('accounting export over HTTP on %s', (engine) => {
  let env: TestEnv | undefined;
  let app: FastifyInstance | undefined;
  let skipped = false;
  const call = caller(() => app);
  const keys = { finance: '', agent: '' };

  beforeAll(async () => {
    if (engine === 'postgres' && !(await postgresAvailable())) {
      skipped = true;
      return;
    }
    env = await openTestEnv(engine);
    const { deps, adminKey } = await seedAccountingLedger(env);
    app = await buildServer(deps, { verifier: env.signer.note });
    keys.finance = await issueKey(call, adminKey, 'fiona@acme.test', ['finance']);
    keys.agent = await issueKey(call, adminKey, 'research-bot', ['agent'], 'research-bot');
  });
  afterAll(async () => {
    await app?.close();
    await env?.close();
  });

  it('answers one file as itself and several as a ZIP, with the counts in a header', async (ctx) => {
    if (skipped) return ctx.skip();
    const one = await call('POST', '/v1/accounting/exports', keys.finance, { format: 'iif', month: '2026-03', settings: { uncoded: 'suspense', rollup: false } });
    expect(one.statusCode, one.body).toBe(200);
    expect(one.headers['content-disposition']).toBe('attachment; filename="spendtrail-acme-2026-03.iif"');
    expect(one.rawPayload.subarray(0, 6).toString('latin1')).toBe('!TRNS\t');
    expect(JSON.parse(String(one.headers['x-spendtrail-report']))).toMatchObject({ format: 'iif', currency: 'USD', transactions: 12, entries: 11, zero_value: 1, debit_minor: '256582' });

    const several = await call('POST', '/v1/accounting/exports', keys.finance, { format: 'hledger', month: '2026-03', settings: { uncoded: 'suspense' } });
    expect(several.statusCode).toBe(200);
    expect(several.headers['content-type']).toBe('application/zip');
    const files = unzipSync(new Uint8Array(several.rawPayload));
    expect(Object.keys(files).sort()).toEqual(['spendtrail-acme-2026-03-rollups.csv', 'spendtrail-acme-2026-03.journal']);
    const api = await app?.inject({ method: 'GET', url: '/openapi.json' });
    expect(Object.keys(api?.json<{ paths: Record<string, unknown> }>().paths ?? {})).toContain('/v1/accounting/exports');
  });

  it('answers errors with their codes: uncoded spend, nothing to export, an agent key', async (ctx) => {
    if (skipped) return ctx.skip();
    const uncoded = await call('POST', '/v1/accounting/exports', keys.finance, { format: 'xero', month: '2026-03' });
    expect(uncoded.statusCode).toBe(422);
    expect(uncoded.json()).toMatchObject({ error: { code: 'UNCODED_TRANSACTIONS', details: { uncoded: 1 } } });
    const empty = await call('POST', '/v1/accounting/exports', keys.finance, { format: 'xero', month: '2026-05' });
    expect(empty.json()).toMatchObject({ error: { code: 'NOTHING_TO_EXPORT' } });
    const agent = await call('POST', '/v1/accounting/exports', keys.agent, { format: 'xero', month: '2026-03', agent_id: 'research-bot' });
    expect(agent.statusCode).toBe(403);
    const bad = await call('POST', '/v1/accounting/exports', keys.finance, { format: 'quicken', month: '2026-03' });
    expect(bad.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED', field: 'format' } });
  });
});
