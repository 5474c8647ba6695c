import type { ChangeValue } from '../../app/ports/change-log.ts';
import type { ChangeNotice } from '../../app/ports/notifier.ts';

/**
 * The body POSTed to a generic JSON webhook. STABLE CONTRACT, version 1: receivers may rely on
 * every property below keeping its name, type and meaning. New optional properties may be
 * added within version 1; removing, renaming or re-typing one requires `version: 2`.
 *
 * - `type`: always `"policy_change"`, so one endpoint can tell event kinds apart.
 * - `version`: always `1` for this shape.
 * - the rest is the `ChangeNotice`: `fields[].old_value/new_value` are decimal strings for money
 *   (in `currency`), string arrays for lists, booleans, ISO 8601 instants, or null
 *   (no limit / any / none before); `at` is ISO 8601 UTC.
 *
 * The `X-Spendtrail-Signature: sha256=<hex>` header (when a secret is configured) is an
 * HMAC-SHA256 of the exact body bytes; verify it before parsing.
 */
export interface WebhookBody {
  readonly type: 'policy_change';
  readonly version: 1;
  readonly org_id: string;
  readonly change_id: string;
  readonly agent_id: string;
  readonly agent_name: string | null;
  readonly changed_by: string;
  readonly justification: string;
  readonly approval_ticket: string | null;
  readonly ticket_missing: boolean;
  readonly status: 'pending' | 'applied';
  readonly currency: string;
  readonly at: string;
  readonly fields: readonly { readonly field: string; readonly old_value: ChangeValue; readonly new_value: ChangeValue }[];
}

/**
 * Builds the version-1 body. Properties are copied one by one rather than spread, so an
 * object that structurally satisfies `ChangeNotice` but carries extra properties cannot leak
 * them to a third party, and the key order (hence the signed bytes) is fixed.
 */
export function webhookMessage(notice: ChangeNotice): WebhookBody {
  return {
    type: 'policy_change',
    version: 1,
    org_id: notice.org_id,
    change_id: notice.change_id,
    agent_id: notice.agent_id,
    agent_name: notice.agent_name,
    changed_by: notice.changed_by,
    justification: notice.justification,
    approval_ticket: notice.approval_ticket,
    ticket_missing: notice.ticket_missing,
    status: notice.status,
    currency: notice.currency,
    at: notice.at,
    fields: notice.fields.map((f) => ({ field: f.field, old_value: f.old_value, new_value: f.new_value })),
  };
}
