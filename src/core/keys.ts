/**
 * Ed25519 key pairs, signing, fingerprints and the text formats of keys.
 *
 * A key pair is the 32-byte RFC 8032 secret seed and the 32-byte public key. Only public keys ever
 * enter the log: every entry carries its author's full 32-byte public key, and the signature is
 * checked against exactly those bytes. The fingerprint is a short human-readable id for display
 * (CLI output, logs); it is never used to look a key up or to decide anything.
 *
 * Text formats (base64url is RFC 4648 §5 without padding, so 32 bytes are always 43 characters):
 *
 *   Public key (one token; in a file, blank lines and lines starting with '#' are ignored):
 *       ed25519:<base64url of the 32 public key bytes>
 *
 *   Private key file (mode 0600). Blank lines and lines starting with '#' are ignored, leading and
 *   trailing whitespace is ignored, and exactly one line must be:
 *       basefs-ed25519-secret-v1 <base64url of the 32-byte seed>
 *   writeKeyFile also writes the public key and fingerprint as comments, for humans only:
 *       # BaseFS Ed25519 private key (keep secret; mode 0600)
 *       # public key: ed25519:...
 *       # fingerprint: 1a2b:3c4d:5e6f:7081
 *       basefs-ed25519-secret-v1 ...
 *
 * Parsing is strict: anything else throws BasefsError MALFORMED (wrong shape or encoding) or
 * BAD_KEY (well-formed text whose public key is not a valid point, see verify.ts).
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { err } from './errors.ts';
import { bytesEqual, taggedHash, toHex } from './hash.ts';
import { checkPublicKey, PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from './verify.ts';
import { errnoCode as errnoOf, ioError, writeFileAtomic } from './durable-fs.ts';

export { PUBLIC_KEY_BYTES, SIGNATURE_BYTES };
export const SEED_BYTES = 32;

export interface KeyPair {
  /** The RFC 8032 secret key (seed). Never leaves this machine. */
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Key pairs and signing

const Point = ed25519.Point;
const L = Point.CURVE().n;

/** What RFC 8032 derives from a seed: the clamped scalar a, the nonce prefix, and A = [a]B. */
interface ExpandedKey {
  readonly scalar: bigint;
  readonly prefix: Uint8Array;
  readonly publicKey: Uint8Array;
}

/**
 * noble's sign() re-derives A = [a]B on every call (one of its two base-point multiplications).
 * A node signs with one or two keys, so the expansion is cached, which halves the cost of a signature.
 * Small bound: it only has to hold the keys of this process.
 */
const EXPANDED_CACHE_LIMIT = 16;
const expandedCache = new Map<string, ExpandedKey>();

function assertSeed(seed: Uint8Array): void {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES)
    throw err('USAGE', `an Ed25519 seed is ${SEED_BYTES} bytes`);
}

function expand(seed: Uint8Array): ExpandedKey {
  assertSeed(seed);
  const id = Buffer.from(seed.buffer, seed.byteOffset, seed.byteLength).toString('latin1');
  let key = expandedCache.get(id);
  if (key === undefined) {
    const { scalar, prefix, pointBytes } = ed25519.utils.getExtendedPublicKey(seed);
    key = { scalar, prefix, publicKey: pointBytes };
    if (expandedCache.size >= EXPANDED_CACHE_LIMIT) expandedCache.clear();
    expandedCache.set(id, key);
  }
  return key;
}

export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  const { publicKey } = expand(seed);
  return { seed: Uint8Array.from(seed), publicKey: Uint8Array.from(publicKey) };
}

/** A fresh key pair. `randomBytes` is for tests and deterministic tools; default node:crypto. */
export function generateKeyPair(
  randomBytes: (n: number) => Uint8Array = (n) => new Uint8Array(cryptoRandomBytes(n)),
): KeyPair {
  const seed = randomBytes(SEED_BYTES);
  assertSeed(seed);
  return keyPairFromSeed(seed);
}

function sha512ModL(...parts: Uint8Array[]): bigint {
  const h = sha512.create();
  for (const p of parts) h.update(p);
  return bytesToNumberLE(h.digest()) % L;
}

/**
 * RFC 8032 §5.1.6 Ed25519 signature (64 bytes, deterministic), byte-identical to noble's
 * ed25519.sign (the tests check this) but using the cached expansion of the seed.
 */
export function sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  if (!(message instanceof Uint8Array)) throw err('USAGE', 'message must be a Uint8Array');
  const key = expand(seed);
  const r = sha512ModL(key.prefix, message);
  // Constant-time multiply: r is secret. multiply() refuses r = 0, probability 2^-252.
  const R = Point.BASE.multiply(r).toBytes();
  const k = sha512ModL(R, key.publicKey, message);
  const s = (r + k * key.scalar) % L;
  const sig = new Uint8Array(SIGNATURE_BYTES);
  sig.set(R, 0);
  sig.set(numberToBytesLE(s, 32), 32);
  return sig;
}

// ---------------------------------------------------------------------------------------------
// Fingerprints

const FINGERPRINT_TAG = 'basefs/fingerprint/v1';

/**
 * A short id for humans: the first 8 bytes of taggedHash('basefs/fingerprint/v1', publicKey) as hex
 * in four groups, e.g. "1a2b:3c4d:5e6f:7081". 64 bits tell keys apart in a listing but are not
 * collision resistant against an attacker, which is why entries carry the full public key.
 */
export function fingerprint(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES)
    throw err('BAD_KEY', `a public key is ${PUBLIC_KEY_BYTES} bytes`);
  const hex = toHex(taggedHash(FINGERPRINT_TAG, publicKey).subarray(0, 8));
  return `${hex.slice(0, 4)}:${hex.slice(4, 8)}:${hex.slice(8, 12)}:${hex.slice(12, 16)}`;
}

// ---------------------------------------------------------------------------------------------
// Text formats

const PUBLIC_PREFIX = 'ed25519:';
const SECRET_LABEL = 'basefs-ed25519-secret-v1';
const BASE64URL_32 = /^[A-Za-z0-9_-]{43}$/;

function encode32(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/**
 * Strict: exactly 43 base64url characters whose unused low bits are zero, so each key has exactly
 * one text form (Buffer's decoder alone would silently accept padding, junk and stray bits).
 */
function decode32(text: string, what: string): Uint8Array {
  if (!BASE64URL_32.test(text)) throw err('MALFORMED', `${what} is not 43 base64url characters`);
  const bytes = new Uint8Array(Buffer.from(text, 'base64url'));
  if (bytes.length !== 32 || encode32(bytes) !== text)
    throw err('MALFORMED', `${what} is not a canonical base64url encoding of 32 bytes`);
  return bytes;
}

/** The lines that mean something: trimmed, without blank lines and '#' comments. */
function significantLines(text: string): string[] {
  if (typeof text !== 'string') throw err('USAGE', 'key text must be a string');
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** "ed25519:<base64url>". Throws BAD_KEY if the bytes are not a valid public key. */
export function formatPublicKey(publicKey: Uint8Array): string {
  checkPublicKey(publicKey);
  return PUBLIC_PREFIX + encode32(publicKey);
}

/** Parses "ed25519:<base64url>" (comment lines allowed). MALFORMED or BAD_KEY otherwise. */
export function parsePublicKey(text: string): Uint8Array {
  const lines = significantLines(text);
  if (lines.length !== 1) throw err('MALFORMED', `expected one public key line, found ${lines.length}`);
  const line = lines[0]!;
  if (line.startsWith(SECRET_LABEL)) throw err('MALFORMED', 'this is a private key, not a public key');
  if (!line.startsWith(PUBLIC_PREFIX)) throw err('MALFORMED', `a public key starts with "${PUBLIC_PREFIX}"`);
  const publicKey = decode32(line.slice(PUBLIC_PREFIX.length), 'public key');
  checkPublicKey(publicKey);
  return publicKey;
}

/** The full private key file text (see the top of this file). */
export function formatPrivateKey(keyPair: KeyPair): string {
  const derived = keyPairFromSeed(keyPair.seed);
  if (!bytesEqual(derived.publicKey, keyPair.publicKey))
    throw err('BAD_KEY', 'the public key does not belong to the seed');
  return [
    '# BaseFS Ed25519 private key (keep secret; mode 0600)',
    `# public key: ${formatPublicKey(keyPair.publicKey)}`,
    `# fingerprint: ${fingerprint(keyPair.publicKey)}`,
    `${SECRET_LABEL} ${encode32(keyPair.seed)}`,
    '',
  ].join('\n');
}

/** Parses private key file text into the key pair. MALFORMED on anything but the format above. */
export function parsePrivateKey(text: string): KeyPair {
  const lines = significantLines(text);
  if (lines.length !== 1) throw err('MALFORMED', `expected one secret key line, found ${lines.length}`);
  const line = lines[0]!;
  if (line.startsWith(PUBLIC_PREFIX)) throw err('MALFORMED', 'this is a public key, not a private key file');
  const words = line.split(/\s+/);
  if (words.length !== 2 || words[0] !== SECRET_LABEL)
    throw err('MALFORMED', `expected "${SECRET_LABEL} <base64url seed>"`);
  return keyPairFromSeed(decode32(words[1]!, 'secret seed'));
}

// ---------------------------------------------------------------------------------------------
// Key files. Synchronous: they are read once at start-up and written by `genkey`.

/** A key file is a few hundred bytes; refuse to read a large file that cannot be one. */
const KEY_FILE_MAX_BYTES = 64 * 1024;

/**
 * Writes the private key file atomically with mode 0600: a temporary file in the same directory is
 * written and fsynced, then linked (no force: fails if `path` exists, without a race) or renamed
 * (force) into place. Creates missing parent directories with mode 0700.
 * Throws EXISTS if `path` exists and force is not set, IO on file system errors.
 */
export function writeKeyFile(path: string, keyPair: KeyPair, options: { force?: boolean } = {}): void {
  const text = formatPrivateKey(keyPair);
  const dir = dirname(path);
  let written: boolean;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Link (no force) creates the name only if it does not exist: check and creation are one step.
    written = writeFileAtomic(path, Buffer.from(text, 'utf8'), { mode: 0o600, replace: options.force === true });
  } catch (e) {
    throw ioError(e, `cannot write key file ${path}`);
  }
  if (!written) throw err('EXISTS', `${path} exists (use force to replace it)`);
}

/** Reads a private key file. NO_KEY if it does not exist, IO if unreadable, MALFORMED if not a key file. */
export function readKeyFile(path: string): KeyPair {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') throw err('NO_KEY', `no key file at ${path}`, e);
    throw ioError(e, `cannot open key file ${path}`);
  }
  let text: string;
  try {
    const size = fstatSync(fd).size;
    if (size > KEY_FILE_MAX_BYTES) throw err('MALFORMED', `${path} is ${size} bytes, too large for a key file`);
    const buf = Buffer.alloc(size);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, buf, done, size - done, done);
      if (n === 0) break;
      done += n;
    }
    text = buf.subarray(0, done).toString('utf8');
  } catch (e) {
    throw ioError(e, `cannot read key file ${path}`);
  } finally {
    closeSync(fd);
  }
  return parsePrivateKey(text);
}
