/**
 * Ed25519 signature verification with ONE strict semantics on two backends, so that two nodes can
 * never disagree about whether an entry is valid (a disagreement would fork their views for good).
 *
 * The rule, RFC 8032 §5.1.7 read strictly ("cofactorless", not ZIP-215):
 *   - the public key A is a canonical encoding (y < p, and not x = 0 with the sign bit set) of a
 *     point in the prime-order subgroup: small-order keys and keys with any torsion component are
 *     rejected when the key is validated (checkPublicKey). Honest keys are always [a]B, so this only
 *     turns away crafted keys; with a torsion-free A the cofactored/cofactorless question can only
 *     arise through R.
 *   - the signature is R || S with S < L and R a canonical point encoding;
 *   - k = SHA-512(R || A || M) mod L over the bytes as received, and the signature is valid iff the
 *     encoding of [S]B − [k]A equals the 32 bytes of R (no cofactor multiplication, so an R with a
 *     torsion component never verifies).
 *
 * Backends:
 *   - 'node': OpenSSL's Ed25519 through node:crypto, with one KeyObject per key cached. OpenSSL
 *     checks S < L and compares encodings like we do, but it accepts small-order, mixed-order and
 *     non-canonical public keys (e.g. the identity encoded as y = p + 1 verifies ANY message). So the
 *     key is validated here with noble first, and S and R are prechecked byte by byte, which makes
 *     OpenSSL's own leniency or strictness on those points irrelevant.
 *   - 'noble': the same rule computed in pure JS with @noble/curves point arithmetic. noble's own
 *     `ed25519.verify` is cofactored ([8]([S]B − R − [k]A) = 0) and therefore accepts signatures
 *     whose R has a torsion component; it is deliberately not used.
 * test/core/verify.test.ts proves the two agree on the RFC vectors, every malleability edge case and
 * randomized mutations. `verify` uses 'node' when its self-test passes at load time, else 'noble'.
 *
 * Every verify* function is total on byte inputs: any invalid key, signature or length gives false.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { EdwardsPoint } from '@noble/curves/abstract/edwards.js';
import { err } from './errors.ts';
import { bytesEqual, fromHex } from './hash.ts';
import { ED25519_L as L, noble } from './noble.ts';

export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

/** L little-endian, for the byte-level S < L check. */
const L_BYTES = fromHex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010');

/** S < L, compared from the most significant byte down. */
export function isCanonicalScalar(s: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const a = s[i]!;
    const b = L_BYTES[i]!;
    if (a !== b) return a < b;
  }
  return false; // S == L
}

/**
 * Is this 32-byte string the one canonical encoding of its point (if it is a point at all)?
 * Non-canonical means y >= p = 2^255 − 19 (bytes ed..ff ff..ff 7f, with or without the sign bit),
 * or x = 0 with the sign bit set, which happens only for y = 1 and y = p − 1.
 */
export function isCanonicalPointEncoding(e: Uint8Array): boolean {
  if (e.length !== 32) return false;
  const top = e[31]! & 0x7f;
  const sign = e[31]! & 0x80;
  let middleAllFF = true;
  let middleAllZero = true;
  for (let i = 1; i < 31; i++) {
    if (e[i] !== 0xff) middleAllFF = false;
    if (e[i] !== 0) middleAllZero = false;
  }
  if (top === 0x7f && middleAllFF && e[0]! >= 0xed) return false; // y >= p
  if (sign !== 0) {
    if (top === 0 && middleAllZero && e[0] === 1) return false; // y = 1, x = 0
    if (top === 0x7f && middleAllFF && e[0] === 0xec) return false; // y = p − 1, x = 0
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Public key validation, cached: the torsion check costs one scalar multiplication by L, about as
// much as a noble verify, and a log has few authors and many entries.

interface ValidKey {
  readonly point: EdwardsPoint;
  keyObject: KeyObject | undefined; // created on first use by the node backend
  nobleUses: number; // verifications by the noble backend, to decide when a table pays off
  precomputed: boolean;
}
type KeyCheck = ValidKey | { readonly invalid: string };

/** Bounded so that a peer sending endless fresh keys cannot grow memory; oldest entries go first. */
export const KEY_CACHE_LIMIT = 4096;
const keyCache = new Map<string, KeyCheck>();

function cacheId(pub: Uint8Array): string {
  return Buffer.from(pub.buffer, pub.byteOffset, pub.byteLength).toString('latin1');
}

function checkUncached(pub: Uint8Array): KeyCheck {
  if (!isCanonicalPointEncoding(pub)) return { invalid: 'public key is not a canonical point encoding' };
  let point: EdwardsPoint;
  try {
    point = noble().ed25519.Point.fromBytes(pub, false); // false: strict RFC 8032 decoding, not ZIP-215
  } catch {
    return { invalid: 'public key is not a point on Ed25519' };
  }
  if (point.isSmallOrder()) return { invalid: 'public key is a small-order point' };
  if (!point.isTorsionFree()) return { invalid: 'public key has a torsion component' };
  return { point, keyObject: undefined, nobleUses: 0, precomputed: false };
}

function lookupKey(pub: Uint8Array): KeyCheck {
  // Before the cache: a wrong-length input must not become a (possibly huge) cache entry.
  if (pub.length !== PUBLIC_KEY_BYTES) return { invalid: `public key is ${pub.length} bytes, expected 32` };
  const id = cacheId(pub);
  let result = keyCache.get(id);
  if (result === undefined) {
    result = checkUncached(pub);
    if (keyCache.size >= KEY_CACHE_LIMIT) {
      const oldest = keyCache.entries().next();
      if (oldest.done !== true) {
        const [oldId, evicted] = oldest.value;
        if ('precomputed' in evicted && evicted.precomputed) precomputedKeys--;
        keyCache.delete(oldId);
      }
    }
    keyCache.set(id, result);
  }
  return result;
}

function validKey(pub: Uint8Array): ValidKey | undefined {
  const result = lookupKey(pub);
  return 'invalid' in result ? undefined : result;
}

/** Throws BasefsError BAD_KEY unless `pub` is a canonical Ed25519 key in the prime-order subgroup. */
export function checkPublicKey(pub: Uint8Array): void {
  assertBytes(pub, 'public key');
  const result = lookupKey(pub);
  if ('invalid' in result) throw err('BAD_KEY', result.invalid);
}

export function isValidPublicKey(pub: Uint8Array): boolean {
  return pub instanceof Uint8Array && validKey(pub) !== undefined;
}

// ---------------------------------------------------------------------------------------------
// The checks both backends share before any curve arithmetic on the signature.

function assertBytes(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw err('USAGE', `${what} must be a Uint8Array`);
}

/** The key if everything cheap passes: lengths, S < L, R canonical, key valid. */
function precheck(pub: Uint8Array, message: Uint8Array, sig: Uint8Array): ValidKey | undefined {
  assertBytes(pub, 'public key');
  assertBytes(message, 'message');
  assertBytes(sig, 'signature');
  if (sig.length !== SIGNATURE_BYTES) return undefined;
  if (!isCanonicalScalar(sig.subarray(32, 64))) return undefined;
  if (!isCanonicalPointEncoding(sig.subarray(0, 32))) return undefined;
  return validKey(pub);
}

// ---------------------------------------------------------------------------------------------
// Backend 'noble': [S]B − [k]A, encoded, must equal R byte for byte.

/**
 * A window table for A makes [k]A about 3× faster (noble keeps one for B already), but costs
 * ~300 KB and a few multiplications to build. A log has few authors signing many entries, so a
 * key gets a table once it has been used a few times, and only a bounded number of keys get one
 * (noble keeps the table in a WeakMap on the point, so eviction from keyCache frees it).
 */
const PRECOMPUTE_AFTER_USES = 8;
const PRECOMPUTE_KEY_LIMIT = 32;
const PRECOMPUTE_WINDOW = 6;
let precomputedKeys = 0;

function pointForNoble(key: ValidKey): EdwardsPoint {
  if (!key.precomputed && ++key.nobleUses >= PRECOMPUTE_AFTER_USES && precomputedKeys < PRECOMPUTE_KEY_LIMIT) {
    key.point.precompute(PRECOMPUTE_WINDOW, false);
    key.precomputed = true;
    precomputedKeys++;
  }
  return key.point;
}

export function verifyNoble(pub: Uint8Array, message: Uint8Array, sig: Uint8Array): boolean {
  const key = precheck(pub, message, sig);
  if (key === undefined) return false;
  const { ed25519, sha512, bytesToNumberLE } = noble();
  const r = sig.subarray(0, 32);
  const s = bytesToNumberLE(sig.subarray(32, 64)); // < L, checked above
  const h = sha512.create();
  h.update(r);
  h.update(pub);
  h.update(message);
  const k = bytesToNumberLE(h.digest()) % L;
  const check = ed25519.Point.BASE.multiplyUnsafe(s).subtract(pointForNoble(key).multiplyUnsafe(k));
  return bytesEqual(check.toBytes(), r);
}

// ---------------------------------------------------------------------------------------------
// Backend 'node': OpenSSL's cofactorless check behind the same prechecks.

/** SubjectPublicKeyInfo DER for Ed25519 (RFC 8410): this prefix followed by the 32 key bytes. */
const SPKI_PREFIX = fromHex('302a300506032b6570032100');

function keyObjectOf(pub: Uint8Array, key: ValidKey): KeyObject {
  if (key.keyObject === undefined) {
    const der = Buffer.concat([SPKI_PREFIX, pub]);
    key.keyObject = createPublicKey({ key: der, format: 'der', type: 'spki' });
  }
  return key.keyObject;
}

function verifyNodeUnchecked(pub: Uint8Array, message: Uint8Array, sig: Uint8Array): boolean {
  const key = precheck(pub, message, sig);
  if (key === undefined) return false;
  try {
    return cryptoVerify(null, message, keyObjectOf(pub, key), sig);
  } catch {
    return false; // a backend failure on one input must read as "invalid", never crash ingestion
  }
}

/**
 * Load-time self-test: RFC 8032 TEST 2 must verify, and fail after a one-bit change. If node:crypto
 * lacks Ed25519 (old OpenSSL, FIPS builds) or misbehaves, the noble backend is used instead.
 */
function nodeBackendWorks(): boolean {
  try {
    const pub = fromHex('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c');
    const msg = fromHex('72');
    const sig = fromHex(
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da' +
        '085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    );
    const der = Buffer.concat([SPKI_PREFIX, pub]);
    const keyObject = createPublicKey({ key: der, format: 'der', type: 'spki' });
    if (cryptoVerify(null, msg, keyObject, sig) !== true) return false;
    sig[5] = sig[5]! ^ 1;
    return cryptoVerify(null, msg, keyObject, sig) === false;
  } catch {
    return false;
  }
}

export const nodeBackendAvailable: boolean = nodeBackendWorks();

/** The node:crypto backend. Throws NOT_SUPPORTED where node:crypto cannot do Ed25519. */
export function verifyNode(pub: Uint8Array, message: Uint8Array, sig: Uint8Array): boolean {
  if (!nodeBackendAvailable) throw err('NOT_SUPPORTED', 'node:crypto has no working Ed25519 here');
  return verifyNodeUnchecked(pub, message, sig);
}

export type VerifyBackendName = 'node' | 'noble';
export const verifyBackendName: VerifyBackendName = nodeBackendAvailable ? 'node' : 'noble';

/** Strict RFC 8032 verification (see the top of this file) on the fastest working backend. */
export const verify: (pub: Uint8Array, message: Uint8Array, sig: Uint8Array) => boolean =
  nodeBackendAvailable ? verifyNodeUnchecked : verifyNoble;
