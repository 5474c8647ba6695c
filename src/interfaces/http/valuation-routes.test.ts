import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from './server.ts';
import { ENGINES } from '../../../test/support/engines.ts';
import type { TestEnv } from '../../../test/support/engines.ts';
import { seededSuite } from '../../../test/support/fixtures.ts';
import type { Seeded } from '../../../test/support/fixtures.ts';
import { caller, issueKey } from '../../../test/support/http.ts';
import { verifyLog } from '../../app/verify.ts';

describe.each(ENGINES)('valuation rules over HTTP on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  let app: FastifyInstance | undefined;
  const call = caller(() => app);
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });
  beforeAll(async () => {
    if (suite.skipped()) return;
    app = await buildServer(env.deps, { verifier: env.signer.note });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('shows the stablecoin pegs by default, replaces them as a logged entry, and refuses a bad rule by field', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const before = await call('GET', '/v1/valuation-rules', org.adminKey);
    expect(before.statusCode).toBe(200);
    expect(before.json<{ rules: { asset: string; quote: string; rate: string }[] }>().rules).toContainEqual(expect.objectContaining({ asset: 'USDC', quote: 'USD', rate: '1' }));

    const set = await call('PUT', '/v1/valuation-rules', org.adminKey, { rules: [{ asset: 'sat', quote: 'USD', rate: '0.000650', source: 'treasury rate 2026-03' }] });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toEqual({ rules: [{ asset: 'SAT', quote: 'USD', rate: '0.00065', source: 'treasury rate 2026-03' }] });
    const after = await call('GET', '/v1/valuation-rules', org.adminKey);
    expect(after.json()).toEqual(set.json());
    const [entry] = await env.deps.store.logEntriesOfKinds('acme', ['valuation_rules']);
    expect(JSON.parse(entry?.data ?? '{}')).toMatchObject({ recorded_by: org.admin.principal, body: { rules: [{ asset: 'SAT' }] } });

    const bad = await call('PUT', '/v1/valuation-rules', org.adminKey, { rules: [{ asset: 'USDC', quote: 'USD', rate: 'one', source: 'x' }] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'INVALID_AMOUNT', field: 'rules[0].rate' } });
    const agentKey = await issueKey(call, org.adminKey, 'bot@agents', ['agent'], 'support-bot');
    const forbidden = await call('PUT', '/v1/valuation-rules', agentKey, { rules: [] });
    expect(forbidden.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
    expect((await verifyLog(env.deps, org.admin, env.signer.note)).findings).toEqual([]);
  });
});
