/**
 * Read-side operations: attributes, directory listings, symlinks, access checks, statfs, and
 * reading file data (from an open file's buffer, else from the version the handle first saw).
 */
import { statfsSync } from 'node:fs';
import { parentPath } from '../../core/paths.ts';
import type { FuseStat } from '../attrs.ts';
import type { MountContext } from '../context.ts';
import { fail } from '../errno.ts';

const W_OK = 2;

export function getattr(ctx: MountContext, path: string): FuseStat {
  return ctx.attrsForKernel(path);
}

export function readdir(ctx: MountContext, path: string): string[] {
  const names = ctx.shownNames(path, ctx.view.readdir(path));
  const pending = ctx.files.createdIn(path).filter((n) => !names.includes(n));
  return ['.', '..', ...names, ...pending];
}

export function readlink(ctx: MountContext, path: string): string {
  const st = ctx.view.stat(path);
  if (st.kind !== 'symlink') fail('EINVAL', `${path}: not a symbolic link`);
  return ctx.view.readlink(path);
}

/** access(2): existence, and for W_OK whether this node could change the path. */
export function access(ctx: MountContext, path: string, mode: number): void {
  ctx.stat(path);
  if ((mode & W_OK) !== 0) ctx.writerFor(path);
}

export interface FuseStatfs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  fsid: number;
  flag: number;
  namemax: number;
}

/** Space is that of the disk holding the log and blocks (which is where writes go). */
export function statfs(ctx: MountContext): FuseStatfs {
  const s = statfsSync(ctx.replica.dir);
  const clamp = (n: number | bigint) => Math.min(Number(n), 0xffffffff);
  return {
    bsize: clamp(s.bsize),
    frsize: clamp(s.bsize),
    blocks: clamp(s.blocks),
    bfree: clamp(s.bfree),
    bavail: clamp(s.bavail),
    files: clamp(s.files),
    ffree: clamp(s.ffree),
    favail: clamp(s.ffree),
    fsid: 0,
    flag: 0,
    namemax: 255,
  };
}

export function read(ctx: MountContext, fd: number, out: Buffer, length: number, offset: number): number {
  const h = ctx.files.handle(fd);
  const f = h.file;
  if (f.data !== null || f.created) {
    const end = Math.min(f.size, offset + length);
    if (offset >= end) return 0;
    out.set(f.bytes().subarray(offset, end));
    return end - offset;
  }
  h.snapshot ??= ctx.snapshotToRead(f.path);
  return ctx.blocks.read(h.snapshot.manifest, offset, length, out);
}

/** The directory a new path would go in must exist and be a directory. */
export function requireParentDir(ctx: MountContext, path: string): void {
  const st = ctx.stat(parentPath(path));
  if ((st.mode & 0o170000) !== 0o040000) fail('ENOTDIR', `${parentPath(path)}: not a directory`);
}
