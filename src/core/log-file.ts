/**
 * An append-only file of records: opaque, non-empty byte strings (the caller stores encoded log
 * entries in them). Records are only ever appended; the file is never rewritten in place.
 *
 * ## On-disk format (all integers big-endian)
 *
 *     file   = header frame*
 *     header = "BASEFSLOG" (9 ASCII bytes) ‖ 3 zero bytes ‖ u32 version (= 1)          16 bytes
 *     frame  = u32 length ‖ u32 CRC-32C(payload) ‖ payload                  8 + length bytes
 *
 * 1 ≤ length ≤ MAX_RECORD_BYTES (1 MiB). Empty records are not allowed so that a run of zero
 * bytes (which some file systems leave at the end of a file after a crash) can never parse as
 * valid frames: length 0 is "impossible".
 *
 * ## Durability (fsync policy)
 *
 * - sync 'always' (default): append() writes the whole batch with one write and calls fdatasync
 *   before it returns. Only then may the caller acknowledge the records (to a user or a peer).
 *   Batching many records into one append() call (group commit) shares one fdatasync.
 * - sync 'never': append() returns once the bytes are in the OS page cache; a power failure may
 *   lose recent appends (never earlier ones, see recovery). sync() and close() flush.
 * - sync 'background': as 'never', and the owner calls syncAsync(), which runs fdatasync on the
 *   I/O thread pool so that appends go on meanwhile (Replica does this after every change). The
 *   appended bytes survive the process being killed at once, and a power failure once the
 *   syncAsync() that follows has resolved.
 * - A new file is created under a temporary name, fsynced, then linked into place and the
 *   directory fsynced, so the log file either does not exist or has a complete header.
 * - If fdatasync fails the LogFile refuses further appends (BasefsError 'IO'): after a failed
 *   fsync the kernel may have dropped the dirty pages, so retrying could falsely report success.
 *   Reopening re-reads what really is on disk.
 *
 * ## Recovery on open
 *
 * Frames are scanned from the start. At the first frame that is torn (ends past end of file),
 * has an impossible length, or has a bad CRC, everything from that frame's offset to the end is
 * copied to `<path>.corrupt-<offset>` (fsynced, for inspection), the file is truncated to the end
 * of the last good frame and fsynced. A crash mid-append only ever damages the unacknowledged
 * tail, so no acknowledged record is lost. Damage inside an earlier frame (a flipped bit on disk)
 * is treated the same way: the log is cut at that frame and the later frames are saved aside;
 * they cannot be trusted individually anyway, and in BaseFS peers re-send what is missing.
 * A file whose header is wrong is refused (BasefsError 'MALFORMED') and left untouched.
 *
 * ## Reading
 *
 * The whole file is read with one read, and records are returned as views into that buffer (no
 * copies). The file must therefore fit in memory, which a configuration log does.
 */
import { closeSync, fdatasync, fdatasyncSync, fsyncSync, ftruncateSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { encodeFrames, FILE_HEADER_BYTES, fileHeader, FRAME_HEADER_BYTES, hasFileHeader, scanFrames, type Damage, type FrameScan } from './frames.ts';
import { err } from './errors.ts';
import { appendOrCut, createFileSynced, errnoCode, fsyncPath, ioError, openOrCreate, type SyncPolicy } from './durable-fs.ts';
import { FileLock } from './file-lock.ts';

export type { SyncPolicy } from './durable-fs.ts';

export const MAX_RECORD_BYTES = 1024 * 1024;
const MAGIC = 'BASEFSLOG';
const VERSION = 1;
const HEADER_BYTES = FILE_HEADER_BYTES;

export type { Damage } from './frames.ts';

export interface Recovery {
  /** Bytes cut off the end of the file (0: the file was intact). */
  truncatedBytes: number;
  /** Where the cut bytes were saved. */
  savedTo?: string;
  /** File offset of the first bad frame, and what was wrong with it. */
  at?: number;
  damage?: Damage;
}

export interface OpenedLog {
  log: LogFile;
  /** Every record in append order, as views into one buffer. */
  records: Uint8Array[];
  recovered: Recovery;
}

export interface LogSnapshot {
  records: Uint8Array[];
  /** Bytes after the last good frame: normally 0; while a writer is mid-append, its partial frame. */
  tailBytes: number;
  damage?: Damage;
}

export interface LogOpenOptions {
  sync?: SyncPolicy;
  /**
   * Take the exclusive `<path>.lock` (default true). Without it the caller must make sure no
   * other process writes the file: recovery would cut off another writer's in-flight append.
   */
  lock?: boolean;
}

function headerBytes(): Buffer {
  return fileHeader(MAGIC, VERSION);
}

/** Checks the header (throws MALFORMED) and scans frames up to the first bad one. */
function scan(bytes: Buffer, path: string): FrameScan {
  if (!hasFileHeader(bytes, headerBytes())) {
    throw err('MALFORMED', `${path} is not a BaseFS log file (version ${VERSION})`);
  }
  return scanFrames(bytes, HEADER_BYTES, MAX_RECORD_BYTES);
}

/**
 * Reads a log without taking the lock and without modifying anything, e.g. for `show` while a
 * daemon appends. A damaged or partially written tail is reported, not repaired.
 */
export function readLog(path: string): LogSnapshot {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw err('NOT_FOUND', `no log file at ${path}`, e);
    throw ioError(e, `cannot read ${path}`);
  }
  const s = scan(bytes, path);
  const snapshot: LogSnapshot = { records: s.records, tailBytes: bytes.length - s.goodEnd };
  if (s.damage) snapshot.damage = s.damage;
  return snapshot;
}

/** Saves `tail` (found at `offset`) next to the log, fsynced, under a name not yet taken. */
function saveTail(path: string, offset: number, tail: Uint8Array): string {
  for (let n = 0; ; n++) {
    const target = `${path}.corrupt-${offset}${n === 0 ? '' : `.${n}`}`;
    try {
      createFileSynced(target, tail);
      fsyncPath(dirname(target));
      return target;
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
    }
  }
}

export class LogFile {
  readonly path: string;
  readonly #fd: number;
  readonly #sync: SyncPolicy;
  readonly #lock: FileLock | undefined;
  #size: number;
  #count: number;
  #unsynced = false;
  /** syncAsync() calls whose fdatasync has not come back: close() must not trust #unsynced then. */
  #syncing = 0;
  /** Why appends are refused: closed, or a failed write/fsync left the file in an unknown state. */
  #unusable: 'closed' | 'failed' | undefined;

  private constructor(path: string, fd: number, sync: SyncPolicy, lock: FileLock | undefined, size: number, count: number) {
    this.path = path;
    this.#fd = fd;
    this.#sync = sync;
    this.#lock = lock;
    this.#size = size;
    this.#count = count;
  }

  /**
   * Opens (creating if missing) the log at `path`, recovers a damaged tail (see the top of this
   * file) and returns every record. Throws LOCKED, MALFORMED or IO.
   */
  static open(path: string, opts: LogOpenOptions = {}): OpenedLog {
    const sync = opts.sync ?? 'always';
    const lock = (opts.lock ?? true) ? FileLock.acquire(`${path}.lock`) : undefined;
    let fd: number | undefined;
    try {
      fd = openOrCreate(path, headerBytes());
      const bytes = readFileSync(fd);
      const { records, goodEnd, damage } = scan(bytes, path);
      const recovered: Recovery = { truncatedBytes: bytes.length - goodEnd };
      if (damage) {
        recovered.savedTo = saveTail(path, goodEnd, bytes.subarray(goodEnd));
        recovered.at = goodEnd;
        recovered.damage = damage;
        ftruncateSync(fd, goodEnd);
        fsyncSync(fd);
      }
      return { log: new LogFile(path, fd, sync, lock, goodEnd, records.length), records, recovered };
    } catch (e) {
      if (fd !== undefined) closeSync(fd);
      lock?.release();
      throw ioError(e, `cannot open log ${path}`);
    }
  }

  /** File size in bytes, header included. */
  get size(): number {
    return this.#size;
  }

  /** Number of records in the file. */
  get count(): number {
    return this.#count;
  }

  /**
   * Appends `records` in order with one write and (sync 'always') one fdatasync: when this returns
   * they are durable and may be acknowledged. All-or-nothing validation: TOO_LARGE for a record
   * over MAX_RECORD_BYTES, USAGE for an empty one, and then nothing is written.
   */
  append(records: readonly Uint8Array[]): void {
    this.#assertUsable();
    let total = 0;
    for (const r of records) {
      if (r.length === 0) throw err('USAGE', 'empty log records are not allowed');
      if (r.length > MAX_RECORD_BYTES) throw err('TOO_LARGE', `log record is ${r.length} bytes, max ${MAX_RECORD_BYTES}`);
      total += FRAME_HEADER_BYTES + r.length;
    }
    if (records.length === 0) return;

    const batch = encodeFrames(records);

    try {
      // e.g. ENOSPC: the partial frame is cut off, so the file stays well-formed and usable.
      appendOrCut(this.#fd, batch, this.#size, () => (this.#unusable = 'failed'));
    } catch (e) {
      throw ioError(e, `cannot append to ${this.path}`);
    }
    this.#size += total;
    this.#count += records.length;
    if (this.#sync === 'always') this.#flush();
    else this.#unsynced = true;
  }

  /** Makes every append so far durable (useful with sync 'never'). */
  sync(): void {
    this.#assertUsable();
    this.#flush();
  }

  /**
   * Makes every append so far durable without blocking the caller: fdatasync on the I/O thread
   * pool, while appends may go on (those are covered by the next call). A failure makes the file
   * refuse further appends, as a failed synchronous flush does. A close() meanwhile flushes itself.
   */
  async syncAsync(): Promise<void> {
    this.#assertUsable();
    if (!this.#unsynced) return;
    this.#unsynced = false;
    this.#syncing++;
    try {
      await new Promise<void>((resolve, reject) => fdatasync(this.#fd, (e) => (e ? reject(e) : resolve())));
    } catch (e) {
      if (this.#unusable === 'closed') return; // close() synced and closed the descriptor first
      this.#unusable = 'failed';
      throw ioError(e, `cannot sync ${this.path}; reopen the log`);
    } finally {
      this.#syncing--;
    }
  }

  /** Refuse further appends (IO), as after a failed fdatasync: the owner found durability lost. */
  markFailed(): void {
    if (this.#unusable === undefined) this.#unusable = 'failed';
  }

  /** Flushes appends not yet synced, closes the file and releases the lock. Idempotent. */
  close(): void {
    if (this.#unusable === 'closed') return;
    const flush = this.#unusable === undefined && (this.#unsynced || this.#syncing > 0);
    this.#unusable = 'closed';
    try {
      if (flush) fdatasyncSync(this.#fd);
    } catch (e) {
      throw ioError(e, `cannot sync ${this.path}`);
    } finally {
      closeSync(this.#fd);
      this.#lock?.release();
    }
  }

  #flush(): void {
    try {
      fdatasyncSync(this.#fd);
      this.#unsynced = false;
    } catch (e) {
      this.#unusable = 'failed';
      throw ioError(e, `cannot sync ${this.path}; reopen the log`);
    }
  }

  #assertUsable(): void {
    if (this.#unusable === 'closed') throw err('CLOSED', `${this.path} is closed`);
    if (this.#unusable === 'failed') throw err('IO', `${this.path} failed earlier; reopen the log`);
  }
}
