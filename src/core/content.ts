/**
 * Content formats of the actions that carry content (fixed layouts, big-endian):
 *
 *   WRITE   file manifest:  u8 kind
 *             kind 0 (inline): the file's bytes follow (at most INLINE_MAX)
 *             kind 1 (blocks): u64 size, u32 blockSize, then ceil(size / blockSize) block hashes
 *   LINK    32-byte hash of the WRITE entry whose content this path shares (a hard link)
 *   SLINK   the symlink target, UTF-8, 1..MAX_SYMLINK bytes
 *   MODE    u32 permission bits (& 0o7777)
 *   REVERT  32-byte hash of an earlier entry of the same path
 *   GRANT   32-byte Ed25519 public key granted write rights on the directory (name = a label)
 *   REVOKE  32-byte public key whose grant on the directory is withdrawn (name = a label)
 *   MKDIR, DELETE, ACK: empty (the genesis MKDIR carries the filesystem's name)
 *
 * Files are cut into fixed-size content-addressed blocks; tiny files (most configuration) are
 * inlined in the entry so they spread in a single gossip packet with no block transfer at all.
 */
import { err } from './errors.ts';
import { blockHash, HASH_BYTES, type Hash } from './hash.ts';
import { ACTION, MAX_CONTENT, type Action } from './entry.ts';

export const INLINE_MAX = 512;
export const BLOCK_SIZE = 65536;
export const MAX_SYMLINK = 4096;
export const MAX_BLOCKS = Math.floor((MAX_CONTENT - 13) / HASH_BYTES);
export const MAX_FILE_SIZE = MAX_BLOCKS * BLOCK_SIZE;

export interface Manifest {
  size: number;
  /** Present for inline files. */
  inline?: Uint8Array;
  blockSize: number;
  blocks: Hash[];
}

export interface Chunked {
  manifest: Uint8Array;
  blocks: Array<{ hash: Hash; bytes: Uint8Array }>;
}

/** Cut file bytes into blocks and build the WRITE content that names them. */
export function chunkFile(data: Uint8Array, blockSize = BLOCK_SIZE): Chunked {
  if (data.length <= INLINE_MAX) {
    const manifest = new Uint8Array(1 + data.length);
    manifest[0] = 0;
    manifest.set(data, 1);
    return { manifest, blocks: [] };
  }
  if (data.length > MAX_FILE_SIZE) throw err('TOO_LARGE', `file is ${data.length} bytes, max ${MAX_FILE_SIZE}`);
  const blocks: Chunked['blocks'] = [];
  for (let off = 0; off < data.length; off += blockSize) {
    const bytes = data.subarray(off, Math.min(off + blockSize, data.length));
    blocks.push({ hash: blockHash(bytes), bytes });
  }
  const manifest = new Uint8Array(13 + blocks.length * HASH_BYTES);
  const dv = new DataView(manifest.buffer);
  manifest[0] = 1;
  dv.setBigUint64(1, BigInt(data.length));
  dv.setUint32(9, blockSize);
  blocks.forEach((b, i) => manifest.set(b.hash, 13 + i * HASH_BYTES));
  return { manifest, blocks };
}

/** Parse and bound-check a WRITE manifest. Throws MALFORMED / TOO_LARGE. */
export function decodeManifest(content: Uint8Array): Manifest {
  const kind = content[0];
  if (kind === 0) {
    const inline = content.subarray(1);
    if (inline.length > INLINE_MAX) throw err('TOO_LARGE', 'inline file too large');
    return { size: inline.length, inline, blockSize: 0, blocks: [] };
  }
  if (kind !== 1 || content.length < 13) throw err('MALFORMED', 'bad file manifest');
  const dv = new DataView(content.buffer, content.byteOffset, content.byteLength);
  const size = Number(dv.getBigUint64(1));
  const blockSize = dv.getUint32(9);
  if (blockSize === 0 || blockSize > BLOCK_SIZE) throw err('MALFORMED', `bad block size ${blockSize}`);
  if (!Number.isSafeInteger(size) || size <= INLINE_MAX) throw err('MALFORMED', `bad file size ${size}`);
  const count = Math.ceil(size / blockSize);
  if (content.length !== 13 + count * HASH_BYTES) throw err('MALFORMED', 'block list does not match size');
  const blocks: Hash[] = [];
  for (let i = 0; i < count; i++) blocks.push(content.subarray(13 + i * HASH_BYTES, 13 + (i + 1) * HASH_BYTES));
  return { size, blockSize, blocks };
}

export function encodeMode(mode: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, mode & 0o7777);
  return out;
}

export function decodeMode(content: Uint8Array): number {
  return new DataView(content.buffer, content.byteOffset, 4).getUint32(0) & 0o7777;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Structural check of an action's content, independent of any other entry. Throws MALFORMED /
 * TOO_LARGE / BAD_KEY-free (keys are checked by the caller, who knows the cost).
 */
export function checkContent(action: Action, content: Uint8Array, genesis: boolean): void {
  switch (action) {
    case ACTION.MKDIR:
      if (!genesis && content.length !== 0) throw err('MALFORMED', 'MKDIR carries no content');
      if (genesis) utf8(content, 255);
      return;
    case ACTION.DELETE:
    case ACTION.ACK:
      if (content.length !== 0) throw err('MALFORMED', 'this action carries no content');
      return;
    case ACTION.WRITE:
      decodeManifest(content);
      return;
    case ACTION.LINK:
    case ACTION.REVERT:
    case ACTION.GRANT:
    case ACTION.REVOKE:
      if (content.length !== HASH_BYTES) throw err('MALFORMED', 'expected 32 bytes of content');
      return;
    case ACTION.SLINK:
      if (content.length === 0) throw err('MALFORMED', 'empty symlink target');
      utf8(content, MAX_SYMLINK);
      return;
    case ACTION.MODE:
      if (content.length !== 4) throw err('MALFORMED', 'MODE carries 4 bytes');
      if (new DataView(content.buffer, content.byteOffset, 4).getUint32(0) > 0o7777)
        throw err('MALFORMED', 'mode has bits beyond 07777');
      return;
  }
}

function utf8(content: Uint8Array, max: number): string {
  if (content.length > max) throw err('TOO_LARGE', `content longer than ${max} bytes`);
  try {
    return decoder.decode(content);
  } catch (e) {
    throw err('MALFORMED', 'content is not valid UTF-8', e);
  }
}

export function decodeText(content: Uint8Array): string {
  return decoder.decode(content);
}
