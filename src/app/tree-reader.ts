import { nodeHash } from '../domain/merkle/tree-hash.ts';
import type { NodeAt } from '../domain/merkle/proofs.ts';
import { inclusionProof } from '../domain/merkle/proofs.ts';
import { TILE_LEVELS } from './log-sealer.ts';
import type { StoreReads } from './ports/store.ts';

const STORED = [0, ...[...TILE_LEVELS].sort((a, b) => a - b)];

/**
 * Runs a proof algorithm against stored nodes. The algorithms ask for perfect subtrees only;
 * their requests do not depend on hash values, so a first pass records what is needed, the
 * nodes are read (leaves or the nearest stored tile level below, ≤ 255 rows each) and folded,
 * and a second pass builds the proof.
 */
async function withStoredNodes<T>(store: StoreReads, orgId: string, run: (nodeAt: NodeAt) => T): Promise<T> {
  const wanted: [number, number][] = [];
  const zero = Buffer.alloc(32);
  run((level, idx) => {
    wanted.push([level, idx]);
    return zero;
  });
  const known = new Map<string, Buffer>();
  for (const [level, idx] of wanted) {
    const base = STORED.filter((l) => l <= level).pop() ?? 0;
    const span = 2 ** (level - base);
    const first = idx * span;
    let nodes =
      base === 0
        ? await store.leafHashes(orgId, first, first + span)
        : (await store.tiles(orgId, base, first, first + span)).map((t) => t.hash);
    if (nodes.length !== span) throw new Error(`tree storage is missing nodes at level ${base} from ${first}`);
    while (nodes.length > 1) {
      const next: Buffer[] = [];
      for (let i = 0; i < nodes.length; i += 2) next.push(nodeHash(nodes[i] as Buffer, nodes[i + 1] as Buffer));
      nodes = next;
    }
    known.set(`${level}:${idx}`, nodes[0] as Buffer);
  }
  return run((level, idx) => known.get(`${level}:${idx}`) as Buffer);
}

export const storedInclusionProof = (store: StoreReads, orgId: string, index: number, size: number): Promise<Buffer[]> =>
  withStoredNodes(store, orgId, (nodeAt) => inclusionProof(index, size, nodeAt));
