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
import {
  createPrivateKey,
  createPublicKey,
  randomBytes as cryptoRandomBytes,
  sign as cryptoSign,
  type KeyObject,
} from 'node:crypto';
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { err } from './errors.ts';
import { bytesEqual, fromHex, taggedHash, toHex } from './hash.ts';
import { ED25519_L, noble } from './noble.ts';
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

/**
 * A seed ready to sign with. Two backends make byte-identical signatures (Ed25519 is deterministic,
 * and keys.test.ts checks both against noble's ed25519.sign): node:crypto (OpenSSL), which is
 * faster and lets a node run without loading noble at all (noble.ts), and noble's point arithmetic
 * where node:crypto has no Ed25519.
 */
interface SigningKey {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

/**
 * Expanding a seed (an OpenSSL key object, or noble's A = [a]B) costs about as much as a signature.
 * A node signs with one or two keys, so the expansion is cached.
 * Small bound: it only has to hold the keys of this process.
 */
const EXPANDED_CACHE_LIMIT = 16;
const expandedCache = new Map<string, SigningKey>();

function assertSeed(seed: Uint8Array): void {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES)
    throw err('USAGE', `an Ed25519 seed is ${SEED_BYTES} bytes`);
}

/** PKCS#8 DER of an Ed25519 private key (RFC 8410): this prefix followed by the 32-byte seed. */
const PKCS8_PREFIX = fromHex('302e020100300506032b657004220420');
/** SubjectPublicKeyInfo DER of an Ed25519 public key: 12 bytes of prefix, then the key. */
const SPKI_PREFIX_BYTES = 12;

function nodeSigningKey(seed: Uint8Array): SigningKey {
  const privateKey: KeyObject = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return {
    publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX_BYTES)),
    sign: (message) => new Uint8Array(cryptoSign(null, message, privateKey)),
  };
}

function sha512ModL(...parts: Uint8Array[]): bigint {
  const { sha512, bytesToNumberLE } = noble();
  const h = sha512.create();
  for (const p of parts) h.update(p);
  return bytesToNumberLE(h.digest()) % ED25519_L;
}

/**
 * RFC 8032 §5.1.6 in noble's arithmetic with the expansion done once (noble's own sign() re-derives
 * A = [a]B on every call, one of its two base-point multiplications).
 */
function nobleSigningKey(seed: Uint8Array): SigningKey {
  const { ed25519, numberToBytesLE } = noble();
  const { scalar, prefix, pointBytes } = ed25519.utils.getExtendedPublicKey(seed);
  return {
    publicKey: pointBytes,
    sign(message) {
      const r = sha512ModL(prefix, message);
      // Constant-time multiply: r is secret. multiply() refuses r = 0, probability 2^-252.
      const R = ed25519.Point.BASE.multiply(r).toBytes();
      const k = sha512ModL(R, pointBytes, message);
      const s = (r + k * scalar) % ED25519_L;
      const sig = new Uint8Array(SIGNATURE_BYTES);
      sig.set(R, 0);
      sig.set(numberToBytesLE(s, 32), 32);
      return sig;
    },
  };
}

/**
 * Load-time self-test of the node:crypto backend: RFC 8032 TEST 2 must give its public key and
 * signature byte for byte. Else (old OpenSSL, FIPS builds) noble signs.
 */
function nodeSigningWorks(): boolean {
  try {
    const key = nodeSigningKey(fromHex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb'));
    const sig =
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da' +
      '085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00';
    return (
      toHex(key.publicKey) === '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c' &&
      toHex(key.sign(fromHex('72'))) === sig
    );
  } catch {
    return false;
  }
}

export type SignBackendName = 'node' | 'noble';
export const signBackendName: SignBackendName = nodeSigningWorks() ? 'node' : 'noble';

function expand(seed: Uint8Array, backend: SignBackendName = signBackendName): SigningKey {
  assertSeed(seed);
  const id = backend + Buffer.from(seed.buffer, seed.byteOffset, seed.byteLength).toString('latin1');
  let key = expandedCache.get(id);
  if (key === undefined) {
    key = backend === 'node' ? nodeSigningKey(seed) : nobleSigningKey(seed);
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

/**
 * RFC 8032 §5.1.6 Ed25519 signature (64 bytes, deterministic), byte-identical to noble's
 * ed25519.sign (the tests check this) on either backend. `backend` is for tests and benchmarks.
 */
export function sign(seed: Uint8Array, message: Uint8Array, backend?: SignBackendName): Uint8Array {
  if (!(message instanceof Uint8Array)) throw err('USAGE', 'message must be a Uint8Array');
  return expand(seed, backend).sign(message);
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
