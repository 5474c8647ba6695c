import { FLAG_LABELS, monthLabel } from '../domain/summary/rules.ts';
import type { ComplianceFlags, SignedSummary, SummaryDocument } from '../domain/summary/summary.ts';
import type { DeliveryHandler, DispatchOptions } from './change-notices.ts';
import { deliverPending, outboxRow } from './change-notices.ts';
import type { AppDeps } from './deps.ts';
import type { NotificationRow, StoreTx } from './ports/store.ts';

interface SummaryPayload {
  readonly summary_id: string;
  readonly org_id: string;
}

/**
 * Queues the email to finance (and a ticket when the summary needs review) in the unit of work
 * that creates the summary: a summary made while SMTP is down is emailed when it comes back.
 */
export async function queueSummaryDeliveries(deps: AppDeps, tx: StoreTx, doc: SummaryDocument): Promise<void> {
  const payload = JSON.stringify({ summary_id: doc.summary_id, org_id: doc.org_id } satisfies SummaryPayload);
  const channels: string[] = [];
  if (deps.mailer !== undefined && (deps.summaryRecipients ?? []).length > 0) channels.push(deps.mailer.channel);
  if (deps.ticketer !== undefined && doc.status === 'NEEDS_REVIEW') channels.push(deps.ticketer.channel);
  const rows = channels.map((channel) => outboxRow(deps, doc.org_id, doc.summary_id, channel, payload));
  if (rows.length > 0) await tx.insertNotifications(rows);
}

/** The headline a CFO reads in the mail body and the ticket: status, numbers, flags, top exceptions. */
export function headline(s: SignedSummary): string[] {
  const d = s.document;
  const lines = [
    `${d.org_name}: ${monthLabel(d.period)}, ${d.cluster === null ? 'all agents' : `cluster ${d.cluster}`} (version ${d.version})`,
    `Status: ${d.status === 'COMPLIANT' ? 'COMPLIANT' : 'NEEDS REVIEW'}`,
    ...d.status_reasons.map((r) => `  - ${r}`),
    `Total spend: ${d.total_spend} ${d.currency} over ${d.total_transactions} transactions; ${d.agents_monitored} agents monitored`,
    ...(Object.keys(FLAG_LABELS) as (keyof ComplianceFlags)[]).map((k) => `${FLAG_LABELS[k]}: ${d.compliance_flags[k]}`),
  ];
  const top = d.exceptions.slice(0, 5).map((e) => `  * ${e.agent_id ?? '-'} ${e.at?.slice(0, 10) ?? ''} ${e.amount ?? ''} ${e.detail}`.replace(/\s+/g, ' '));
  if (top.length > 0) lines.push(`Top exceptions (${d.exceptions.length} in all):`, ...top);
  lines.push(`Checkpoint: tree size ${d.checkpoint.tree_size}, root ${d.checkpoint.root}`, `Summary hash: ${s.summary_hash}`);
  return lines;
}

async function load(deps: AppDeps, row: NotificationRow): Promise<SignedSummary | null> {
  const p = JSON.parse(row.payload) as SummaryPayload;
  const [r] = await deps.store.getSummaries(p.org_id, { summary_id: p.summary_id });
  if (r === undefined) return null;
  const [sign] = await deps.store.logEntriesOfKinds(p.org_id, ['summary_signoff'], [p.summary_id]);
  const signed = sign === undefined ? null : (JSON.parse(sign.data) as { recorded_by: string; recorded_at: string });
  return { document: JSON.parse(r.document) as SummaryDocument, summary_hash: r.summary_hash, signed_off_by: signed?.recorded_by ?? null, signed_off_at: signed?.recorded_at ?? null };
}

const gone = { ok: false, http_status: null, error: 'summary not found', retryable: false } as const;

/** Sends queued summary emails (PDF attached) and review tickets, recording every attempt. */
export function deliverSummaries(deps: AppDeps, opts: DispatchOptions = {}): Promise<{ delivered: number; failed: number }> {
  const handlers = new Map<string, DeliveryHandler>();
  const { mailer, ticketer, renderSummaryPdf } = deps;
  if (mailer !== undefined && renderSummaryPdf !== undefined) {
    handlers.set(mailer.channel, async (row) => {
      const s = await load(deps, row);
      if (s === null) return gone;
      const d = s.document;
      const pdf = await renderSummaryPdf(s);
      return mailer.send({
        to: deps.summaryRecipients ?? [],
        subject: `[${d.status === 'COMPLIANT' ? 'COMPLIANT' : 'NEEDS REVIEW'}] Agent spend ${monthLabel(d.period)}, ${d.cluster ?? 'all agents'}: ${d.total_spend} ${d.currency}`,
        text: `${headline(s).join('\n')}\n\nThe one-page summary is attached. Sign it off in Spendtrail: spendtrail summary sign-off ${d.summary_id}\n`,
        attachments: [{ filename: `spend-summary-${d.period}-${d.cluster ?? 'all'}-v${d.version}.pdf`, content: pdf, contentType: 'application/pdf' }],
      });
    });
  }
  if (ticketer !== undefined) {
    handlers.set(ticketer.channel, async (row) => {
      const s = await load(deps, row);
      if (s === null) return gone;
      const d = s.document;
      return ticketer.open({
        org_id: d.org_id,
        summary_id: d.summary_id,
        period: d.period,
        cluster: d.cluster,
        title: `Agent spend ${monthLabel(d.period)} (${d.cluster ?? 'all agents'}) needs review: ${d.status_reasons.join('; ')}`,
        description: headline(s),
      });
    });
  }
  return deliverPending(deps, handlers, opts);
}
