/**
 * Open files and their write buffers. A file's content becomes one signed entry when it is flushed
 * (close), fsynced or released, never one per write(): the first write or truncate copies the
 * shown content into a buffer, later ones edit the buffer, and a commit writes it as one WRITE.
 * A new file is parked at close instead (parking.ts), and stays listed here until committed.
 *
 * Handles on the same path share one OpenFile, so a write through one descriptor is seen by reads
 * through another, and by getattr (size) before it is committed. A file made by create() exists
 * only here until its first commit; unlink and rename move or detach the OpenFile, so the open
 * descriptors keep working on the file they opened.
 */
import type { Manifest } from '../core/content.ts';
import { MAX_FILE_SIZE } from '../core/content.ts';
import { isWithin } from '../core/paths.ts';
import { fail } from './errno.ts';
import type { ParkedRecord } from './parked-journal.ts';

export class OpenFile {
  path: string;
  /** The edited content (capacity may exceed size); null while the file is only read. */
  data: Buffer | null = null;
  size: number;
  dirty: boolean;
  /** write() was called since the last commit (a flush saves only then, see ops/files.ts). */
  wrote = false;
  /** Made by create() and not yet in the log. */
  created: boolean;
  mode: number;
  /** An mtime asked for (utimens) while open: the commit's entry carries it. */
  mtime: number | null = null;
  /**
   * When the content last changed (create, write, truncate): the commit's timestamp unless an
   * mtime was asked for. Fixed here rather than taken at commit so that the attributes shown
   * while the file is open are the ones it has once saved.
   */
  changedAt = Date.now();
  /** The version the last commit of this buffer saved (what getattr describes once it is clean). */
  savedVersion: string | null = null;
  /** Unlinked or replaced while open: never committed. */
  detached = false;
  /** Unlinked while open and kept by libfuse under a .fuse_hidden name until released. */
  hidden = false;
  refs = 0;
  readonly openedAt = Date.now();
  /** Closed but not in the log yet: recorded in the journal, committed soon (parking.ts). */
  parked = false;
  /** Its journal record id, once parked. */
  parkId: number | null = null;
  /** The journal record describes the file as it is (cleared by every change after parking). */
  journaled = false;
  /** When it was last parked (performance.now()). */
  parkedAt = 0;
  /** fsync(2) made its record durable (parking.ts settle). */
  parkSynced = false;
  /** The content as last parked (its blocks stored), until it changes: the commit writes this. */
  parkedManifest: Uint8Array | null = null;
  /** Its last journal record (kept when the journal is rewritten). */
  parkRecord: ParkedRecord | null = null;

  constructor(path: string, size: number, opts: { created: boolean; mode: number }) {
    this.path = path;
    this.size = size;
    this.created = opts.created;
    this.dirty = opts.created;
    this.mode = opts.mode;
  }

  /** Load the buffer (once) with `load()`, the current content, before the first change. */
  edit(load: () => Uint8Array): Buffer {
    if (this.data === null) {
      const bytes = this.created ? new Uint8Array(0) : load();
      this.data = Buffer.alloc(Math.max(4096, bytes.length));
      this.data.set(bytes);
      this.size = bytes.length;
    }
    return this.data;
  }

  /** Write `src` at `offset`, or (null: O_APPEND) at the end of the content as loaded. */
  write(load: () => Uint8Array, src: Uint8Array, at: number | null): void {
    if (at === null) this.edit(load);
    const offset = at ?? this.size;
    const end = offset + src.length;
    if (end > MAX_FILE_SIZE) fail('EFBIG', `${this.path}: files are at most ${MAX_FILE_SIZE} bytes`);
    this.reserve(load, end);
    (this.data as Buffer).set(src, offset);
    if (end > this.size) this.size = end;
    this.wrote = true;
    this.contentChanged();
  }

  /** The mtime (and ctime) the file has once saved: what getattr shows while it is open. */
  get savedTime(): number {
    return this.mtime ?? this.changedAt;
  }

  truncate(load: () => Uint8Array, size: number): void {
    if (size > MAX_FILE_SIZE) fail('EFBIG', `${this.path}: files are at most ${MAX_FILE_SIZE} bytes`);
    this.reserve(load, size);
    const data = this.data as Buffer;
    if (size > this.size) data.fill(0, this.size, size);
    this.size = size;
    this.contentChanged();
  }

  /** The buffer differs from the log, and from what was parked (parking.ts). */
  private contentChanged(): void {
    this.dirty = true;
    this.journaled = false;
    this.parkedManifest = null;
    this.changedAt = Date.now();
  }

  /** The committed-to-be bytes (a view, valid until the next change). */
  bytes(): Uint8Array {
    return this.data === null ? new Uint8Array(0) : this.data.subarray(0, this.size);
  }

  private reserve(load: () => Uint8Array, size: number): void {
    const data = this.edit(load);
    if (size <= data.length) return;
    const grown = Buffer.alloc(Math.max(size, Math.min(MAX_FILE_SIZE, data.length * 2)));
    grown.set(data.subarray(0, this.size));
    this.data = grown;
  }
}

/** A file version a handle reads: the entry that gives it (View's Stat.version) and its manifest. */
export interface Snapshot {
  version: string;
  manifest: Manifest;
}

export interface Handle {
  file: OpenFile;
  flags: number;
  /**
   * The version this handle reads while its OpenFile has no buffer (nothing written or truncated
   * through the mount since it was opened), fixed at its first read (close-to-open consistency;
   * context.ts snapshotToRead says which version).
   */
  snapshot: Snapshot | null;
}

const O_ACCMODE = 3;
const O_RDONLY = 0;
export const O_APPEND = 0o2000;

export function writesData(flags: number): boolean {
  return (flags & O_ACCMODE) !== O_RDONLY;
}

export class OpenFiles {
  private readonly byPath = new Map<string, OpenFile>();
  private readonly handles = new Map<number, Handle>();
  private nextFd = 1;

  get(path: string): OpenFile | undefined {
    return this.byPath.get(path);
  }

  handle(fd: number): Handle {
    const h = this.handles.get(fd);
    if (h === undefined) fail('EBADF', `no open file ${fd}`);
    return h;
  }

  /** A new descriptor on the OpenFile of `path` (made by `make` when the path has none). */
  open(path: string, flags: number, make: () => OpenFile): number {
    let file = this.byPath.get(path);
    if (file === undefined) {
      file = make();
      this.byPath.set(path, file);
    }
    file.refs++;
    const fd = this.allocate();
    this.handles.set(fd, { file, flags, snapshot: null });
    return fd;
  }

  /** Drop a descriptor; returns its file when this was the last one. A parked file stays listed. */
  close(fd: number): OpenFile | null {
    const h = this.handle(fd);
    this.handles.delete(fd);
    h.file.refs--;
    if (h.file.refs > 0) return null;
    if (!h.file.parked) this.forget(h.file);
    return h.file;
  }

  /** Stop listing a file no descriptor has open (a parked file once committed). */
  forget(file: OpenFile): void {
    if (this.byPath.get(file.path) === file) this.byPath.delete(file.path);
  }

  /** Files at `path` or below (a directory being renamed or removed). */
  within(path: string): OpenFile[] {
    return [...this.byPath.values()].filter((f) => isWithin(f.path, path));
  }

  /** Names of not-yet-committed files directly in `dir` (readdir shows them). */
  createdIn(dir: string): string[] {
    const prefix = dir === '/' ? '/' : dir + '/';
    const out: string[] = [];
    for (const f of this.byPath.values()) {
      if (!f.created || f.detached || !f.path.startsWith(prefix)) continue;
      const rest = f.path.slice(prefix.length);
      if (!rest.includes('/')) out.push(rest);
    }
    return out;
  }

  /** The path no longer names this file (unlinked, or replaced by a rename); returns it. */
  detach(path: string): OpenFile | undefined {
    const f = this.byPath.get(path);
    if (f === undefined) return undefined;
    f.detached = true;
    this.byPath.delete(path);
    return f;
  }

  /** Undo detach() (a rename that failed). */
  attach(file: OpenFile): void {
    file.detached = false;
    this.byPath.set(file.path, file);
  }

  /** libfuse keeps an unlinked open file under a hidden name: its descriptors still work there. */
  hide(from: string, to: string): void {
    const f = this.byPath.get(from);
    if (f === undefined) return;
    this.byPath.delete(from);
    f.detached = true;
    f.hidden = true;
    f.path = to;
    this.byPath.set(to, f);
  }

  /** Follow a rename: files at `from` or below now live under `to`. */
  move(from: string, to: string): void {
    for (const f of this.within(from)) {
      this.byPath.delete(f.path);
      f.path = to + f.path.slice(from.length);
      this.byPath.set(f.path, f);
    }
  }

  dirtyFiles(): OpenFile[] {
    return [...this.byPath.values()].filter((f) => f.dirty && !f.detached);
  }

  private allocate(): number {
    // Descriptors are uint32 for fuse-native; wrap long before that and skip ones in use.
    while (this.handles.has(this.nextFd) || this.nextFd === 0) this.nextFd = (this.nextFd + 1) % 0x7fffffff;
    return this.nextFd++;
  }
}
