/**
 * Hashing for the log. SHA-256 everywhere: Ed25519 already depends on the SHA-2 family, it is
 * hardware-accelerated on the x86 and ARMv8 chips found in mesh routers, and every tool can
 * recompute it (`sha256sum`). BLAKE2b would be faster in pure JS but buys nothing here: an entry is a
 * few hundred bytes and verification time is dominated by the signature check.
 *
 * The digest is computed by node:crypto (OpenSSL, native, SHA-NI where the CPU has it): opening a
 * 100,000-entry log hashes every Merkle node, and @noble/hashes' pure-JS SHA-256 made that the
 * slowest step. The output is the same function (hash.test.ts checks node against noble).
 *
 * Every hash is domain-separated by a tag so that an entry, a block, a Merkle node and a signature
 * input can never be mistaken for one another (as hypercore-crypto and RFC 6962 do).
 */
import { createHash } from 'node:crypto';

export const HASH_BYTES = 32;
export type Hash = Uint8Array;

const encoder = new TextEncoder();
const tagCache = new Map<string, Uint8Array>();

/** The NUL-terminated ASCII bytes of a domain tag such as "basefs/entry/v1". */
export function tagBytes(tag: string): Uint8Array {
  let bytes = tagCache.get(tag);
  if (bytes === undefined) {
    bytes = encoder.encode(tag + '\0');
    tagCache.set(tag, bytes);
  }
  return bytes;
}

/** SHA-256(tag || NUL || parts...). */
export function taggedHash(tag: string, ...parts: Uint8Array[]): Hash {
  const h = createHash('sha256');
  h.update(tagBytes(tag));
  for (const p of parts) h.update(p);
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Content address of a file block. */
export function blockHash(bytes: Uint8Array): Hash {
  return taggedHash('basefs/block/v1', bytes);
}

/**
 * Hex of a byte view. Hashes and keys are usually views into one large buffer (a log file read in
 * one go, a received frame), so the Buffer over that memory is kept for the next call instead of
 * allocating one per call: opening a log calls this several times per entry.
 */
export function toHex(bytes: Uint8Array): string {
  if (bytes.buffer !== hexSource) {
    hexSource = bytes.buffer;
    hexBuffer = Buffer.from(bytes.buffer);
  }
  return hexBuffer.toString('hex', bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}
let hexSource: ArrayBufferLike | null = null;
let hexBuffer: Buffer = Buffer.alloc(0);

export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic byte order: the deterministic tie break and sort order of the log. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}
