/**
 * sync 'background' (the mount's group commit): writes return once they are in the OS, so they
 * survive the process being killed; a flush on the I/O thread pool follows within GATHER_MS, and
 * Replica.durable() resolves once it covered every change made before the call.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { renameSync, statSync, symlinkSync, truncateSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BlockStore } from '../../src/core/block-store.ts';
import { GroupCommit } from '../../src/core/group-commit.ts';
import { blockHash, toHex } from '../../src/core/hash.ts';
import { LogFile } from '../../src/core/log-file.ts';
import { bootstrapEntries, Replica } from '../../src/core/replica.ts';
import { key, makeTempDir } from '../helpers/fs.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

const tempDir = (t: Test): string => makeTempDir(t, 'basefs-group-');

function bootstrap(t: Test): string {
  const dir = join(tempDir(t), 'fs');
  Replica.create(dir, bootstrapEntries('g', [key(1)], ['127.0.0.1:7000'], 1_700_000_000_000).map((e) => e.bytes)).close();
  return dir;
}

t.test("LogFile.syncAsync: appends during a flush are kept, close during a flush is safe", async (t) => {
  const path = join(tempDir(t), 'log');
  const { log } = LogFile.open(path, { sync: 'background' });
  log.append([enc('one')]);
  const flushing = log.syncAsync();
  log.append([enc('two'), enc('three')]); // lands while the fdatasync is on the thread pool
  await flushing;
  const second = log.syncAsync();
  log.append([enc('four')]);
  log.close(); // the flush in flight is not trusted: close() fdatasyncs itself
  await t.resolves(second);
  await t.rejects(log.syncAsync(), { code: 'CLOSED' });
  const again = LogFile.open(path);
  t.same(again.records.map(str), ['one', 'two', 'three', 'four']);
  again.log.close();
});

t.test("BlockStore sync 'background': onWrite per new block, syncAsync empties the pending set", async (t) => {
  const dir = tempDir(t);
  let writes = 0;
  const store = BlockStore.open(dir, { sync: 'background', onWrite: () => writes++ });
  t.equal(store.unsynced, false);
  const a = store.put(enc('a'));
  store.put(enc('a')); // already stored: no write, no call
  const b = store.put(enc('b'));
  t.equal(writes, 2);
  t.equal(store.unsynced, true);
  store.delete(b); // removed before the flush: nothing to sync for it, and no error
  await store.syncAsync();
  t.equal(store.unsynced, false);
  t.equal(str(store.get(a)!), 'a');
  store.put(enc('c'));
  store.syncPending();
  t.equal(store.unsynced, false);
  t.equal(toHex(blockHash(store.get(blockHash(enc('c')))!)), toHex(blockHash(enc('c'))));
  // The default policy never has anything pending.
  const always = BlockStore.open(join(dir, 'always'), { onWrite: () => writes++ });
  always.put(enc('d'));
  t.equal(always.unsynced, false);
  t.equal(writes, 3);
});

t.test('a flush waits for more changes to take along, unless durable() is waiting', async (t) => {
  const dir = tempDir(t);
  const { log } = LogFile.open(join(dir, 'log'), { sync: 'background' });
  const blocks = BlockStore.open(join(dir, 'blocks'), { sync: 'background' });
  t.teardown(() => log.close());
  const slow = new GroupCommit(blocks, log, undefined, 200);
  for (let i = 0; i < 20; i++) {
    log.append([enc(`entry ${i}`)]);
    blocks.put(enc(`block ${i}`));
    slow.changed();
    await new Promise((r) => setTimeout(r, 2));
  }
  const flushed = async (gc: GroupCommit, n: number) => {
    const deadline = performance.now() + 10_000;
    while (gc.flushes < n && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  };
  await flushed(slow, 1);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(slow.flushes, 1, 'twenty changes over ~40 ms: one flush');
  t.equal(blocks.unsynced, false);
  // fsync(2) does not wait for the gathering: with an hour of it, durable() still resolves.
  const patient = new GroupCommit(blocks, log, undefined, 3_600_000);
  log.append([enc('asked for')]);
  patient.changed();
  await new Promise((r) => setTimeout(r, 20)); // the flush is gathering by now
  const t0 = performance.now();
  await patient.durable();
  t.ok(performance.now() - t0 < 5_000, 'durable() flushed at once');
  t.equal(patient.flushes, 1);
  patient.changed();
  patient.close(() => undefined); // close() does not wait either
});

t.test("Replica sync 'background': one flush covers a burst, durable() waits for it", async (t) => {
  const dir = bootstrap(t);
  const r = Replica.open(dir, { key: key(1), sync: 'background' });
  await t.resolves(r.durable(), 'nothing written yet');
  r.writer!.mkdir('/etc');
  for (let i = 0; i < 50; i++) r.writer!.writeFile(`/etc/f${i}`, enc(`content ${i}`.repeat(60)));
  t.equal(r.blocks.unsynced, true, 'the writes returned before any flush ran');
  await r.durable();
  t.equal(r.blocks.unsynced, false, 'durable() resolved after the blocks were flushed');
  r.writer!.writeFile('/etc/late', enc('late '.repeat(200)));
  const late = r.durable();
  r.close(); // flushes synchronously and answers the waiter
  await t.resolves(late);
  const again = Replica.open(dir, { writable: false });
  t.equal(again.view.readdir('/etc').length, 51);
  t.equal(str(again.view.readFile('/etc/late')), 'late '.repeat(200));
});

t.test("a process killed right after its writes returned loses none of them", async (t) => {
  const dir = bootstrap(t);
  const child = fileURLToPath(new URL('./fixtures/background-writer.ts', import.meta.url));
  const loader = process.execArgv.filter((a) => a.includes('typescript'));
  const proc = spawn(process.execPath, [...loader, child, dir, '200'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, sig) => resolve(sig)));
  t.equal(signal, 'SIGKILL', stderr);
  t.equal(out.trim(), '200', 'the child acknowledged its writes');
  // Writable: the dead writer's lock is taken over and recovery finds nothing to cut.
  const r = Replica.open(dir, { key: key(1) });
  t.equal(r.recovered?.truncatedBytes, 0);
  t.teardown(() => r.close());
  const names = r.view.readdir('/out');
  t.equal(names.length, 200);
  for (const i of [0, 99, 199]) t.equal(str(r.view.readFile(`/out/f${i}`)), `file ${i} `.repeat(100));
});

t.test('a block removed between its write and the flush does not fail the flush', async (t) => {
  const dir = bootstrap(t);
  const r = Replica.open(dir, { key: key(1), sync: 'background' });
  r.writer!.writeFile('/x', enc('x'.repeat(600))); // its flush is scheduled, not run
  for (const h of r.blocks.list()) unlinkSync(join(r.blocks.dir, toHex(h).slice(0, 2), toHex(h)));
  await t.resolves(r.durable());
  r.close();
});

t.test('a failed flush is reported, and the log then refuses writes (IO)', async (t) => {
  const dir = bootstrap(t);
  const errors: unknown[] = [];
  const r = Replica.open(dir, { key: key(1), sync: 'background', onSyncError: (e) => errors.push(e) });
  t.teardown(() => r.close());
  const data = enc('y'.repeat(700));
  r.writer!.writeFile('/y', data);
  // Before the flush runs (it starts after this synchronous code), the block's fan-out directory
  // becomes a symlink loop: opening anything in it for the fsync fails with ELOOP.
  const fanout = join(r.blocks.dir, toHex(blockHash(data)).slice(0, 2));
  renameSync(fanout, `${fanout}.away`);
  symlinkSync(fanout, fanout);
  t.teardown(() => {
    unlinkSync(fanout);
    renameSync(`${fanout}.away`, fanout);
  });
  await t.rejects(r.durable(), { code: 'IO' });
  t.equal(errors.length, 1, 'reported once');
  t.throws(() => r.writer!.writeFile('/z', enc('z')), { code: 'IO' }, 'no write is accepted that no flush would cover');
});

t.test('durable() after close resolves; a block left empty by a power failure is written again', async (t) => {
  const dir = bootstrap(t);
  const r = Replica.open(dir, { key: key(1), sync: 'background' });
  const data = enc('w'.repeat(5000));
  r.writer!.writeFile('/w', data);
  r.close();
  await t.resolves(r.durable());
  const path = join(dir, 'blocks', toHex(blockHash(data)).slice(0, 2), toHex(blockHash(data)));
  truncateSync(path, 0); // what a crash can leave of a block written without fsync
  const again = Replica.open(dir, { key: key(1), sync: 'background' });
  t.teardown(() => again.close());
  again.blocks.put(data);
  t.equal(statSync(path).size, 5000, 'the empty block file was replaced');
  t.equal(str(again.view.readFile('/w')), 'w'.repeat(5000));
});
