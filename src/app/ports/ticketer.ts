import type { SendResult } from './notifier.ts';

/** What a ticket about a summary that needs review says. Plain text; adapters format it. */
export interface TicketRequest {
  readonly org_id: string;
  readonly summary_id: string;
  readonly period: string;
  readonly cluster: string | null;
  readonly title: string;
  /** Lines of plain text: headline numbers, flags, top exceptions. */
  readonly description: readonly string[];
}

export type TicketResult = SendResult & {
  /** The tracker's key or identifier (e.g. FIN-123, ENG-42) when created. */
  readonly ticket_key?: string | undefined;
  readonly ticket_url?: string | undefined;
};

/** Opens a ticket in an issue tracker (Jira Cloud, Linear, or a generic webhook). */
export interface TicketOpener {
  readonly channel: 'jira' | 'linear' | 'ticket-webhook';
  open(ticket: TicketRequest): Promise<TicketResult>;
}
