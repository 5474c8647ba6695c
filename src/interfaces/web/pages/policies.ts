import { listChanges } from '../../../app/change-history.ts';
import { policyHistory, showPolicy } from '../../../app/ledger-queries.ts';
import { proposePolicyChange } from '../../../app/policy-changes.ts';
import type { Principal } from '../../../app/principal.ts';
import { hasRole } from '../../../app/principal.ts';
import { identifier, parseInput } from '../../../app/schemas.ts';
import type { AppDeps } from '../../../app/deps.ts';
import type { PolicyDocument } from '../../../domain/policy/policy.ts';
import { SpendtrailError, isSpendtrailError } from '../../../domain/errors.ts';
import { STATUS } from '../../http/error-status.ts';
import { href, html } from '../html.ts';
import type { FormPage, PageResult, WebRequest, WebRoutes } from '../plugin.ts';
import { PEOPLE } from '../web-session.ts';
import type { FormError, ProposeValues } from './policy-propose.ts';
import { formErrorOf, parseProposeForm, renderProposeForm, valuesFromForm, valuesOf } from './policy-propose.ts';
import { renderChangeHistory, renderPolicyDocument, renderPolicyList, renderVersionHistory } from './policy-view.ts';

/** The current policy of an agent, or null when it has none yet (not an error on these pages). */
async function currentPolicy(deps: AppDeps, by: Principal, agentId: string): Promise<{ document: PolicyDocument; policy_snapshot_id: string } | null> {
  try {
    return await showPolicy(deps, by, agentId);
  } catch (e) {
    if (isSpendtrailError(e) && e.code === 'POLICY_NOT_FOUND') return null;
    throw e;
  }
}

/** Whoever may propose: the page shows the form to them only (the use case refuses others anyway). */
const mayPropose = (p: Principal): boolean => hasRole(p, 'policy_admin') && p.agent_id === null;

async function agentPage(r: WebRoutes, req: WebRequest, agentId: string, form: { values: ProposeValues; error: FormError } | null): Promise<PageResult> {
  const by = req.session.principal;
  const [agent] = await r.deps.store.getAgents(by.org_id, [agentId]);
  if (agent === undefined) throw new SpendtrailError('AGENT_NOT_FOUND', `no agent ${agentId}`, { field: 'agent_id' });
  const current = await currentPolicy(r.deps, by, agentId);
  const versions = await policyHistory(r.deps, by, agentId);
  const changes = await listChanges(r.deps, by, { agent_id: agentId });
  const org = await r.deps.store.getOrg(by.org_id);
  const currency = current?.document.currency ?? org?.reporting_currency ?? 'USD';
  const propose = mayPropose(by)
    ? html`<h2 id="propose-heading">Propose a change</h2>${renderProposeForm({
        agentId,
        currency,
        csrf: req.session.csrf,
        values: form?.values ?? valuesOf(current?.document ?? null),
        error: form?.error ?? null,
      })}`
    : html`<p class="muted">Only people with the policy_admin role propose changes.</p>`;
  return {
    title: `Policy: ${agent.agent_id}`,
    active: '/policies',
    body: html`<p><a href="/policies">← All policies</a></p>
<dl class="facts"><dt>Agent</dt><dd>${agent.name} (${agent.agent_id})</dd><dt>Owner</dt><dd>${agent.owner}</dd><dt>Cluster</dt><dd>${agent.cluster}</dd></dl>
<h2>Current policy</h2>
${current === null ? html`<p><span class="badge bad">no policy</span> This agent can spend nothing until a policy is set.</p>` : renderPolicyDocument(current.document, current.policy_snapshot_id)}
<h2>Version history</h2>${renderVersionHistory(versions)}
<h2>Change history</h2>${renderChangeHistory(changes)}
${propose}`,
  };
}

export function policyPages(r: WebRoutes): void {
  r.page('/policies', PEOPLE, async (req) => {
    const by = req.session.principal;
    const agents = await r.deps.store.getAgents(by.org_id);
    const rows = await Promise.all(agents.map(async (agent) => ({ agent, policy: await currentPolicy(r.deps, by, agent.agent_id) })));
    return { title: 'Policies', body: renderPolicyList(rows) };
  });

  r.page('/policies/:agent_id', PEOPLE, async (req) => agentPage(r, req, parseInput(identifier, req.params.agent_id, 'agent_id'), null));

  r.action('/policies/:agent_id/changes', ['policy_admin'], async (req, form) => {
    const by = req.session.principal;
    const agentId = parseInput(identifier, req.params.agent_id, 'agent_id');
    const values = valuesFromForm(form);
    try {
      const current = await currentPolicy(r.deps, by, agentId);
      const input = parseProposeForm(values, current?.document ?? null);
      const res = await proposePolicyChange(r.deps, by, {
        agent_id: agentId,
        changes: input.changes,
        justification: input.justification ?? '',
        approval_ticket: input.approval_ticket,
        effective_from: input.effective_from,
      });
      return {
        redirect: href(`/policies/${encodeURIComponent(agentId)}`),
        flash:
          res.version === null
            ? `Change proposed: it widens spending, so it waits for an approver (change ${res.change.change_id}).`
            : `Change applied: version ${res.version.document.version} is in force.`,
      };
    } catch (e) {
      // A refusal about what was typed is shown on the form itself, with the values kept;
      // anything else (no permission, unknown agent) is the error page.
      if (!isSpendtrailError(e) || (STATUS[e.code] !== 400 && e.code !== 'CHANGE_STALE')) throw e;
      // A stale form is shown again on the current version, for the person to review and resend.
      const kept = e.code === 'CHANGE_STALE' ? { ...values, base_version: String((await currentPolicy(r.deps, by, agentId))?.document.version ?? 0) } : values;
      const page = await agentPage(r, req, agentId, { values: kept, error: formErrorOf(e) });
      return { ...page, status: STATUS[e.code] } satisfies FormPage;
    }
  });
}
