/**
 * Serf-style user events (`basefs serf NAME event NAME [PAYLOAD]`), made safe for nodes that do not
 * trust each other: an event is signed by a key that holds write authority in the filesystem (the
 * root key or any key with a live grant), so a member that merely joined the group cannot make
 * other nodes' watchers run. Events are ephemeral (not in the log), spread like SWIM user payloads,
 * and delivered once per node.
 *
 * Fixed layout (big-endian), inside a gossip payload whose type byte is GOSSIP_EVENT:
 *   fsTag        8   first bytes of the filesystem id (an event is not valid in another filesystem)
 *   timestamp    8   ms since the epoch at the sender (freshness window, see below)
 *   nonce        8   random: two events in the same ms differ
 *   author      32   Ed25519 public key
 *   nameLength   1   1..MAX_EVENT_NAME bytes of UTF-8
 *   name
 *   payloadLen   2   0..MAX_EVENT_PAYLOAD
 *   payload
 *   signature   64   over "basefs/event-sig/v1" || SHA-256("basefs/event/v1" || everything above)
 *
 * Replays: a receiver keeps the ids of recent events (bounded) and refuses events whose timestamp is
 * more than EVENT_WINDOW_MS from its own clock, so a recorded event cannot be replayed later. The
 * window is wide because mesh routers' clocks drift; it only bounds replays, never ordering.
 */
import { err } from '../core/errors.ts';
import { bytesEqual, taggedHash, toHex, type Hash } from '../core/hash.ts';
import { sign } from '../core/keys.ts';
import { checkPublicKey, verify } from '../core/verify.ts';

export const MAX_EVENT_NAME = 64;
export const MAX_EVENT_PAYLOAD = 512;
export const EVENT_WINDOW_MS = 10 * 60_000;
const FS_TAG = 8;
const FIXED = FS_TAG + 8 + 8 + 32 + 1 + 2 + 64;
const SIG_TAG = new TextEncoder().encode('basefs/event-sig/v1');

export interface UserEvent {
  /** Hex of the event's hash: its identity for deduplication. */
  id: string;
  timestamp: number;
  author: Uint8Array;
  name: string;
  payload: Uint8Array;
  bytes: Uint8Array;
}

function signedInput(hash: Hash): Uint8Array {
  const m = new Uint8Array(SIG_TAG.length + hash.length);
  m.set(SIG_TAG, 0);
  m.set(hash, SIG_TAG.length);
  return m;
}

export function encodeUserEvent(
  o: { fsId: Hash; timestamp: number; nonce: Uint8Array; name: string; payload: Uint8Array },
  key: { publicKey: Uint8Array; seed: Uint8Array },
): Uint8Array {
  const name = new TextEncoder().encode(o.name);
  if (name.length === 0 || name.length > MAX_EVENT_NAME) throw err('USAGE', `an event name is 1..${MAX_EVENT_NAME} bytes`);
  if (o.payload.length > MAX_EVENT_PAYLOAD) throw err('TOO_LARGE', `an event payload is at most ${MAX_EVENT_PAYLOAD} bytes`);
  if (o.nonce.length !== 8) throw new RangeError('nonce must be 8 bytes');
  const out = new Uint8Array(FIXED + name.length + o.payload.length);
  const v = new DataView(out.buffer);
  let p = 0;
  out.set(o.fsId.subarray(0, FS_TAG), p);
  p += FS_TAG;
  v.setBigUint64(p, BigInt(Math.max(0, Math.floor(o.timestamp))));
  p += 8;
  out.set(o.nonce, p);
  p += 8;
  out.set(key.publicKey, p);
  p += 32;
  out[p++] = name.length;
  out.set(name, p);
  p += name.length;
  v.setUint16(p, o.payload.length);
  p += 2;
  out.set(o.payload, p);
  p += o.payload.length;
  const hash = taggedHash('basefs/event/v1', out.subarray(0, p));
  out.set(sign(key.seed, signedInput(hash)), p);
  return out;
}

/**
 * Decodes and checks the signature and the filesystem. Throws MALFORMED / BAD_SIGNATURE /
 * NOT_FOUND (another filesystem); authority and freshness are the receiver's (EventGate).
 */
export function decodeUserEvent(bytes: Uint8Array, fsId: Hash): UserEvent {
  if (bytes.length < FIXED + 1 || bytes.length > FIXED + MAX_EVENT_NAME + MAX_EVENT_PAYLOAD) throw err('MALFORMED', 'event size');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!bytesEqual(bytes.subarray(0, FS_TAG), fsId.subarray(0, FS_TAG))) throw err('NOT_FOUND', 'an event of another filesystem');
  let p = FS_TAG;
  const timestamp = Number(v.getBigUint64(p));
  p += 16;
  const author = bytes.slice(p, p + 32);
  p += 32;
  const nameLength = bytes[p++] as number;
  if (nameLength === 0 || nameLength > MAX_EVENT_NAME || p + nameLength + 2 + 64 > bytes.length) throw err('MALFORMED', 'event name');
  let name: string;
  try {
    name = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(p, p + nameLength));
  } catch {
    throw err('MALFORMED', 'event name is not UTF-8');
  }
  p += nameLength;
  const payloadLength = v.getUint16(p);
  p += 2;
  if (payloadLength > MAX_EVENT_PAYLOAD || p + payloadLength + 64 !== bytes.length) throw err('MALFORMED', 'event payload');
  const payload = bytes.slice(p, p + payloadLength);
  p += payloadLength;
  try {
    checkPublicKey(author);
  } catch {
    throw err('BAD_SIGNATURE', 'event author is not a valid key');
  }
  const hash = taggedHash('basefs/event/v1', bytes.subarray(0, p));
  if (!verify(author, signedInput(hash), bytes.subarray(p))) throw err('BAD_SIGNATURE', 'event signature');
  return { id: toHex(hash), timestamp, author, name, payload, bytes };
}

/**
 * A receiver's checks beyond the signature: the author may write somewhere in the filesystem, the
 * event is fresh, and it was not seen before (a bounded memory of ids, oldest forgotten first).
 */
export class EventGate {
  readonly #seen = new Set<string>();
  readonly #max: number;

  constructor(max = 4096) {
    this.#max = max;
  }

  /** null when accepted (and now remembered), else why it is refused. */
  admit(e: UserEvent, now: number, mayWrite: (author: Uint8Array) => boolean): string | null {
    if (this.#seen.has(e.id)) return 'duplicate';
    if (Math.abs(now - e.timestamp) > EVENT_WINDOW_MS) return 'stale';
    if (!mayWrite(e.author)) return 'no authority';
    this.#seen.add(e.id);
    if (this.#seen.size > this.#max) this.#seen.delete(this.#seen.values().next().value as string);
    return null;
  }
}
