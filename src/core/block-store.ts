/**
 * Content-addressed file blocks in a directory:
 *
 *     <dir>/<first 2 hex digits>/<64 hex digits>   one block; its name is blockHash(contents)
 *     <dir>/tmp/                                   blocks being written
 *
 * A block is written under tmp/, fsynced, renamed into place and its directory fsynced, so a
 * block file under its final name is always complete. With sync 'background' the two fsyncs are
 * left to syncAsync() (the replica calls it at once): a power failure before it may leave a block
 * file empty or torn, which the hash check on read treats as missing. The name is checked against the contents
 * on every read, because the disk is not trusted either: a block whose contents no longer match
 * is deleted and reported missing, so it is fetched again from a peer. Blocks from peers enter
 * through putExpected(), which writes nothing unless the bytes hash to the expected name.
 *
 * Several processes (a daemon and a CLI command) may share a store without a lock: writes are
 * atomic renames of identical contents, so racing writers of the same block cannot conflict.
 * There is deliberately no in-memory `has` cache: a stat costs under a microsecond, and a cache
 * would go stale when another process deletes a block.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { err } from './errors.ts';
import { blockHash, bytesEqual, fromHex, HASH_BYTES, toHex, type Hash } from './hash.ts';
import { createFileSynced, errnoCode, fsyncPath, fsyncPathAsync, ioError, publishFile, type SyncPolicy } from './durable-fs.ts';
import { isProcessAlive } from './file-lock.ts';

export const MAX_BLOCK_BYTES = 64 * 1024;

/** Files fsynced at once by syncAsync(): bounds the descriptors it holds open. */
const SYNC_BATCH = 16;

export interface BlockStoreStats {
  count: number;
  bytes: number;
}

const HEX_NAME = /^[0-9a-f]{64}$/;
const FANOUT_NAME = /^[0-9a-f]{2}$/;
const TMP_NAME = /^[0-9a-f]{64}\.(\d+)\.[0-9a-f]+$/;

function checkHash(hash: Hash): string {
  if (!(hash instanceof Uint8Array) || hash.length !== HASH_BYTES) {
    throw err('MALFORMED', `a block hash is ${HASH_BYTES} bytes`);
  }
  return toHex(hash);
}

function checkSize(bytes: Uint8Array): void {
  if (bytes.length > MAX_BLOCK_BYTES) throw err('TOO_LARGE', `block is ${bytes.length} bytes, max ${MAX_BLOCK_BYTES}`);
}

export class BlockStore {
  readonly dir: string;
  readonly #sync: SyncPolicy;
  readonly #tmpDir: string;
  /** sync 'background': block files and directories written since the last syncAsync(). */
  readonly #pendingFiles = new Set<string>();
  readonly #pendingDirs = new Set<string>();
  /** Those a running syncAsync() holds: syncPending() (at close) must not count them as done. */
  readonly #syncingFiles = new Set<string>();
  readonly #syncingDirs = new Set<string>();
  readonly #onWrite: (() => void) | undefined;
  /** Fan-out directories known to exist. */
  readonly #fanouts = new Set<string>();
  /** Temporary names: this store's random tag and a counter (unique without a random draw each). */
  readonly #tmpTag = randomBytes(4).toString('hex');
  #tmpSeq = 0;

  private constructor(dir: string, sync: SyncPolicy, onWrite: (() => void) | undefined) {
    this.dir = dir;
    this.#sync = sync;
    this.#tmpDir = join(dir, 'tmp');
    this.#onWrite = onWrite;
  }

  /**
   * Opens (creating if missing) the store in `dir` and removes temporary files left by crashed
   * writers. sync 'always' (default): put() returns only once the block is durable; 'background':
   * once it is written, with `onWrite` called so the owner can schedule syncAsync().
   */
  static open(dir: string, opts: { sync?: SyncPolicy; readOnly?: boolean; onWrite?: () => void } = {}): BlockStore {
    const store = new BlockStore(dir, opts.sync ?? 'always', opts.onWrite);
    // A reader (e.g. `basefs show` beside a running node) must not touch a store a writer is using.
    if (opts.readOnly) return store;
    try {
      mkdirSync(store.#tmpDir, { recursive: true });
      store.#removeDeadWritersTemps();
    } catch (e) {
      throw ioError(e, `cannot open block store ${dir}`);
    }
    return store;
  }

  /** Stores `bytes` and returns their hash. Idempotent: a block already present is not rewritten. */
  put(bytes: Uint8Array): Hash {
    checkSize(bytes);
    const hash = blockHash(bytes);
    this.#write(toHex(hash), bytes);
    return hash;
  }

  /** Stores bytes received as the block `hash`; BAD_HASH (and nothing written) if they are not. */
  putExpected(hash: Hash, bytes: Uint8Array): void {
    const hex = checkHash(hash);
    checkSize(bytes);
    if (!bytesEqual(blockHash(bytes), hash)) throw err('BAD_HASH', `block does not hash to ${hex}`);
    this.#write(hex, bytes);
  }

  /** The block's bytes, verified against its hash; null if missing or found corrupt (then removed). */
  get(hash: Hash): Uint8Array | null {
    const hex = checkHash(hash);
    const path = this.#pathOf(hex);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return null;
      throw ioError(e, `cannot read block ${hex}`);
    }
    if (bytes.length > MAX_BLOCK_BYTES || !bytesEqual(blockHash(bytes), hash)) {
      this.#unlink(path);
      return null;
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  /** Whether a block file exists (not re-verified; get() is the authority). */
  has(hash: Hash): boolean {
    try {
      return statSync(this.#pathOf(checkHash(hash)), { throwIfNoEntry: false }) !== undefined;
    } catch (e) {
      throw ioError(e, 'cannot stat block');
    }
  }

  /** Removes a block; false if it was not there. */
  delete(hash: Hash): boolean {
    return this.#unlink(this.#pathOf(checkHash(hash)));
  }

  /** Every stored block's hash (names only: contents are verified by get()). */
  *list(): Iterable<Hash> {
    for (const fanout of this.#readdir(this.dir)) {
      if (!FANOUT_NAME.test(fanout)) continue;
      for (const name of this.#readdir(join(this.dir, fanout))) {
        if (HEX_NAME.test(name) && name.startsWith(fanout)) yield fromHex(name);
      }
    }
  }

  stats(): BlockStoreStats {
    let count = 0;
    let bytes = 0;
    for (const hash of this.list()) {
      try {
        bytes += statSync(this.#pathOf(toHex(hash))).size;
        count++;
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw ioError(e, 'cannot stat block');
      }
    }
    return { count, bytes };
  }

  #pathOf(hex: string): string {
    return join(this.dir, hex.slice(0, 2), hex);
  }

  #write(hex: string, bytes: Uint8Array): void {
    const path = this.#pathOf(hex);
    let known;
    try {
      // Not an exception per new block: Node builds a costly error object for each ENOENT.
      known = statSync(path, { throwIfNoEntry: false });
    } catch (e) {
      throw ioError(e, `cannot stat block ${hex}`);
    }
    // Already stored, unless of another size: a block left empty by a power failure (written with
    // sync 'background') is written again. Rot of the same size is caught by get(), which removes it.
    if (known !== undefined && known.size === bytes.length) return;
    // pid: lets open() tell a dead writer's leftovers; the store's random tag: worker threads share the pid.
    const tmp = join(this.#tmpDir, `${hex}.${process.pid}.${this.#tmpTag}${(this.#tmpSeq++).toString(16)}`);
    try {
      this.#ensureFanoutDir(hex.slice(0, 2));
      createFileSynced(tmp, bytes, this.#sync);
      publishFile(tmp, path, true, this.#sync);
    } catch (e) {
      this.#unlink(tmp);
      this.#fanouts.delete(hex.slice(0, 2)); // removed from outside? the next write re-creates it
      throw ioError(e, `cannot store block ${hex}`);
    }
    if (this.#sync === 'background') {
      this.#pendingFiles.add(path);
      this.#pendingDirs.add(join(this.dir, hex.slice(0, 2)));
      this.#onWrite?.();
    }
  }

  /** Whether syncAsync() has anything to do (sync 'background'). */
  get unsynced(): boolean {
    return this.#pendingFiles.size > 0 || this.#pendingDirs.size > 0;
  }

  /**
   * Makes the blocks written so far durable (sync 'background'): fsync of each new block file and
   * then of the directories that got new names, on the I/O thread pool. On failure the names stay
   * pending and the error (IO) is thrown.
   */
  async syncAsync(): Promise<void> {
    if (!this.unsynced) return;
    const files = [...this.#pendingFiles];
    const dirs = [...this.#pendingDirs];
    this.#pendingFiles.clear();
    this.#pendingDirs.clear();
    for (const f of files) this.#syncingFiles.add(f);
    for (const d of dirs) this.#syncingDirs.add(d);
    try {
      for (const list of [files, dirs]) {
        for (let i = 0; i < list.length; i += SYNC_BATCH) await Promise.all(list.slice(i, i + SYNC_BATCH).map(fsyncPathAsync));
      }
    } catch (e) {
      for (const f of files) this.#pendingFiles.add(f);
      for (const d of dirs) this.#pendingDirs.add(d);
      throw ioError(e, 'cannot sync blocks');
    } finally {
      for (const f of files) this.#syncingFiles.delete(f);
      for (const d of dirs) this.#syncingDirs.delete(d);
    }
  }

  /** The same, blocking (when closing), for what is pending and what a running syncAsync holds. */
  syncPending(): void {
    for (const f of new Set([...this.#pendingFiles, ...this.#syncingFiles])) fsyncPath(f);
    for (const d of new Set([...this.#pendingDirs, ...this.#syncingDirs])) fsyncPath(d);
    this.#pendingFiles.clear();
    this.#pendingDirs.clear();
  }

  #ensureFanoutDir(fanout: string): void {
    // At most 256 of them, never removed by BaseFS: remembered so a write costs no failing mkdir.
    if (this.#fanouts.has(fanout)) return;
    const dir = join(this.dir, fanout);
    try {
      mkdirSync(dir);
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
      this.#fanouts.add(fanout);
      return;
    }
    this.#fanouts.add(fanout);
    if (this.#sync === 'always') fsyncPath(this.dir);
    else if (this.#sync === 'background') this.#pendingDirs.add(this.dir);
  }

  #unlink(path: string): boolean {
    try {
      unlinkSync(path);
      return true;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return false;
      throw ioError(e, `cannot remove ${path}`);
    }
  }

  #readdir(dir: string): string[] {
    try {
      return readdirSync(dir);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return [];
      throw ioError(e, `cannot list ${dir}`);
    }
  }

  /**
   * Temporary files whose writer process is gone can never be renamed into place. The age test
   * catches writers from before a reboot whose pid now belongs to another process.
   */
  #removeDeadWritersTemps(): void {
    const anHourAgo = Date.now() - 3600_000;
    for (const name of readdirSync(this.#tmpDir)) {
      const pid = TMP_NAME.exec(name)?.[1];
      if (pid === undefined) continue;
      const path = join(this.#tmpDir, name);
      if (!isProcessAlive(Number(pid)) || statSync(path).mtimeMs < anHourAgo) this.#unlink(path);
    }
  }
}
