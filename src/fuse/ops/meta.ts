/**
 * Metadata: chmod (a MODE entry), chown (only to the mounting user: the log keeps no owners),
 * utimens (a file's mtime is the timestamp of the entry that defines its content, a directory's
 * that of its newest MODE entry).
 */
import { S_IFDIR, S_IFREG } from '../attrs.ts';
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
    return ctx.changed(open);
  }
  const st = ctx.stat(path);
  if ((st.mode & 0o7777) === bits) return;
  // A directory's mtime is its newest MODE's timestamp: date the chmod at the mtime it has, so
  // that it changes the mode only (cp -a sets a directory's times before its mode).
  const at = (st.mode & 0o170000) === S_IFDIR ? st.mtime : undefined;
  ctx.writerFor(path).chmod(path, bits, { at });
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
 * A directory's time is kept (a MODE entry, see Writer.touch) where the key may write; elsewhere,
 * as on a read-only mount, it is left as it is without an error, so that rsync or tar into a
 * subtree granted to the key does not fail on the subtree's own directory.
 */
export function utimens(ctx: MountContext, path: string, time: number): void {
  const st = ctx.stat(path);
  if (time < 2000) return;
  const type = st.mode & 0o170000;
  if (type === S_IFDIR) {
    const w = ctx.replica.writer;
    if (w !== null && w.mayWrite(path)) w.touch(path, time);
    return;
  }
  if (type !== S_IFREG) return;
  const open = ctx.files.get(path);
  if (open !== undefined) {
    ctx.writerFor(path);
    open.mtime = time;
    return ctx.changed(open);
  }
  ctx.writerFor(path).touch(path, time);
}
