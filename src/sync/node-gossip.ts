/**
 * The SWIM user payloads a BaseFS node broadcasts, one type byte then the body:
 *
 *   0x01 ENTRY     the entry's bytes (when 1 + its length fits in one user payload)
 *   0x02 ANNOUNCE  a 32-byte entry hash (an entry too big to piggyback; receivers pull it by sync)
 *   0x03 EVENT     a signed user event (user-event.ts; `basefs serf NAME event`)
 *
 * Decoding never throws: an unknown type, an empty payload or an ANNOUNCE of the wrong length is
 * null. ENTRY bodies are not decoded here: Log.ingest bounds, hashes and verifies them.
 */
import { HASH_BYTES, type Hash } from '../core/hash.ts';

export const GOSSIP_ENTRY = 0x01;
export const GOSSIP_ANNOUNCE = 0x02;
export const GOSSIP_EVENT = 0x03;

export type Gossip = { type: 'entry'; bytes: Uint8Array } | { type: 'announce'; hash: Hash } | { type: 'event'; bytes: Uint8Array };

export function encodeEntryGossip(entryBytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + entryBytes.length);
  out[0] = GOSSIP_ENTRY;
  out.set(entryBytes, 1);
  return out;
}

export function encodeAnnounceGossip(hash: Hash): Uint8Array {
  if (hash.length !== HASH_BYTES) throw new RangeError('bad hash');
  const out = new Uint8Array(1 + HASH_BYTES);
  out[0] = GOSSIP_ANNOUNCE;
  out.set(hash, 1);
  return out;
}

export function encodeEventGossip(eventBytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + eventBytes.length);
  out[0] = GOSSIP_EVENT;
  out.set(eventBytes, 1);
  return out;
}

export function decodeGossip(payload: Uint8Array): Gossip | null {
  if (!(payload instanceof Uint8Array) || payload.length < 2) return null;
  switch (payload[0]) {
    case GOSSIP_ENTRY:
      return { type: 'entry', bytes: payload.subarray(1) };
    case GOSSIP_ANNOUNCE:
      return payload.length === 1 + HASH_BYTES ? { type: 'announce', hash: payload.slice(1) } : null;
    case GOSSIP_EVENT:
      return { type: 'event', bytes: payload.subarray(1) };
    default:
      return null;
  }
}
