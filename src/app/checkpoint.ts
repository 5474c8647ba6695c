import { SpendtrailError } from '../domain/errors.ts';
import type { AppDeps } from './deps.ts';
import type { Principal } from './principal.ts';
import { requireRole } from './principal.ts';
import type { CheckpointRow } from './ports/store.ts';

/**
 * Every append already signs a checkpoint in its own unit of work; this signs one for the
 * current head if none covers it yet (e.g. after an upgrade) and returns the latest.
 */
export async function createCheckpoint(deps: AppDeps, by: Principal): Promise<CheckpointRow> {
  requireRole(by, 'admin', 'auditor', 'finance');
  return deps.store.unitOfWork(async (tx) => {
    const head = await tx.lockTree(by.org_id);
    const org = await tx.getOrg(by.org_id);
    if (org === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `no organisation ${by.org_id}`);
    const latest = await tx.latestCheckpoint(by.org_id);
    if (latest !== undefined && latest.tree_size === head.size) return latest;
    const now = deps.clock.now();
    const note = deps.signer.sign({ origin: org.log_origin, size: head.size, root: head.root });
    const cp: CheckpointRow = { org_id: org.org_id, tree_size: head.size, root: head.root, note, created_at: now };
    await tx.saveTree(org.org_id, head, [], cp, now);
    return cp;
  });
}
