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
import { HASH_BYTES, taggedHash, type Hash } from './hash.ts';
import { splitPath } from './paths.ts';
import { appendTight } from './tree.ts';

export interface MerkleNode {
  readonly name: string;
  readonly path: string;
  readonly parent: MerkleNode | null;
  /** Replaced, not mutated, while short (appendTight). */
  entries: Hash[];
  /** NO_CHILDREN until the first child (most nodes are files: an empty Map costs ~220 bytes). */
  children: ReadonlyMap<string, MerkleNode>;
  hash: Hash | null; // null = dirty
}

const NO_CHILDREN: ReadonlyMap<string, MerkleNode> = new Map();

/**
 * Node hashes are copied into shared slabs: a digest of its own costs an ArrayBuffer and a native
 * backing store (~450 bytes measured) besides its 32 bytes, on each of thousands of nodes. A slab
 * is freed once none of its hashes is current; it is small so that a few current hashes written
 * long ago cannot keep much memory alive.
 */
const SLAB_BYTES = 64 * HASH_BYTES;

export interface MerkleSummary {
  path: string;
  hash: Hash;
  entries: Hash[];
  children: Array<{ name: string; hash: Hash }>;
}

export class MerkleTree {
  readonly root: MerkleNode = {
    name: '',
    path: '/',
    parent: null,
    entries: [],
    children: NO_CHILDREN,
    hash: null,
  };
  private slab = new Uint8Array(0);
  private slabUsed = 0;

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
          path: node.path === '/' ? '/' + part : node.path + '/' + part,
          parent: node,
          entries: [],
          children: NO_CHILDREN,
          hash: null,
        };
        if (node.children === NO_CHILDREN) node.children = new Map();
        (node.children as Map<string, MerkleNode>).set(part, child);
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
    for (const c of children) {
      // Encoded here rather than kept per node (a Buffer per path cost ~100 bytes on thousands).
      const nameBytes = Buffer.from(c.name);
      parts.push(Uint8Array.of(nameBytes.length), nameBytes, this.hashOf(c));
    }
    node.hash = this.keep(taggedHash('basefs/merkle/v1', ...parts));
    return node.hash;
  }

  /** A copy of `hash` in the current slab (see SLAB_BYTES). */
  private keep(hash: Hash): Hash {
    if (this.slabUsed + HASH_BYTES > this.slab.length) {
      this.slab = new Uint8Array(SLAB_BYTES);
      this.slabUsed = 0;
    }
    const kept = this.slab.subarray(this.slabUsed, this.slabUsed + HASH_BYTES);
    kept.set(hash);
    this.slabUsed += HASH_BYTES;
    return kept;
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
  return [...node.children.values()].sort((a, b) => compareUtf8(a.name, b.name));
}

/**
 * The byte order of two strings' UTF-8 encodings, without encoding them. UTF-16 code unit order
 * agrees with it except between surrogates (D800-DFFF, code points above FFFF, which are 4 bytes
 * in UTF-8) and units E000-FFFF: moving surrogates above those restores code point order, which
 * is UTF-8 byte order. A string sorts before any longer string it is a prefix of, in both.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x += x < 0xe000 ? 0x2000 : -0x800;
    if (y >= 0xd800) y += y < 0xe000 ? 0x2000 : -0x800;
    return x - y;
  }
  return a.length - b.length;
}

