/**
 * Mount a replica over FUSE (fuse-native, loaded lazily). The operations are synchronous functions
 * over a MountContext (ops/*.ts); this file adapts them to fuse-native's callbacks, turns errors
 * into errno values, and owns the mount's life: kernel cache timeouts, detecting an unmount done by
 * someone else (fusermount -u), and saving open files before unmounting.
 */
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Replica } from '../core/replica.ts';
import { normalizePath } from '../core/paths.ts';
import { MountContext } from './context.ts';
import { ParkedJournal, type OpenedJournal, type RecoveredRecord } from './parked-journal.ts';
import { recoverParked } from './recover-parked.ts';
import { isExpected, toErrno } from './errno.ts';
import { checkDevice, checkMountpoint, isMounted, loadFuse, type FuseClass, type FuseInstance } from './preflight.ts';
import * as files from './ops/files.ts';
import * as meta from './ops/meta.ts';
import * as rd from './ops/read.ts';
import * as tree from './ops/tree.ts';

export interface MountOptions {
  /**
   * How long the kernel may trust a name it looked up (entry_timeout), in seconds; default 1.
   * With 0, every call re-looked up each directory on its path (a `cp -a` made ten getattr calls
   * per file instead of six, before attributes were cached too), and each call is a round trip to
   * this process. The cost: for up to this long after another node removed or renamed a name,
   * creating that same name here can fail (ENOENT or EEXIST). Names that were not found are never
   * cached, so a file new on another node shows at once.
   */
  entrySeconds?: number;
  /**
   * How long the kernel may keep a file's attributes (attr_timeout), in seconds; default 1. It
   * halves the calls of an rsync round (each lstat was a round trip). For up to this long a change
   * from another node shows in stat with its old attributes, and a file read meanwhile (from its
   * first read, up to a second more) is the version those attributes describe, whole
   * (kernel-attrs.ts): never a new version cut at the old size.
   */
  attrSeconds?: number;
  /**
   * How long a file none of whose versions has arrived stays hidden, in seconds; default 5. Its
   * blocks usually follow within a second, and shown meanwhile it would read as empty (and the
   * kernel keep that size for attrSeconds after the content came). After this it shows, empty,
   * so that a file whose blocks never come can be removed.
   */
  arrivingSeconds?: number;
  /**
   * How long a new file waits after its close (or its last change) before it becomes an entry, in
   * ms; default 25. A rename in that time writes it at the new name only (parking.ts): rsync's and
   * editors' temporary files never reach the log. 0: every close commits.
   */
  parkMs?: number;
  /** Let other users see the mount (needs user_allow_other in /etc/fuse.conf unless root). */
  allowOther?: boolean;
  /** Called for unexpected failures inside an operation (answered with EIO). */
  onError?: (op: string, error: unknown) => void;
  /** How often to check that the mount is still there (ms). */
  pollMs?: number;
}

export interface Mounted {
  readonly mountpoint: string;
  /** Resolves when the mount goes away without unmount() (fusermount -u, lazy unmount). */
  readonly ended: Promise<string>;
  /** Save open files and unmount; safe to call twice. */
  unmount(): Promise<void>;
  /** How many of each FUSE call the mount has answered. */
  calls(): Record<string, number>;
  /**
   * How long (ms) the kernel may still show `path` as it was before the log's current state
   * (attributes it keeps for attrSeconds): 0 once what a reader gets through the mount is current.
   */
  settleMs(path: string): number;
  /** How many new files are closed but not in the log yet (parked, see MountOptions.parkMs). */
  parked(): number;
}

type Callback = (code: number, ...values: unknown[]) => void;

/** The journal of parked files, in the replica's directory. */
export const PARKED_JOURNAL = 'parked';

export async function mountReplica(replica: Replica, mountpoint: string, opts: MountOptions = {}): Promise<Mounted> {
  checkDevice();
  const mnt = checkMountpoint(mountpoint);
  const Fuse = await loadFuse();
  const user = userInfo();
  const attr = opts.attrSeconds ?? 1;
  // The kernel starts the attribute timeout when the asking process handles the reply, which a
  // busy machine can delay: 1 s of margin before a version is no longer held.
  const ctx = new MountContext(replica, { uid: user.uid, gid: user.gid }, {
    holdMs: attr > 0 ? (attr + 1) * 1000 : 0,
    arrivingMs: (opts.arrivingSeconds ?? 5) * 1000,
  });
  const stopListening = replica.log.onAccept((nodes) => ctx.accepted(nodes));
  const onError = opts.onError ?? ((op, e) => process.stderr.write(`basefs mount: ${op}: ${String((e as Error)?.stack ?? e)}\n`));
  await startParking(ctx, replica, opts.parkMs ?? 25, onError);

  const calls = new Map<string, number>();
  const tally = (op: string) => calls.set(op, (calls.get(op) ?? 0) + 1);
  /** The -errno to answer for a failure; unexpected ones (answered EIO) are reported too. */
  const errno = (op: string, e: unknown): number => {
    if (!isExpected(e)) onError(op, e);
    return -toErrno(e);
  };
  /** Run a synchronous operation and answer fuse-native: (0, value) or (-errno). */
  const call = (op: string, cb: Callback, fn: () => unknown) => {
    tally(op);
    try {
      cb(0, fn());
    } catch (e) {
      cb(errno(op, e));
    }
  };
  /** read and write answer with a byte count (or -errno) as the first argument. */
  const count = (op: string, cb: (n: number) => void, fn: () => number) => {
    tally(op);
    try {
      cb(fn());
    } catch (e) {
      cb(errno(op, e));
    }
  };
  /** An operation answered once its promise settles (fsync waits for the disk). */
  const later = (op: string, cb: Callback, fn: () => Promise<void>) => {
    tally(op);
    let done: Promise<void>;
    try {
      done = fn();
    } catch (e) {
      return cb(errno(op, e));
    }
    done.then(
      () => cb(0),
      (e: unknown) => cb(errno(op, e)),
    );
  };
  const p = (path: string) => normalizePath(path);

  // No fgetattr: fuse-native 2.2.6 answers it with getattr(path) whatever is given, and without
  // one libfuse does the same, so every attribute call arrives as getattr.
  // Left to libfuse, each a round trip to this thread saved: opendir and releasedir (it answers
  // them itself; the kernel opens only what it looked up as a directory, and readdir reports a
  // directory gone since), and the extended attributes (it answers ENOSYS, after which the
  // kernel stops asking). An rsync round of the full bench tree made 830 calls fewer.
  const ops = {
    getattr: (path: string, cb: Callback) => call('getattr', cb, () => rd.getattr(ctx, p(path))),
    readdir: (path: string, cb: Callback) => call('readdir', cb, () => rd.readdir(ctx, p(path))),
    fsyncdir: (_path: string, _datasync: number, _fd: number, cb: Callback) => later('fsyncdir', cb, () => ctx.durable()),
    readlink: (path: string, cb: Callback) => call('readlink', cb, () => rd.readlink(ctx, p(path))),
    access: (path: string, mode: number, cb: Callback) => call('access', cb, () => rd.access(ctx, p(path), mode)),
    statfs: (_path: string, cb: Callback) => call('statfs', cb, () => rd.statfs(ctx)),
    open: (path: string, flags: number, cb: Callback) => call('open', cb, () => files.open(ctx, p(path), flags)),
    create: (path: string, mode: number, cb: Callback) => call('create', cb, () => files.create(ctx, p(path), mode)),
    read: (_path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) =>
      count('read', cb, () => rd.read(ctx, fd, buf, len, pos)),
    write: (_path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) =>
      count('write', cb, () => files.write(ctx, fd, buf, len, pos)),
    truncate: (path: string, size: number, cb: Callback) => call('truncate', cb, () => files.truncate(ctx, p(path), size)),
    ftruncate: (_path: string, fd: number, size: number, cb: Callback) => call('ftruncate', cb, () => files.ftruncate(ctx, fd, size)),
    flush: (_path: string, fd: number, cb: Callback) => call('flush', cb, () => files.flush(ctx, fd)),
    fsync: (_path: string, _datasync: number, fd: number, cb: Callback) => later('fsync', cb, () => files.fsync(ctx, fd)),
    release: (_path: string, fd: number, cb: Callback) => call('release', cb, () => files.release(ctx, fd)),
    mkdir: (path: string, mode: number, cb: Callback) => call('mkdir', cb, () => tree.mkdir(ctx, p(path), mode)),
    rmdir: (path: string, cb: Callback) => call('rmdir', cb, () => tree.rmdir(ctx, p(path))),
    unlink: (path: string, cb: Callback) => call('unlink', cb, () => tree.unlink(ctx, p(path))),
    rename: (from: string, to: string, cb: Callback) => call('rename', cb, () => tree.rename(ctx, p(from), p(to))),
    symlink: (target: string, path: string, cb: Callback) => call('symlink', cb, () => tree.symlink(ctx, target, p(path))),
    link: (existing: string, path: string, cb: Callback) => call('link', cb, () => tree.link(ctx, p(existing), p(path))),
    chmod: (path: string, mode: number, cb: Callback) => call('chmod', cb, () => meta.chmod(ctx, p(path), mode)),
    chown: (path: string, uid: number, gid: number, cb: Callback) => call('chown', cb, () => meta.chown(ctx, p(path), uid, gid)),
    utimens: (path: string, atime: number, _mtime: number, cb: Callback) => call('utimens', cb, () => meta.utimens(ctx, p(path), atime)),
  };

  const entry = String(opts.entrySeconds ?? 1);
  // fuse-native only forwards a fixed list of -o options and drops zero values; the rest ride
  // along in fsname, which libfuse splits at commas like any -o list.
  // Not hard_remove: fuse-native crashes on the path-less calls it brings (I/O on an unlinked open
  // file); libfuse renames such a file to .fuse_hidden* instead, which ops/tree.ts handles.
  // Not auto_cache: its check at open is a getattr whose answer libfuse keeps to itself, and
  // kernel-attrs.ts counts on every answer reaching the kernel. Without it the kernel drops a
  // file's cached pages at each open, so a reread costs read calls instead of that getattr.
  const extra = [`attr_timeout=${attr}`, `entry_timeout=${entry}`, 'negative_timeout=0', 'big_writes', 'max_write=131072'];
  const fuse = new Fuse(mnt, ops, {
    fsname: [`basefs#${replica.name}`.replace(/[,\\]/g, '_'), ...extra].join(','),
    allowOther: opts.allowOther === true,
    // A slow operation (a large rename) must not be cut off at fuse-native's 15 s default.
    timeout: false,
  });
  try {
    await new Promise<void>((resolve, reject) => fuse.mount((e) => (e ? reject(e) : resolve())));
  } catch (e) {
    stopListening();
    await ctx.stopParking().catch(() => undefined);
    throw e;
  }

  let unmounting: Promise<void> | null = null;
  let endedResolve: (why: string) => void = () => {};
  const ended = new Promise<string>((resolve) => (endedResolve = resolve));
  const poll = setInterval(() => {
    if (unmounting === null && !isMounted(mnt)) {
      clearInterval(poll);
      stopListening();
      endedResolve(`${mnt} was unmounted`);
    }
  }, opts.pollMs ?? 1000);
  poll.unref();

  const unmount = (): Promise<void> => {
    unmounting ??= (async () => {
      clearInterval(poll);
      for (const f of ctx.files.dirtyFiles()) {
        try {
          ctx.commit(f);
        } catch (e) {
          onError('unmount', e);
        }
      }
      await ctx.stopParking().catch((e: unknown) => onError('unmount', e));
      if (isMounted(mnt)) await new Promise<void>((resolve, reject) => fuse.unmount((e) => (e ? reject(e) : resolve())));
      else await releaseUnmounted(Fuse, fuse);
      stopListening();
      endedResolve('unmounted');
    })();
    return unmounting;
  };
  return {
    mountpoint: mnt,
    ended,
    unmount,
    calls: () => Object.fromEntries(calls),
    settleMs: (path) => ctx.settleMs(normalizePath(path)),
    parked: () => ctx.parkedCount(),
  };
}

/**
 * Open the journal of parked files (a writable mount only), commit what a killed mount left in it,
 * and park new files from now on (unless parkMs is 0). A journal that cannot be used is reported,
 * and every close then commits at once.
 */
async function startParking(ctx: MountContext, replica: Replica, parkMs: number, onError: (op: string, e: unknown) => void): Promise<void> {
  // Without a key nothing can be committed: what a killed mount left waits for a mount with one.
  if (replica.writer === null) return;
  let opened: OpenedJournal;
  try {
    opened = ParkedJournal.open(join(replica.dir, PARKED_JOURNAL));
  } catch (e) {
    return onError('parked files journal', e);
  }
  let keep: RecoveredRecord[] = [];
  if (opened.records.length > 0) {
    keep = recoverParked(ctx, opened.records, onError);
    // The journal forgets them only once their entries are on disk; those that failed for a
    // passing reason (IO) wait for the next mount.
    await replica.durable();
  }
  try {
    if (keep.length > 0) opened.journal.rewrite(keep.map((r) => [r.id, r] as const));
    else opened.journal.clear();
  } catch (e) {
    opened.journal.close();
    return onError('parked files journal', e);
  }
  if (parkMs > 0) ctx.startParking(opened.journal, parkMs, onError, keep);
  else opened.journal.close();
}

/**
 * After an unmount from outside, fuse-native still holds the event loop (its thread's async
 * handle) and would keep the process alive. Its unmount() releases that, but first runs
 * `fusermount -uz`, which fails on a mount that is gone and skips the release; so that step is
 * stubbed out for this one call (fuse-native calls it synchronously from unmount()).
 */
async function releaseUnmounted(Fuse: FuseClass, fuse: FuseInstance): Promise<void> {
  const statics = Fuse as unknown as { unmount(mnt: string, cb: (e: Error | null) => void): void };
  const real = statics.unmount;
  statics.unmount = (_mnt, cb) => cb(null);
  let released: Promise<void>;
  try {
    released = new Promise<void>((resolve) => fuse.unmount(() => resolve()));
  } finally {
    statics.unmount = real;
  }
  await released;
}
