/**
 * The wire format. Every message is one type byte followed by a msgpack array (positional fields:
 * about 40 bytes smaller per alive than memberlist's field-name maps). Several messages travel in
 * one datagram as a compound: [COMPOUND, count, count × u16 big-endian length, parts...].
 *
 * Decoders treat input as hostile: every length and count is bounded, every field is type-checked,
 * and anything else raises SwimError('MALFORMED' | 'TOO_LARGE'). Nothing is applied to protocol
 * state until a whole packet has decoded, so a bad packet leaves the state untouched.
 *
 * The type numbers are part of the protocol: only ever append.
 */
// 'msgpackr/pack' is the same Packr without the native string extractor (msgpackr-extract): that
// addon costs ~5 MB RSS per process and measured no faster on our packet and frame sizes.
import { Packr } from 'msgpackr/pack';
import { SwimError } from './errors.ts';
import type { MemberStatus } from './types.ts';

export const MSG_PING = 1;
export const MSG_INDIRECT_PING = 2;
export const MSG_ACK = 3;
export const MSG_NACK = 4;
export const MSG_SUSPECT = 5;
export const MSG_ALIVE = 6;
export const MSG_DEAD = 7;
export const MSG_USER = 8;
export const MSG_PUSH_PULL = 9;
export const MSG_COMPOUND = 10;

/** Hard decoder bounds, independent of configuration (configuration may only be stricter). */
export const MAX_NAME_LENGTH = 255;
export const MAX_ADDRESS_LENGTH = 255;
export const MAX_KEY_LENGTH = 255;
export const MAX_META_BYTES = 1024;
export const MAX_USER_BYTES = 64 * 1024;
export const MAX_APP_STATE_BYTES = 16 * 1024 * 1024;
export const MAX_PUSH_PULL_NODES = 200_000;
export const MAX_PUSH_PULL_USERS = 10_000;
export const MAX_COMPOUND_PARTS = 255;
/** Bytes a compound adds: type and count, then two per part. */
export const COMPOUND_HEADER = 2;
export const COMPOUND_PER_PART = 2;

export interface PingMsg { type: 'ping'; seq: number; node: string; from: string; fromAddr: string }
export interface IndirectPingMsg {
  type: 'indirect-ping'; seq: number; target: string; targetAddr: string; nack: boolean; from: string; fromAddr: string;
}
export interface AckMsg { type: 'ack'; seq: number }
export interface NackMsg { type: 'nack'; seq: number }
export interface SuspectMsg { type: 'suspect'; incarnation: number; node: string; from: string }
export interface AliveMsg { type: 'alive'; incarnation: number; node: string; address: string; meta: Uint8Array }
export interface DeadMsg { type: 'dead'; incarnation: number; node: string; from: string }
/** An application broadcast: `version` orders messages with the same (origin, key). */
export interface UserMsg {
  type: 'user'; origin: string; key: string;
  /** The origin's incarnation when sent: versions restart after a restart, epochs do not go back. */
  epoch: number;
  version: number;
  payload: Uint8Array;
}
export interface NodeRecord { name: string; address: string; status: MemberStatus; incarnation: number; meta: Uint8Array }
/**
 * Full-state exchange. `users` holds the sender's most recent application broadcasts (the newest
 * per origin and key, bounded in bytes), so a node that gossip missed still gets them: push-pull
 * completes delivery of application news as it does of membership (Serf does the same with its
 * recent events).
 */
export interface PushPullMsg { type: 'push-pull'; join: boolean; nodes: NodeRecord[]; app: Uint8Array; users: UserMsg[] }

export type PacketMsg = PingMsg | IndirectPingMsg | AckMsg | NackMsg | SuspectMsg | AliveMsg | DeadMsg | UserMsg;
export type StreamMsg = PingMsg | AckMsg | PushPullMsg;
export type Message = PacketMsg | PushPullMsg;

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });
const STATUSES: readonly MemberStatus[] = ['alive', 'suspect', 'dead', 'left'];
const EMPTY = new Uint8Array(0);

/** Encode one message: type byte + msgpack body. */
export function encodeMessage(m: Message): Uint8Array {
  let type: number;
  let body: unknown[];
  switch (m.type) {
    case 'ping': type = MSG_PING; body = [m.seq, m.node, m.from, m.fromAddr]; break;
    case 'indirect-ping':
      type = MSG_INDIRECT_PING; body = [m.seq, m.target, m.targetAddr, m.nack, m.from, m.fromAddr]; break;
    case 'ack': type = MSG_ACK; body = [m.seq]; break;
    case 'nack': type = MSG_NACK; body = [m.seq]; break;
    case 'suspect': type = MSG_SUSPECT; body = [m.incarnation, m.node, m.from]; break;
    case 'alive': type = MSG_ALIVE; body = [m.incarnation, m.node, m.address, m.meta]; break;
    case 'dead': type = MSG_DEAD; body = [m.incarnation, m.node, m.from]; break;
    case 'user': type = MSG_USER; body = [m.origin, m.key, m.epoch, m.version, m.payload]; break;
    case 'push-pull':
      type = MSG_PUSH_PULL;
      body = [
        m.join,
        m.nodes.map((n) => [n.name, n.address, STATUSES.indexOf(n.status), n.incarnation, n.meta]),
        m.app,
        m.users.map((u) => [u.origin, u.key, u.epoch, u.version, u.payload]),
      ];
      break;
  }
  const packed = packr.pack(body);
  const out = new Uint8Array(1 + packed.length);
  out[0] = type;
  out.set(packed, 1);
  return out;
}

/** Join already-encoded messages into one datagram (or return the single one unchanged). */
export function encodeCompound(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  if (parts.length === 0 || parts.length > MAX_COMPOUND_PARTS) {
    throw new SwimError('TOO_LARGE', `a compound holds 1..${MAX_COMPOUND_PARTS} parts, got ${parts.length}`);
  }
  let size = COMPOUND_HEADER;
  for (const p of parts) {
    if (p.length > 0xffff) throw new SwimError('TOO_LARGE', `compound part of ${p.length} bytes`);
    size += COMPOUND_PER_PART + p.length;
  }
  const out = new Uint8Array(size);
  out[0] = MSG_COMPOUND;
  out[1] = parts.length;
  let lenAt = COMPOUND_HEADER;
  let at = COMPOUND_HEADER + COMPOUND_PER_PART * parts.length;
  for (const p of parts) {
    out[lenAt] = p.length >>> 8;
    out[lenAt + 1] = p.length & 0xff;
    lenAt += 2;
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Decode a datagram into its messages; throws SwimError and nothing else. */
export function decodePacket(data: Uint8Array, maxSize: number): PacketMsg[] {
  if (!(data instanceof Uint8Array)) throw new SwimError('MALFORMED', 'packet is not bytes');
  if (data.length > maxSize) throw new SwimError('TOO_LARGE', `packet of ${data.length} bytes, max ${maxSize}`);
  if (data.length === 0) throw new SwimError('MALFORMED', 'empty packet');
  if (data[0] !== MSG_COMPOUND) return [decodePacketMessage(data)];
  if (data.length < COMPOUND_HEADER) throw new SwimError('MALFORMED', 'truncated compound header');
  const count = data[1] as number;
  if (count === 0) throw new SwimError('MALFORMED', 'empty compound');
  let at = COMPOUND_HEADER + COMPOUND_PER_PART * count;
  if (at > data.length) throw new SwimError('MALFORMED', 'truncated compound lengths');
  const out: PacketMsg[] = [];
  for (let i = 0; i < count; i++) {
    const lenAt = COMPOUND_HEADER + COMPOUND_PER_PART * i;
    const len = ((data[lenAt] as number) << 8) | (data[lenAt + 1] as number);
    if (at + len > data.length) throw new SwimError('MALFORMED', 'truncated compound part');
    const part = data.subarray(at, at + len);
    if (part[0] === MSG_COMPOUND) throw new SwimError('MALFORMED', 'nested compound');
    out.push(decodePacketMessage(part));
    at += len;
  }
  if (at !== data.length) throw new SwimError('MALFORMED', 'trailing bytes after compound');
  return out;
}

function decodePacketMessage(part: Uint8Array): PacketMsg {
  const m = decodeMessage(part);
  if (m.type === 'push-pull') throw new SwimError('MALFORMED', 'push-pull is not allowed in a datagram');
  return m;
}

/** Decode one stream message (a push-pull or a TCP ping/ack); throws SwimError and nothing else. */
export function decodeStream(data: Uint8Array, maxBytes: number): StreamMsg {
  if (!(data instanceof Uint8Array)) throw new SwimError('MALFORMED', 'stream message is not bytes');
  if (data.length > maxBytes) throw new SwimError('TOO_LARGE', `stream message of ${data.length} bytes, max ${maxBytes}`);
  const m = decodeMessage(data);
  if (m.type !== 'ping' && m.type !== 'ack' && m.type !== 'push-pull') {
    throw new SwimError('MALFORMED', `${m.type} is not allowed on a stream`);
  }
  return m;
}

/** Decode one message (type byte + body). */
export function decodeMessage(data: Uint8Array): Message {
  if (data.length < 2) throw new SwimError('MALFORMED', 'message shorter than 2 bytes');
  const type = data[0] as number;
  let body: unknown;
  try {
    body = packr.unpack(data.subarray(1));
  } catch {
    throw new SwimError('MALFORMED', `message type ${type}: body is not valid msgpack`);
  }
  const b = arrayOf(body, type);
  switch (type) {
    case MSG_PING:
      len(b, 4, type);
      return { type: 'ping', seq: u32(b[0]), node: str(b[1], MAX_NAME_LENGTH), from: str(b[2], MAX_NAME_LENGTH), fromAddr: str(b[3], MAX_ADDRESS_LENGTH) };
    case MSG_INDIRECT_PING:
      len(b, 6, type);
      return {
        type: 'indirect-ping', seq: u32(b[0]), target: str(b[1], MAX_NAME_LENGTH), targetAddr: str(b[2], MAX_ADDRESS_LENGTH),
        nack: bool(b[3]), from: str(b[4], MAX_NAME_LENGTH), fromAddr: str(b[5], MAX_ADDRESS_LENGTH),
      };
    case MSG_ACK: len(b, 1, type); return { type: 'ack', seq: u32(b[0]) };
    case MSG_NACK: len(b, 1, type); return { type: 'nack', seq: u32(b[0]) };
    case MSG_SUSPECT:
      len(b, 3, type);
      return { type: 'suspect', incarnation: u32(b[0]), node: str(b[1], MAX_NAME_LENGTH), from: str(b[2], MAX_NAME_LENGTH) };
    case MSG_ALIVE:
      len(b, 4, type);
      return { type: 'alive', incarnation: u32(b[0]), node: str(b[1], MAX_NAME_LENGTH), address: str(b[2], MAX_ADDRESS_LENGTH), meta: bytes(b[3], MAX_META_BYTES) };
    case MSG_DEAD:
      len(b, 3, type);
      return { type: 'dead', incarnation: u32(b[0]), node: str(b[1], MAX_NAME_LENGTH), from: str(b[2], MAX_NAME_LENGTH) };
    case MSG_USER:
      return userFields(b, type);
    case MSG_PUSH_PULL: {
      len(b, 4, type);
      const list = b[1];
      if (!Array.isArray(list)) throw new SwimError('MALFORMED', 'push-pull node list is not an array');
      if (list.length > MAX_PUSH_PULL_NODES) throw new SwimError('TOO_LARGE', `push-pull with ${list.length} nodes`);
      const nodes: NodeRecord[] = list.map((r: unknown) => {
        const f = arrayOf(r, type);
        len(f, 5, type);
        const s = f[2];
        if (typeof s !== 'number' || !Number.isInteger(s) || s < 0 || s >= STATUSES.length) {
          throw new SwimError('MALFORMED', 'bad member status');
        }
        return {
          name: str(f[0], MAX_NAME_LENGTH), address: str(f[1], MAX_ADDRESS_LENGTH), status: STATUSES[s] as MemberStatus,
          incarnation: u32(f[3]), meta: bytes(f[4], MAX_META_BYTES),
        };
      });
      const ulist = b[3];
      if (!Array.isArray(ulist)) throw new SwimError('MALFORMED', 'push-pull user list is not an array');
      if (ulist.length > MAX_PUSH_PULL_USERS) throw new SwimError('TOO_LARGE', `push-pull with ${ulist.length} user messages`);
      const users: UserMsg[] = ulist.map((r: unknown) => userFields(arrayOf(r, type), type));
      return { type: 'push-pull', join: bool(b[0]), nodes, app: bytes(b[2], MAX_APP_STATE_BYTES), users };
    }
    default:
      throw new SwimError('MALFORMED', `unknown message type ${type}`);
  }
}

function userFields(b: unknown[], type: number): UserMsg {
  len(b, 5, type);
  return {
    type: 'user', origin: str(b[0], MAX_NAME_LENGTH), key: str(b[1], MAX_KEY_LENGTH, true), epoch: u32(b[2]),
    version: u32(b[3]), payload: bytes(b[4], MAX_USER_BYTES),
  };
}

function arrayOf(v: unknown, type: number): unknown[] {
  if (!Array.isArray(v)) throw new SwimError('MALFORMED', `message type ${type}: body is not an array`);
  return v;
}
function len(b: unknown[], n: number, type: number): void {
  if (b.length !== n) throw new SwimError('MALFORMED', `message type ${type}: ${b.length} fields, expected ${n}`);
}
function u32(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new SwimError('MALFORMED', 'expected an unsigned 32-bit integer');
  }
  return v;
}
function str(v: unknown, max: number, allowEmpty = false): string {
  if (typeof v !== 'string') throw new SwimError('MALFORMED', 'expected a string');
  if (v.length > max) throw new SwimError('TOO_LARGE', `string of ${v.length} characters, max ${max}`);
  if (!allowEmpty && v.length === 0) throw new SwimError('MALFORMED', 'empty string');
  return v;
}
function bool(v: unknown): boolean {
  if (typeof v !== 'boolean') throw new SwimError('MALFORMED', 'expected a boolean');
  return v;
}
function bytes(v: unknown, max: number): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new SwimError('MALFORMED', 'expected bytes');
  if (v.length > max) throw new SwimError('TOO_LARGE', `${v.length} bytes, max ${max}`);
  // Copy: msgpackr hands out views into the packet buffer, which the driver may reuse.
  return v.length === 0 ? EMPTY : new Uint8Array(v);
}
