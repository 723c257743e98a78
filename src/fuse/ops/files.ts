/**
 * Open files: open, create, write, truncate, and the points where a buffer becomes an entry
 * (flush on close(2), fsync, release). Committing on flush matters: close() returns only after
 * FLUSH, while RELEASE comes asynchronously, so a written file is saved once close returns: in
 * the OS at once (it survives the mount process being killed), on disk once the replica's group
 * commit has run, a few milliseconds later, or when fsync(2) returns.
 * But FLUSH comes on every close of a duplicated descriptor too: a shell's `> file` opens
 * (truncating or creating), dup2s and closes the original before writing. A flush therefore saves
 * only after write() calls; a file only created or truncated is saved at release or fsync, so no
 * empty intermediate version ever reaches the log (or the other nodes).
 * A new file is parked rather than committed at close (parking.ts): recorded at once, written to
 * the log a moment later or at its rename.
 */
import type { MountContext } from '../context.ts';
import { fail } from '../errno.ts';
import { O_APPEND, OpenFile, writesData } from '../open-files.ts';
import { requireParentDir } from './read.ts';

const O_RDWR = 2;

export function open(ctx: MountContext, path: string, flags: number): number {
  const st = ctx.stat(path);
  if ((st.mode & 0o170000) === 0o040000) fail('EISDIR', `${path}: is a directory`);
  if (writesData(flags)) ctx.writerFor(path);
  return ctx.files.open(path, flags, () => new OpenFile(path, st.size, { created: false, mode: st.mode & 0o7777 }));
}

/** A new empty file, kept in memory until its first commit (its content is one entry). */
export function create(ctx: MountContext, path: string, mode: number): number {
  // A file still arriving is not shown (context.ts logShown): it can be created over.
  if (ctx.files.get(path) !== undefined || ctx.visible(path)) fail('EEXIST', `${path}: already exists`);
  requireParentDir(ctx, path);
  ctx.writerFor(path);
  return ctx.files.open(path, O_RDWR, () => new OpenFile(path, 0, { created: true, mode: mode & 0o7777 }));
}

export function write(ctx: MountContext, fd: number, data: Buffer, length: number, offset: number): number {
  const h = ctx.files.handle(fd);
  if (!writesData(h.flags)) fail('EBADF', `${h.file.path}: not open for writing`);
  const f = h.file;
  f.write(() => ctx.view.readFile(f.path), data.subarray(0, length), (h.flags & O_APPEND) !== 0 ? null : offset);
  return length;
}

export function ftruncate(ctx: MountContext, fd: number, size: number): void {
  const h = ctx.files.handle(fd);
  if (!writesData(h.flags)) fail('EBADF', `${h.file.path}: not open for writing`);
  const f = h.file;
  f.truncate(() => ctx.view.readFile(f.path), size);
}

/** truncate(2) by path: into the open buffer if the file is open, else one entry now. */
export function truncate(ctx: MountContext, path: string, size: number): void {
  const w = ctx.writerFor(path);
  const open = ctx.files.get(path);
  if (open !== undefined) {
    open.truncate(() => ctx.view.readFile(path), size);
    return ctx.changed(open);
  }
  const st = ctx.stat(path);
  if ((st.mode & 0o170000) === 0o040000) fail('EISDIR', `${path}: is a directory`);
  const file = new OpenFile(path, st.size, { created: false, mode: st.mode & 0o7777 });
  file.truncate(() => ctx.view.readFile(path), size);
  if (size !== st.size) w.writeFile(path, file.bytes());
}

export function flush(ctx: MountContext, fd: number): void {
  const file = ctx.files.handle(fd).file;
  if (file.wrote) ctx.save(file);
}

export function release(ctx: MountContext, fd: number): void {
  const file = ctx.files.handle(fd).file;
  try {
    ctx.save(file);
  } finally {
    ctx.files.close(fd);
  }
}

/** fsync(2): save the file, then answer once it (and every change before it) is on disk. */
export function fsync(ctx: MountContext, fd: number): Promise<void> {
  return ctx.fsync(ctx.files.handle(fd).file);
}
