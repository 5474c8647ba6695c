import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../../app/deps.ts';
import type { Principal } from '../../app/principal.ts';
import { addRailEndpoint, listRailEndpoints, revokeRailEndpoint } from '../../app/rail-endpoints.ts';
import { parseInput, text } from '../../app/schemas.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import { parseStripeEvent } from '../../adapters/rails/stripe/events.ts';
import { verifyStripeSignature } from '../../adapters/rails/stripe/signature.ts';
import type { StripeRailOptions } from '../../adapters/rails/stripe/webhook.ts';
import {
  EndpointCache,
  EvidenceWriter,
  STRIPE_RAIL_DEFAULTS,
  answerAuthorizationRequest,
  receiveStripeEvent,
  saysAuthorizationRequest,
} from '../../adapters/rails/stripe/webhook.ts';

type Doc = (summary: string, body?: z.ZodType, tags?: string[]) => { schema: Record<string, unknown> };

/** A rail endpoint as an admin registers it; the use case checks the rail and the secret's form. */
export const railEndpointInput = z.strictObject({
  rail: z.string().max(32),
  secret: z.string().max(256),
  label: text(200).nullish(),
});

/** Rail records are kept up to this size (see rail-ingest); Stripe events are far smaller. */
const MAX_WEBHOOK_BODY = 1024 * 1024;
/** Endpoint ids as addRailEndpoint makes them; anything else cannot be one and is not looked up. */
const ENDPOINT_ID = /^rep_[0-9a-f]{32}$/;

/**
 * Stripe rail: the webhook a Stripe account calls, and the admin routes for rail endpoints.
 * The webhook carries no API key: the endpoint's signing secret is its authentication, so an
 * unknown, revoked or other-rail endpoint and a bad signature are refused before the body is
 * read as JSON, and nothing is written for them.
 */
export function registerStripeRoutes(
  app: FastifyInstance,
  deps: AppDeps,
  who: (req: FastifyRequest) => Principal,
  doc: Doc,
  options: Partial<StripeRailOptions> = {},
): void {
  const opts: StripeRailOptions = { ...STRIPE_RAIL_DEFAULTS, ...options };
  const evidence = new EvidenceWriter((e) => app.log.error({ err: e }, 'a Stripe authorization request could not be recorded'));
  const endpoints = new EndpointCache(deps);
  // One answer for unknown, revoked and other-rail endpoints: a caller learns nothing about which ids exist.
  const endpointOf = async (id: string) => (ENDPOINT_ID.test(id) ? endpoints.get(id) : null);
  app.addHook('onClose', () => evidence.idle());

  app.post('/v1/rail-endpoints', doc('Register a rail endpoint (a Stripe webhook endpoint) with the secret the rail signs with', railEndpointInput, ['rails']), async (req, reply) => {
    const e = await addRailEndpoint(deps, who(req), parseInput(railEndpointInput, req.body));
    return reply.status(201).send({ ...e, path: `/v1/rails/${e.rail}/${e.endpoint_id}` });
  });
  app.get('/v1/rail-endpoints', doc('Rail endpoints of the organisation (secrets are never returned)', undefined, ['rails']), async (req) => ({
    endpoints: (await listRailEndpoints(deps, who(req))).map((e) => ({ ...e, path: `/v1/rails/${e.rail}/${e.endpoint_id}` })),
  }));
  app.delete('/v1/rail-endpoints/:endpoint_id', doc('Revoke a rail endpoint: its webhook answers 404 from now on', undefined, ['rails']), async (req) => {
    const revoked = await revokeRailEndpoint(deps, who(req), parseInput(text(64).min(1), (req.params as { endpoint_id: string }).endpoint_id, 'endpoint_id'));
    endpoints.forget(revoked.endpoint_id);
    return revoked;
  });

  // The signature is over the exact bytes Stripe sent, so this route gets its own parser that
  // keeps them as a Buffer; encapsulated, it changes nothing for the JSON routes.
  void app.register((scope, _opts, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_WEBHOOK_BODY }, (_req, body, done) => done(null, body));
    scope.post(
      '/v1/rails/stripe/:endpoint_id',
      {
        bodyLimit: MAX_WEBHOOK_BODY,
        schema: {
          summary: 'Stripe webhook (signed with the endpoint secret; no API key). issuing_authorization.request is answered {approved}',
          tags: ['rails'],
          security: [],
        },
      },
      async (req, reply) => {
        const id = (req.params as { endpoint_id: string }).endpoint_id;
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const signature = req.headers['stripe-signature'];
        if (saysAuthorizationRequest(body)) {
          // Stripe's 2 s run from its request: the deadline counts from this request's arrival.
          const arrived = performance.now() - reply.elapsedTime;
          const answer = await evidence.deciding(() => answerAuthorizationRequest(deps, endpointOf, id, body, signature, opts, arrived));
          void reply.status(200).header('stripe-version', answer.stripe_version).send({ approved: answer.approved });
          // Recorded once the answer is on its way: writing the evidence is not on Stripe's clock.
          evidence.push(answer.record);
          return reply;
        }
        const endpoint = await endpointOf(id);
        if (endpoint === null) throw new SpendtrailError('ENDPOINT_NOT_FOUND', 'no such endpoint');
        verifyStripeSignature(body, signature, endpoint.secret, deps.clock.now());
        const event = parseStripeEvent(body);
        return receiveStripeEvent(deps, endpoint, body, event, opts);
      },
    );
    done();
  });
}
