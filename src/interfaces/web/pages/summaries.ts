import { listChanges } from '../../../app/change-history.ts';
import { hasRole } from '../../../app/principal.ts';
import { parseInput, summaryQuery, summaryRequest, text } from '../../../app/schemas.ts';
import { generateSummary, getSummary, listSummaries, monthBefore, signOffSummary } from '../../../app/summaries.ts';
import { parseVerifierKey } from '../../../domain/checkpoint/note-key.ts';
import { SpendtrailError } from '../../../domain/errors.ts';
import { renderSummaryPdf } from '../../../adapters/reports/summary-pdf.ts';
import { href, html } from '../html.ts';
import type { WebRoutes } from '../plugin.ts';
import { PEOPLE } from '../web-session.ts';
import { renderChangeHistory } from './policy-view.ts';
import { renderGenerateForm, renderSummary, renderSummaryList } from './summary-view.ts';

const idOf = (raw: string | undefined): string => parseInput(text(64).min(1), raw, 'summary_id');

export function summaryPages(r: WebRoutes): void {
  // The integrity check a summary runs verifies checkpoints with the key this server signs them
  // with: the same key the organisation recorded, which verify compares against.
  const verifier = parseVerifierKey(r.deps.signer.verifierKey);

  r.page('/summaries', PEOPLE, async (req) => {
    const by = req.session.principal;
    const q = parseInput(summaryQuery, req.query.month === undefined || req.query.month === '' ? {} : { month: req.query.month });
    const list = await listSummaries(r.deps, by, q);
    const org = await r.deps.store.getOrg(by.org_id);
    const mayGenerate = hasRole(by, 'finance') && by.agent_id === null;
    return {
      title: 'Monthly summaries',
      body: html`<form method="get" action="/summaries" class="filters"><label for="s-month">Month <input id="s-month" name="month" value="${q.month ?? ''}" placeholder="YYYY-MM"></label><button type="submit">Filter</button></form>
${renderSummaryList(list)}
${mayGenerate ? renderGenerateForm(req.session.csrf, monthBefore(r.deps.clock.now(), org?.timezone ?? 'UTC')) : ''}`,
    };
  });

  r.page('/summaries/:id', PEOPLE, async (req) => {
    const by = req.session.principal;
    const s = await getSummary(r.deps, by, idOf(req.params.id));
    const versions = await r.deps.store.getSummaries(by.org_id, { period: s.document.period, scope: s.document.cluster ?? '*' });
    const latestVersion = versions.reduce((m, v) => Math.max(m, v.version), s.document.version);
    const inScope = new Set((await r.deps.store.getAgents(by.org_id)).filter((a) => a.cluster === s.document.cluster).map((a) => a.agent_id));
    const changes = (await listChanges(r.deps, by, { from: s.document.period_start, to: s.document.period_end })).filter(
      (c) => s.document.cluster === null || inScope.has(c.agent_id),
    );
    return {
      title: `Summary ${s.document.period} (${s.document.cluster ?? 'all agents'}) v${s.document.version}`,
      active: '/summaries',
      body: html`${renderSummary(s, { csrf: req.session.csrf, maySignOff: hasRole(by, 'finance') && by.agent_id === null, latestVersion })}
<h2>Policy changes proposed in the month</h2>
<p class="muted">From the change log as it stands now (not part of the signed document).</p>
${renderChangeHistory(changes, { showAgent: true })}`,
    };
  });

  r.download('/summaries/:id/pdf', PEOPLE, async (req) => {
    const paper = req.query.paper ?? 'letter';
    if (paper !== 'letter' && paper !== 'a4') throw new SpendtrailError('VALIDATION_FAILED', 'paper is letter or a4', { field: 'paper' });
    const s = await getSummary(r.deps, req.session.principal, idOf(req.params.id));
    const d = s.document;
    return {
      filename: `spend-summary-${d.org_id}-${d.period}-${d.cluster ?? 'all'}-v${d.version}-${paper}.pdf`,
      contentType: 'application/pdf',
      body: await renderSummaryPdf(s, { paper }),
    };
  });

  r.action('/summaries/:id/sign-off', ['finance'], async (req) => {
    const s = await signOffSummary(r.deps, req.session.principal, idOf(req.params.id));
    return {
      redirect: href(`/summaries/${encodeURIComponent(s.document.summary_id)}`),
      flash: `Signed off by ${s.signed_off_by ?? ''} at ${s.signed_off_at ?? ''}.`,
    };
  });

  r.action('/summaries', ['finance'], async (req, form) => {
    const cluster = (form.get('cluster') ?? '').trim();
    const body = parseInput(summaryRequest, { month: (form.get('month') ?? '').trim(), ...(cluster === '' ? {} : { cluster }) });
    const res = await generateSummary(r.deps, req.session.principal, { month: body.month, cluster: body.cluster }, { verifier });
    const d = res.summary.document;
    return {
      redirect: href(`/summaries/${encodeURIComponent(d.summary_id)}`),
      flash: res.created ? `Summary ${d.period} v${d.version} generated: ${d.status}.` : `Nothing changed since v${d.version}: no new version.`,
    };
  });
}
