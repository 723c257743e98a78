/**
 * Stopgap for a bug in src/core/merkle.ts (to be removed once the core is fixed; see the report of
 * the sync work): MerkleTree.nodeFor() creates a new path's node with hash = null (dirty) but leaves
 * its ancestors' cached hashes in place, and addAt() stops invalidating at the first node that is
 * already dirty, i.e. at once. So once any root hash has been computed, adding an entry at a path
 * that did not exist yet leaves every ancestor, the root included, with a stale hash: two logs that
 * differ can report equal roots, and anti-entropy would then never reconcile them.
 *
 * The fix, in the core: in nodeFor, when a child is created, null the hash of `node` and its
 * ancestors up to the first one already null (or, equivalently, in addAt, null `node.hash` and then
 * walk up from `node.parent`).
 *
 * Until then the session restores the invariant "a dirty node's ancestors are dirty" itself: at
 * its start (one pass over the Merkle nodes, no hashing), and above the entries it ingests. This cannot
 * repair a root that was already *read* stale after the insert (its cache is then clean and
 * wrong): a daemon that reads its root after every change needs the core fix.
 */
import type { MerkleNode, MerkleTree } from '../core/merkle.ts';

/** Null the cached hash of every node that has a dirty descendant. Returns how many were stale. */
export function invalidateStaleAncestors(tree: MerkleTree): number {
  let stale = 0;
  // Post-order without recursion: children are finished before their parent is looked at.
  const order: MerkleNode[] = [];
  const stack: MerkleNode[] = [tree.root];
  while (stack.length > 0) {
    const n = stack.pop() as MerkleNode;
    order.push(n);
    for (const c of n.children.values()) stack.push(c);
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i] as MerkleNode;
    if (n.hash === null && n.parent !== null && n.parent.hash !== null) {
      n.parent.hash = null;
      stale++;
    }
  }
  return stale;
}

/** After entries were stored at `paths`: null the cached hashes above their (new, dirty) nodes. */
export function invalidateAbove(tree: MerkleTree, paths: Iterable<string>): void {
  for (const path of paths) {
    const node = tree.find(path);
    if (node === undefined || node.hash !== null) continue;
    for (let n = node.parent; n !== null && n.hash !== null; n = n.parent) n.hash = null;
  }
}
