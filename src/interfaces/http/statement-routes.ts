import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { AppDeps } from '../../app/deps.ts';
import type { Principal } from '../../app/principal.ts';
import type { StatementRequest } from '../../app/agent-statements.ts';
import { openStatements, periodOf, statementFileName, statementQuery } from '../../app/agent-statements.ts';
import { identifier, parseInput } from '../../app/schemas.ts';
import { STATEMENT_CONTENT_TYPES, writeStatement } from '../../adapters/reports/statement-writer.ts';

type Doc = (summary: string, body?: z.ZodType, tags?: string[]) => { schema: Record<string, unknown> };

/**
 * Agent spend statements: `GET /v1/agents/{agent_id}/statement` and, one sheet (or section) per
 * agent, `GET /v1/clusters/{cluster}/statement`, with `?month=YYYY-MM` or `?from=&to=`, and
 * `format=csv|xlsx|pdf` (`paper=letter|a4` for the PDF). Every refusal is answered before the
 * first byte; the body then streams as the ledger is read, so a long statement is never held in
 * memory. A failure after that point can only cut the response short (the client sees an
 * incomplete transfer, never a truncated file presented as complete).
 */
export function registerStatementRoutes(app: FastifyInstance, deps: AppDeps, who: (req: FastifyRequest) => Principal, doc: Doc): void {
  const send = async (req: FastifyRequest, reply: FastifyReply, scope: Pick<StatementRequest, 'agent_id' | 'cluster'>): Promise<FastifyReply> => {
    const q = parseInput(statementQuery, req.query);
    const run = await openStatements(deps, who(req), { ...scope, period: periodOf(q) });
    const body = new PassThrough();
    writeStatement(run, q.format, body, { paper: q.paper }).catch((e: unknown) => {
      req.log.error({ err: e }, 'statement stream failed');
      body.destroy(e instanceof Error ? e : new Error(String(e)));
    });
    return reply
      .type(STATEMENT_CONTENT_TYPES[q.format])
      .header('content-disposition', `attachment; filename="${statementFileName(run, q.format)}"`)
      .send(body);
  };
  app.get(
    '/v1/agents/:agent_id/statement',
    doc("An agent's spend statement for ?month=YYYY-MM (or ?from=&to=, to exclusive) as ?format=csv|xlsx|pdf", undefined, ['statements']),
    async (req, reply) => send(req, reply, { agent_id: parseInput(identifier, (req.params as { agent_id: string }).agent_id, 'agent_id') }),
  );
  app.get(
    '/v1/clusters/:cluster/statement',
    doc("The spend statements of a cluster's agents (a sheet per agent in XLSX) for ?month= or ?from=&to=, as ?format=csv|xlsx|pdf", undefined, ['statements']),
    async (req, reply) => send(req, reply, { cluster: parseInput(identifier, (req.params as { cluster: string }).cluster, 'cluster') }),
  );
}
