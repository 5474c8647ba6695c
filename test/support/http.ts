import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';

export type Method = 'GET' | 'POST' | 'PUT';
export type Call = (method: Method, url: string, bearer: string, payload?: unknown) => Promise<LightMyRequestResponse>;

/** Calls a server built in a beforeAll with a bearer API key, as a client would. */
export const caller =
  (app: () => FastifyInstance | undefined): Call =>
  (method, url, bearer, payload) => {
    const a = app();
    if (a === undefined) throw new Error('server not built');
    return a.inject({
      method,
      url,
      headers: { authorization: `Bearer ${bearer}` },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  };

/** Issues a real API key through POST /v1/api-keys with an admin key; returns the secret. */
export async function issueKey(call: Call, adminKey: string, principal: string, roles: string[], agentId?: string): Promise<string> {
  const r = await call('POST', '/v1/api-keys', adminKey, { principal, roles, ...(agentId === undefined ? {} : { agent_id: agentId }) });
  expect(r.statusCode).toBe(201);
  return r.json<{ api_key: string }>().api_key;
}
