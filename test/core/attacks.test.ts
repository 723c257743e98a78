/**
 * The attack corpus: every entry an untrusted peer could send that must not change anything.
 * Each case checks the typed code and that the root hash and view are untouched.
 */
import t from 'tap';
import { ACTION, createEntry, MAX_CONTENT, MAX_NAME, type Entry } from '../../src/core/entry.ts';
import { toHex } from '../../src/core/hash.ts';
import { encodeMode } from '../../src/core/content.ts';
import { key, memoryFs, type TestFs } from '../helpers/fs.ts';

const enc = new TextEncoder();

function setup() {
  const fs = memoryFs(key(1));
  const root = fs.writer(key(1));
  root.mkdir('/etc');
  root.mkdir('/home');
  root.writeFile('/etc/conf', enc.encode('trusted'));
  root.grant('/home', key(2).publicKey, 'alice');
  return fs;
}

function fingerprintOf(fs: TestFs): string {
  return toHex(fs.log.rootHash()) + [...fs.view.walk('/')].map((s) => `${s.path}:${toHex(s.head)}`).join(',');
}

/** Ingest `bytes` and check the outcome code and that nothing observable changed. */
function expectNoChange(t: any, fs: TestFs, bytes: Uint8Array, status: string, code: string) {
  const before = fingerprintOf(fs);
  const size = fs.log.size;
  const r = fs.log.ingest(bytes);
  t.equal(r.status, status, `status ${status}`);
  t.equal(r.code, code, `code ${code}`);
  t.equal(fs.log.size, size, 'nothing stored');
  t.equal(fingerprintOf(fs), before, 'root hash and view unchanged');
}

function entryBy(k: ReturnType<typeof key>, parent: Entry | Uint8Array, action: Entry['action'], name: string, content: Uint8Array) {
  const p = parent instanceof Uint8Array ? parent : parent.hash;
  return createEntry({ parent: p, timestamp: 1, action, name, content }, k.publicKey, k.seed);
}

function head(fs: TestFs, path: string): Entry {
  return fs.log.get(fs.view.stat(path).head)!;
}
function incarnation(fs: TestFs, path: string): Entry {
  return fs.view.find(path)!.state.incarnation!.entry;
}

t.test('forged signature', async (t) => {
  const fs = setup();
  const e = entryBy(key(1), head(fs, '/etc/conf'), ACTION.WRITE, 'conf', Uint8Array.of(0, 0x41));
  const forged = e.bytes.slice();
  forged[forged.length - 1]! ^= 1;
  expectNoChange(t, fs, forged, 'rejected', 'BAD_SIGNATURE');
  // A valid signature by another key over an entry that claims root as author.
  const claimed = entryBy(key(9), head(fs, '/etc/conf'), ACTION.WRITE, 'conf', Uint8Array.of(0, 0x41));
  const swapped = claimed.bytes.slice();
  swapped.set(key(1).publicKey, swapped.length - 64 - 32);
  expectNoChange(t, fs, swapped, 'rejected', 'BAD_SIGNATURE');
});

t.test('unknown key', async (t) => {
  const fs = setup();
  const e = entryBy(key(7), incarnation(fs, '/etc'), ACTION.WRITE, 'evil', Uint8Array.of(0, 1));
  expectNoChange(t, fs, e.bytes, 'pending', 'UNKNOWN_KEY');
});

t.test('write outside the granted subtree', async (t) => {
  const fs = setup();
  const e = entryBy(key(2), head(fs, '/etc/conf'), ACTION.WRITE, 'conf', Uint8Array.of(0, 0x58));
  expectNoChange(t, fs, e.bytes, 'pending', 'NOT_AUTHORIZED');
  const del = entryBy(key(2), head(fs, '/home'), ACTION.DELETE, 'home', new Uint8Array(0));
  expectNoChange(t, fs, del.bytes, 'pending', 'NOT_AUTHORIZED');
});

t.test('grant escalation', async (t) => {
  const fs = setup();
  // alice (granted on /home) tries to grant herself, or a friend, on "/".
  const g = entryBy(key(2), fs.log.genesis.entry, ACTION.GRANT, 'me', key(2).publicKey);
  expectNoChange(t, fs, g.bytes, 'pending', 'NOT_AUTHORIZED');
  const g2 = entryBy(key(2), incarnation(fs, '/etc'), ACTION.GRANT, 'friend', key(3).publicKey);
  expectNoChange(t, fs, g2.bytes, 'pending', 'NOT_AUTHORIZED');
});

t.test('revoked key: stored for convergence, but has no effect', async (t) => {
  const fs = setup();
  const alice = fs.writer(key(2));
  alice.writeFile('/home/notes', enc.encode('mine'));
  fs.writer(key(1)).revoke('/home', key(2).publicKey, 'alice');
  const before = fingerprintOf(fs).slice(64); // the view part
  const e = entryBy(key(2), head(fs, '/home/notes'), ACTION.WRITE, 'notes', Uint8Array.of(0, 0x21));
  const r = fs.log.ingest(e.bytes);
  t.equal(r.status, 'accepted', 'admitted (it was granted once), so every node stores the same set');
  t.equal(fingerprintOf(fs).slice(64), before, 'the view ignores it');
  t.equal(new TextDecoder().decode(fs.view.readFile('/home/notes')), 'mine');
  const m = entryBy(key(2), incarnation(fs, '/home'), ACTION.MKDIR, 'new', new Uint8Array(0));
  fs.log.ingest(m.bytes);
  t.notOk(fs.view.exists('/home/new'), 'a new path by a revoked key does not appear');
});

t.test('replayed entry', async (t) => {
  const fs = setup();
  expectNoChange(t, fs, head(fs, '/etc/conf').bytes, 'duplicate', 'DUPLICATE');
  expectNoChange(t, fs, fs.log.genesis.entry.bytes, 'duplicate', 'DUPLICATE');
});

t.test('hash mismatch', async (t) => {
  const fs = setup();
  const e = entryBy(key(1), head(fs, '/etc/conf'), ACTION.MODE, 'conf', encodeMode(0o600));
  const before = fingerprintOf(fs);
  const r = fs.log.ingest(e.bytes, head(fs, '/etc').hash);
  t.equal(r.code, 'BAD_HASH');
  t.equal(fingerprintOf(fs), before);
});

t.test('oversized and malformed fields', async (t) => {
  const fs = setup();
  const e = entryBy(key(1), incarnation(fs, '/etc'), ACTION.WRITE, 'ok', Uint8Array.of(0, 1));
  // content length field claiming more than MAX_CONTENT
  const big = e.bytes.slice();
  const n = big[42]!;
  new DataView(big.buffer).setUint32(43 + n, MAX_CONTENT + 1);
  expectNoChange(t, fs, big, 'rejected', 'TOO_LARGE');
  expectNoChange(t, fs, new Uint8Array(10), 'rejected', 'MALFORMED');
  expectNoChange(t, fs, new Uint8Array(200_000), 'rejected', 'TOO_LARGE');
  expectNoChange(t, fs, e.bytes.subarray(0, e.bytes.length - 1), 'rejected', 'MALFORMED');
  const trailing = new Uint8Array(e.bytes.length + 1);
  trailing.set(e.bytes);
  expectNoChange(t, fs, trailing, 'rejected', 'MALFORMED');
  t.throws(() => entryBy(key(1), incarnation(fs, '/etc'), ACTION.WRITE, 'x'.repeat(MAX_NAME + 1), Uint8Array.of(0)), { code: 'TOO_LARGE' });
  // well-formed layout, bad content for the action
  const badMode = entryBy(key(1), head(fs, '/etc/conf'), ACTION.MODE, 'conf', Uint8Array.of(0xff, 0xff, 0xff, 0xff));
  expectNoChange(t, fs, badMode.bytes, 'rejected', 'MALFORMED');
  const badName = entryBy(key(1), incarnation(fs, '/etc'), ACTION.MKDIR, 'a/b', new Uint8Array(0));
  expectNoChange(t, fs, badName.bytes, 'rejected', 'BAD_NAME');
  const dots = entryBy(key(1), incarnation(fs, '/etc'), ACTION.MKDIR, '..', new Uint8Array(0));
  expectNoChange(t, fs, dots.bytes, 'rejected', 'BAD_NAME');
  const second = entryBy(key(1), new Uint8Array(32), ACTION.MKDIR, '/', new Uint8Array(0));
  expectNoChange(t, fs, second.bytes, 'rejected', 'SECOND_ROOT');
  const mkdirOverFile = entryBy(key(1), head(fs, '/etc/conf'), ACTION.MKDIR, 'conf', new Uint8Array(0));
  expectNoChange(t, fs, mkdirOverFile.bytes, 'rejected', 'BAD_PARENT');
  const badGrantKey = entryBy(key(1), fs.log.genesis.entry, ACTION.GRANT, 'x', new Uint8Array(32));
  expectNoChange(t, fs, badGrantKey.bytes, 'rejected', 'BAD_KEY');
});

t.test('random mutations of valid entries never crash and never change state', async (t) => {
  const fs = setup();
  const sample = [...fs.log.entriesInOrder()];
  let rejected = 0;
  const before = fingerprintOf(fs);
  for (let i = 0; i < 2000; i++) {
    const src = sample[i % sample.length]!.bytes;
    const m = src.slice();
    const flips = 1 + (i % 3);
    for (let f = 0; f < flips; f++) m[(i * 7919 + f * 104729) % m.length]! ^= 1 << ((i + f) % 8);
    const r = fs.log.ingest(m);
    // A flip inside the signature keeps the hash: that is the entry we already hold (duplicate).
    if (r.status !== 'accepted') rejected++;
  }
  t.equal(rejected, 2000, 'no mutation was accepted');
  t.equal(fingerprintOf(fs), before);
});

t.test('entries waiting for a parent or a grant are bounded in count and bytes', async (t) => {
  const { PendingPool } = await import('../../src/core/admission.ts');
  const fs = setup();
  const pool = new PendingPool(3, 1_000_000);
  const orphans = Array.from({ length: 5 }, (_, i) =>
    entryBy(key(1), new Uint8Array(32).fill(i + 1), ACTION.WRITE, `o${i}`, Uint8Array.of(0, i)),
  );
  for (const o of orphans) pool.add(o, 'p');
  t.equal(pool.size, 3, 'the oldest are evicted');
  t.same(pool.release('p').map((e) => e.name), ['o2', 'o3', 'o4']);
  const small = new PendingPool(100, 600);
  for (const o of orphans) small.add(o, 'q');
  t.ok(small.size < 5 && small.size >= 1, 'byte bound evicts too');
  // and the log's own pools: orphans wait without touching the view
  const before = fingerprintOf(fs);
  for (let i = 0; i < 200; i++) {
    const parent = new Uint8Array(32);
    new DataView(parent.buffer).setUint32(0, i + 1);
    t.equal(fs.log.ingest(entryBy(key(1), parent, ACTION.MKDIR, 'x', new Uint8Array(0)).bytes).code, 'ORPHAN');
  }
  t.equal(fs.log.pending, 200);
  t.equal(fingerprintOf(fs), before);
});
