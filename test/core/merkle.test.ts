/** The Merkle tree's cached hashes always equal a from-scratch computation, whatever the order. */
import t from 'tap';
import { compareUtf8, MerkleTree } from '../../src/core/merkle.ts';
import { taggedHash, toHex } from '../../src/core/hash.ts';
import { Rng, seedFrom } from '../helpers/random.ts';

t.test('incremental root hash equals a fresh tree\'s, with hashes read between inserts', async (t) => {
  const seed = seedFrom('BASEFS_SEED', 7);
  t.comment(`seed ${seed}`);
  const rng = new Rng(seed);
  const paths = ['/', '/a', '/a/b', '/a/b/c', '/a/d', '/e', '/e/f/g/h'];
  const incremental = new MerkleTree();
  const added: Array<[string, Uint8Array]> = [];
  for (let i = 0; i < 300; i++) {
    const path = rng.next() < 0.3 ? `/n${i}/x${rng.int(3)}` : rng.pick(paths);
    const h = taggedHash('test', Uint8Array.of(i & 0xff, i >> 8));
    incremental.add(path, h);
    added.push([path, h]);
    if (rng.next() < 0.5) {
      const fresh = new MerkleTree();
      for (const [p, x] of rng.shuffle([...added])) fresh.add(p, x);
      t.equal(toHex(incremental.rootHash()), toHex(fresh.rootHash()), `after ${i + 1} adds`);
      // and a subtree summary agrees too
      const probe = rng.pick(paths);
      t.equal(toHex(incremental.summary(probe)?.hash ?? new Uint8Array(0)), toHex(fresh.summary(probe)?.hash ?? new Uint8Array(0)));
    }
  }
});

t.test('a new path changes the root hash even when the root was just computed', async (t) => {
  const m = new MerkleTree();
  m.add('/', taggedHash('x', Uint8Array.of(1)));
  const before = toHex(m.rootHash());
  m.add('/new/deep/path', taggedHash('x', Uint8Array.of(2)));
  t.not(toHex(m.rootHash()), before);
});

t.test('compareUtf8 orders names as their UTF-8 bytes', async (t) => {
  const rng = new Rng(seedFrom('BASEFS_SEED', 11));
  // ASCII, Latin-1, BMP below the surrogates, above them (E000-FFFF), and outside the BMP.
  const alphabet = ['a', 'b', 'z', '~', '\u00e9', '\u07ff', '\u0800', '\ud7ff', '\ue000', '\uffee', '\uffff', '\u{10000}', '\u{1f600}', '\u{10ffff}'];
  const word = () => Array.from({ length: rng.int(4) }, () => alphabet[rng.int(alphabet.length)]).join('');
  let checked = 0;
  for (let i = 0; i < 3000; i++) {
    const a = word();
    const b = word();
    t.equal(Math.sign(compareUtf8(a, b)), Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    checked++;
  }
  t.equal(checked, 3000);
});
