export { HASH_SIZE, emptyRoot, leafHash, nodeHash, rootOf } from './tree-hash.ts';
export { CompactRange } from './compact-range.ts';
export type { CompleteSubtreeListener } from './compact-range.ts';
export { consistencyProof, inclusionProof, nodeAtFromLeaves, verifyConsistency, verifyInclusion } from './proofs.ts';
export type { NodeAt } from './proofs.ts';
