/**
 * What every FUSE operation shares: the replica (view for reads, writer for writes, block store),
 * the open files and the caches, and the write-side rules: no writer is EROFS, no authority over
 * the path is EACCES, both raised before any data is buffered.
 */
import type { Replica } from '../core/replica.ts';
import type { Writer } from '../core/writer.ts';
import { ACTION, type Entry } from '../core/entry.ts';
import { err } from '../core/errors.ts';
import { joinPath } from '../core/paths.ts';
import type { Node } from '../core/tree.ts';
import { AttrCache, fuseStat, S_IFREG, type FuseStat, type Owner, type Shown } from './attrs.ts';
import { BlockCache } from './block-cache.ts';
import { fail } from './errno.ts';
import { KernelAttrs } from './kernel-attrs.ts';
import { OpenFiles, type OpenFile, type Snapshot } from './open-files.ts';
import type { ParkedJournal, RecoveredRecord } from './parked-journal.ts';
import { mayPass } from './recover-parked.ts';
import { Parking } from './parking.ts';

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
  /** New files closed and not yet committed (parking.ts); null: a new file is committed at close. */
  private parking: Parking | null = null;
  private onError: (op: string, e: unknown) => void = () => {};

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
   * Park new files at close from now on, recording them in `journal` (mount.ts). `held`: records
   * of a previous mount that recovery could not commit now (kept for the next).
   */
  startParking(journal: ParkedJournal, parkMs: number, onError: (op: string, e: unknown) => void, held: readonly RecoveredRecord[] = []): void {
    this.onError = onError;
    const opts = { parkMs, commit: (f: OpenFile) => this.commitParked(f), durable: () => this.replica.durable(), onError };
    this.parking = new Parking(journal, this.replica.blocks, opts, held.map((r) => [r.id, r] as const));
  }

  parkedCount(): number {
    return this.parking?.size ?? 0;
  }

  /**
   * Close the journal (unmount, once every open and parked file was committed); once those
   * commits are on disk it is emptied, so the next mount has nothing to recover.
   */
  async stopParking(): Promise<void> {
    const p = this.parking;
    this.parking = null;
    if (p === null) return;
    try {
      if (p.size === 0) await this.replica.durable().then(() => p.clearJournal());
    } finally {
      p.close();
    }
  }

  /**
   * A close (flush after writes, or release) or fsync: a new file is parked, anything else
   * committed. A parked file that has not changed since is left waiting.
   */
  save(file: OpenFile): void {
    if (!this.parks(file)) {
      this.commit(file);
      return;
    }
    if (file.journaled) return;
    try {
      (this.parking as Parking).park(file);
    } catch (e) {
      this.onError('park', e);
      this.commit(file);
    }
  }

  /** fsync(2): a new file's record made durable, or the file committed; then the disk. */
  fsync(file: OpenFile): Promise<void> {
    this.save(file);
    if (file.parked) return (this.parking as Parking).sync(file);
    return this.replica.durable();
  }

  /** fsync(2) of a directory: every change so far on disk, parked files' records included. */
  async durable(): Promise<void> {
    await Promise.all([this.replica.durable(), this.parking?.syncJournal()]);
  }

  /**
   * A change to an open or parked file's attributes (chmod, utimens, truncate by path) was made
   * and is answered now: a parked file's record is rewritten, so that it survives as answered
   * (rsync sets a file's times and mode between its close and its rename).
   */
  changed(file: OpenFile): void {
    if (!file.parked) return;
    // Being rewritten through a descriptor opened again: the content is saved at that close; the
    // record keeps the last closed content, with this change.
    if (file.refs > 0 && !file.journaled) return (this.parking as Parking).rerecord(file);
    file.journaled = false;
    this.save(file);
  }

  /** The file at `path` is unlinked or replaced: its descriptors keep it, it is never committed. */
  discard(path: string): void {
    const f = this.files.detach(path);
    if (f !== undefined) this.unpark(f);
  }

  /**
   * `file` will never be committed (detached): its journal record goes, once entry `replacedBy`
   * is durable if a rename put that entry in its place (null: removed).
   */
  unpark(file: OpenFile, replacedBy: Uint8Array | null = null): void {
    this.parking?.settle(file, replacedBy === null ? 'removed' : 'replaced', replacedBy);
  }

  private parks(file: OpenFile): boolean {
    return this.parking !== null && file.created && !file.detached;
  }

  /**
   * A parked file's wait is over. If it cannot be written (what a failed close would have said),
   * it is reported and gone here; refused for good (the key lost its authority, a peer removed its
   * directory since the close), its record is dropped; for a passing reason (IO: a full disk), the
   * record stays for the next mount to commit.
   */
  private commitParked(file: OpenFile): void {
    try {
      this.commit(file);
    } catch (e) {
      this.onError('parked', e);
      if (mayPass(e)) this.parking?.shelve(file);
      else this.parking?.settle(file, 'removed');
      file.detached = true; // its descriptors keep it
      this.files.forget(file);
    }
  }

  /**
   * Write an open file's buffer as one entry: nothing if not changed since opened, detached or
   * already saved, or if it was rewritten with the content and mtime it already had. A new file
   * also gets its mode (a MODE entry) unless that is what the path has after the write (the
   * default for a new path, the old file's mode when it replaces one: rename).
   */
  commit(file: OpenFile): Uint8Array | null {
    if (file.detached) {
      this.parking?.settle(file, 'removed');
      return null;
    }
    const at = file.savedTime;
    /** The last entry written (a MODE follows its WRITE: the log that has it has both). */
    let last: Entry | null = null;
    if (file.dirty) {
      const w = this.writerFor(file.path);
      // A parked file's blocks are stored already (parking.ts).
      if (file.parkedManifest !== null) last = w.writeChunkedIfChanged(file.path, { manifest: file.parkedManifest, blocks: [] }, { mtime: at });
      else last = w.writeFileIfChanged(file.path, file.bytes(), { mtime: at });
      file.parkedManifest = null;
      const after = this.view.stat(file.path);
      if (file.created && (after.mode & 0o7777) !== file.mode) last = w.chmod(file.path, file.mode, { at });
      file.dirty = false;
      file.wrote = false;
      file.created = false;
      // The kernel's size for this file is now this version's: it came from the writes and
      // truncates, or from getattr answers about this very buffer.
      file.savedVersion = after.version; // a MODE does not change which version is shown
      this.kernel.answered(file.path, file.savedVersion);
    } else if (file.mtime !== null && !file.created) {
      last = this.writerFor(file.path).touch(file.path, file.mtime);
    }
    // Saved: what stat shows while the file stays open (between flush and release) is this time.
    file.changedAt = at;
    file.mtime = null;
    if (file.parked) {
      this.parking?.settle(file, 'committed', last?.hash ?? null);
      if (file.refs === 0) this.files.forget(file);
    }
    return last?.hash ?? null;
  }

  /** Save every open file at or below `path` (before it is renamed, linked or removed). */
  commitWithin(path: string): void {
    for (const f of this.files.within(path)) this.commit(f);
  }

  /**
   * Commit the parked files at or below `path`: a directory that holds only parked files is not
   * empty (a rename onto it must fail with ENOTEMPTY, as rmdir does, see OpenFiles.createdIn).
   */
  commitParkedWithin(path: string): void {
    for (const f of this.files.within(path)) if (f.parked) this.commit(f);
  }
}
