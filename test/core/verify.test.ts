/**
 * The two verify backends must agree on every input, or nodes could disagree on validity. Each case
 * states the strict RFC 8032 (cofactorless, canonical, non-ZIP-215) answer and checks both backends
 * against it; crafted cases come with a proof (computed here) that a laxer verifier would accept them.
 */
import t, { type Test } from 'tap';
import { ed25519 } from '@noble/curves/ed25519.js';
import type { EdwardsPoint } from '@noble/curves/abstract/edwards.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { fromHex, taggedHash, toHex } from '../../src/core/hash.ts';
import { keyPairFromSeed, sign } from '../../src/core/keys.ts';
import {
  checkPublicKey,
  isCanonicalPointEncoding,
  isCanonicalScalar,
  isValidPublicKey,
  nodeBackendAvailable,
  verify,
  verifyBackendName,
  verifyNoble,
  verifyNode,
} from '../../src/core/verify.ts';

const Point = ed25519.Point;
const B = Point.BASE;
const L = Point.CURVE().n;
const p = Point.CURVE().p;

const le32 = (n: bigint) => numberToBytesLE(n, 32);
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let at = 0;
  for (const x of parts) {
    out.set(x, at);
    at += x.length;
  }
  return out;
};
/** k = SHA-512(R || A || M) mod L, over the bytes exactly as given. */
const challenge = (R: Uint8Array, A: Uint8Array, M: Uint8Array) => bytesToNumberLE(sha512(concat(R, A, M))) % L;
const sOf = (sig: Uint8Array) => bytesToNumberLE(sig.subarray(32));
const flipBit = (bytes: Uint8Array, bit: number) => {
  const out = Uint8Array.from(bytes);
  out[bit >> 3] = out[bit >> 3]! ^ (1 << (bit & 7));
  return out;
};

/** Both backends (node only where it exists) must return `expected`. */
function both(t: Test, pub: Uint8Array, msg: Uint8Array, sig: Uint8Array, expected: boolean, what: string) {
  t.equal(verifyNoble(pub, msg, sig), expected, `noble: ${what}`);
  if (nodeBackendAvailable) t.equal(verifyNode(pub, msg, sig), expected, `node: ${what}`);
  t.equal(verify(pub, msg, sig), expected, `verify: ${what}`);
}

/** The cofactored equation [8]([S]B − R − [k]A) = 0 that ZIP-215 and noble's verify() use. */
function cofactoredAccepts(A: EdwardsPoint, R: EdwardsPoint, s: bigint, k: bigint): boolean {
  return B.multiplyUnsafe(s).subtract(R).subtract(A.multiplyUnsafe(k)).clearCofactor().is0();
}

// RFC 8032 §7.1, typed in: secret key, public key, message, signature.
const RFC8032 = [
  {
    name: 'TEST 1',
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2',
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3',
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    public: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    name: 'TEST 1024',
    secret: 'f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5',
    public: '278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e',
    message:
      '08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d8' +
      '79de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc' +
      '1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e' +
      '06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7' +
      'aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed185ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2' +
      'd17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270' +
      '88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b07' +
      '07e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128bab27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51a' +
      'ddd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7' +
      '51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8' +
      'ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34dff7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08' +
      'd78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4' +
      '88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e' +
      '6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5fb93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b5' +
      '0d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d' +
      'b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0',
    signature:
      '0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03',
  },
  {
    name: 'TEST SHA(abc)',
    secret: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    public: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    message:
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    signature:
      'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
];

// The 8 points of order dividing 8, canonical encodings (identity, order 2, two of order 4, four of order 8).
const SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
].map(fromHex);
const TORSION = SMALL_ORDER.map((e) => Point.fromBytes(e));

// A fixed signer for the crafted cases.
const a = 0x1234567890abcdef1234567890abcdef1234567890abcdefn;
const A = B.multiply(a);
const Abytes = A.toBytes();
const MSG = new TextEncoder().encode('basefs/signature/v1\0 a 32-byte entry hash follows..');

t.test('the backend in use', async (t) => {
  t.comment(`verify backend: ${verifyBackendName}; node:crypto Ed25519 available: ${nodeBackendAvailable}`);
  t.equal(verifyBackendName, nodeBackendAvailable ? 'node' : 'noble');
});

t.test('RFC 8032 §7.1 vectors: keys, signatures, both backends', async (t) => {
  for (const v of RFC8032) {
    const seed = fromHex(v.secret);
    const msg = fromHex(v.message);
    const pair = keyPairFromSeed(seed);
    t.equal(toHex(pair.publicKey), v.public, `${v.name} public key`);
    t.equal(toHex(sign(seed, msg)), v.signature, `${v.name} signature`);
    both(t, pair.publicKey, msg, fromHex(v.signature), true, v.name);
    both(t, pair.publicKey, concat(msg, new Uint8Array([0])), fromHex(v.signature), false, `${v.name}, longer message`);
  }
});

t.test('s must be < L', async (t) => {
  const r = 777n;
  const R = B.multiply(r).toBytes();
  const s = (r + challenge(R, Abytes, MSG) * a) % L;
  both(t, Abytes, MSG, concat(R, le32(s)), true, 'the valid signature');
  // [s + L]B = [s]B, so without the range check s + L would verify: the textbook malleability.
  t.ok(B.multiplyUnsafe(s).add(B.multiplyUnsafe(L - 1n)).add(B).equals(B.multiplyUnsafe(s)), '[s + L]B = [s]B');
  both(t, Abytes, MSG, concat(R, le32(s + L)), false, 's + L');
  both(t, Abytes, MSG, concat(R, le32(L)), false, 's = L');
  both(t, Abytes, MSG, concat(R, le32(L + 1n)), false, 's = L + 1');
  both(t, Abytes, MSG, concat(R, new Uint8Array(32).fill(0xff)), false, 's = 2^256 - 1');
  t.notOk(isCanonicalScalar(le32(L)));
  t.ok(isCanonicalScalar(le32(L - 1n)));
  t.ok(isCanonicalScalar(le32(0n)));
});

t.test('R: canonical encodings only, no torsion component', async (t) => {
  // R = identity with s = k·a is VALID under RFC 8032: [s]B − [k]A = identity, encoded 0100…00.
  // (A signer who knows a can always produce it; small-order R is not rejected by the RFC.)
  const identity = SMALL_ORDER[0]!;
  both(t, Abytes, MSG, concat(identity, le32((challenge(identity, Abytes, MSG) * a) % L)), true, 'R = identity');

  // The same point written non-canonically: y = p + 1, and x = 0 with the sign bit set. A verifier
  // that decodes R and compares points (instead of bytes) would accept these.
  const nonCanonicalIdentities = [le32(p + 1n), fromHex('0100000000000000000000000000000000000000000000000000000000000080')];
  for (const R of nonCanonicalIdentities) {
    t.notOk(isCanonicalPointEncoding(R));
    const s = (challenge(R, Abytes, MSG) * a) % L;
    t.ok(B.multiplyUnsafe(s).subtract(A.multiplyUnsafe(challenge(R, Abytes, MSG))).is0(), 'equation holds on points');
    both(t, Abytes, MSG, concat(R, le32(s)), false, `non-canonical R ${toHex(R)}`);
  }

  // Every y in [p, 2^255) with or without sign bit: never a canonical R.
  for (let y = 0n; y < 19n; y++) {
    for (const sign of [0, 0x80]) {
      const R = le32(p + y);
      R[31] = R[31]! | sign;
      t.notOk(isCanonicalPointEncoding(R), `y = p + ${y}, sign ${sign}`);
      both(t, Abytes, MSG, concat(R, le32(12345n)), false, `R with y = p + ${y}`);
    }
  }

  // R = [r]B + T for every non-identity torsion point T: the cofactored equation accepts, strict rejects.
  for (const T of TORSION.slice(1)) {
    const r = 4242n;
    const Rpoint = B.multiply(r).add(T);
    const R = Rpoint.toBytes();
    const k = challenge(R, Abytes, MSG);
    const s = (r + k * a) % L;
    t.ok(cofactoredAccepts(A, Rpoint, s, k), 'the cofactored equation accepts it');
    both(t, Abytes, MSG, concat(R, le32(s)), false, `R with torsion ${T.toHex()}`);
  }
});

t.test('A: small-order keys are rejected, with the signatures they would allow', async (t) => {
  const encodings = [...SMALL_ORDER, le32(p), le32(p + 1n), fromHex('0000000000000000000000000000000000000000000000000000000000000080')];
  for (const T of TORSION) t.ok(T.clearCofactor().is0(), `${T.toHex()} has order dividing 8`);
  t.equal(new Set(SMALL_ORDER.map(toHex)).size, 8, 'eight distinct points');
  for (const enc of encodings) {
    t.throws(() => checkPublicKey(enc), { code: 'BAD_KEY' }, `checkPublicKey ${toHex(enc)}`);
    t.notOk(isValidPublicKey(enc));
    // Forge: R = [r]B, s = r verifies whenever [k]T = identity, i.e. the order of T divides k.
    const T = Point.fromBytes(enc, true); // true: ZIP-215 decoding, to reach the non-canonical ones
    let forged: Uint8Array | undefined;
    for (let r = 1n; forged === undefined; r++) {
      const R = B.multiply(r).toBytes();
      if (T.multiplyUnsafe(challenge(R, enc, MSG)).is0()) forged = concat(R, le32(r));
    }
    t.ok(cofactoredAccepts(T, Point.fromBytes(forged.subarray(0, 32)), sOf(forged), challenge(forged.subarray(0, 32), enc, MSG)));
    both(t, enc, MSG, forged, false, `forgery under small-order key ${toHex(enc)}`);
  }
});

t.test('A: canonical encodings only', async (t) => {
  // x = 0 only for y = ±1; y = p − 1 with the sign bit set is the other non-canonical x = 0 form.
  const yMinus1WithSign = fromHex('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff');
  t.notOk(isCanonicalPointEncoding(yMinus1WithSign));
  t.throws(() => checkPublicKey(yMinus1WithSign), { code: 'BAD_KEY' });
  for (let y = 0n; y < 19n; y++) {
    const enc = le32(p + y);
    t.throws(() => checkPublicKey(enc), { code: 'BAD_KEY' }, `y = p + ${y}`);
    both(t, enc, MSG, concat(B.multiply(5n).toBytes(), le32(5n)), false, `A with y = p + ${y}`);
  }
  // Not on the curve at all (y = 2 has no x), wrong lengths.
  t.throws(() => checkPublicKey(le32(2n)), { code: 'BAD_KEY' });
  t.throws(() => checkPublicKey(new Uint8Array(31)), { code: 'BAD_KEY' });
  t.throws(() => checkPublicKey(new Uint8Array(33)), { code: 'BAD_KEY' });
  t.doesNotThrow(() => checkPublicKey(Abytes));
});

t.test('A: mixed-order keys (valid key + torsion) are rejected at key validation', async (t) => {
  for (const T of TORSION.slice(1)) {
    const mixed = A.add(T);
    const enc = mixed.toBytes();
    t.notOk(mixed.isSmallOrder(), 'not small order');
    t.throws(() => checkPublicKey(enc), { code: 'BAD_KEY' }, `A + ${T.toHex()}`);
    // With a challenge that kills the torsion part, even the cofactorless equation holds, so
    // rejecting the key is what keeps this from verifying on OpenSSL (which accepts such keys).
    let found: Uint8Array | undefined;
    for (let rr = 1n; found === undefined; rr++) {
      const R = B.multiply(rr).toBytes();
      const k = challenge(R, enc, MSG);
      if (!T.multiplyUnsafe(k).is0()) continue;
      const s = (rr + k * a) % L;
      t.ok(B.multiplyUnsafe(s).subtract(mixed.multiplyUnsafe(k)).toBytes().every((x, i) => x === R[i]), 'cofactorless holds');
      found = concat(R, le32(s));
    }
    both(t, enc, MSG, found, false, `signature under mixed-order key A + ${T.toHex()}`);
    // And with any other challenge only the cofactored equation holds.
    const R = B.multiply(99n).toBytes();
    const k = challenge(R, enc, MSG);
    const s = (99n + k * a) % L;
    t.ok(cofactoredAccepts(mixed, Point.fromBytes(R), s, k), 'cofactored accepts');
    both(t, enc, MSG, concat(R, le32(s)), false, 'cofactored-only signature under mixed key');
  }
});

t.test('every flipped bit of message, signature and key is rejected', async (t) => {
  const seed = taggedHash('test/verify/flip');
  const pair = keyPairFromSeed(seed);
  const msg = MSG.subarray(0, 48);
  const sig = sign(seed, msg);
  both(t, pair.publicKey, msg, sig, true, 'unmodified');
  let disagreements = 0;
  const expectFalse = (pub: Uint8Array, m: Uint8Array, s: Uint8Array) => {
    const noble = verifyNoble(pub, m, s);
    const node = nodeBackendAvailable ? verifyNode(pub, m, s) : noble;
    if (noble || node) disagreements++;
  };
  for (let bit = 0; bit < msg.length * 8; bit++) expectFalse(pair.publicKey, flipBit(msg, bit), sig);
  for (let bit = 0; bit < 512; bit++) expectFalse(pair.publicKey, msg, flipBit(sig, bit));
  for (let bit = 0; bit < 256; bit++) expectFalse(flipBit(pair.publicKey, bit), msg, sig);
  t.equal(disagreements, 0, `${msg.length * 8 + 512 + 256} mutations all rejected by both`);
});

t.test('wrong lengths are invalid, wrong types are usage errors', async (t) => {
  const seed = taggedHash('test/verify/len');
  const pair = keyPairFromSeed(seed);
  const sig = sign(seed, MSG);
  both(t, pair.publicKey, MSG, sig.subarray(0, 63), false, '63-byte signature');
  both(t, pair.publicKey, MSG, concat(sig, new Uint8Array(1)), false, '65-byte signature');
  both(t, pair.publicKey.subarray(0, 31), MSG, sig, false, '31-byte key');
  both(t, concat(pair.publicKey, new Uint8Array(1)), MSG, sig, false, '33-byte key');
  both(t, pair.publicKey, MSG, Buffer.from(sig), true, 'a Buffer is a Uint8Array');
  t.throws(() => verify(pair.publicKey, 'text' as unknown as Uint8Array, sig), { code: 'USAGE' });
  t.throws(() => verifyNoble(pair.publicKey, MSG, [] as unknown as Uint8Array), { code: 'USAGE' });
});

t.test('the key cache is bounded, and keys pushed out of it still verify', async (t) => {
  const seed = taggedHash('test/verify/cache');
  const pub = keyPairFromSeed(seed).publicKey;
  const msg = MSG.subarray(0, 48);
  const sig = sign(seed, msg);
  for (let i = 0; i < 12; i++) both(t, pub, msg, sig, true, `use ${i} (noble builds a table for A on the way)`);
  // More distinct keys than KEY_CACHE_LIMIT: small y values, none of them an acceptable key
  // (not on the curve, or on it with a torsion component).
  let invalid = 0;
  for (let y = 2n; invalid < 4200; y++) {
    const enc = le32(y);
    if (isValidPublicKey(enc)) continue;
    invalid++;
  }
  both(t, pub, msg, sig, true, 'after the flood');
  both(t, pub, msg, flipBit(sig, 3), false, 'after the flood, bad signature');
});

/** Deterministic bytes for the randomized test: SHA-256 in counter mode from a fixed seed. */
function drbg(seedText: string) {
  let counter = 0;
  let pool = new Uint8Array(0);
  const bytes = (n: number): Uint8Array => {
    while (pool.length < n) pool = concat(pool, taggedHash('test/drbg', new TextEncoder().encode(`${seedText}/${counter++}`)));
    const out = pool.slice(0, n);
    pool = pool.slice(n);
    return out;
  };
  const int = (n: number) => (bytes(4).reduce((acc, x) => acc * 256 + x, 0) % n) | 0;
  return { bytes, int };
}

t.test('randomized agreement: keys, messages and mutations from a seeded generator', async (t) => {
  const rng = drbg('basefs verify agreement v1');
  const seeds = Array.from({ length: 64 }, () => rng.bytes(32));
  const pairs = seeds.map((s) => keyPairFromSeed(s));
  const mutations = ['none', 'msg bit', 'sig bit', 'key bit', 's + L', 'random R', 'random key', 'other key', 'R + torsion', 'A + torsion', 'random sig'] as const;
  const counts = new Map<string, { total: number; valid: number }>();
  let disagreements = 0;
  const rounds = 2000;
  for (let i = 0; i < rounds; i++) {
    const signer = rng.int(seeds.length);
    const seed = seeds[signer]!;
    let pub = pairs[signer]!.publicKey;
    let msg = rng.bytes(rng.int(4) === 0 ? rng.int(200) : 48);
    let sig = sign(seed, msg);
    const mutation = mutations[rng.int(mutations.length)]!;
    switch (mutation) {
      case 'none':
        break;
      case 'msg bit':
        if (msg.length > 0) msg = flipBit(msg, rng.int(msg.length * 8));
        else msg = rng.bytes(1);
        break;
      case 'sig bit':
        sig = flipBit(sig, rng.int(512));
        break;
      case 'key bit':
        pub = flipBit(pub, rng.int(256));
        break;
      case 's + L':
        sig = concat(sig.subarray(0, 32), le32(bytesToNumberLE(sig.subarray(32)) + L));
        break;
      case 'random R':
        sig = concat(rng.bytes(32), sig.subarray(32));
        break;
      case 'random key':
        pub = rng.bytes(32);
        break;
      case 'other key':
        pub = pairs[(signer + 1 + rng.int(seeds.length - 1)) % seeds.length]!.publicKey;
        break;
      case 'R + torsion': {
        // A correctly computed s for an R that carries a torsion component.
        const scalar = ed25519.utils.getExtendedPublicKey(seed).scalar;
        const rr = 1n + bytesToNumberLE(rng.bytes(32)) % (L - 1n);
        const R = B.multiply(rr).add(TORSION[1 + rng.int(7)]!).toBytes();
        sig = concat(R, le32((rr + challenge(R, pub, msg) * scalar) % L));
        break;
      }
      case 'A + torsion':
        pub = Point.fromBytes(pub).add(TORSION[1 + rng.int(7)]!).toBytes();
        break;
      case 'random sig':
        sig = rng.bytes(64);
        break;
    }
    const noble = verifyNoble(pub, msg, sig);
    const node = nodeBackendAvailable ? verifyNode(pub, msg, sig) : noble;
    if (noble !== node) {
      disagreements++;
      t.fail(`disagreement on ${mutation}: pub ${toHex(pub)} msg ${toHex(msg)} sig ${toHex(sig)}`);
    }
    if (mutation === 'none' && !noble) t.fail('an unmodified signature was rejected');
    const c = counts.get(mutation) ?? { total: 0, valid: 0 };
    c.total++;
    if (noble) c.valid++;
    counts.set(mutation, c);
  }
  t.equal(disagreements, 0, `${rounds} random cases, no disagreement`);
  t.comment([...counts].map(([m, c]) => `${m}: ${c.valid}/${c.total} valid`).join('; '));
  // Only unmodified signatures (and 'msg bit' on an empty message can't stay valid) may verify.
  for (const [m, c] of counts) if (m !== 'none') t.equal(c.valid, 0, `${m} never verifies`);
});
