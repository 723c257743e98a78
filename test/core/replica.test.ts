/** A filesystem on disk: bootstrap, reopen, crash recovery, read-only snapshots, locking. */
import t, { type Test } from 'tap';
import { appendFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { bootstrapEntries, Replica } from '../../src/core/replica.ts';
import { toHex } from '../../src/core/hash.ts';
import { key, makeTempDir } from '../helpers/fs.ts';

const enc = new TextEncoder();
const str = (b: Uint8Array) => new TextDecoder().decode(b);

const tmp = (t: Test): string => join(makeTempDir(t, 'basefs-replica-'), 'fs');

function bootstrap(dir: string) {
  const entries = bootstrapEntries('demo', [key(1), key(2)], ['127.0.0.1:7000', '127.0.0.2:7000'], 1_700_000_000_000);
  return Replica.create(dir, entries.map((e) => e.bytes), { key: key(1) });
}

t.test('bootstrap, write, reopen: same tree and root hash', async (t) => {
  const dir = tmp(t);
  const r = bootstrap(dir);
  t.equal(r.name, 'demo');
  t.same(r.seeds(), ['127.0.0.1:7000', '127.0.0.2:7000']);
  t.same(r.view.keys().map((k) => [k.label, k.dir, k.depth]), [['root', '/', 0], ['root-1', '/', 0]]);
  r.writer!.mkdir('/etc');
  r.writer!.writeFile('/etc/big', new Uint8Array(200_000).fill(7));
  r.writer!.writeFile('/etc/small', enc.encode('hello'));
  const root = toHex(r.log.rootHash());
  r.close();
  const again = Replica.open(dir, { key: key(2) });
  t.equal(toHex(again.log.rootHash()), root);
  t.equal(str(again.view.readFile('/etc/small')), 'hello');
  t.equal(again.view.readFile('/etc/big').length, 200_000);
  again.writer!.writeFile('/etc/small', enc.encode('by root-1'));
  again.close();
  t.throws(() => bootstrap(dir), { code: 'EXISTS' });
});

t.test('a second writer is refused while the log is open; read-only snapshots are not', async (t) => {
  const dir = tmp(t);
  const r = bootstrap(dir);
  t.throws(() => Replica.open(dir, { key: key(1) }), { code: 'LOCKED' });
  const ro = Replica.open(dir, { writable: false });
  t.equal(ro.writer, null);
  t.equal(toHex(ro.log.rootHash()), toHex(r.log.rootHash()));
  r.close();
});

t.test('a torn tail is cut on open; every acknowledged entry survives', async (t) => {
  const dir = tmp(t);
  const r = bootstrap(dir);
  for (let i = 0; i < 20; i++) r.writer!.writeFile(`/f${i}`, enc.encode(`v${i}`));
  const root = toHex(r.log.rootHash());
  r.close();
  const logPath = join(dir, 'log');
  const size = statSync(logPath).size;
  // a crash in the middle of the next append: half a frame on disk
  appendFileSync(logPath, Buffer.from([0, 0, 0, 200, 1, 2, 3, 4, 5, 6, 7]));
  const again = Replica.open(dir, { key: key(1) });
  t.equal(again.recovered?.truncatedBytes, 11);
  t.equal(toHex(again.log.rootHash()), root, 'nothing acknowledged was lost');
  t.equal(statSync(logPath).size, size);
  again.writer!.writeFile('/after', enc.encode('ok'));
  again.close();
  t.equal(str(Replica.open(dir, { writable: false }).view.readFile('/after')), 'ok');
});

t.test('an entry cut off mid-frame is dropped with everything after it', async (t) => {
  const dir = tmp(t);
  const r = bootstrap(dir);
  r.writer!.writeFile('/a', enc.encode('a'));
  const sizeA = statSync(join(dir, 'log')).size;
  r.writer!.writeFile('/b', enc.encode('b'));
  r.close();
  truncateSync(join(dir, 'log'), sizeA + 10);
  const again = Replica.open(dir, { writable: false });
  t.ok(again.view.exists('/a'));
  t.notOk(again.view.exists('/b'));
});

t.test('a missing block leaves a file incomplete, showing its previous version', async (t) => {
  const dir = tmp(t);
  const r = bootstrap(dir);
  r.writer!.writeFile('/cfg', new Uint8Array(1000).fill(1));
  const v2 = new Uint8Array(1000).fill(2);
  r.writer!.writeFile('/cfg', v2);
  const blocks = r.view.blockState('/cfg');
  t.equal(blocks.missing, 0);
  r.blocks.delete(blocks.blocks[0]!);
  t.equal(r.view.blockState('/cfg').missing, 1);
  t.notOk(r.view.stat('/cfg').complete);
  t.equal(r.view.readFile('/cfg')[0], 1, 'readers see the last complete version');
  r.close();
});

t.test('bootstrap --force refuses a log that a running node holds; readers write nothing', async (t) => {
  const dir = tmp(t);
  const r = bootstrap(dir);
  const entries = bootstrapEntries('other', [key(3)], ['127.0.0.1:7000'], 1);
  t.throws(() => Replica.create(dir, entries.map((e) => e.bytes), { force: true }), { code: 'LOCKED' });
  t.equal(r.name, 'demo');
  r.close();
  const { existsSync, rmSync: rm } = await import('node:fs');
  rm(join(dir, 'blocks'), { recursive: true, force: true });
  const ro = Replica.open(dir, { writable: false });
  t.notOk(existsSync(join(dir, 'blocks')), 'a read-only open creates nothing');
  ro.close();
  const replaced = Replica.create(dir, entries.map((e) => e.bytes), { force: true });
  t.equal(replaced.name, 'other');
  replaced.close();
});
