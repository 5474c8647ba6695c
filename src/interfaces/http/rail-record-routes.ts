import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { AppDeps } from '../../app/deps.ts';
import type { Principal } from '../../app/principal.ts';
import { requireRole } from '../../app/principal.ts';
import type { RailCapture } from '../../app/rail-ingest.ts';
import { ingestRailCapture } from '../../app/rail-ingest.ts';
import { valuationRulesOf } from '../../app/valuation-rules.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import type { AssetValuation } from '../../domain/money/valuation.ts';
import { valuationFields } from '../../domain/money/valuation.ts';
import { ap2PaymentRecord, ap2Capture } from '../../adapters/rails/ap2/ap2-payment.ts';
import { ap4mCapture, ap4mRecord } from '../../adapters/rails/ap4m/ap4m-record.ts';
import { l402Capture, l402PaymentRecord } from '../../adapters/rails/l402/l402-payment.ts';

type Doc = (summary: string, body?: z.ZodType, tags?: string[]) => { schema: Record<string, unknown> };

/** A rail payload is at most 1 MiB (rail-ingest); the body is the payload. */
const BODY_LIMIT = 1024 * 1024;

/**
 * Rail records an agent (or its SDK) posts after paying: L402 (an LND payment with its L402
 * headers), AP2 v0.1 (mandates and receipt) and AP4M (Spendtrail's placeholder record). The
 * request body is kept byte for byte as the rail payload, so these routes take it as raw
 * bytes and let each adapter parse the JSON from exactly what is stored. The same body again
 * answers 200 with the first result; the same rail id with another body is 409.
 */
export function registerRailRecordRoutes(app: FastifyInstance, deps: AppDeps, who: (req: FastifyRequest) => Principal, doc: Doc): void {
  void app.register((scope, _opts, done) => {
    // Scoped to this plugin: every other route keeps Fastify's JSON parser.
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, next) => next(null, body));

    const route = (rail: string, summary: string, schema: z.ZodType, capture: (payload: Buffer, value: AssetValuation) => RailCapture): void => {
      scope.post(`/v1/rails/${rail}/payments`, { ...doc(summary, schema, ['rails']), bodyLimit: BODY_LIMIT }, async (req, reply) => {
        const by = who(req);
        // The same check ingestRailCapture makes, before the payload is parsed: a caller who may
        // not record gets 403, not a verdict on its body.
        requireRole(by, 'agent');
        if (!Buffer.isBuffer(req.body)) throw new SpendtrailError('VALIDATION_FAILED', 'send the record as an application/json body');
        const org = await deps.store.getOrg(by.org_id);
        if (org === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `no organisation ${by.org_id}`);
        const rules = await valuationRulesOf(deps.store, by.org_id);
        const c = capture(req.body, (asset, at) => valuationFields(rules, asset, org.reporting_currency, at));
        const r = await ingestRailCapture(deps, by, c);
        return reply.status(r.status === 'recorded' ? 201 : 200).send(r);
      });
    };
    route('l402', 'Record an L402 (Lightning) payment: LND payment record plus its L402 headers', l402PaymentRecord, l402Capture);
    route('ap2', 'Record an AP2 v0.1 purchase: Cart, Payment (and Intent) mandates plus the PaymentReceipt', ap2PaymentRecord, ap2Capture);
    route('ap4m', 'Record an AP4M payment (placeholder record until Mastercard publishes a format)', ap4mRecord, ap4mCapture);
    done();
  });
}
