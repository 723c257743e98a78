/**
 * Small synchronous file-system helpers shared by the log file and the block store. They exist so
 * that every durable write follows the same recipe: write everything, fsync the file, make the
 * name visible atomically, fsync the directory that holds the name.
 */
import { closeSync, fsyncSync, ftruncateSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open as openAsync, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { err, isBasefsError, type BasefsError } from './errors.ts';

/**
 * 'always': fsync/fdatasync before a write is reported done (the default).
 * 'background': the write reaches the OS before it is reported done (so it survives the process
 *   being killed); the owner makes it durable with syncAsync() on the I/O thread pool (Replica
 *   does so at once after every change: group commit).
 * 'never': leave it to the OS (sync() and close() flush the log).
 */
export type SyncPolicy = 'always' | 'background' | 'never';

/** Wraps a Node fs error into BasefsError('IO'), keeping BasefsErrors as they are. */
export function ioError(e: unknown, what: string): BasefsError {
  if (isBasefsError(e)) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return err('IO', `${what}${code ? ` (${code})` : ''}`, e);
}

export function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** writeSync may write less than asked (signals, some file systems): loop until all is written. */
export function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) {
    done += writeSync(fd, bytes, done, bytes.length - done, position + done);
  }
}

/**
 * Append `bytes` at `end`, the file's current end. If the write fails part way (ENOSPC), the
 * partial bytes are cut off again, so that the file stays a sequence of whole records; `cutFailed`
 * is called if even that fails. The write's error is rethrown.
 */
export function appendOrCut(fd: number, bytes: Uint8Array, end: number, cutFailed: () => void = () => {}): void {
  try {
    writeAll(fd, bytes, end);
  } catch (e) {
    try {
      ftruncateSync(fd, end);
    } catch {
      cutFailed();
    }
    throw e;
  }
}

/** open() errors of fsyncPath that mean there is nothing to sync (or nothing we can do). */
const nothingToOpen = (e: unknown): boolean => errnoCode(e) === 'ENOENT' || errnoCode(e) === 'EISDIR' || errnoCode(e) === 'EPERM';
/** fsync() errors of a platform that cannot fsync this kind of file (a directory). */
const cannotSync = (e: unknown): boolean => errnoCode(e) === 'EINVAL' || errnoCode(e) === 'EBADF';

/**
 * fsync by name: a directory, so that a create, rename or unlink inside it survives a power
 * failure, or a file written earlier without an fsync. Some platforms cannot open or fsync
 * directories; there the rename itself is all we can do. A name removed since needs nothing.
 */
export function fsyncPath(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if (nothingToOpen(e)) return;
    throw e;
  }
  try {
    fsyncSync(fd);
  } catch (e) {
    if (!cannotSync(e)) throw e;
  } finally {
    closeSync(fd);
  }
}

/** fsyncPath on the I/O thread pool. */
export async function fsyncPathAsync(path: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await openAsync(path, 'r');
  } catch (e) {
    if (nothingToOpen(e)) return;
    throw e;
  }
  try {
    await handle.sync();
  } catch (e) {
    if (!cannotSync(e)) throw e;
  } finally {
    await handle.close();
  }
}

/** Creates `path` with `bytes` and fsyncs it; fails with EEXIST if the name is taken. */
export function createFileSynced(path: string, bytes: Uint8Array, sync: SyncPolicy = 'always', mode = 0o644): void {
  const fd = openSync(path, 'wx', mode); // the mode applies at creation, before any byte is written
  try {
    writeAll(fd, bytes, 0);
    if (sync === 'always') fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Publishes a fully written temporary file under `path`. `replace: true` renames (an existing file
 * is replaced atomically); `replace: false` links, so an existing file is never clobbered and the
 * call reports whether the name was free. The temporary name is gone afterwards either way.
 */
export function publishFile(tmpPath: string, path: string, replace: boolean, sync: SyncPolicy = 'always'): boolean {
  let published = true;
  if (replace) {
    renameSync(tmpPath, path);
  } else {
    try {
      linkSync(tmpPath, path);
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
      published = false;
    } finally {
      unlinkSync(tmpPath);
    }
  }
  if (sync === 'always') fsyncPath(dirname(path));
  return published;
}

/** A temporary name beside `path`, for a file to be renamed or linked there once written. */
export function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Writes a small file so that readers see the old content or the new, never a mix, and the new one
 * survives a crash: a temporary file in the same directory (created with `mode`), fsync, then
 * rename (`replace`) or link (no replace: false is returned and nothing changes if `path` exists),
 * then fsync of the directory. Used for config and key files.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array, opts: { mode: number; replace: boolean }): boolean {
  const tmp = tempNameFor(path);
  try {
    createFileSynced(tmp, bytes, 'always', opts.mode);
    return publishFile(tmp, path, opts.replace);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // already published, or never created
    }
    throw e;
  }
}

/**
 * Open `path` for reading and writing; if it does not exist, create it first with `initial` as its
 * content, atomically (writeFileAtomic: a concurrent creator's file is kept, never clobbered).
 */
export function openOrCreate(path: string, initial: Uint8Array): number {
  try {
    return openSync(path, 'r+');
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
  writeFileAtomic(path, initial, { mode: 0o644, replace: false });
  return openSync(path, 'r+');
}
