import type { SendResult } from './notifier.ts';

export interface MailAttachment {
  readonly filename: string;
  readonly content: Buffer;
  readonly contentType: string;
}

export interface MailMessage {
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
  readonly html?: string | undefined;
  readonly attachments: readonly MailAttachment[];
}

/** Sends mail (SMTP in production). Failures are results, not throws, so they can be retried and recorded. */
export interface Mailer {
  readonly channel: 'email';
  send(message: MailMessage): Promise<SendResult>;
}
