import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CompactTree,
  consistencyProof,
  frontierOf,
  type Hash,
  inclusionProof,
  leafHash,
  nodeHash,
  rootHash,
  sha256,
  verifyConsistency,
  verifyInclusion,
} from './ledger-tree.ts';

/** MTH straight from RFC 6962 2.1, over the leaf hashes: the reference the stored-node code must match. */
function mth(leaves: Hash[]): Hash {
  if (leaves.length === 0) return sha256();
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

const leavesOf = (n: number) =>
  Array.from({ length: n }, (_, i) => leafHash(i.toString(16).padStart(64, '0')));
/** Stored complete subtrees, as audit.tree_nodes holds them. */
const storedNodes = (leaves: Hash[]) => (level: number, idx: number) =>
  mth(leaves.slice(idx * 2 ** level, (idx + 1) * 2 ** level));

describe('the RFC 6962 tree from stored complete subtrees', () => {
  it('roots, inclusion and consistency proofs agree with the reference for every size up to 70', () => {
    for (let n = 1; n <= 70; n++) {
      const leaves = leavesOf(n);
      const nodes = storedNodes(leaves);
      const root = rootHash(nodes, n);
      expect(root).toEqual(mth(leaves));
      const compact = new CompactTree();
      for (const l of leaves) compact.push(l);
      expect(compact.root()).toEqual(root);
      for (let m = 0; m < n; m++) {
        const path = inclusionProof(nodes, m, n);
        expect(path.length).toBeLessThanOrEqual(Math.ceil(Math.log2(n)));
        expect(verifyInclusion(leaves[m]!, m, n, path, root)).toBe(true);
        if (n > 1) expect(verifyInclusion(leaves[(m + 1) % n]!, m, n, path, root)).toBe(false);
      }
      for (let m = 0; m <= n; m++) {
        const proof = consistencyProof(nodes, m, n);
        expect(verifyConsistency(m, n, proof, mth(leaves.slice(0, m)), root)).toBe(true);
        if (m > 0 && m < n)
          expect(verifyConsistency(m, n, proof, sha256(new Uint8Array([9])), root)).toBe(false);
      }
    }
  });

  it('a tree resumed from its right edge (an archived prefix) grows to the same root', () => {
    fc.assert(
      fc.property(fc.nat(200), fc.nat(40), (n, more) => {
        const leaves = leavesOf(n + more);
        const t = CompactTree.fromFrontier(frontierOf(storedNodes(leaves.slice(0, n)), n), n);
        for (const l of leaves.slice(n)) t.push(l);
        expect(t.root()).toEqual(mth(leaves));
      }),
      { numRuns: 200 },
    );
  });
});
