/**
 * Which blocks to ask a peer for, a bounded number at a time. Candidates are the files whose WRITE
 * or LINK entries arrived in this session (only their current version: an overwritten version is
 * never shown, so its blocks are not worth fetching) and any block the caller already knows is
 * missing (a daemon tracks its incomplete files). A block is asked at most once per session: if the
 * peer does not have it, another peer will be asked in another session.
 */
import { isBasefsError } from '../core/errors.ts';
import { ACTION } from '../core/entry.ts';
import { toHex, type Hash } from '../core/hash.ts';
import type { Node } from '../core/tree.ts';
import type { View } from '../core/view.ts';

/** What the session needs from a block store (src/core/block-store.ts BlockStore has all three). */
export interface SyncBlocks {
  has(hash: Hash): boolean;
  get(hash: Hash): Uint8Array | null;
  /** Store bytes received as `hash`; throws BAD_HASH (storing nothing) if they are not. */
  putExpected(hash: Hash, bytes: Uint8Array): void;
}

export class BlockWants {
  private readonly view: View;
  private readonly blocks: SyncBlocks;
  private readonly paths = new Set<string>();
  private readonly known: Hash[];
  /** Asked in this session (hex): never asked twice. */
  private readonly asked = new Set<string>();

  constructor(view: View, blocks: SyncBlocks, known: Iterable<Hash>) {
    this.view = view;
    this.blocks = blocks;
    this.known = [...known];
  }

  /** Note files whose content may now need blocks. */
  noteAccepted(nodes: readonly Node[]): void {
    for (const n of nodes)
      if (n.entry.action === ACTION.WRITE || n.entry.action === ACTION.LINK) this.paths.add(n.path);
  }

  /** Up to `max` missing blocks not asked before. */
  next(max: number): Hash[] {
    const out: Hash[] = [];
    const take = (h: Hash): boolean => {
      const k = toHex(h);
      if (this.asked.has(k) || this.blocks.has(h)) return true;
      if (out.length >= max) return false;
      this.asked.add(k);
      out.push(h);
      return true;
    };
    while (this.known.length > 0 && take(this.known[0] as Hash)) this.known.shift();
    for (const path of this.paths) {
      let blocks: Hash[];
      try {
        blocks = this.view.blockState(path).blocks;
      } catch (e) {
        if (!isBasefsError(e, 'NOT_FOUND')) throw e;
        blocks = []; // deleted since, or not a file any more
      }
      if (!blocks.every(take)) break;
      this.paths.delete(path);
    }
    return out;
  }
}

/**
 * Every block missing from the current version of any file: what a node passes as `missingBlocks`
 * when it knows it has incomplete files (equal roots do not mean equal blocks). Walks the view.
 */
export function missingBlocks(view: View, blocks: Pick<SyncBlocks, 'has'>): Hash[] {
  const out: Hash[] = [];
  for (const st of view.walk('/')) {
    if (st.kind !== 'file' || st.complete) continue;
    for (const h of view.blockState(st.path).blocks) if (!blocks.has(h)) out.push(h);
  }
  return out;
}
