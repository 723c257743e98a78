import t from 'tap';
import { readdirSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { fromHex, taggedHash, toHex } from '../../src/core/hash.ts';
import {
  fingerprint,
  formatPrivateKey,
  formatPublicKey,
  generateKeyPair,
  keyPairFromSeed,
  parsePrivateKey,
  parsePublicKey,
  readKeyFile,
  sign,
  signBackendName,
  writeKeyFile,
} from '../../src/core/keys.ts';
import { verify } from '../../src/core/verify.ts';

const seedOf = (label: string) => taggedHash('test/keys', new TextEncoder().encode(label));
const alice = keyPairFromSeed(seedOf('alice'));
const bob = keyPairFromSeed(seedOf('bob'));
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

t.test('key pairs', async (t) => {
  t.equal(alice.seed.length, 32);
  t.equal(alice.publicKey.length, 32);
  t.same(alice.publicKey, ed25519.getPublicKey(alice.seed), 'public key as RFC 8032 derives it');

  const fixed = () => new Uint8Array(32).fill(9);
  t.same(generateKeyPair(fixed), generateKeyPair(fixed), 'deterministic with a given random source');
  t.same(generateKeyPair(fixed).seed, fixed());
  const x = generateKeyPair();
  const y = generateKeyPair();
  t.notSame(x.seed, y.seed, 'fresh randomness by default');
  t.throws(() => generateKeyPair(() => new Uint8Array(31)), { code: 'USAGE' });
  t.throws(() => keyPairFromSeed(new Uint8Array(33)), { code: 'USAGE' });

  const seed = seedOf('copy');
  const pair = keyPairFromSeed(seed);
  seed[0] = seed[0]! ^ 1;
  t.same(pair.seed, seedOf('copy'), 'the key pair keeps its own copy of the seed');
});

t.test('sign: deterministic RFC 8032, identical to noble, verifies', async (t) => {
  for (let i = 0; i < 20; i++) {
    const seed = seedOf(`sign ${i}`);
    const msg = taggedHash('test/msg', new Uint8Array([i])).subarray(0, (i * 7) % 33);
    const sig = sign(seed, msg);
    t.equal(sig.length, 64);
    t.equal(toHex(sig), toHex(ed25519.sign(msg, seed)), `signature ${i} equals noble's`);
    t.ok(verify(keyPairFromSeed(seed).publicKey, msg, sig));
  }
  // Many keys in turn (more than the expansion cache holds) still sign correctly.
  for (let i = 0; i < 40; i++) {
    const seed = seedOf(`rotate ${i % 20}`);
    t.ok(verify(keyPairFromSeed(seed).publicKey, new Uint8Array([i]), sign(seed, new Uint8Array([i]))));
  }
  // A seed mutated in place signs as the new seed, not as a cached old one.
  const seed = seedOf('mutable');
  const before = sign(seed, new Uint8Array(0));
  seed[3] = seed[3]! ^ 0x40;
  t.equal(toHex(sign(seed, new Uint8Array(0))), toHex(ed25519.sign(new Uint8Array(0), seed)));
  t.not(toHex(sign(seed, new Uint8Array(0))), toHex(before));
  t.throws(() => sign(new Uint8Array(16), new Uint8Array(0)), { code: 'USAGE' });
});

t.test('sign: both backends give the same signatures (node:crypto and the noble fallback)', async (t) => {
  t.equal(signBackendName, 'node', 'node:crypto signs here (its self-test passed)');
  for (let i = 0; i < 20; i++) {
    const seed = seedOf(`backends ${i}`);
    const msg = taggedHash('test/msg', new Uint8Array([i, 1])).subarray(0, (i * 5) % 33);
    const expected = toHex(ed25519.sign(msg, seed));
    t.equal(toHex(sign(seed, msg, 'node')), expected, `node signature ${i} equals noble's`);
    t.equal(toHex(sign(seed, msg, 'noble')), expected, `noble-backend signature ${i} equals noble's`);
  }
});

t.test('fingerprint', async (t) => {
  const fp = fingerprint(alice.publicKey);
  t.match(fp, /^[0-9a-f]{4}:[0-9a-f]{4}:[0-9a-f]{4}:[0-9a-f]{4}$/);
  t.equal(fp.replaceAll(':', ''), toHex(taggedHash('basefs/fingerprint/v1', alice.publicKey).subarray(0, 8)));
  t.equal(fingerprint(Uint8Array.from(alice.publicKey)), fp, 'depends only on the bytes');
  t.not(fingerprint(bob.publicKey), fp);
  t.throws(() => fingerprint(new Uint8Array(31)), { code: 'BAD_KEY' });
});

t.test('public key text', async (t) => {
  const text = formatPublicKey(alice.publicKey);
  t.equal(text, `ed25519:${b64(alice.publicKey)}`);
  t.equal(text.length, 8 + 43);
  t.same(parsePublicKey(text), alice.publicKey);
  t.same(parsePublicKey(`  ${text}\t\n`), alice.publicKey, 'surrounding whitespace');
  t.same(parsePublicKey(`# alice's key\n\n${text}\r\n# end\n`), alice.publicKey, 'comments and CRLF');

  const body = b64(alice.publicKey);
  const malformed = [
    '',
    '# only a comment',
    body, // no prefix
    `ED25519:${body}`,
    `ed25519 ${body}`,
    `ed25519: ${body}`,
    `ed25519:${body}=`, // padding
    `ed25519:${body.slice(0, 42)}`,
    `ed25519:${body}A`,
    `ed25519:+${body.slice(1)}`, // standard base64 alphabet, not base64url
    `ed25519:/${body.slice(1)}`,
    `${text}\n${text}`, // two keys
    `${text} trailing`,
    `ed25519:${body.slice(0, 42)}${String.fromCharCode(body.charCodeAt(42) + 1)}`, // stray low bits
    formatPrivateKey(alice), // a private key is not a public key
  ];
  for (const bad of malformed) t.throws(() => parsePublicKey(bad), { code: 'MALFORMED' }, JSON.stringify(bad));

  // Well-formed text of bytes that are not an acceptable key.
  const identity = fromHex('0100000000000000000000000000000000000000000000000000000000000000');
  t.throws(() => parsePublicKey(`ed25519:${b64(identity)}`), { code: 'BAD_KEY' }, 'small-order key');
  t.throws(() => parsePublicKey(`ed25519:${b64(fromHex('02'.padEnd(64, '0')))}`), { code: 'BAD_KEY' }, 'not a point');
  t.throws(() => formatPublicKey(identity), { code: 'BAD_KEY' });
});

t.test('private key text', async (t) => {
  const text = formatPrivateKey(alice);
  const lines = text.trimEnd().split('\n');
  t.equal(lines[0], '# BaseFS Ed25519 private key (keep secret; mode 0600)');
  t.equal(lines.at(-1), `basefs-ed25519-secret-v1 ${b64(alice.seed)}`);
  t.ok(text.includes(formatPublicKey(alice.publicKey)), 'public key as a comment');
  t.ok(text.includes(fingerprint(alice.publicKey)), 'fingerprint as a comment');
  t.same(parsePrivateKey(text), alice);

  const line = `basefs-ed25519-secret-v1 ${b64(alice.seed)}`;
  t.same(parsePrivateKey(line), alice, 'the one line alone');
  t.same(parsePrivateKey(`\r\n  basefs-ed25519-secret-v1 \t ${b64(alice.seed)}  \r\n`), alice, 'whitespace tolerant');

  const malformed = [
    '',
    '# nothing but comments\n#',
    b64(alice.seed),
    `basefs-ed25519-secret-v2 ${b64(alice.seed)}`,
    `BASEFS-ED25519-SECRET-V1 ${b64(alice.seed)}`,
    'basefs-ed25519-secret-v1',
    `basefs-ed25519-secret-v1 ${b64(alice.seed)} extra`,
    `basefs-ed25519-secret-v1 ${b64(alice.seed)}=`,
    `basefs-ed25519-secret-v1 ${b64(alice.seed).slice(1)}`,
    `basefs-ed25519-secret-v1 ${Buffer.from(alice.seed).toString('hex')}`,
    `${line}\n${line}`,
    `${line}\nsomething else`,
    formatPublicKey(alice.publicKey),
  ];
  for (const bad of malformed) t.throws(() => parsePrivateKey(bad), { code: 'MALFORMED' }, JSON.stringify(bad));
  t.throws(() => formatPrivateKey({ seed: alice.seed, publicKey: bob.publicKey }), { code: 'BAD_KEY' }, 'mismatched pair');
});

t.test('key files', async (t) => {
  const dir = t.testdir({ 'not-a-dir': 'x', 'junk.key': 'hello\n' });
  const path = join(dir, 'nested', 'deeper', 'id_ed25519');

  writeKeyFile(path, alice);
  t.equal(statSync(path).mode & 0o777, 0o600, 'mode 0600');
  t.equal(statSync(join(dir, 'nested')).mode & 0o777, 0o700, 'created directories are 0700');
  t.same(readKeyFile(path), alice, 'round trip');
  t.equal(readFileSync(path, 'utf8'), formatPrivateKey(alice));
  t.same(readdirSync(join(dir, 'nested', 'deeper')), ['id_ed25519'], 'no temporary file left behind');

  t.throws(() => writeKeyFile(path, bob), { code: 'EXISTS' }, 'refuses to overwrite');
  t.throws(() => writeKeyFile(path, bob, { force: false }), { code: 'EXISTS' });
  t.same(readKeyFile(path), alice, 'untouched after a refusal');
  t.same(readdirSync(join(dir, 'nested', 'deeper')), ['id_ed25519'], 'no temporary file after a refusal');

  chmodSync(path, 0o644);
  writeKeyFile(path, bob, { force: true });
  t.same(readKeyFile(path), bob, 'force replaces');
  t.equal(statSync(path).mode & 0o777, 0o600, 'a replaced file is 0600 again');
  t.same(readdirSync(join(dir, 'nested', 'deeper')), ['id_ed25519']);

  t.throws(() => readKeyFile(join(dir, 'missing')), { code: 'NO_KEY' });
  t.throws(() => readKeyFile(join(dir, 'junk.key')), { code: 'MALFORMED' });
  t.throws(() => readKeyFile(join(dir, 'nested')), { code: 'IO' }, 'a directory');
  t.throws(() => writeKeyFile(join(dir, 'not-a-dir', 'key'), alice), { code: 'IO' }, 'parent is a file');
  t.throws(() => writeKeyFile(join(dir, 'x'), { seed: alice.seed, publicKey: bob.publicKey }), { code: 'BAD_KEY' });

  const big = join(dir, 'big.key');
  writeFileSync(big, `# ${'x'.repeat(70_000)}\n${formatPrivateKey(alice)}`);
  t.throws(() => readKeyFile(big), { code: 'MALFORMED' }, 'too large to be a key file');
});
