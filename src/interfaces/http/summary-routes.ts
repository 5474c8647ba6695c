import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { AppDeps } from '../../app/deps.ts';
import type { Principal } from '../../app/principal.ts';
import { requireRole } from '../../app/principal.ts';
import { generateSummary, getSummary, listSummaries, signOffSummary, summaryJson } from '../../app/summaries.ts';
import { parseInput, summaryQuery, summaryRequest, text } from '../../app/schemas.ts';
import type { NoteVerifier } from '../../domain/checkpoint/note-key.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import { renderSummaryPdf } from '../../adapters/reports/summary-pdf.ts';

type Doc = (summary: string, body?: z.ZodType, tags?: string[]) => { schema: Record<string, unknown> };

/** Monthly compliance summaries: generate, read (JSON or one-page PDF), sign off, deliveries. */
export function registerSummaryRoutes(
  app: FastifyInstance,
  deps: AppDeps,
  who: (req: FastifyRequest) => Principal,
  doc: Doc,
  verifier: NoteVerifier,
): void {
  const idParam = (req: FastifyRequest): string => parseInput(text(64).min(1), (req.params as { id: string }).id, 'summary_id');

  app.post('/v1/summaries', doc('Generate the compliance summary of a month (a new version only if something changed)', summaryRequest, ['summaries']), async (req, reply) => {
    const body = parseInput(summaryRequest, req.body);
    const r = await generateSummary(deps, who(req), { month: body.month, cluster: body.cluster }, { verifier });
    return reply.status(r.created ? 201 : 200).send(summaryJson(r.summary));
  });
  app.get('/v1/summaries', doc('Summaries, every version (?month=YYYY-MM)', undefined, ['summaries']), async (req) => {
    const q = parseInput(summaryQuery, req.query);
    return { summaries: (await listSummaries(deps, who(req), { month: q.month })).map(summaryJson) };
  });
  app.get('/v1/summaries/:id', doc('One summary as JSON, or ?format=pdf (&paper=letter|a4) as its one-page PDF', undefined, ['summaries']), async (req, reply) => {
    const { format, paper } = req.query as { format?: string; paper?: string };
    const s = await getSummary(deps, who(req), idParam(req));
    if (format === undefined || format === 'json') return summaryJson(s);
    if (format !== 'pdf') throw new SpendtrailError('VALIDATION_FAILED', 'format is json or pdf', { field: 'format' });
    if (paper !== undefined && paper !== 'letter' && paper !== 'a4') throw new SpendtrailError('VALIDATION_FAILED', 'paper is letter or a4', { field: 'paper' });
    const pdf = await renderSummaryPdf(s, { paper: paper ?? 'letter' });
    return reply
      .type('application/pdf')
      .header('content-disposition', `attachment; filename="spend-summary-${s.document.period}-${s.document.cluster ?? 'all'}-v${s.document.version}.pdf"`)
      .send(pdf);
  });
  app.post('/v1/summaries/:id/sign-off', doc('Sign off a summary (finance role): who, when and its hash go into the log', undefined, ['summaries']), async (req) =>
    summaryJson(await signOffSummary(deps, who(req), idParam(req))),
  );
  app.get('/v1/summaries/:id/deliveries', doc('Email and ticket delivery records of a summary', undefined, ['summaries']), async (req) => {
    requireRole(who(req), 'finance', 'auditor');
    // A summary of another organisation (or none) is 404, as for the summary itself, not an empty list.
    await getSummary(deps, who(req), idParam(req));
    const list = await deps.store.listNotifications(who(req).org_id, idParam(req));
    return {
      deliveries: await Promise.all(
        list.map(async (n) => ({ channel: n.channel, status: n.status, attempts: await deps.store.notificationAttempts(n.notification_id) })),
      ),
    };
  });
}
