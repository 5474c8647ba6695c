import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { AppDeps } from '../../app/deps.ts';
import type { Principal } from '../../app/principal.ts';
import { requireRole } from '../../app/principal.ts';
import { approveChange, changeControlOf, proposePolicyChange, rejectChange, setChangeControl, setPolicy } from '../../app/policy-changes.ts';
import { changeLogRows, getChange, listChanges } from '../../app/change-history.ts';
import { segregationFindings } from '../../app/duty-findings.ts';
import { decideSpend } from '../../app/spend-approvals.ts';
import type { NoticeDispatcher } from '../../app/change-notices.ts';
import {
  changeControlInput,
  changeDecisionInput,
  changeQuery,
  findingQuery,
  identifier,
  parseInput,
  policyChangeInput,
  policyInput,
  spendDecisionInput,
  text,
} from '../../app/schemas.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import { changeLogCsvHeader, changeLogCsvRow } from '../../adapters/reports/change-log-csv.ts';
import { writeChangeLogXlsx } from '../../adapters/reports/change-log-xlsx.ts';

type Doc = (summary: string, body?: z.ZodType, tags?: string[]) => { schema: Record<string, unknown> };

/**
 * Change control over HTTP: proposals, the approvals queue, decisions on spend, the change log
 * (JSON, CSV, XLSX) and segregation-of-duties findings. Every rule is enforced by the use case;
 * these routes only parse and shape.
 */
export function registerChangeRoutes(
  app: FastifyInstance,
  deps: AppDeps,
  who: (req: FastifyRequest) => Principal,
  doc: Doc,
  notices: NoticeDispatcher,
): void {
  const agentParam = (req: FastifyRequest): string => parseInput(identifier, (req.params as { agent_id: string }).agent_id, 'agent_id');
  const changeParam = (req: FastifyRequest): string => parseInput(text(64).min(1), (req.params as { id: string }).id, 'change_id');
  const after = <T>(r: T): T => {
    notices.kick();
    return r;
  };

  app.put('/v1/agents/:agent_id/policy', doc('Replace every term of a policy (a change: justification, ticket, approval rules apply)', policyInput, ['policy']), async (req, reply) => {
    const body = parseInput(policyInput, req.body);
    const r = after(await setPolicy(deps, who(req), agentParam(req), body, { justification: body.justification ?? '', approval_ticket: body.approval_ticket }));
    return reply.status(r.version === null ? 202 : 201).send(r);
  });
  app.post('/v1/agents/:agent_id/policy/changes', doc('Propose a change to some fields of a policy', policyChangeInput, ['policy']), async (req, reply) => {
    const body = parseInput(policyChangeInput, req.body);
    const r = after(
      await proposePolicyChange(deps, who(req), {
        agent_id: agentParam(req),
        changes: body.changes,
        justification: body.justification ?? '',
        approval_ticket: body.approval_ticket,
        effective_from: body.effective_from,
      }),
    );
    return reply.status(r.version === null ? 202 : 201).send(r);
  });
  app.get('/v1/policy-changes', doc('The policy change log (filter by agent_id, from, to, status)', undefined, ['policy']), async (req) => ({
    changes: await listChanges(deps, who(req), parseInput(changeQuery, req.query)),
  }));
  app.get('/v1/policy-changes/export', doc('The change log, one row per field: ?format=csv or xlsx', undefined, ['policy']), async (req, reply) => {
    const { format, ...rest } = req.query as Record<string, string>;
    const rows = changeLogRows(await listChanges(deps, who(req), parseInput(changeQuery, rest)));
    if (format === 'csv') {
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="policy-changes.csv"')
        .send(changeLogCsvHeader() + rows.map(changeLogCsvRow).join(''));
    }
    if (format === 'xlsx') {
      const out = new PassThrough();
      const written = writeChangeLogXlsx(rows, out);
      written.catch((e: unknown) => out.destroy(e instanceof Error ? e : new Error(String(e))));
      return reply
        .type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
        .header('content-disposition', 'attachment; filename="policy-changes.xlsx"')
        .send(out);
    }
    throw new SpendtrailError('VALIDATION_FAILED', 'format is csv or xlsx', { field: 'format' });
  });
  app.get('/v1/policy-changes/:id', doc('One policy change', undefined, ['policy']), async (req) => getChange(deps, who(req), changeParam(req)));
  app.post('/v1/policy-changes/:id/approve', doc('Approve a pending change (a different principal with the approver role)', changeDecisionInput, ['policy']), async (req) =>
    after(await approveChange(deps, who(req), changeParam(req), parseInput(changeDecisionInput, req.body ?? {}).comment)),
  );
  app.post('/v1/policy-changes/:id/reject', doc('Reject a pending change, saying why', changeDecisionInput, ['policy']), async (req) =>
    after(await rejectChange(deps, who(req), changeParam(req), parseInput(changeDecisionInput, req.body ?? {}).comment ?? '')),
  );
  app.get('/v1/policy-changes/:id/notifications', doc('Delivery records of the notices about a change', undefined, ['policy']), async (req) => {
    requireRole(who(req), 'auditor', 'policy_admin', 'approver');
    // A change of another organisation (or none) is 404, as for the change itself, not an empty list.
    await getChange(deps, who(req), changeParam(req));
    const list = await deps.store.listNotifications(who(req).org_id, changeParam(req));
    return {
      notifications: await Promise.all(
        list.map(async (n) => ({
          notification_id: n.notification_id,
          channel: n.channel,
          status: n.status,
          attempts: await deps.store.notificationAttempts(n.notification_id),
        })),
      ),
    };
  });
  app.post('/v1/spend-approvals', doc('Approve or reject spend above an approval threshold', spendDecisionInput, ['authorize']), async (req, reply) =>
    reply.status(201).send(await decideSpend(deps, who(req), parseInput(spendDecisionInput, req.body))),
  );
  app.get('/v1/segregation-findings', doc('Segregation-of-duties findings over a period', undefined, ['policy']), async (req) => ({
    findings: await segregationFindings(deps, who(req), parseInput(findingQuery, req.query)),
  }));
  app.get('/v1/settings/change-control', doc('Which changes need a second person, tickets, notices', undefined, ['setup']), async (req) => {
    requireRole(who(req), 'policy_admin', 'approver', 'auditor', 'finance');
    return changeControlOf(deps.store, who(req).org_id);
  });
  app.put('/v1/settings/change-control', doc('Set change control (admin)', changeControlInput, ['setup']), async (req) =>
    setChangeControl(deps, who(req), parseInput(changeControlInput, req.body)),
  );
}
