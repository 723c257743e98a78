/**
 * Metadata: chmod (a MODE entry), chown (only to the mounting user: the log keeps no owners),
 * utimens (a file's mtime is the timestamp of the entry that defines its content).
 */
import type { MountContext } from '../context.ts';
import { fail } from '../errno.ts';

/** uid/gid -1: leave unchanged. */
const UNCHANGED = 0xffffffff;

export function chmod(ctx: MountContext, path: string, mode: number): void {
  const bits = mode & 0o7777;
  const open = ctx.files.get(path);
  if (open?.created) {
    ctx.writerFor(path);
    open.mode = bits;
    return;
  }
  if ((ctx.stat(path).mode & 0o7777) === bits) return;
  ctx.writerFor(path).chmod(path, bits);
}

export function chown(ctx: MountContext, path: string, uid: number, gid: number): void {
  ctx.stat(path);
  const same = (id: number, mine: number) => id === mine || id === UNCHANGED || id === -1;
  if (!same(uid, ctx.owner.uid) || !same(gid, ctx.owner.gid))
    fail('EPERM', `${path}: files belong to the mounting user; BaseFS keeps no owners`);
}

/**
 * fuse-native 2.2.6 passes the access time in both time arguments (its C glue copies atime
 * twice), so the one time we get is the atime asked for; tools that set both (touch, cp -p with
 * equal times) are served. A value under 2 s is the UTIME_OMIT/UTIME_NOW marker: nothing to set.
 */
export function utimens(ctx: MountContext, path: string, time: number): void {
  const st = ctx.stat(path);
  if (time < 2000 || (st.mode & 0o170000) !== 0o100000) return;
  const open = ctx.files.get(path);
  if (open !== undefined) {
    ctx.writerFor(path);
    open.mtime = time;
    return;
  }
  ctx.writerFor(path).touch(path, time);
}
