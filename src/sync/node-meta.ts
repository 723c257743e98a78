/**
 * What a BaseFS node advertises in its SWIM metadata, a small fixed binary layout:
 *
 *   offset size
 *   0      1    version (1)
 *   1      2    sync port, u16 big-endian (the TCP port serving anti-entropy sessions)
 *   3      32   log root hash (Log.rootHash)
 *   35     8    the first 8 bytes of the filesystem id (genesis hash): nodes of another filesystem
 *               that share the SWIM group are never synced with
 *   43     4    optional: how many entries the log holds, u32 big-endian (who pulls from whom:
 *               node-core.ts); absent from nodes that do not send it
 *   47     1    optional, only after the count: flags. Bit 0 (COMPLETE): the node holds every block
 *               of its files' current versions, so it can serve a new file's blocks to others
 *               (block-pull.ts); other bits are reserved and ignored
 *
 * 43, 47 or 48 bytes, far below SWIM's maxMetaSize (512). Decoding is defensive: anything shorter,
 * another version, or port 0 decodes to null (the member is simply not a sync candidate). Bytes
 * after the known fields are ignored, so a later version may append more; a member whose metadata
 * stops before a field (an older node) decodes it as null, "unknown".
 */
import { HASH_BYTES, type Hash } from '../core/hash.ts';

export const META_VERSION = 1;
export const FS_TAG_BYTES = 8;
export const META_BYTES = 1 + 2 + HASH_BYTES + FS_TAG_BYTES;
const COUNT_BYTES = 4;
const FLAGS_BYTES = 1;
const FLAG_COMPLETE = 0x01;

export interface NodeMeta {
  syncPort: number;
  root: Hash;
  /** The first FS_TAG_BYTES of the filesystem id. */
  fsTag: Uint8Array;
  /** Entries in the member's log, when it advertises them. */
  entries: number | null;
  /** It holds every block of its current files; null when it does not say (older nodes). */
  complete: boolean | null;
}

/** `complete` needs `entries`: the flags byte comes after the count. */
export function encodeNodeMeta(m: { syncPort: number; root: Hash; fsId: Hash; entries?: number; complete?: boolean }): Uint8Array {
  if (!Number.isInteger(m.syncPort) || m.syncPort < 1 || m.syncPort > 65535) throw new RangeError(`bad sync port ${m.syncPort}`);
  if (m.root.length !== HASH_BYTES || m.fsId.length < FS_TAG_BYTES) throw new RangeError('bad root hash or filesystem id');
  const withCount = m.entries !== undefined;
  const withFlags = m.complete !== undefined;
  if (withFlags && !withCount) throw new RangeError('the complete flag needs the entry count');
  const out = new Uint8Array(META_BYTES + (withCount ? COUNT_BYTES : 0) + (withFlags ? FLAGS_BYTES : 0));
  out[0] = META_VERSION;
  out[1] = m.syncPort >>> 8;
  out[2] = m.syncPort & 0xff;
  out.set(m.root, 3);
  out.set(m.fsId.subarray(0, FS_TAG_BYTES), 3 + HASH_BYTES);
  if (withCount) new DataView(out.buffer).setUint32(META_BYTES, Math.min(0xffff_ffff, Math.max(0, Math.floor(m.entries ?? 0))));
  if (withFlags) out[META_BYTES + COUNT_BYTES] = m.complete ? FLAG_COMPLETE : 0;
  return out;
}

/** null for anything that is not a version-1 BaseFS advertisement. Never throws. */
export function decodeNodeMeta(bytes: Uint8Array | undefined | null): NodeMeta | null {
  if (!(bytes instanceof Uint8Array) || bytes.length < META_BYTES || bytes[0] !== META_VERSION) return null;
  const syncPort = ((bytes[1] as number) << 8) | (bytes[2] as number);
  if (syncPort === 0) return null;
  const flags = bytes[META_BYTES + COUNT_BYTES];
  return {
    syncPort,
    root: bytes.slice(3, 3 + HASH_BYTES),
    fsTag: bytes.slice(3 + HASH_BYTES, META_BYTES),
    entries: bytes.length >= META_BYTES + COUNT_BYTES ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(META_BYTES) : null,
    complete: flags === undefined ? null : (flags & FLAG_COMPLETE) !== 0,
  };
}

/** The member belongs to the filesystem `fsId`. */
export function sameFilesystem(meta: NodeMeta, fsId: Hash): boolean {
  for (let i = 0; i < FS_TAG_BYTES; i++) if (meta.fsTag[i] !== fsId[i]) return false;
  return true;
}
