/**
 * The anti-entropy messages on the wire. A frame is one type byte followed by a msgpack array (the
 * body); frames are length-prefixed by the transport (stream.ts), never by this module.
 *
 * Every decoder bounds what it accepts before trusting anything: the frame size, every count, every
 * path, hash, entry and block length. Anything else is a BasefsError MALFORMED or TOO_LARGE, so a
 * peer's garbage can cost us one frame's worth of parsing and nothing more. Encoders split long
 * lists over several frames (see split.ts) so that an honest sender never produces a frame the
 * receiver would refuse.
 */
// 'msgpackr/pack' is the same Packr without the native string extractor (msgpackr-extract): that
// addon costs ~5 MB RSS per process and measured no faster on our packet and frame sizes.
import { Packr } from 'msgpackr/pack';
import { err } from '../core/errors.ts';
import { MAX_ENTRY_BYTES } from '../core/entry.ts';
import { HASH_BYTES, type Hash } from '../core/hash.ts';
import { checkName, normalizePath } from '../core/paths.ts';
import { MAX_BLOCK_BYTES } from '../core/block-store.ts';

export const PROTOCOL_VERSION = 1;
/** Largest frame either side sends or accepts (type byte + body). */
export const MAX_FRAME_BYTES = 1 << 20;
export const MAX_PATH_BYTES = 4096;
/** Hashes per WANT_ENTRIES / WANT_BLOCKS frame and entry hashes per SUMMARY part. */
export const MAX_HASHES = 8192;
/** Children per SUMMARY part: 2048 × (255-byte name + hash) stays well under a frame. */
export const MAX_CHILDREN = 2048;
/** Paths per WANT_SUBTREES frame: 200 × 4 KiB paths stays under a frame. */
export const MAX_PATHS = 200;
export const MAX_ENTRIES = 4096;
/** 15 blocks of 64 KiB fit in a 1 MiB frame with room for framing. */
export const MAX_BLOCKS = 15;
const MAX_ERROR_TEXT = 1024;

/** Frame type bytes are part of the protocol: only ever append to this list. */
export const FRAME = {
  HELLO: 1,
  SUMMARY: 2,
  ENTRIES: 3,
  WANT_ENTRIES: 4,
  WANT_SUBTREES: 5,
  WANT_BLOCKS: 6,
  BLOCKS: 7,
  END_TURN: 8,
  DONE: 9,
  ERROR: 10,
  BUCKETS: 11,
} as const;

/** Hex digits of a bucket prefix (see summary.ts): 16 levels of 16 buckets is far beyond any tree. */
export const MAX_PREFIX = 16;
export const BUCKETS = 16;
/**
 * Sub-bucket digests are cut to 128 bits: they only steer the walk (a collision would hide one
 * difference from one session, at 2^-128 by chance and 2^128 work on purpose), and a bucket
 * message is then 16 × 17 bytes instead of 16 × 34.
 */
export const DIGEST_BYTES = 16;

export interface Child {
  name: string;
  hash: Hash;
}

export type Message =
  /** First frame from each side: who we are and what we hold. */
  | { type: 'hello'; version: number; fsId: Hash; root: Hash }
  /**
   * What the sender holds at one path (prefix "": all of it; else only the bucket of entries and
   * children whose keys start with `prefix`): long lists come in parts, the last one flagged.
   */
  | { type: 'summary'; path: string; prefix: string; hash: Hash; entries: Hash[]; children: Child[]; last: boolean }
  /** The same, too large to list: the (DIGEST_BYTES) digests of its 16 sub-buckets instead. */
  | { type: 'buckets'; path: string; prefix: string; hash: Hash; buckets: Hash[] }
  /** Entry bytes, in an order the receiver can verify (parents and grants first). */
  | { type: 'entries'; entries: Uint8Array[] }
  | { type: 'want-entries'; hashes: Hash[] }
  /** Whole subtrees the sender lacks entirely (every entry at or below each path). */
  | { type: 'want-subtrees'; paths: string[] }
  | { type: 'want-blocks'; hashes: Hash[] }
  | { type: 'blocks'; blocks: Array<{ hash: Hash; bytes: Uint8Array }> }
  /** The sender's turn is over; the receiver answers with its own turn. */
  | { type: 'end-turn' }
  /** The sender has nothing to send or ask: the session is over. */
  | { type: 'done' }
  | { type: 'error'; code: string; message: string };

const packr = new Packr({ useRecords: false, mapsAsObjects: false });
const encoder = new TextEncoder();

function bodyOf(m: Message): unknown[] {
  switch (m.type) {
    case 'hello':
      return [m.version, m.fsId, m.root];
    case 'summary':
      return [m.path, m.prefix, m.hash, m.entries, m.children.map((c) => [c.name, c.hash]), m.last];
    case 'buckets':
      return [m.path, m.prefix, m.hash, m.buckets];
    case 'entries':
      return [m.entries];
    case 'want-entries':
    case 'want-blocks':
      return [m.hashes];
    case 'want-subtrees':
      return [m.paths];
    case 'blocks':
      return [m.blocks.map((b) => [b.hash, b.bytes])];
    case 'end-turn':
    case 'done':
      return [];
    case 'error':
      return [m.code, m.message];
  }
}

const TYPE_BYTE: Record<Message['type'], number> = {
  hello: FRAME.HELLO,
  summary: FRAME.SUMMARY,
  buckets: FRAME.BUCKETS,
  entries: FRAME.ENTRIES,
  'want-entries': FRAME.WANT_ENTRIES,
  'want-subtrees': FRAME.WANT_SUBTREES,
  'want-blocks': FRAME.WANT_BLOCKS,
  blocks: FRAME.BLOCKS,
  'end-turn': FRAME.END_TURN,
  done: FRAME.DONE,
  error: FRAME.ERROR,
};

/** Encode one message; TOO_LARGE if it would not fit a frame (split.ts keeps senders under it). */
export function encodeMessage(m: Message): Uint8Array {
  const body = packr.pack(bodyOf(m));
  const frame = new Uint8Array(1 + body.length);
  frame[0] = TYPE_BYTE[m.type];
  frame.set(body, 1);
  if (frame.length > MAX_FRAME_BYTES) throw err('TOO_LARGE', `${m.type} frame is ${frame.length} bytes`);
  return frame;
}

/** Decode and strictly validate one frame from a peer. Throws MALFORMED / TOO_LARGE. */
export function decodeMessage(frame: Uint8Array): Message {
  if (!(frame instanceof Uint8Array) || frame.length === 0) throw err('MALFORMED', 'empty frame');
  if (frame.length > MAX_FRAME_BYTES) throw err('TOO_LARGE', `frame is ${frame.length} bytes, max ${MAX_FRAME_BYTES}`);
  let body: unknown;
  try {
    body = packr.unpack(frame.subarray(1));
  } catch (e) {
    throw err('MALFORMED', 'frame body is not msgpack', e);
  }
  const b = array(body, 8, 'body');
  switch (frame[0]) {
    case FRAME.HELLO:
      arity(b, 3);
      return { type: 'hello', version: uint(b[0], 'version'), fsId: hash(b[1]), root: hash(b[2]) };
    case FRAME.SUMMARY: {
      arity(b, 6);
      const children = array(b[4], MAX_CHILDREN, 'children').map((c) => {
        const pair = array(c, 2, 'child');
        arity(pair, 2);
        const name = str(pair[0], 255 * 4, 'name');
        try {
          checkName(name);
        } catch (e) {
          throw err('MALFORMED', 'bad child name', e);
        }
        return { name, hash: hash(pair[1]) };
      });
      if (typeof b[5] !== 'boolean') throw err('MALFORMED', 'summary flag is not a boolean');
      return { type: 'summary', path: path(b[0]), prefix: prefix(b[1]), hash: hash(b[2]), entries: hashes(b[3]), children, last: b[5] };
    }
    case FRAME.BUCKETS: {
      arity(b, 4);
      const buckets = array(b[3], BUCKETS, 'buckets').map(digest);
      if (buckets.length !== BUCKETS) throw err('MALFORMED', `expected ${BUCKETS} buckets`);
      return { type: 'buckets', path: path(b[0]), prefix: prefix(b[1]), hash: hash(b[2]), buckets };
    }
    case FRAME.ENTRIES:
      arity(b, 1);
      return { type: 'entries', entries: array(b[0], MAX_ENTRIES, 'entries').map((e) => bytes(e, MAX_ENTRY_BYTES, 'entry')) };
    case FRAME.WANT_ENTRIES:
      arity(b, 1);
      return { type: 'want-entries', hashes: hashes(b[0]) };
    case FRAME.WANT_BLOCKS:
      arity(b, 1);
      return { type: 'want-blocks', hashes: hashes(b[0]) };
    case FRAME.WANT_SUBTREES:
      arity(b, 1);
      return { type: 'want-subtrees', paths: array(b[0], MAX_PATHS, 'paths').map(path) };
    case FRAME.BLOCKS:
      arity(b, 1);
      return {
        type: 'blocks',
        blocks: array(b[0], MAX_BLOCKS, 'blocks').map((x) => {
          const pair = array(x, 2, 'block');
          arity(pair, 2);
          return { hash: hash(pair[0]), bytes: bytes(pair[1], MAX_BLOCK_BYTES, 'block') };
        }),
      };
    case FRAME.END_TURN:
      arity(b, 0);
      return { type: 'end-turn' };
    case FRAME.DONE:
      arity(b, 0);
      return { type: 'done' };
    case FRAME.ERROR: {
      arity(b, 2);
      const code = str(b[0], 32, 'code');
      if (!/^[A-Z_]+$/.test(code)) throw err('MALFORMED', 'bad error code');
      return { type: 'error', code, message: str(b[1], MAX_ERROR_TEXT, 'message') };
    }
  }
  throw err('MALFORMED', `unknown frame type ${frame[0]}`);
}

// --- strict shape checks: each names what it checks, so a failure says which field was wrong ---

function array(x: unknown, max: number, what: string): unknown[] {
  if (!Array.isArray(x)) throw err('MALFORMED', `${what} is not an array`);
  if (x.length > max) throw err('TOO_LARGE', `${what}: ${x.length} items, max ${max}`);
  return x;
}

function arity(b: unknown[], n: number): void {
  if (b.length !== n) throw err('MALFORMED', `expected ${n} fields, got ${b.length}`);
}

function uint(x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 0xffff) throw err('MALFORMED', `bad ${what}`);
  return x;
}

function bytes(x: unknown, max: number, what: string): Uint8Array {
  if (!(x instanceof Uint8Array)) throw err('MALFORMED', `${what} is not binary`);
  if (x.length > max) throw err('TOO_LARGE', `${what} is ${x.length} bytes, max ${max}`);
  // Copy: what we keep (entries, blocks) must not pin the whole frame buffer in memory.
  return new Uint8Array(x);
}

function hash(x: unknown): Hash {
  if (!(x instanceof Uint8Array) || x.length !== HASH_BYTES) throw err('MALFORMED', 'a hash is 32 bytes');
  return new Uint8Array(x);
}

function digest(x: unknown): Uint8Array {
  if (!(x instanceof Uint8Array) || x.length !== DIGEST_BYTES) throw err('MALFORMED', `a bucket digest is ${DIGEST_BYTES} bytes`);
  return new Uint8Array(x);
}

function hashes(x: unknown): Hash[] {
  return array(x, MAX_HASHES, 'hashes').map(hash);
}

function str(x: unknown, maxBytes: number, what: string): string {
  if (typeof x !== 'string') throw err('MALFORMED', `${what} is not a string`);
  if (x.length > maxBytes || encoder.encode(x).length > maxBytes) throw err('TOO_LARGE', `${what} too long`);
  return x;
}

function prefix(x: unknown): string {
  const p = str(x, MAX_PREFIX, 'prefix');
  if (!/^[0-9a-f]*$/.test(p)) throw err('MALFORMED', 'bad bucket prefix');
  return p;
}

/** A canonical absolute path ("/", "/a/b"); anything that normalizes differently is refused. */
function path(x: unknown): string {
  const p = str(x, MAX_PATH_BYTES, 'path');
  let normal: string;
  try {
    normal = normalizePath(p);
  } catch (e) {
    throw err('MALFORMED', 'bad path', e);
  }
  if (normal !== p) throw err('MALFORMED', 'path is not canonical');
  return p;
}
