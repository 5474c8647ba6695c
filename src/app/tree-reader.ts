import { nodeHash } from '../domain/merkle/tree-hash.ts';
import type { NodeAt } from '../domain/merkle/proofs.ts';
import { inclusionProof } from '../domain/merkle/proofs.ts';
import { consistencyProof } from '../domain/merkle/proofs.ts';
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

/** A perfect subtree of the log: leaves [index·2^level, (index+1)·2^level). */
export interface Subtree {
  readonly level: number;
  readonly index: number;
  readonly hash: Buffer;
}

/**
 * The compact range of leaves [0, size): the perfect aligned subtrees of the binary
 * decomposition of `size`, largest first (at most 53 of them), each folded from stored tiles or
 * leaves. Together with the leaves from `size` on, these are all a proof in any larger tree
 * needs from before `size`, so nothing earlier has to be read again.
 */
export function storedFrontier(store: StoreReads, orgId: string, size: number): Promise<Subtree[]> {
  const wanted: [number, number][] = [];
  let width = 1;
  let level = 0;
  while (width * 2 <= size) {
    width *= 2;
    level++;
  }
  for (let start = 0; start < size; width /= 2, level--) {
    if (size - start >= width) {
      wanted.push([level, start / width]);
      start += width;
    }
  }
  return withStoredNodes(store, orgId, (nodeAt) => wanted.map(([l, i]) => ({ level: l, index: i, hash: nodeAt(l, i) })));
}

/** The RFC 9162 consistency proof from the tree of size `from` to that of size `to`, from stored nodes. */
export const storedConsistencyProof = (store: StoreReads, orgId: string, from: number, to: number): Promise<Buffer[]> =>
  withStoredNodes(store, orgId, (nodeAt) => consistencyProof(from, to, nodeAt));
