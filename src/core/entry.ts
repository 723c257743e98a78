/**
 * Log entries: the signed unit of change.
 *
 * Byte layout (all integers big-endian). This exact layout is what is hashed, stored and sent; it is
 * never produced by a generic serializer, so a hash can only ever mean one thing.
 *
 *   offset  size  field
 *   0       1     version (1)
 *   1       32    parent      hash of the entry this one follows (32 zero bytes for the genesis entry)
 *   33      8     timestamp   author's clock, ms since the epoch; informational only, never trusted
 *   41      1     action      see ACTION below
 *   42      1     N           name length (0..255)
 *   43      N     name        UTF-8
 *   43+N    4     C           content length (0..MAX_CONTENT)
 *   47+N    C     content     depends on the action (content.ts)
 *   47+N+C  32    author      Ed25519 public key of the signer
 *   79+N+C  64    signature   Ed25519 over SIG_TAG || hash
 *
 * hash = SHA-256("basefs/entry/v1" NUL || bytes[0 .. 79+N+C))  (everything but the signature).
 * The signature covers a tagged copy of the hash, so a signature made for an entry can never be
 * replayed as a signature over anything else.
 */
import { err } from './errors.ts';
import { HASH_BYTES, taggedHash, tagBytes, type Hash } from './hash.ts';
import { sign } from './keys.ts';
import { verify } from './verify.ts';

export const ENTRY_VERSION = 1;
export const MAX_NAME = 255;
/** Large enough for the block list of a 128 MiB file; a config entry is usually far smaller. */
export const MAX_CONTENT = 65536;
export const SIGNATURE_BYTES = 64;
export const KEY_BYTES = 32;
const HEADER = 1 + HASH_BYTES + 8 + 1 + 1; // up to and including N
const FIXED = HEADER + 4 + KEY_BYTES + SIGNATURE_BYTES;
export const MAX_ENTRY_BYTES = FIXED + MAX_NAME + MAX_CONTENT;

/** Action codes are part of the format: only ever append to this list. */
export const ACTION = {
  MKDIR: 1,
  WRITE: 2,
  DELETE: 3,
  REVERT: 4,
  GRANT: 5,
  REVOKE: 6,
  ACK: 7,
  LINK: 8,
  SLINK: 9,
  MODE: 10,
} as const;
export type Action = (typeof ACTION)[keyof typeof ACTION];
export type ActionName = keyof typeof ACTION;

const ACTION_NAMES: ReadonlyMap<number, ActionName> = new Map(
  Object.entries(ACTION).map(([k, v]) => [v, k as ActionName]),
);

export function actionName(a: Action): ActionName {
  return ACTION_NAMES.get(a) ?? ('MKDIR' as ActionName);
}

export function isAction(n: number): n is Action {
  return ACTION_NAMES.has(n);
}

export const ZERO_HASH: Hash = new Uint8Array(HASH_BYTES);
const ENTRY_TAG = 'basefs/entry/v1';
const SIG_TAG = tagBytes('basefs/entry-sig/v1');

export interface Entry {
  readonly hash: Hash;
  readonly parent: Hash;
  readonly timestamp: number;
  readonly action: Action;
  readonly name: string;
  readonly content: Uint8Array;
  readonly author: Uint8Array;
  readonly signature: Uint8Array;
  /** The encoded bytes (what is stored and sent). */
  readonly bytes: Uint8Array;
}

export interface EntryFields {
  parent: Hash;
  timestamp: number;
  action: Action;
  name: string;
  content: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The bytes an entry's signature covers: a domain tag and the entry hash. */
export function signatureInput(hash: Hash): Uint8Array {
  const msg = new Uint8Array(SIG_TAG.length + HASH_BYTES);
  msg.set(SIG_TAG, 0);
  msg.set(hash, SIG_TAG.length);
  return msg;
}

/** Build and sign an entry. `seed` is the author's Ed25519 secret seed. */
export function createEntry(fields: EntryFields, publicKey: Uint8Array, seed: Uint8Array): Entry {
  const name = encoder.encode(fields.name);
  if (name.length > MAX_NAME) throw err('TOO_LARGE', `name is ${name.length} bytes, max ${MAX_NAME}`);
  if (fields.content.length > MAX_CONTENT)
    throw err('TOO_LARGE', `content is ${fields.content.length} bytes, max ${MAX_CONTENT}`);
  if (!Number.isSafeInteger(fields.timestamp) || fields.timestamp < 0)
    throw err('USAGE', 'timestamp must be a non-negative integer');
  const unsignedLength = FIXED - SIGNATURE_BYTES + name.length + fields.content.length;
  // Built in place as a record (hash, then bytes): see DecodedEntry.
  const record = new Uint8Array(HASH_BYTES + unsignedLength + SIGNATURE_BYTES);
  const bytes = record.subarray(HASH_BYTES);
  const dv = new DataView(record.buffer, HASH_BYTES);
  bytes[0] = ENTRY_VERSION;
  bytes.set(fields.parent, 1);
  dv.setBigUint64(33, BigInt(fields.timestamp));
  bytes[41] = fields.action;
  bytes[42] = name.length;
  bytes.set(name, HEADER);
  dv.setUint32(HEADER + name.length, fields.content.length);
  bytes.set(fields.content, HEADER + name.length + 4);
  bytes.set(publicKey, HEADER + name.length + 4 + fields.content.length);
  const hash = taggedHash(ENTRY_TAG, bytes.subarray(0, unsignedLength));
  const signature = sign(seed, signatureInput(hash));
  bytes.set(signature, unsignedLength);
  record.set(hash, 0);
  return decodeFields(bytes, record.subarray(0, HASH_BYTES));
}

/**
 * Parse untrusted bytes into an Entry, checking the layout and every bound, and recomputing the hash.
 * Does NOT check the signature (see verifyEntry); throws BasefsError MALFORMED / TOO_LARGE, or
 * BAD_HASH when the bytes were requested by a hash they do not have.
 */
export function decodeEntry(bytes: Uint8Array, expectedHash?: Hash): Entry {
  if (bytes.length < FIXED) throw err('MALFORMED', `entry is ${bytes.length} bytes, min ${FIXED}`);
  if (bytes.length > MAX_ENTRY_BYTES) throw err('TOO_LARGE', `entry is ${bytes.length} bytes`);
  if (bytes[0] !== ENTRY_VERSION) throw err('MALFORMED', `unknown entry version ${bytes[0]}`);
  const n = bytes[42] ?? 0;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < FIXED + n) throw err('MALFORMED', 'truncated name');
  const c = dv.getUint32(HEADER + n);
  if (c > MAX_CONTENT) throw err('TOO_LARGE', `content is ${c} bytes, max ${MAX_CONTENT}`);
  if (bytes.length !== FIXED + n + c) throw err('MALFORMED', 'length does not match the fields');
  const unsignedLength = bytes.length - SIGNATURE_BYTES;
  const hash = taggedHash(ENTRY_TAG, bytes.subarray(0, unsignedLength));
  if (expectedHash !== undefined && Buffer.compare(hash, expectedHash) !== 0)
    throw err('BAD_HASH', 'entry bytes do not hash to the hash they were sent as');
  return decodeFields(bytes, hash);
}

/**
 * Rebuild an Entry from bytes that this node already verified and stored, with the hash it stored.
 * Used only when opening the local log (integrity there is protected by the frame checksum).
 */
export function decodeTrustedEntry(bytes: Uint8Array, hash: Hash): Entry {
  return decodeFields(bytes, hash);
}

function decodeFields(bytes: Uint8Array, hash: Hash): Entry {
  const action = bytes[41] ?? 0;
  if (!isAction(action)) throw err('MALFORMED', `unknown action ${action}`);
  const n = bytes[42] ?? 0;
  let name: string;
  try {
    name = decoder.decode(bytes.subarray(HEADER, HEADER + n));
  } catch (e) {
    throw err('MALFORMED', 'name is not valid UTF-8', e);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const timestamp = Number(dv.getBigUint64(33));
  if (!Number.isSafeInteger(timestamp)) throw err('MALFORMED', 'timestamp out of range');
  const authorAt = HEADER + n + 4 + dv.getUint32(HEADER + n);
  return new DecodedEntry(recordHash(bytes, hash), bytes.length, action, name, timestamp, HEADER + n + 4, authorAt);
}

/**
 * A view of `hash` with the entry's bytes right after it in the same buffer: already so for a
 * record read from the log file or built by createEntry, else a copy (which also lets go of the
 * frame a received entry arrived in).
 */
function recordHash(bytes: Uint8Array, hash: Hash): Hash {
  if (hash.length === HASH_BYTES && hash.buffer === bytes.buffer && hash.byteOffset + HASH_BYTES === bytes.byteOffset)
    return hash;
  const record = new Uint8Array(HASH_BYTES + bytes.length);
  record.set(hash, 0);
  record.set(bytes, HASH_BYTES);
  return record.subarray(0, HASH_BYTES);
}

/**
 * An entry over its record: the hash, then the encoded bytes, in one buffer. Only the hash is a
 * stored view; the byte fields, `bytes` included, are views created on demand: a node holds every
 * entry of its log in memory, and a typed-array view costs about 100 bytes of heap, more than
 * most entries' own bytes.
 */
class DecodedEntry implements Entry {
  readonly hash: Hash;
  readonly action: Action;
  readonly name: string;
  readonly timestamp: number;
  /** Length of the encoded bytes, which follow `hash` in its buffer. */
  private readonly size: number;
  /** Offsets of the content and of the author field (= end of content) in the encoded bytes. */
  private readonly contentAt: number;
  private readonly authorAt: number;

  constructor(hash: Hash, size: number, action: Action, name: string, timestamp: number, contentAt: number, authorAt: number) {
    this.hash = hash;
    this.size = size;
    this.contentAt = contentAt;
    this.action = action;
    this.name = name;
    this.timestamp = timestamp;
    this.authorAt = authorAt;
  }

  /** `length` bytes at `offset` of the encoded bytes. */
  private field(offset: number, length: number): Uint8Array {
    return new Uint8Array(this.hash.buffer, this.hash.byteOffset + HASH_BYTES + offset, length);
  }

  get bytes(): Uint8Array {
    return this.field(0, this.size);
  }

  get parent(): Hash {
    return this.field(1, HASH_BYTES);
  }

  get content(): Uint8Array {
    return this.field(this.contentAt, this.authorAt - this.contentAt);
  }

  get author(): Uint8Array {
    return this.field(this.authorAt, KEY_BYTES);
  }

  get signature(): Uint8Array {
    return this.field(this.authorAt + KEY_BYTES, this.size - this.authorAt - KEY_BYTES);
  }
}

/** Check the signature (strict RFC 8032, see verify.ts). Throws BAD_SIGNATURE. */
export function verifyEntry(e: Entry): void {
  if (!verify(e.author, signatureInput(e.hash), e.signature))
    throw err('BAD_SIGNATURE', 'entry signature does not verify');
}

export function isGenesis(e: Entry): boolean {
  return e.parent.every((b) => b === 0);
}
