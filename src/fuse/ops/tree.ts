/**
 * Operations on names: mkdir, rmdir, unlink, rename, symlink, link. Each is its entries at once
 * (no buffering); open files under a renamed or removed name are saved or detached first, so their
 * descriptors keep working and a new file is never lost to a rename.
 */
import type { MountContext } from '../context.ts';
import { baseName } from '../../core/paths.ts';
import { fail } from '../errno.ts';
import type { OpenFile } from '../open-files.ts';
import { requireParentDir } from './read.ts';

const DEFAULT_DIR_MODE = 0o755;

export function mkdir(ctx: MountContext, path: string, mode: number): void {
  const w = ctx.writerFor(path);
  const made = w.mkdir(path);
  // Dated as the MKDIR, so that the directory's mtime is its creation time either way.
  if ((mode & 0o7777) !== DEFAULT_DIR_MODE) w.chmod(path, mode & 0o7777, { at: made.timestamp });
}

export function rmdir(ctx: MountContext, path: string): void {
  const st = ctx.view.stat(path);
  if (st.kind !== 'dir') fail('ENOTDIR', `${path}: not a directory`);
  const w = ctx.writerFor(path);
  // New files not in the log yet (open, or parked) are in it too.
  if (ctx.files.createdIn(path).length > 0) fail('ENOTEMPTY', `${path}: directory not empty`);
  w.delete(path);
  ctx.kernel.forget(path);
}

export function unlink(ctx: MountContext, path: string): void {
  const open = ctx.files.get(path);
  if (open?.hidden) return ctx.discard(path);
  if (open?.created && !ctx.view.exists(path)) {
    // Open or parked, never in the log: removing it writes nothing.
    ctx.writerFor(path);
    return ctx.discard(path);
  }
  if (ctx.view.stat(path).kind === 'dir') fail('EISDIR', `${path}: is a directory`);
  ctx.writerFor(path).delete(path);
  ctx.discard(path);
  ctx.kernel.forget(path);
}

/**
 * libfuse's name for a file unlinked while open (it renames instead, and unlinks at release):
 * `.fuse_hidden` and 16 hex digits. Its open count can outlast our release by a moment, so it is
 * recognized by name alone: a user's own rename of a new file to exactly such a name is taken as
 * a removal (documented in README).
 */
const HIDDEN = /^\.fuse_hidden[0-9a-f]{16}$/;

export function rename(ctx: MountContext, from: string, to: string): void {
  const open = ctx.files.get(from);
  if (open !== undefined && HIDDEN.test(baseName(to))) return hide(ctx, open, from, to);
  if (open?.created && !ctx.view.exists(from)) return renameNew(ctx, open, from, to);
  const w = ctx.writerFor(from);
  ctx.writerFor(to);
  // A file still being written under `from` must be in the log to be moved with the rest.
  ctx.commitWithin(from);
  if (ctx.view.exists(to) && ctx.view.stat(to).kind === 'dir') ctx.commitParkedWithin(to);
  const dir = ctx.view.stat(from).kind === 'dir';
  const written = w.rename(from, to);
  if (from !== to) {
    // A new file replaced at `to` (parked, perhaps fsynced) goes with the rename's last entry.
    const replaced = ctx.files.detach(to);
    if (replaced !== undefined) ctx.unpark(replaced, written.at(-1)?.hash ?? null);
    ctx.files.move(from, to);
    ctx.kernel.move(from, to, dir);
  }
}

/**
 * Rename a new file that is not in the log yet (open, or parked after its close: the temporary
 * file of rsync or an editor): it is written at `to` only, as one entry replacing what `to` held,
 * so the temporary name never reaches the log. The checks are rename(2)'s and Writer.rename's.
 */
function renameNew(ctx: MountContext, file: OpenFile, from: string, to: string): void {
  ctx.writerFor(from);
  ctx.writerFor(to);
  if (from === to) return;
  if (!ctx.view.exists(to)) requireParentDir(ctx, to);
  else if (ctx.view.stat(to).kind === 'dir') fail('EISDIR', `${to}: is a directory`);
  // The replaced file's record goes only once this one is in the log (a kill in between must not
  // leave neither), and if that fails (IO) the rename is undone here too.
  const replaced = ctx.files.detach(to);
  ctx.files.move(from, to);
  ctx.kernel.move(from, to, false);
  let hash: Uint8Array | null;
  try {
    hash = ctx.commit(file);
  } catch (e) {
    ctx.files.move(to, from);
    ctx.kernel.move(to, from, false);
    if (replaced !== undefined) ctx.files.attach(replaced);
    throw e;
  }
  if (replaced !== undefined) ctx.unpark(replaced, hash);
}

/** Unlink an open file but keep serving its descriptors (its content moves into the buffer). */
function hide(ctx: MountContext, open: OpenFile, from: string, to: string): void {
  const inLog = ctx.view.exists(from);
  const w = ctx.writerFor(from);
  if (inLog) {
    // The version the kernel holds the size of (what its handles were given), as a reader would.
    open.edit(() => ctx.contentOf(ctx.snapshotToRead(from)));
    w.delete(from);
  }
  ctx.files.hide(from, to);
  ctx.unpark(open);
  ctx.kernel.forget(from);
  // No descriptor of ours is open (a parked file): nothing needs the hidden name, and libfuse's
  // own unlink of it, if this was libfuse, gets ENOENT, which it ignores.
  if (open.refs === 0) ctx.discard(to);
}

export function symlink(ctx: MountContext, target: string, path: string): void {
  ctx.writerFor(path).symlink(path, target);
}

/** A hard link shares the content the file has now (later writes to either name are separate). */
export function link(ctx: MountContext, existing: string, path: string): void {
  ctx.commitWithin(existing);
  if (ctx.view.stat(existing).kind !== 'file') fail('EPERM', `${existing}: only files can be hard-linked`);
  ctx.writerFor(path).link(path, existing);
}
