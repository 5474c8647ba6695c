import type { Clock } from './ports/clock.ts';
import type { ChannelSender } from './ports/notifier.ts';
import type { Mailer } from './ports/mailer.ts';
import type { TicketOpener } from './ports/ticketer.ts';
import type { SignedSummary } from '../domain/summary/summary.ts';
import type { IdSource } from './ports/id-source.ts';
import type { CheckpointSigner } from './ports/signer.ts';
import type { Store } from './ports/store.ts';

/** What every use case needs, injected once. */
export interface AppDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly signer: CheckpointSigner;
  /** Where policy-change notices go (Slack, a generic webhook); none when not configured. */
  readonly channels?: readonly ChannelSender[] | undefined;
  /** Where monthly summaries are emailed (with the PDF), when configured. */
  readonly mailer?: Mailer | undefined;
  readonly summaryRecipients?: readonly string[] | undefined;
  /** Where a ticket is opened when a summary needs review, when configured. */
  readonly ticketer?: TicketOpener | undefined;
  /** Renders a summary as its one-page PDF (an adapter, injected). */
  readonly renderSummaryPdf?: ((s: SignedSummary) => Promise<Buffer>) | undefined;
}
