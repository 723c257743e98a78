/**
 * File attributes for FUSE from the view's Stat: type bits from the kind, permission bits from the
 * log (MODE entries, else the defaults), owner = the mounting user, times = entry timestamps.
 *
 * getattr is the most frequent call (the kernel keeps attributes only briefly, so changes from
 * other nodes show within attr_timeout), so stats are cached per path until the log accepts
 * anything; a file whose newest version is still missing blocks is never cached, since a block
 * arriving (which is no log event) changes what it shows.
 */
import type { Stat } from '../core/view.ts';
import type { View } from '../core/view.ts';

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

export interface FuseStat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  blksize: number;
  blocks: number;
  atime: number;
  mtime: number;
  ctime: number;
}

const TYPE_BITS: Record<Stat['kind'], number> = { dir: S_IFDIR, file: S_IFREG, symlink: S_IFLNK };

export function fuseStat(kind: Stat['kind'], size: number, mode: number, mtime: number, ctime: number, owner: Owner): FuseStat {
  return {
    mode: TYPE_BITS[kind] | (mode & 0o7777),
    uid: owner.uid,
    gid: owner.gid,
    size: kind === 'dir' ? 4096 : size,
    // 1 for directories too: it tells find(1) not to count on nlink for its leaf optimisation.
    nlink: 1,
    blksize: 4096,
    blocks: Math.ceil(size / 512),
    atime: mtime,
    mtime,
    ctime,
  };
}

/** A path's attributes and, for a file, the version they describe (View's Stat.version). */
export interface Shown {
  st: FuseStat;
  version: string | null;
}

export interface Owner {
  uid: number;
  gid: number;
}

export class AttrCache {
  private readonly view: View;
  private readonly owner: Owner;
  private readonly cache = new Map<string, Shown>();
  private version = 0;
  private cachedVersion = 0;

  constructor(view: View, owner: Owner) {
    this.view = view;
    this.owner = owner;
  }

  /** Something changed (an entry accepted here or from a peer): every cached stat may be stale. */
  invalidate(): void {
    this.version++;
  }

  /** The stat of a path in the log and the file version it describes (throws NOT_FOUND). */
  shown(path: string): Shown {
    if (this.cachedVersion !== this.version) {
      this.cache.clear();
      this.cachedVersion = this.version;
    }
    const hit = this.cache.get(path);
    if (hit !== undefined) return hit;
    const s = this.view.stat(path);
    const shown = { st: fuseStat(s.kind, s.size, s.mode, s.mtime, s.ctime, this.owner), version: s.version };
    if (s.complete) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(path, shown);
    }
    return shown;
  }
}
