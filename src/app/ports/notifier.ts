import type { ChangeValue } from './change-log.ts';

/** What a chat or ticket tool is told about a policy change. Never carries a secret. */
export interface ChangeNotice {
  readonly org_id: string;
  readonly change_id: string;
  readonly agent_id: string;
  readonly agent_name: string | null;
  readonly changed_by: string;
  readonly justification: string;
  readonly approval_ticket: string | null;
  readonly ticket_missing: boolean;
  /** `applied` took effect at once; `pending` waits for a second person. */
  readonly status: 'pending' | 'applied';
  readonly currency: string;
  /** ISO 8601 UTC. */
  readonly at: string;
  readonly fields: readonly { readonly field: string; readonly old_value: ChangeValue; readonly new_value: ChangeValue }[];
}

/** The outcome of one delivery attempt, as recorded. */
export interface SendResult {
  readonly ok: boolean;
  readonly http_status: number | null;
  /** A short reason on failure; never contains the destination URL. */
  readonly error: string | null;
  /** False for failures a retry cannot fix (e.g. 400/403/404 from Slack). */
  readonly retryable: boolean;
}

/** One destination (a Slack incoming webhook, a generic JSON webhook). */
export interface ChannelSender {
  /** Stable name used in delivery records, e.g. `slack` or `webhook`. */
  readonly channel: string;
  send(notice: ChangeNotice): Promise<SendResult>;
}
