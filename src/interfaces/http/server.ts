import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { z } from 'zod';
import { SpendtrailError, isSpendtrailError } from '../../domain/errors.ts';
import type { AppDeps } from '../../app/deps.ts';
import type { Principal } from '../../app/principal.ts';
import { authenticate, issueApiKey, revokeApiKey, upsertAccount, upsertAgent, upsertRule } from '../../app/setup.ts';
import { NoticeDispatcher } from '../../app/change-notices.ts';
import { registerChangeRoutes } from './change-routes.ts';
import { registerSummaryRoutes } from './summary-routes.ts';
import { registerStripeRoutes } from './stripe-routes.ts';
import { registerRailRecordRoutes } from './rail-record-routes.ts';
import { registerX402Routes } from './x402-routes.ts';
import { registerAccountingRoutes } from './accounting-routes.ts';
import { registerStatementRoutes } from './statement-routes.ts';
import { registerValuationRoutes } from './valuation-routes.ts';
import { exportStatus } from '../../app/audit-export.ts';
import { recordTransactions } from '../../app/record-transactions.ts';
import { TransactionBatcher } from '../../app/transaction-batcher.ts';
import { parseTransactionInput } from '../../app/transaction-input.ts';
import { authorize, releaseAuthorization } from '../../app/authorize.ts';
import { getTransaction, listLedger, policyHistory, showPolicy } from '../../app/ledger-queries.ts';
import { createCheckpoint } from '../../app/checkpoint.ts';
import { verifyLog } from '../../app/verify.ts';
import { requireRole } from '../../app/principal.ts';
import {
  accountInput,
  agentInput,
  identifier,
  text,
  apiKeyInput,
  authorizeRequest,
  ledgerQuery,
  parseInput,
  ruleInput,
  transactionBatch,
  transactionLine,
} from '../../app/schemas.ts';
import type { NoteVerifier } from '../../domain/checkpoint/note-key.ts';
import { ledgerCsvHeader, ledgerCsvRow } from '../../adapters/reports/ledger-csv.ts';
import { STATUS } from './error-status.ts';
import { frameworkError, useStrictJsonParser } from './json-body.ts';
import type { RateLimits } from './rate-limit.ts';
import { limitFailedAuth, limitIngest, rateLimitsFromEnv } from './rate-limit.ts';
import { registerWeb } from '../web/plugin.ts';
import { WEB_PAGES } from '../web/pages/index.ts';

export interface ServerOptions {
  readonly verifier: NoteVerifier;
  readonly logger?: boolean | object;
  /** The audit export destination whose progress `/v1/audit-export/status` reports. */
  readonly exportSinkName?: string;
  /** Largest accepted body for batch endpoints (single calls are limited to 64 KiB). */
  readonly batchBodyLimit?: number;
  /** Per-key ingest and per-address failed-authentication limits; default: from the environment (see rate-limit.ts). */
  readonly rateLimits?: RateLimits;
  /** Dashboard cookies carry `Secure` (set when the server is reached over TLS). */
  readonly secureCookies?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

const schemaOf = (s: z.ZodType): Record<string, unknown> => {
  try {
    return z.toJSONSchema(s, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' });
  } catch {
    return { type: 'object' };
  }
};

/**
 * The HTTP API: JSON under /v1, OpenAPI at /openapi.json. Every route authenticates with a
 * bearer API key; role checks live in the use cases, so the API cannot grant what the app
 * layer refuses. One error handler turns every failure into `{ error: { code, message, field } }`.
 */
export async function buildServer(deps: AppDeps, options: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.batchBodyLimit ?? 32 * 1024 * 1024,
    frameworkErrors: frameworkError,
    // The API key is in this header; it must never reach a log line.
    ...(options.logger ? { logger: { ...(typeof options.logger === 'object' ? options.logger : {}), redact: ['req.headers.authorization'] } } : {}),
  });
  useStrictJsonParser(app);
  const batcher = new TransactionBatcher(deps);
  // Change notices queued in the outbox go out after each change, at start, and every 30 s
  // (so a Slack outage is retried without anyone touching the product).
  const notices = new NoticeDispatcher(deps, {}, (e) => app.log.error({ err: e }, 'change notice delivery failed'));
  notices.kick();
  const retry = setInterval(() => notices.kick(), 30_000);
  retry.unref();
  app.addHook('onClose', async () => {
    clearInterval(retry);
    await notices.idle();
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Spendtrail API', version: '0.1.0', description: 'Compliance ledger for money spent by AI agents.' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
    },
  });
  // Bodies are validated by the zod schemas inside the handlers (one schema per input, one error
  // shape); the JSON schemas attached to routes document them in OpenAPI.
  app.setValidatorCompiler(() => () => true);

  app.decorateRequest('principal', null);
  const limits = options.rateLimits ?? rateLimitsFromEnv(process.env);
  limitFailedAuth(app, limits.failedAuth);
  app.addHook('onRequest', async (req) => {
    if (!req.url.startsWith('/v1/') || req.url.startsWith('/v1/health') || req.url.startsWith('/v1/rails/stripe/')) return;
    const h = req.headers.authorization;
    const key = h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
    if (key === undefined) throw new SpendtrailError('UNAUTHENTICATED', 'send an API key as "Authorization: Bearer <key>"');
    req.principal = await authenticate(deps, key);
  });
  limitIngest(app, limits.ingest);
  app.addHook('onSend', async (_req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('cache-control', 'no-store');
  });

  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const e = toSpendtrailError(err);
    const status = STATUS[e.code];
    if (status >= 500) req.log.error({ err: e.cause ?? e, code: e.code }, e.message);
    void reply.status(status).send({ error: e.toJSON() });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: 'VALIDATION_FAILED', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });

  const who = (req: FastifyRequest): Principal => {
    if (req.principal === null) throw new SpendtrailError('UNAUTHENTICATED', 'missing API key');
    return req.principal;
  };
  const doc = (summary: string, body?: z.ZodType, tags = ['ledger']) => ({
    schema: { summary, tags, ...(body === undefined ? {} : { body: schemaOf(body) }) },
  });

  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  app.get('/v1/health', doc('Liveness and engine', undefined, ['system']), () => ({ status: 'ok', engine: deps.store.engine }));

  app.get('/v1/org', doc('The caller organisation', undefined, ['setup']), async (req) => {
    const org = await deps.store.getOrg(who(req).org_id);
    return { org, verifier_key: deps.signer.verifierKey, principal: who(req) };
  });

  // --- transactions
  app.post('/v1/transactions', { ...doc('Record one settled transaction', transactionLine), bodyLimit: 64 * 1024 }, async (req, reply) => {
    const input = parseTransactionInput(req.body);
    const r = await batcher.submit(who(req), input);
    return reply.status(r.status === 'recorded' ? 201 : 200).send(r);
  });
  app.post('/v1/transactions/batch', doc('Record a batch, all or nothing', transactionBatch), async (req, reply) => {
    const body = parseInput(transactionBatch, req.body);
    const inputs = body.transactions.map((t, i) => parseTransactionInput(t, `transactions[${i}]`));
    const outcomes = await recordTransactions(deps, who(req), inputs, 'atomic');
    const results = outcomes.map((o) => (o.ok ? o.result : null));
    return reply.status(201).send({ results });
  });
  app.get('/v1/transactions', doc('The ledger, filtered, keyset-paginated; ?format=csv for CSV'), async (req, reply) => {
    const { format, ...rest } = req.query as Record<string, string>;
    const q = parseInput(ledgerQuery, rest);
    const page = await listLedger(deps, who(req), q);
    if (format === 'csv') {
      const csv = ledgerCsvHeader() + page.transactions.map(ledgerCsvRow).join('');
      if (page.next_cursor !== null) void reply.header('x-next-cursor', page.next_cursor);
      return reply.type('text/csv; charset=utf-8').send(csv);
    }
    if (format !== undefined && format !== 'json') throw new SpendtrailError('VALIDATION_FAILED', 'format is json or csv', { field: 'format' });
    return page;
  });
  app.get('/v1/transactions/:tx_id', doc('One transaction with its policy and inclusion proof'), async (req) =>
    getTransaction(deps, who(req), parseInput(text(64).min(1), (req.params as { tx_id: string }).tx_id, 'tx_id')),
  );

  // --- authorization
  app.post('/v1/authorize', { ...doc('Ask before spending', authorizeRequest, ['authorize']), bodyLimit: 64 * 1024 }, async (req) =>
    authorize(deps, who(req), parseInput(authorizeRequest, req.body)),
  );
  app.post('/v1/authorizations/:id/release', doc('Release a held amount', undefined, ['authorize']), async (req, reply) => {
    await releaseAuthorization(deps, who(req), parseInput(text(64).min(1), (req.params as { id: string }).id, 'authorization_id'));
    return reply.status(204).send();
  });

  // --- setup
  app.get('/v1/agents', doc('Agents', undefined, ['setup']), async (req) => {
    requireRole(who(req), 'admin', 'policy_admin', 'finance', 'auditor', 'approver');
    return { agents: await deps.store.getAgents(who(req).org_id) };
  });
  app.put('/v1/agents/:agent_id', doc('Create or update an agent', agentInput.omit({ agent_id: true }), ['setup']), async (req) => {
    const input = parseInput(agentInput, { ...(req.body as object), agent_id: agentParam(req) });
    return upsertAgent(deps, who(req), input);
  });
  app.get('/v1/accounts', doc('Chart of accounts', undefined, ['setup']), async (req) => {
    requireRole(who(req), 'admin', 'policy_admin', 'finance', 'auditor', 'approver');
    return { accounts: await deps.store.getAccounts(who(req).org_id) };
  });
  app.put('/v1/accounts/:code', doc('Create or update a GL account', accountInput.omit({ code: true }), ['setup']), async (req) => {
    const input = parseInput(accountInput, { ...(req.body as object), code: (req.params as { code: string }).code });
    return upsertAccount(deps, who(req), input);
  });
  app.get('/v1/rules', doc('GL coding rules', undefined, ['setup']), async (req) => {
    requireRole(who(req), 'admin', 'policy_admin', 'finance', 'auditor', 'approver');
    return { rules: await deps.store.getRules(who(req).org_id) };
  });
  app.post('/v1/rules', doc('Create or replace a GL coding rule', ruleInput, ['setup']), async (req) =>
    upsertRule(deps, who(req), parseInput(ruleInput, req.body)),
  );
  app.get('/v1/agents/:agent_id/policy', doc('The current (or ?version=N) policy document', undefined, ['policy']), async (req) => {
    const v = (req.query as { version?: string }).version;
    return showPolicy(deps, who(req), agentParam(req), v === undefined ? undefined : Number(v));
  });
  registerChangeRoutes(app, deps, who, doc, notices);
  registerSummaryRoutes(app, deps, who, doc, options.verifier);
  registerStripeRoutes(app, deps, who, doc);
  registerRailRecordRoutes(app, deps, who, doc);
  registerX402Routes(app, deps, who, doc);
  registerValuationRoutes(app, deps, who, doc);
  registerAccountingRoutes(app, deps, who, doc);
  registerStatementRoutes(app, deps, who, doc);
  await registerWeb(app, deps, { secureCookies: options.secureCookies ?? false, verify: (by) => verifyLog(deps, by, options.verifier), ...(options.exportSinkName === undefined ? {} : { exportSinkName: options.exportSinkName }) }, WEB_PAGES);
  app.get('/v1/audit-export/status', doc('How far the audit export is behind, failed attempts, last object written', undefined, ['integrity']), async (req) => {
    if (options.exportSinkName === undefined) throw new SpendtrailError('VALIDATION_FAILED', 'this server does not export');
    return exportStatus(deps, who(req), options.exportSinkName);
  });
  app.get('/v1/agents/:agent_id/policy/versions', doc('Every policy version of an agent', undefined, ['policy']), async (req) => ({
    versions: await policyHistory(deps, who(req), agentParam(req)),
  }));
  app.post('/v1/api-keys', doc('Issue an API key (shown once)', apiKeyInput, ['setup']), async (req, reply) =>
    reply.status(201).send(await issueApiKey(deps, who(req), parseInput(apiKeyInput, req.body))),
  );
  app.delete('/v1/api-keys/:key_id', doc('Revoke an API key', undefined, ['setup']), async (req, reply) => {
    await revokeApiKey(deps, who(req), parseInput(text(64).min(1), (req.params as { key_id: string }).key_id, 'key_id'));
    return reply.status(204).send();
  });

  // --- integrity
  app.post('/v1/checkpoints', doc('Sign a checkpoint of the current tree (or return the latest)', undefined, ['integrity']), async (req) => {
    const cp = await createCheckpoint(deps, who(req));
    return { tree_size: cp.tree_size, root: cp.root.toString('base64'), checkpoint: cp.note };
  });
  app.get('/v1/checkpoints/latest', doc('The latest signed checkpoint', undefined, ['integrity']), async (req) => {
    requireRole(who(req), 'admin', 'auditor', 'finance', 'approver', 'policy_admin', 'agent');
    const cp = await deps.store.latestCheckpoint(who(req).org_id);
    if (cp === undefined) throw new SpendtrailError('CHECKPOINT_INVALID', 'no checkpoint yet');
    return { tree_size: cp.tree_size, root: cp.root.toString('base64'), checkpoint: cp.note };
  });
  app.post('/v1/verify', doc('Recompute every hash, proof and projection', undefined, ['integrity']), async (req) =>
    verifyLog(deps, who(req), options.verifier),
  );

  return app;
}

/** Path parameters pass the same schemas as bodies: a NUL byte or a 10 kB id is a 400, not a 500. */
const agentParam = (req: FastifyRequest): string => parseInput(identifier, (req.params as { agent_id: string }).agent_id, 'agent_id');

function toSpendtrailError(err: unknown): SpendtrailError {
  if (isSpendtrailError(err)) return err;
  const e = err as { code?: string; statusCode?: number; message?: string };
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new SpendtrailError('PAYLOAD_TOO_LARGE', 'request body is too large');
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new SpendtrailError('VALIDATION_FAILED', 'send application/json');
  if (e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new SpendtrailError('VALIDATION_FAILED', 'the JSON body is empty');
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new SpendtrailError('VALIDATION_FAILED', `malformed request: ${e.message ?? 'bad input'}`);
  }
  return new SpendtrailError('INTERNAL', 'internal error', { cause: err });
}
