/**
 * The journal of parked files: new files that were closed but are not in the log yet (parking.ts
 * says why a new file waits a moment before it becomes an entry). A close must not be lost when
 * the mount process is killed, so a parked file's content (its manifest: the blocks are stored
 * before the record) and attributes are appended here first; the next mount commits whatever was
 * left (recover-parked.ts).
 *
 *     file    = "BASEFSPARK" ‖ 2 zero bytes ‖ u32 version (= 1) ‖ frame*      (frames.ts)
 *     payload = 1 ‖ u32 id ‖ u16 mode ‖ f64 mtime (ms) ‖ u32 n ‖ path (n bytes UTF-8) ‖ manifest
 *             | 2 ‖ u32 id ‖ u32 id …                            (these files were settled)
 *             | 3 ‖ u32 id ‖ 32-byte entry hash       (committed as that entry, not yet durable)
 *
 * A later SET for the same id replaces the earlier one (the file was changed while parked). A
 * DONE keeps the record of a file whose fsync(2) made it durable until its entry is durable too:
 * recovery then commits it only if that entry did not survive (a power failure).
 * When no parked file is left the journal is cut back to its header, so it stays a few records
 * long; should one file stay parked for long (opened again and kept open), the owner rewrites
 * the journal with just the live records instead (rewrite()). Records reach the OS when put()
 * returns (a killed process loses nothing); sync() makes them durable for fsync(2). A torn or damaged tail, as a crash mid-append leaves, ends the scan: what
 * follows was never acknowledged. A file that is not a journal is refused (MALFORMED).
 */
import { closeSync, fdatasync, fsyncSync, ftruncateSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { MAX_CONTENT } from '../core/entry.ts';
import { err } from '../core/errors.ts';
import { appendOrCut, fsyncPath, ioError, openOrCreate, tempNameFor, writeAll } from '../core/durable-fs.ts';
import { HASH_BYTES } from '../core/hash.ts';
import { encodeFrames, FILE_HEADER_BYTES, fileHeader, FRAME_HEADER_BYTES, hasFileHeader, scanFrames } from '../core/frames.ts';

export interface ParkedRecord {
  path: string;
  /** Permission bits. */
  mode: number;
  /** The mtime the file's entry will carry (ms since the epoch). */
  mtime: number;
  /** The WRITE content naming the file's blocks (content.ts chunkFile). */
  manifest: Uint8Array;
  /** The entry it was committed as, while that may not be durable yet (a DONE record). */
  committedAs?: Uint8Array;
}

/** A record read back by open(), with the id it was written under. */
export interface RecoveredRecord extends ParkedRecord {
  id: number;
}

export interface OpenedJournal {
  journal: ParkedJournal;
  /** The files still parked when the journal was last written, in the order they were parked. */
  records: RecoveredRecord[];
  /** Bytes after the last good record (a torn append), cut off. */
  ignoredBytes: number;
}

const MAGIC = 'BASEFSPARK';
const VERSION = 1;
const HEADER_BYTES = FILE_HEADER_BYTES;
const SET = 1;
const DROP = 2;
const DONE = 3;
const MAX_PATH_BYTES = 16 * 1024;
const SET_FIXED = 1 + 4 + 2 + 8 + 4;
const MAX_PAYLOAD = SET_FIXED + MAX_PATH_BYTES + MAX_CONTENT;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Close a descriptor this journal no longer writes through (in a callback: must not throw). */
function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* nothing more to lose */
  }
}

function header(): Buffer {
  return fileHeader(MAGIC, VERSION);
}

export function encodeSet(id: number, r: ParkedRecord): Uint8Array {
  const path = encoder.encode(r.path);
  if (path.length > MAX_PATH_BYTES) throw err('TOO_LARGE', `path is ${path.length} bytes, max ${MAX_PATH_BYTES}`);
  if (r.manifest.length > MAX_CONTENT) throw err('TOO_LARGE', `manifest is ${r.manifest.length} bytes, max ${MAX_CONTENT}`);
  const out = Buffer.allocUnsafe(SET_FIXED + path.length + r.manifest.length);
  out[0] = SET;
  out.writeUInt32BE(id, 1);
  out.writeUInt16BE(r.mode & 0o7777, 5);
  out.writeDoubleBE(r.mtime, 7);
  out.writeUInt32BE(path.length, 15);
  out.set(path, SET_FIXED);
  out.set(r.manifest, SET_FIXED + path.length);
  return out;
}

function encodeDrop(ids: readonly number[]): Uint8Array {
  const out = Buffer.alloc(1 + 4 * ids.length);
  out[0] = DROP;
  ids.forEach((id, i) => out.writeUInt32BE(id, 1 + 4 * i));
  return out;
}

function encodeDone(id: number, hash: Uint8Array): Uint8Array {
  if (hash.length !== HASH_BYTES) throw err('USAGE', `an entry hash is ${HASH_BYTES} bytes`);
  const out = Buffer.alloc(5 + HASH_BYTES);
  out[0] = DONE;
  out.writeUInt32BE(id, 1);
  out.set(hash, 5);
  return out;
}

type Decoded =
  | { kind: 'set'; id: number; record: ParkedRecord }
  | { kind: 'drop'; ids: number[] }
  | { kind: 'done'; id: number; hash: Uint8Array };

/** One payload; MALFORMED for anything put() could not have written. */
export function decodePayload(p: Uint8Array): Decoded {
  const b = Buffer.from(p.buffer, p.byteOffset, p.length);
  if (b[0] === DONE && b.length === 5 + HASH_BYTES) return { kind: 'done', id: b.readUInt32BE(1), hash: new Uint8Array(b.subarray(5)) };
  if (b[0] === DROP && b.length >= 5 && (b.length - 1) % 4 === 0) {
    const ids: number[] = [];
    for (let at = 1; at < b.length; at += 4) ids.push(b.readUInt32BE(at));
    return { kind: 'drop', ids };
  }
  if (b[0] !== SET || b.length < SET_FIXED) throw err('MALFORMED', 'not a parked-file record');
  const mode = b.readUInt16BE(5);
  const mtime = b.readDoubleBE(7);
  const n = b.readUInt32BE(15);
  if (mode > 0o7777 || !Number.isFinite(mtime) || n === 0 || n > MAX_PATH_BYTES || SET_FIXED + n > b.length)
    throw err('MALFORMED', 'bad parked-file record');
  let path: string;
  try {
    path = decoder.decode(b.subarray(SET_FIXED, SET_FIXED + n));
  } catch (e) {
    throw err('MALFORMED', 'parked-file path is not UTF-8', e);
  }
  const manifest = new Uint8Array(b.subarray(SET_FIXED + n));
  return { kind: 'set', id: b.readUInt32BE(1), record: { path, mode, mtime, manifest } };
}

export class ParkedJournal {
  readonly path: string;
  #fd: number;
  #size: number;
  /** Ids whose last record is a SET. */
  readonly #live = new Set<number>();
  /** Syncs running per descriptor, and descriptors to close once theirs are done. */
  readonly #syncing = new Map<number, number>();
  readonly #retired = new Set<number>();

  #nextId = 1;

  private constructor(path: string, fd: number, size: number, live: Iterable<number>) {
    this.path = path;
    this.#fd = fd;
    this.#size = size;
    for (const id of live) {
      this.#live.add(id);
      this.#nextId = Math.max(this.#nextId, id + 1);
    }
  }

  /** An id no record uses. */
  newId(): number {
    return this.#nextId++ >>> 0;
  }

  /** Open (creating it) and read the journal at `path`. Throws MALFORMED (not a journal) or IO. */
  static open(path: string): OpenedJournal {
    let fd: number | undefined;
    try {
      fd = openOrCreate(path, header());
      const bytes = readFileSync(fd);
      if (!hasFileHeader(bytes, header())) throw err('MALFORMED', `${path} is not a BaseFS journal of parked files`);
      const scan = scanFrames(bytes, HEADER_BYTES, MAX_PAYLOAD);
      const live = new Map<number, ParkedRecord>();
      let goodEnd = HEADER_BYTES;
      for (const payload of scan.records) {
        let d: Decoded;
        try {
          d = decodePayload(payload);
        } catch {
          break; // checksummed but not ours: treated as the end, like a torn frame
        }
        goodEnd += FRAME_HEADER_BYTES + payload.length;
        if (d.kind === 'drop') for (const id of d.ids) live.delete(id);
        else if (d.kind === 'done') {
          const r = live.get(d.id);
          if (r !== undefined) live.set(d.id, { ...r, committedAs: d.hash });
        } else {
          live.delete(d.id); // a re-recorded file moves to the end
          live.set(d.id, d.record);
        }
      }
      if (goodEnd < bytes.length) ftruncateSync(fd, goodEnd);
      // The records read stay live until the caller, having committed them, clears the journal;
      // new ids start above theirs.
      const journal = new ParkedJournal(path, fd, goodEnd, live.keys());
      return { journal, records: [...live].map(([id, r]) => ({ ...r, id })), ignoredBytes: bytes.length - goodEnd };
    } catch (e) {
      if (fd !== undefined) closeSync(fd);
      throw ioError(e, `cannot open ${path}`);
    }
  }

  /** How many files are parked. */
  get live(): number {
    return this.#live.size;
  }

  /** The file's size in bytes. */
  get bytes(): number {
    return this.#size;
  }

  /**
   * Replace the journal with only `records` (every parked file's last record), atomically: a new
   * file, synced, renamed over this one. Its descriptor is opened before the rename, so appends
   * never go to the replaced file; that one is closed once no sync() still runs on it.
   */
  rewrite(records: ReadonlyArray<readonly [number, ParkedRecord]>): void {
    const payloads: Uint8Array[] = [];
    for (const [id, r] of records) {
      payloads.push(encodeSet(id, r));
      if (r.committedAs !== undefined) payloads.push(encodeDone(id, r.committedAs));
    }
    const bytes = Buffer.concat([header(), encodeFrames(payloads)]);
    const tmp = tempNameFor(this.path);
    let fd: number | undefined;
    try {
      fd = openSync(tmp, 'wx+', 0o644);
      writeAll(fd, bytes, 0);
      fsyncSync(fd);
      renameSync(tmp, this.path);
    } catch (e) {
      if (fd !== undefined) closeSync(fd);
      rmSync(tmp, { force: true });
      throw ioError(e, `cannot rewrite ${this.path}`);
    }
    // Renamed: from here on the new file is the journal, whatever else fails.
    this.#retire(this.#fd);
    this.#fd = fd;
    this.#size = bytes.length;
    this.#live.clear();
    for (const [id] of records) this.#live.add(id);
    try {
      fsyncPath(dirname(this.path));
    } catch (e) {
      throw ioError(e, `cannot sync the directory of ${this.path}`);
    }
  }

  /** Record (or re-record) parked file `id`: in the OS when this returns. */
  put(id: number, r: ParkedRecord): void {
    this.#append(encodeSet(id, r));
    this.#live.add(id);
  }

  /** File `id` was committed as entry `hash`; its record stays until drop() (once that is durable). */
  done(id: number, hash: Uint8Array): void {
    if (this.#live.has(id)) this.#append(encodeDone(id, hash));
  }

  /**
   * These files are settled (committed or removed), in one record; when none is left the journal
   * is cut back to its header instead.
   */
  drop(ids: readonly number[]): void {
    const gone = ids.filter((id) => this.#live.delete(id));
    if (gone.length === 0) return;
    if (this.#live.size === 0) this.clear();
    else this.#append(encodeDrop(gone));
  }

  /** Forget every record (after the records read at open were committed). */
  clear(): void {
    this.#live.clear();
    try {
      ftruncateSync(this.#fd, HEADER_BYTES);
    } catch (e) {
      throw ioError(e, `cannot truncate ${this.path}`);
    }
    this.#size = HEADER_BYTES;
  }

  /** Make every record so far durable (fdatasync on the I/O thread pool). */
  sync(): Promise<void> {
    const fd = this.#fd;
    this.#syncing.set(fd, (this.#syncing.get(fd) ?? 0) + 1);
    return new Promise<void>((resolve, reject) =>
      fdatasync(fd, (e) => {
        const left = (this.#syncing.get(fd) ?? 1) - 1;
        if (left > 0) this.#syncing.set(fd, left);
        else {
          this.#syncing.delete(fd);
          if (this.#retired.delete(fd)) closeQuietly(fd);
        }
        if (e) reject(ioError(e, `cannot sync ${this.path}`));
        else resolve();
      }),
    );
  }

  close(): void {
    this.#retire(this.#fd);
  }

  /** Close `fd` now, or once the syncs running on it are done (closing it under them could hit a reused descriptor). */
  #retire(fd: number): void {
    if (this.#syncing.has(fd)) this.#retired.add(fd);
    else closeQuietly(fd);
  }

  #append(payload: Uint8Array): void {
    const frame = encodeFrames([payload]);
    try {
      appendOrCut(this.#fd, frame, this.#size); // a partial frame left would hide later records
    } catch (e) {
      throw ioError(e, `cannot append to ${this.path}`);
    }
    this.#size += frame.length;
  }
}
