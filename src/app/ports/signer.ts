import type { Checkpoint } from '../../domain/checkpoint/checkpoint.ts';

/**
 * Signs tree checkpoints. The private key lives outside the database (a key file or the
 * environment), so someone who can rewrite tables cannot also re-sign a rewritten history.
 */
export interface CheckpointSigner {
  /** The verifier key text (`<name>+<hash>+<base64 key>`) auditors pin. */
  readonly verifierKey: string;
  sign(checkpoint: Checkpoint): string;
}
