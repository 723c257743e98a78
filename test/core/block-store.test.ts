import t, { type Test } from 'tap';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlockStore, MAX_BLOCK_BYTES } from '../../src/core/block-store.ts';
import { blockHash, toHex } from '../../src/core/hash.ts';
import { makeTempDir } from '../helpers/fs.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

const tempDir = (t: Test): string => makeTempDir(t, 'basefs-blocks-');

/** Every file under the store directory, relative paths, sorted. */
function filesIn(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((p) => statSync(join(dir, p)).isFile())
    .sort();
}

function pathOf(dir: string, bytes: Uint8Array): string {
  const hex = toHex(blockHash(bytes));
  return join(dir, hex.slice(0, 2), hex);
}

t.test('put, get, has, list, stats, delete', async (t) => {
  const dir = tempDir(t);
  const store = BlockStore.open(dir);
  const a = enc('hello block');
  const b = new Uint8Array(MAX_BLOCK_BYTES).fill(7);
  const ha = store.put(a);
  const hb = store.put(b);
  t.same(ha, blockHash(a));
  t.ok(existsSync(pathOf(dir, a)), 'stored at <dir>/<2 hex>/<hex>');
  t.same(store.get(ha), a);
  t.same(store.get(hb), b);
  t.ok(store.has(ha));
  t.same([...store.list()].map(toHex).sort(), [toHex(ha), toHex(hb)].sort());
  t.same(store.stats(), { count: 2, bytes: a.length + b.length });

  t.equal(store.delete(ha), true);
  t.equal(store.delete(ha), false);
  t.equal(store.has(ha), false);
  t.equal(store.get(ha), null);
  t.same(store.stats(), { count: 1, bytes: b.length });

  const reopened = BlockStore.open(dir);
  t.same(reopened.get(hb), b, 'persists across instances');
});

t.test('put is idempotent', async (t) => {
  const dir = tempDir(t);
  const store = BlockStore.open(dir);
  const bytes = enc('same bytes');
  const h1 = store.put(bytes);
  const mtime = statSync(pathOf(dir, bytes)).mtimeMs;
  const h2 = store.put(bytes);
  store.putExpected(h1, bytes);
  t.same(h1, h2);
  t.equal(statSync(pathOf(dir, bytes)).mtimeMs, mtime, 'not rewritten');
  t.same(filesIn(dir), [pathOf(dir, bytes).slice(dir.length + 1)]);
});

t.test('putExpected with the wrong bytes writes nothing', async (t) => {
  const dir = tempDir(t);
  const store = BlockStore.open(dir);
  const claimed = blockHash(enc('what the peer promised'));
  t.throws(() => store.putExpected(claimed, enc('what the peer sent')), { code: 'BAD_HASH' });
  t.same(filesIn(dir), []);
  t.equal(store.has(claimed), false);
  store.putExpected(claimed, enc('what the peer promised'));
  t.ok(store.has(claimed));
});

t.test('size and hash-length limits', async (t) => {
  const dir = tempDir(t);
  const store = BlockStore.open(dir);
  const tooBig = new Uint8Array(MAX_BLOCK_BYTES + 1);
  t.throws(() => store.put(tooBig), { code: 'TOO_LARGE' });
  t.throws(() => store.putExpected(blockHash(tooBig), tooBig), { code: 'TOO_LARGE' });
  t.throws(() => store.get(new Uint8Array(31)), { code: 'MALFORMED' });
  t.throws(() => store.has(new Uint8Array(33)), { code: 'MALFORMED' });
  t.same(filesIn(dir), []);
  t.same(store.put(new Uint8Array(0)), blockHash(new Uint8Array(0)), 'an empty block is fine');
});

t.test('a block corrupted on disk is detected, removed and reported missing', async (t) => {
  const dir = tempDir(t);
  const store = BlockStore.open(dir);
  for (const [what, damage] of [
    ['flipped byte', (b: Uint8Array) => Uint8Array.from(b, (x, i) => (i === 3 ? x ^ 1 : x))],
    ['truncated', (b: Uint8Array) => b.subarray(0, b.length - 1)],
    ['empty', () => new Uint8Array(0)],
    ['oversized', () => new Uint8Array(MAX_BLOCK_BYTES + 10)],
  ] as const) {
    const bytes = enc(`block for the ${what} case`);
    const hash = store.put(bytes);
    writeFileSync(pathOf(dir, bytes), damage(bytes));
    t.equal(store.get(hash), null, what);
    t.notOk(existsSync(pathOf(dir, bytes)), `${what}: removed`);
    t.equal(store.has(hash), false);
    store.putExpected(hash, bytes); // a peer re-sends it
    t.same(store.get(hash), bytes, `${what}: healed`);
  }
});

t.test('temporary files of dead writers are removed on open; list ignores stray names', async (t) => {
  const dir = tempDir(t);
  const store = BlockStore.open(dir);
  const hash = store.put(enc('x'));
  const hex = toHex(hash);
  const deadTemp = join(dir, 'tmp', `${hex}.99999999.0`); // pid above any pid_max: not alive
  const liveTemp = join(dir, 'tmp', `${hex}.${process.pid}.0`);
  writeFileSync(deadTemp, 'partial');
  writeFileSync(liveTemp, 'in flight');
  writeFileSync(join(dir, hex.slice(0, 2), 'not-a-block'), '');
  BlockStore.open(dir);
  t.notOk(existsSync(deadTemp));
  t.ok(existsSync(liveTemp));
  t.same([...store.list()].map(toHex), [hex]);
});

t.test("sync 'never' stores the same way", async (t) => {
  const store = BlockStore.open(tempDir(t), { sync: 'never' });
  const hash = store.put(enc('fast'));
  t.same(store.get(hash), enc('fast'));
});
