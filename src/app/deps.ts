import type { Clock } from './ports/clock.ts';
import type { ChannelSender } from './ports/notifier.ts';
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
}
