/**
 * The structural index of the log: every stored entry as a node that knows its path, its chain and
 * its successors. This is pure bookkeeping, decided by each entry and its parent alone, so it is the
 * same on every node whatever order entries arrived in. Who *wins* is decided later (resolve.ts).
 *
 * How entries link (one chain per path, as in the original, but without its name-based guessing):
 *   - A CHILD entry (MKDIR, WRITE, SLINK or LINK whose parent is a MKDIR) starts a path
 *     `parent.path/name` under that directory incarnation. Several CHILD entries with the same name
 *     under the same MKDIR are competing first entries of one chain.
 *   - Every other content entry is a NEXT entry: it continues its parent's path (its name must be the
 *     path's base name), e.g. WRITE after WRITE, DELETE after anything, MKDIR or WRITE after DELETE.
 *   - GRANT and REVOKE form the directory's permission chain: the first hangs off the directory's
 *     MKDIR, each later one off a previous permission entry.
 *   - A directory's children hang off the MKDIR that created its current incarnation, so deleting and
 *     re-creating a directory starts it empty, and its grants over again.
 */
import { err } from './errors.ts';
import { ACTION, isGenesis, type Entry } from './entry.ts';
import { toHex } from './hash.ts';
import type { MerkleNode } from './merkle.ts';
import { baseName, checkName, joinPath } from './paths.ts';

/** What a path is after an entry: what may follow it is decided by this. */
export type NodeKind = 'dir' | 'file' | 'gone' | 'perm';

/** Shared by every node without successors (most nodes); frozen, so a stray push throws. */
const NO_NODES: readonly Node[] = Object.freeze([]);

/**
 * `list` with `item` appended. Most lists here hold one or two items for good, and V8 gives an
 * array 17 slots on its first push (152 bytes for one pointer): short lists are copied at their
 * exact size instead, longer ones grow in place as usual.
 */
export function appendTight<T>(list: readonly T[], item: T): T[] {
  // concat allocates the exact size; a spread or a push would reserve 17 slots again.
  if (list.length < 4) return list.concat([item]);
  const grown = list as T[];
  grown.push(item);
  return grown;
}

/**
 * One stored entry in the tree. A class with every field set in the constructor, so that the
 * 100,000 of them a large log holds share one compact object shape.
 */
export class Node {
  readonly entry: Entry;
  readonly key: string; // hex hash
  readonly author: string; // hex public key
  /** Position in this node's log (insertion order): parents and grants always come earlier. */
  readonly seq: number;
  readonly path: string;
  readonly kind: NodeKind;
  readonly chain: Chain;
  readonly parent: Node | null; // null for the first entries of a chain
  /** Successors in the same chain. Replaced, not mutated, while short (appendTight). */
  children: readonly Node[] = NO_NODES;
  /** For MKDIR nodes: the chains of the children of this incarnation, and its permission chain. */
  readonly dirChildren: Map<string, Chain> | undefined;
  permChain: Chain | undefined = undefined;
  /** For REVERT nodes: the ancestor whose state is restored. */
  readonly revertTo: Node | undefined;

  constructor(entry: Entry, key: string, author: string, seq: number, placed: Placement) {
    this.entry = entry;
    this.key = key;
    this.author = author;
    this.seq = seq;
    this.path = placed.path;
    this.kind = placed.kind;
    this.chain = placed.chain;
    this.parent = placed.parent;
    this.revertTo = placed.revertTo;
    this.dirChildren = entry.action === ACTION.MKDIR ? new Map() : undefined;
  }
}

export class Chain {
  /** Competing first entries. Replaced, not mutated, while short (appendTight). */
  roots: readonly Node[] = NO_NODES;
  size = 0;
  /** Bumped on every insert; resolve.ts caches on it. */
  version = 0;
  /** The Merkle tree node of this chain's path, cached by the log so adds skip the path walk. */
  merkle: MerkleNode | null = null;
  readonly kind: 'content' | 'perm';
  readonly path: string;
  /** The MKDIR this chain hangs from: the parent directory (content) or the directory itself (perm). */
  readonly dir: Node | null;
  constructor(kind: 'content' | 'perm', path: string, dir: Node | null) {
    this.kind = kind;
    this.path = path;
    this.dir = dir;
  }
}

export interface Placement {
  path: string;
  kind: NodeKind;
  chain: Chain;
  parent: Node | null;
  revertTo?: Node;
}

const CREATING: ReadonlySet<number> = new Set([ACTION.MKDIR, ACTION.WRITE, ACTION.SLINK, ACTION.LINK]);

export class Tree {
  readonly nodes = new Map<string, Node>();
  readonly rootChain = new Chain('content', '/', null);
  /** One string per author, shared by all its nodes (a log has few authors and many entries). */
  private readonly authors = new Map<string, string>();
  genesis: Node | null = null;

  get(key: string): Node | undefined {
    return this.nodes.get(key);
  }

  /**
   * Place an entry whose parent is already in the tree. Throws ORPHAN / BAD_PARENT / BAD_NAME /
   * SECOND_ROOT without changing anything when the entry cannot follow its parent.
   */
  insert(entry: Entry, placed: Placement = this.place(entry)): Node {
    const key = toHex(entry.hash);
    if (this.nodes.has(key)) throw err('DUPLICATE', 'entry already in the tree');
    const hex = toHex(entry.author);
    let author = this.authors.get(hex);
    if (author === undefined) this.authors.set(hex, (author = hex));
    const node = new Node(entry, key, author, this.nodes.size, placed);
    const chain = placed.chain;
    if (placed.parent) placed.parent.children = appendTight(placed.parent.children, node);
    else chain.roots = appendTight(chain.roots, node);
    // Register a chain the first time an entry lands in it (place() only proposed it).
    if (chain.size === 0 && chain.dir !== null) {
      if (chain.kind === 'perm') chain.dir.permChain = chain;
      else (chain.dir.dirChildren as Map<string, Chain>).set(baseName(chain.path), chain);
    }
    chain.size++;
    chain.version++;
    if (this.genesis === null) this.genesis = node;
    this.nodes.set(node.key, node);
    return node;
  }

  /** Decide path, kind and chain without changing anything, so a rejected entry leaves no trace. */
  place(entry: Entry): Placement {
    if (isGenesis(entry)) {
      if (this.genesis !== null) throw err('SECOND_ROOT', 'this filesystem already has a genesis entry');
      if (entry.action !== ACTION.MKDIR || entry.name !== '/')
        throw err('BAD_PARENT', 'the genesis entry must be MKDIR "/"');
      return { path: '/', kind: 'dir', chain: this.rootChain, parent: null };
    }
    const p = this.nodes.get(toHex(entry.parent));
    if (p === undefined) throw err('ORPHAN', 'parent not in the log');
    const a = entry.action;

    if (a === ACTION.GRANT || a === ACTION.REVOKE) {
      if (p.kind === 'perm') return { path: p.path, kind: 'perm', chain: p.chain, parent: p };
      if (p.entry.action !== ACTION.MKDIR) throw err('BAD_PARENT', 'a permission chain starts at a MKDIR');
      return { path: p.path, kind: 'perm', chain: p.permChain ?? new Chain('perm', p.path, p), parent: null };
    }
    if (p.kind === 'perm') throw err('BAD_PARENT', 'content cannot follow a permission entry');

    if (p.kind === 'dir' && CREATING.has(a)) {
      if (p.entry.action !== ACTION.MKDIR) throw err('BAD_PARENT', 'new paths hang off a MKDIR');
      checkName(entry.name);
      const path = joinPath(p.path, entry.name);
      const chain = (p.dirChildren as Map<string, Chain>).get(entry.name) ?? new Chain('content', path, p);
      return { path, kind: a === ACTION.MKDIR ? 'dir' : 'file', chain, parent: null };
    }

    // A NEXT entry: same path as its parent.
    if (entry.name !== p.entry.name) throw err('BAD_NAME', 'a successor keeps its path\'s name');
    const next = (kind: NodeKind, revertTo?: Node): Placement => ({ path: p.path, kind, chain: p.chain, parent: p, revertTo });
    switch (a) {
      case ACTION.MKDIR:
        if (p.kind !== 'gone') throw err('BAD_PARENT', 'MKDIR over an existing path: delete it first');
        return next('dir');
      case ACTION.WRITE:
      case ACTION.SLINK:
      case ACTION.LINK:
        return next('file'); // p is a file or gone here
      case ACTION.DELETE:
        if (p.path === '/') throw err('BAD_PARENT', 'the root cannot be deleted');
        return next('gone');
      case ACTION.MODE:
        if (p.kind === 'gone') throw err('BAD_PARENT', 'MODE on a deleted path');
        return next(p.kind);
      case ACTION.ACK:
        return next(p.kind);
      case ACTION.REVERT: {
        if (p.kind === 'dir') throw err('BAD_PARENT', 'directories are not reverted; delete and re-create');
        const target = toHex(entry.content);
        for (let q: Node | null = p; q !== null; q = q.parent) {
          if (q.key === target) {
            if (q.kind === 'dir' || q.kind === 'perm') throw err('BAD_PARENT', 'REVERT target is not a file state');
            return next(q.kind, q);
          }
        }
        throw err('BAD_PARENT', 'REVERT target is not an earlier entry of this path');
      }
    }
    throw err('MALFORMED', `unknown action ${a}`);
  }
}
