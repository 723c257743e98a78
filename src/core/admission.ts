/**
 * Admission: which verified entries a node stores, and where the others wait.
 *
 * A node stores an entry only if its author holds, somewhere in the stored log, a grant that covers
 * the entry's place (or is the genesis author). That rule is *monotone* (more entries never make an
 * admitted entry inadmissible), so the stored set converges to the same set on every node whatever
 * the delivery order. Revocation is deliberately not part of admission: whether a revoked key's
 * entry counts is the view's decision (resolve.ts), and deciding it here would make the stored set
 * depend on whether the REVOKE or the entry arrived first, so logs would never converge.
 *
 * Entries that are authentic but not (yet) admissible wait in a bounded pool: orphans until their
 * parent arrives, unauthorized ones until a grant for their author arrives. The pool evicts the
 * oldest entry when full; anti-entropy sync brings an evicted entry back when it becomes useful.
 */
import { type ErrorCode } from './errors.ts';
import { type Entry } from './entry.ts';
import { toHex } from './hash.ts';
import { ancestorsAndSelf } from './paths.ts';

export const MAX_PENDING = 10_000;
/** Entries may carry up to 64 KiB, so the pool is bounded in bytes too. */
export const MAX_PENDING_BYTES = 16 * 1024 * 1024;

export class GrantIndex {
  /** Author (hex) → directories where a stored GRANT names it. */
  private readonly dirs = new Map<string, Set<string>>();
  private genesisAuthor = '';

  setGenesisAuthor(author: string): void {
    this.genesisAuthor = author;
  }

  addGrant(grantee: string, dir: string): void {
    let set = this.dirs.get(grantee);
    if (set === undefined) this.dirs.set(grantee, (set = new Set()));
    set.add(dir);
  }

  /**
   * null when `author` may have written an entry that needs authority over `scope` (a directory path;
   * null scope = the root directory's own chain, which only the genesis author writes); else the code.
   */
  check(author: string, scope: string | null): ErrorCode | null {
    if (author === this.genesisAuthor) return null;
    const dirs = this.dirs.get(author);
    if (dirs === undefined) return 'UNKNOWN_KEY';
    if (scope === null) return 'NOT_AUTHORIZED';
    for (const a of ancestorsAndSelf(scope)) if (dirs.has(a)) return null;
    return 'NOT_AUTHORIZED';
  }

  /** Every author ever granted (hex) with the directories. */
  entries(): IterableIterator<[string, Set<string>]> {
    return this.dirs.entries();
  }
}

type Waiting = { entry: Entry; key: string; on: string };

/** Bounded pool of authentic entries waiting for a parent (on = parent hex) or a grant (on = author hex). */
export class PendingPool {
  private readonly byKey = new Map<string, Waiting>();
  private readonly byWait = new Map<string, Map<string, Waiting>>();
  private readonly max: number;
  private readonly maxBytes: number;
  private bytes = 0;

  constructor(max = MAX_PENDING, maxBytes = MAX_PENDING_BYTES) {
    this.max = max;
    this.maxBytes = maxBytes;
  }

  get size(): number {
    return this.byKey.size;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  add(entry: Entry, on: string): void {
    const key = toHex(entry.hash);
    if (this.byKey.has(key)) return;
    // Map iteration order is insertion order: the first key is the oldest.
    while (this.byKey.size > 0 && (this.byKey.size >= this.max || this.bytes + entry.bytes.length > this.maxBytes))
      this.remove(this.byKey.keys().next().value as string);
    const w = { entry, key, on };
    this.byKey.set(key, w);
    this.bytes += entry.bytes.length;
    let group = this.byWait.get(on);
    if (group === undefined) this.byWait.set(on, (group = new Map()));
    group.set(key, w);
  }

  /** Remove and return everything waiting on `on`. */
  release(on: string): Entry[] {
    const group = this.byWait.get(on);
    if (group === undefined) return [];
    this.byWait.delete(on);
    const out: Entry[] = [];
    for (const w of group.values()) {
      this.byKey.delete(w.key);
      this.bytes -= w.entry.bytes.length;
      out.push(w.entry);
    }
    return out;
  }

  private remove(key: string): void {
    const w = this.byKey.get(key);
    if (w === undefined) return;
    this.byKey.delete(key);
    this.bytes -= w.entry.bytes.length;
    const group = this.byWait.get(w.on);
    group?.delete(key);
    if (group?.size === 0) this.byWait.delete(w.on);
  }
}
