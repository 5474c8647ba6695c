import { SpendtrailError } from '../domain/errors.ts';
import type { AppDeps } from './deps.ts';
import { LogSealer } from './log-sealer.ts';
import type { CheckpointRow, OrgRow, StoreTx, TreeHead } from './ports/store.ts';

export interface AppendContext {
  readonly tx: StoreTx;
  readonly org: OrgRow;
  readonly sealer: LogSealer;
  readonly now: Date;
  /** The head as locked, before this append. */
  readonly head: TreeHead;
}

export interface Appended<T> {
  readonly result: T;
  readonly checkpoint: CheckpointRow | null;
}

/**
 * Appends to an organisation's log inside a unit of work the caller opened: lock the tree,
 * let `fn` add entries and write its projections, then seal and sign.
 */
export async function appendWithin<T>(
  deps: AppDeps,
  tx: StoreTx,
  orgId: string,
  fn: (ctx: AppendContext) => Promise<T>,
): Promise<Appended<T>> {
  const head = await tx.lockTree(orgId);
  const org = await tx.getOrg(orgId);
  if (org === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `no organisation ${orgId}`);
  const now = deps.clock.now();
  const sealer = new LogSealer(orgId, head);
  const result = await fn({ tx, org, sealer, now, head });
  const checkpoint = await sealer.finish(tx, org.log_origin, deps.signer, now);
  return { result, checkpoint };
}

/** One unit of work that appends to a log: everything commits together or not at all. */
export function appendToLog<T>(deps: AppDeps, orgId: string, fn: (ctx: AppendContext) => Promise<T>): Promise<Appended<T>> {
  return deps.store.unitOfWork((tx) => appendWithin(deps, tx, orgId, fn));
}
