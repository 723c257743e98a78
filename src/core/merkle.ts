/**
 * The Merkle tree over the log, shaped like the directory tree so that two nodes can compare root
 * hashes and descend only into the directories whose hashes differ.
 *
 * Every path that has entries (including deleted paths, old incarnations and permission entries:
 * the tree covers the stored *set*, not the current view, so it converges exactly when the logs do)
 * has a node:
 *
 *   hash(path) = SHA-256("basefs/merkle/v1" NUL
 *                        || u32 entryCount || entry hashes in byte order
 *                        || for each child in byte order of name: u8 nameLength || name || hash(child))
 *
 * Unlike the original's XOR, sorted concatenation cannot cancel out (its root-level entries vanished)
 * and cannot be forged by choosing entries whose hashes XOR to a target. Hashes are recomputed lazily:
 * an insert marks the path and its ancestors dirty, and `rootHash()` rehashes only dirty nodes, so a
 * bulk load of a whole log hashes each node once.
 */
import { taggedHash, type Hash } from './hash.ts';
import { splitPath } from './paths.ts';
import { appendTight } from './tree.ts';

export interface MerkleNode {
  readonly name: string;
  /** UTF-8 of `name`, kept so that sorting and hashing never re-encode it. */
  readonly nameBytes: Buffer;
  readonly path: string;
  readonly parent: MerkleNode | null;
  /** Replaced, not mutated, while short (appendTight). */
  entries: Hash[];
  readonly children: Map<string, MerkleNode>;
  hash: Hash | null; // null = dirty
}

export interface MerkleSummary {
  path: string;
  hash: Hash;
  entries: Hash[];
  children: Array<{ name: string; hash: Hash }>;
}

export class MerkleTree {
  readonly root: MerkleNode = {
    name: '',
    nameBytes: Buffer.alloc(0),
    path: '/',
    parent: null,
    entries: [],
    children: new Map(),
    hash: null,
  };

  add(path: string, entryHash: Hash): void {
    this.addAt(this.nodeFor(path), entryHash);
  }

  /** Add to a node found earlier with nodeFor (callers cache it per chain: no path walk per entry). */
  addAt(node: MerkleNode, entryHash: Hash): void {
    node.entries = appendTight(node.entries, entryHash);
    // Invariant: a dirty node's ancestors are dirty, so the walk may stop at the first dirty one.
    for (let n: MerkleNode | null = node; n !== null && n.hash !== null; n = n.parent) n.hash = null;
  }

  /** The node of a path, created (empty) if missing. */
  nodeFor(path: string): MerkleNode {
    let node = this.root;
    for (const part of splitPath(path)) {
      let child = node.children.get(part);
      if (child === undefined) {
        // A new child is born dirty: dirty its ancestors too, to keep the invariant addAt relies on.
        for (let n: MerkleNode | null = node; n !== null && n.hash !== null; n = n.parent) n.hash = null;
        child = {
          name: part,
          nameBytes: Buffer.from(part),
          path: node.path === '/' ? '/' + part : node.path + '/' + part,
          parent: node,
          entries: [],
          children: new Map(),
          hash: null,
        };
        node.children.set(part, child);
      }
      node = child;
    }
    return node;
  }

  find(path: string): MerkleNode | undefined {
    let node: MerkleNode | undefined = this.root;
    for (const part of splitPath(path)) {
      node = node.children.get(part);
      if (node === undefined) return undefined;
    }
    return node;
  }

  rootHash(): Hash {
    return this.hashOf(this.root);
  }

  hashOf(node: MerkleNode): Hash {
    if (node.hash !== null) return node.hash;
    // Recursion depth is the path depth, which names and the entry format bound.
    const children = sortedChildren(node);
    const entries = node.entries.sort(Buffer.compare); // in place: the order is canonical anyway
    const parts: Uint8Array[] = [];
    const count = new Uint8Array(4);
    new DataView(count.buffer).setUint32(0, entries.length);
    parts.push(count, ...entries);
    for (const c of children) parts.push(Uint8Array.of(c.nameBytes.length), c.nameBytes, this.hashOf(c));
    node.hash = taggedHash('basefs/merkle/v1', ...parts);
    return node.hash;
  }

  /** What a sync peer needs to compare one directory level. */
  summary(path: string): MerkleSummary | undefined {
    const node = this.find(path);
    if (node === undefined) return undefined;
    return {
      path,
      hash: this.hashOf(node),
      entries: node.entries.sort(Buffer.compare).slice(),
      children: sortedChildren(node).map((c) => ({ name: c.name, hash: this.hashOf(c) })),
    };
  }
}

/** Children in byte order of their UTF-8 names, identical on every platform and locale. */
function sortedChildren(node: MerkleNode): MerkleNode[] {
  return [...node.children.values()].sort((a, b) => Buffer.compare(a.nameBytes, b.nameBytes));
}

