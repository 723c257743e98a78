import t from 'tap';
import { sha256 } from '@noble/hashes/sha2.js';
import { blockHash, tagBytes, taggedHash, toHex } from '../../src/core/hash.ts';
import { Rng } from '../helpers/random.ts';

t.test('taggedHash is SHA-256 over tag NUL parts (node:crypto agrees with noble)', async (t) => {
  const rng = new Rng(42);
  for (let i = 0; i < 200; i++) {
    const parts = Array.from({ length: rng.int(4) }, () => Uint8Array.from({ length: rng.int(300) }, () => rng.int(256)));
    const joined = Buffer.concat([tagBytes('basefs/test/v1'), ...parts]);
    t.equal(toHex(taggedHash('basefs/test/v1', ...parts)), toHex(sha256(joined)));
  }
  // Known answer: SHA-256("basefs/block/v1\0abc")
  t.equal(toHex(blockHash(new TextEncoder().encode('abc'))), toHex(sha256(new TextEncoder().encode('basefs/block/v1\0abc'))));
});

t.test('different tags never collide on the same bytes', async (t) => {
  const b = new Uint8Array([1, 2, 3]);
  t.not(toHex(taggedHash('basefs/a/v1', b)), toHex(taggedHash('basefs/b/v1', b)));
});
