import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { AppDeps } from '../../app/deps.ts';
import type { Principal } from '../../app/principal.ts';
import { requireRole } from '../../app/principal.ts';
import { parseInput, valuationRulesInput } from '../../app/schemas.ts';
import { setValuationRules, valuationRulesOf } from '../../app/valuation-rules.ts';

type Doc = (summary: string, body?: z.ZodType, tags?: string[]) => { schema: Record<string, unknown> };

/** How the organisation values crypto assets in its reporting currency. */
export function registerValuationRoutes(app: FastifyInstance, deps: AppDeps, who: (req: FastifyRequest) => Principal, doc: Doc): void {
  app.get('/v1/valuation-rules', doc('Valuation rules in force (stablecoin pegs by default)', undefined, ['setup']), async (req) => {
    const by = who(req);
    requireRole(by, 'admin', 'finance', 'auditor', 'agent');
    return { rules: await valuationRulesOf(deps.store, by.org_id) };
  });
  app.put('/v1/valuation-rules', doc('Replace the valuation rules (logged)', valuationRulesInput, ['setup']), async (req) => {
    const body = parseInput(valuationRulesInput, req.body);
    return { rules: await setValuationRules(deps, who(req), body.rules) };
  });
}
