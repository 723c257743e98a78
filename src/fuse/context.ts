/**
 * What every FUSE operation shares: the replica (view for reads, writer for writes, block store),
 * the open files and the caches, and the write-side rules: no writer is EROFS, no authority over
 * the path is EACCES, both raised before any data is buffered.
 */
import type { Replica } from '../core/replica.ts';
import type { Writer } from '../core/writer.ts';
import { AttrCache, fuseStat, type FuseStat, type Owner } from './attrs.ts';
import { BlockCache } from './block-cache.ts';
import { fail } from './errno.ts';
import { OpenFiles, type OpenFile } from './open-files.ts';

const DEFAULT_FILE_MODE = 0o644;

export class MountContext {
  readonly replica: Replica;
  readonly owner: Owner;
  readonly files = new OpenFiles();
  readonly attrs: AttrCache;
  readonly blocks: BlockCache;

  constructor(replica: Replica, owner: Owner) {
    this.replica = replica;
    this.owner = owner;
    this.attrs = new AttrCache(replica.view, owner);
    this.blocks = new BlockCache(replica.blocks);
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
   * They are exactly those the file will have once committed (mtime = ctime = the commit's
   * timestamp), so they do not change when it is saved at close: a program that compares a
   * file's stat before and after reading it (tar) sees no change.
   */
  stat(path: string): FuseStat {
    const open = this.files.get(path);
    if (open !== undefined && (open.created || open.hidden || open.data !== null || open.mtime !== null)) {
      const base = open.created || open.hidden ? null : this.attrs.get(path);
      const t = open.savedTime;
      return fuseStat('file', open.size, base?.mode ?? open.mode, t, t, this.owner);
    }
    return this.attrs.get(path);
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
