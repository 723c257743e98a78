/**
 * What every FUSE operation shares: the replica (view for reads, writer for writes, block store),
 * the open files and the caches, and the write-side rules: no writer is EROFS, no authority over
 * the path is EACCES, both raised before any data is buffered.
 */
import type { Replica } from '../core/replica.ts';
import type { Writer } from '../core/writer.ts';
import { ACTION } from '../core/entry.ts';
import { err } from '../core/errors.ts';
import { joinPath } from '../core/paths.ts';
import type { Node } from '../core/tree.ts';
import { AttrCache, fuseStat, S_IFREG, type FuseStat, type Owner, type Shown } from './attrs.ts';
import { BlockCache } from './block-cache.ts';
import { fail } from './errno.ts';
import { KernelAttrs } from './kernel-attrs.ts';
import { OpenFiles, type OpenFile, type Snapshot } from './open-files.ts';

const DEFAULT_FILE_MODE = 0o644;

export class MountContext {
  readonly replica: Replica;
  readonly owner: Owner;
  readonly files = new OpenFiles();
  readonly attrs: AttrCache;
  readonly blocks: BlockCache;
  readonly kernel: KernelAttrs;
  /** Paths whose newest content entry arrived in the last arrivingMs, and when (accepted). */
  private readonly arriving = new Map<string, number>();
  private readonly arrivingMs: number;

  /**
   * `holdMs`: how long the kernel may keep attributes it was given (see kernel-attrs.ts);
   * `arrivingMs`: how long a file still arriving stays hidden (logShown).
   */
  constructor(replica: Replica, owner: Owner, opts: { holdMs?: number; arrivingMs?: number } = {}) {
    this.replica = replica;
    this.owner = owner;
    this.attrs = new AttrCache(replica.view, owner);
    this.blocks = new BlockCache(replica.blocks);
    this.kernel = new KernelAttrs(opts.holdMs ?? 0);
    this.arrivingMs = opts.arrivingMs ?? 0;
  }

  get view() {
    return this.replica.view;
  }

  /** The writer, after checking this key may change `path` (EROFS without a key, else EACCES). */
  writerFor(path: string): Writer {
    const w = this.replica.writer;
    if (w === null) fail('EROFS', 'this node has no key: the mount is read-only (mount with -k KEYFILE)');
    if (!w.mayWrite(path)) fail('EACCES', `${path}: this key has no write authority here (see 'basefs keys')`);
    return w;
  }

  /**
   * Attributes, with an open file's unsaved size, mode and times taking precedence over the log.
   * For the mount's own checks; what getattr answers goes through attrsForKernel.
   */
  stat(path: string): FuseStat {
    return this.current(path).st;
  }

  /**
   * getattr: attributes the kernel will keep for attr_timeout, noted with the file version they
   * describe (kernel-attrs.ts).
   */
  attrsForKernel(path: string): FuseStat {
    const shown = this.current(path);
    this.kernel.answered(path, shown.version);
    return shown.st;
  }

  /**
   * The version a handle that starts reading now reads: the one whose size the kernel may still
   * hold for this path, so that it is read whole, else the newest.
   */
  snapshotToRead(path: string): Snapshot {
    const held = this.kernel.held(path);
    const manifest = held === null ? undefined : this.view.manifestOfVersion(held);
    return held !== null && manifest !== undefined ? { version: held, manifest } : this.view.shownContent(path);
  }

  /** How long the kernel may still hold attributes of `path` older than the log's (KernelAttrs.staleFor). */
  settleMs(path: string): number {
    let current: string | null | undefined;
    try {
      current = this.current(path).version;
    } catch {
      current = undefined;
    }
    return this.kernel.staleFor(path, current);
  }

  /**
   * `names` in directory `dir` without the files still arriving (logShown). Only the paths noted
   * as arriving are checked, so a listing costs nothing more when none is.
   */
  shownNames(dir: string, names: string[]): string[] {
    if (this.arriving.size === 0) return names;
    return names.filter((n) => {
      const p = joinPath(dir, n);
      return !this.arriving.has(p) || this.visible(p);
    });
  }

  /** Whether `path` is shown: in the log, and not a file still arriving (logShown). */
  visible(path: string): boolean {
    try {
      this.logShown(path);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Entries the log accepted (from peers or this node): stats may have changed, and a file whose
   * new content entry arrived is noted with the time, for logShown. Kept in arrival order, so the
   * notes older than arrivingMs are dropped from the front.
   */
  accepted(nodes: readonly Node[]): void {
    this.attrs.invalidate();
    if (this.arrivingMs <= 0) return;
    const now = performance.now();
    for (const n of nodes) {
      if (n.entry.action !== ACTION.WRITE && n.entry.action !== ACTION.LINK) continue;
      this.arriving.delete(n.path);
      this.arriving.set(n.path, now);
    }
    for (const [p, at] of this.arriving) {
      if (now - at < this.arrivingMs) break;
      this.arriving.delete(p);
    }
  }

  /** What getattr shows for `path`: an open file's unsaved attributes, else the log's (logShown). */
  private current(path: string): Shown {
    return this.unsaved(path) ?? this.logShown(path);
  }

  /**
   * The log's attributes of `path`, except that a file none of whose versions has arrived is not
   * shown (NOT_FOUND) for arrivingMs after its content entry did: shown, it would read as empty,
   * and the kernel would keep that size 0 for attr_timeout after its content arrived. Then it
   * shows (empty), so that a file whose blocks never come can still be removed, and its directory.
   */
  private logShown(path: string): Shown {
    const shown = this.attrs.shown(path);
    if (shown.version !== null || (shown.st.mode & 0o170000) !== S_IFREG) return shown;
    const at = this.arriving.get(path);
    if (at !== undefined && performance.now() - at < this.arrivingMs) throw err('NOT_FOUND', `${path}: its content is still arriving`);
    return shown;
  }

  /** The whole content of a version (a Snapshot's manifest), through the block cache. */
  contentOf(s: Snapshot): Uint8Array {
    const out = new Uint8Array(s.manifest.size);
    this.blocks.read(s.manifest, 0, s.manifest.size, out);
    return out;
  }

  /**
   * An open file's attributes while it has unsaved changes (or exists only here): exactly those
   * it will have once committed (mtime = ctime = the commit's timestamp), so they do not change
   * when it is saved at close: a program that compares a file's stat before and after reading it
   * (tar) sees no change. The version they describe: the one last saved from this buffer, the
   * log's when only a time is pending, none while the content is unsaved. Null when the log's
   * attributes apply.
   */
  private unsaved(path: string): Shown | null {
    const open = this.files.get(path);
    if (open === undefined || !(open.created || open.hidden || open.data !== null || open.mtime !== null)) return null;
    const t = open.savedTime;
    if (open.created || open.hidden) return { st: fuseStat('file', open.size, open.mode, t, t, this.owner), version: null };
    const base = this.attrs.shown(path); // an open file is never hidden (logShown)
    if (open.data === null) return { st: fuseStat('file', base.st.size, base.st.mode, t, t, this.owner), version: base.version };
    return { st: fuseStat('file', open.size, base.st.mode, t, t, this.owner), version: open.dirty ? null : open.savedVersion };
  }

  /**
   * Write an open file's buffer as one entry: nothing if not changed since opened, detached or
   * already saved, or if it was rewritten with the content and mtime it already had.
   */
  commit(file: OpenFile): void {
    if (file.detached) return;
    const at = file.savedTime;
    if (file.dirty) {
      const w = this.writerFor(file.path);
      w.writeFileIfChanged(file.path, file.bytes(), { mtime: at });
      if (file.created && file.mode !== DEFAULT_FILE_MODE) w.chmod(file.path, file.mode, { at });
      file.dirty = false;
      file.wrote = false;
      file.created = false;
      // The kernel's size for this file is now this version's: it came from the writes and
      // truncates, or from getattr answers about this very buffer.
      file.savedVersion = this.view.stat(file.path).version;
      this.kernel.answered(file.path, file.savedVersion);
    } else if (file.mtime !== null && !file.created) {
      this.writerFor(file.path).touch(file.path, file.mtime);
    }
    // Saved: what stat shows while the file stays open (between flush and release) is this time.
    file.changedAt = at;
    file.mtime = null;
  }

  /** Save every open file at or below `path` (before it is renamed, linked or removed). */
  commitWithin(path: string): void {
    for (const f of this.files.within(path)) this.commit(f);
  }
}
