/**
 * The files whose current version lacks blocks on this node, kept up to date cheaply: accepted
 * WRITE and LINK entries mark their path to be re-read, and a refresh re-reads only those and the
 * files already known incomplete. A node asks for their blocks in every session until complete.
 */
import { ACTION } from '../core/entry.ts';
import { toHex, type Hash } from '../core/hash.ts';
import type { Log } from '../core/log.ts';
import type { Node } from '../core/tree.ts';
import type { View } from '../core/view.ts';
import type { SyncBlocks } from './block-wants.ts';

export class IncompleteFiles {
  readonly #view: View;
  readonly #blocks: Pick<SyncBlocks, 'has'>;
  /** Files to (re)check, and those known incomplete with their missing blocks. */
  readonly #toCheck = new Set<string>();
  readonly #incomplete = new Map<string, Hash[]>();

  constructor(view: View, blocks: Pick<SyncBlocks, 'has'>) {
    this.#view = view;
    this.#blocks = blocks;
  }

  /** Entries were accepted: their files may now need blocks. */
  note(nodes: Iterable<Node>): void {
    for (const n of nodes) if (n.entry.action === ACTION.WRITE || n.entry.action === ACTION.LINK) this.#toCheck.add(n.path);
  }

  /** Re-reads the block state of noted and incomplete files; returns how many blocks are missing. */
  refresh(): number {
    for (const p of this.#incomplete.keys()) this.#toCheck.add(p);
    for (const p of this.#toCheck) {
      let missing: Hash[] = [];
      try {
        missing = this.#view.blockState(p).blocks.filter((h) => !this.#blocks.has(h));
      } catch {
        // deleted, or not a file any more (or the store failed: never thrown into SWIM's listeners)
      }
      if (missing.length > 0) this.#incomplete.set(p, missing);
      else this.#incomplete.delete(p);
    }
    this.#toCheck.clear();
    let n = 0;
    for (const hs of this.#incomplete.values()) n += hs.length;
    return n;
  }

  /** Every missing block, once. */
  missingBlocks(): Hash[] {
    const seen = new Set<string>();
    const out: Hash[] = [];
    for (const hs of this.#incomplete.values())
      for (const h of hs) {
        const k = toHex(h);
        if (!seen.has(k)) {
          seen.add(k);
          out.push(h);
        }
      }
    return out;
  }
}

/**
 * Every file of the log checked once: what a driver advertises before its NodeCore exists
 * (node-meta.ts COMPLETE: `missing === 0`), and the state the core then starts from
 * (NodeCoreOptions.files), so a node's start-up reads each file's block state once, not twice.
 */
export interface FileScan {
  files: IncompleteFiles;
  missing: number;
  /** The log's size at the scan: entries from this position on were not looked at. */
  size: number;
}

export function scanFiles(log: Log, view: View, blocks: Pick<SyncBlocks, 'has'>): FileScan {
  const files = new IncompleteFiles(view, blocks);
  files.note(log.tree.nodes.values());
  return { files, missing: files.refresh(), size: log.size };
}
