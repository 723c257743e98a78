/**
 * The --watcher runner: one script run per applied change with the event in its environment,
 * debounced per (type, path), serial, and for a file only once all its blocks are here.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Replica, bootstrapEntries } from '../../src/core/replica.ts';
import { Watcher } from '../../src/cli/watcher.ts';
import { key } from '../helpers/fs.ts';

function lines(p: string): string[] {
  try {
    return readFileSync(p, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '');
  } catch {
    return [];
  }
}

t.test('events: type and path in the environment, debounced, files only when complete', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bfs-w-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const root = key(1);
  const entries = bootstrapEntries('demo', [root], [], 1_700_000_000_000).map((e) => e.bytes);
  const a = Replica.create(join(dir, 'a'), entries, { key: root });
  const b = Replica.create(join(dir, 'b'), entries, { key: root });
  t.teardown(() => {
    a.close();
    b.close();
  });
  const out = join(dir, 'events');
  const logged: string[] = [];
  const w = new Watcher({
    script: `echo "$BASEFS_EVENT_TYPE $BASEFS_EVENT_PATH $BASEFS_NAME $SECRET" >> ${out}; test "$BASEFS_EVENT_PATH" != /fail`,
    fsName: 'demo',
    replica: a,
    env: { PATH: process.env['PATH'], SECRET: 'leaked' },
    log: (e) => logged.push(e),
    debounceMs: 50,
    blockPollMs: 20,
  });
  t.teardown(() => w.stop());

  a.writer!.mkdir('/etc');
  for (let i = 0; i < 5; i++) a.writer!.writeFile('/etc/app.conf', new TextEncoder().encode(`v${i}\n`));
  await new Promise((r) => setTimeout(r, 100));
  await w.idle();
  t.same(lines(out), ['MKDIR /etc demo', 'WRITE /etc/app.conf demo'], 'five quick writes fire once; only passed variables reach the script');

  // A big file from another replica arrives without its blocks: no event until they are here.
  const big = new Uint8Array(300_000).fill(9);
  const e = b.writer!.writeFile('/big.bin', big);
  a.log.ingestMany([...b.log.entriesInOrder()].map((x) => x.bytes));
  await new Promise((r) => setTimeout(r, 200));
  await w.idle();
  t.notOk(lines(out).some((l) => l.startsWith('WRITE /big.bin')), 'no event for a half-received file');
  const view = b.view;
  for (const h of view.blockState('/big.bin').blocks) a.blocks.putExpected(h, b.blocks.get(h)!);
  await new Promise((r) => setTimeout(r, 200));
  await w.idle();
  t.ok(lines(out).includes('WRITE /big.bin demo'), 'fires once the blocks are complete');
  t.ok(e.hash.length === 32);

  a.writer!.mkdir('/fail');
  await new Promise((r) => setTimeout(r, 100));
  await w.idle();
  t.ok(logged.includes('watcher-failed'), 'a failing script is logged');
  t.equal(w.failed, 1);
});

t.test('on a mount, an event waits until the kernel shows the change (settle)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bfs-w-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const root = key(1);
  const a = Replica.create(join(dir, 'a'), bootstrapEntries('demo', [root], [], 1_700_000_000_000).map((e) => e.bytes), { key: root });
  t.teardown(() => a.close());
  const out = join(dir, 'events');
  const w = new Watcher({ script: `echo "$BASEFS_EVENT_PATH" >> ${out}`, fsName: 'demo', replica: a, env: {}, log: () => {}, debounceMs: 20 });
  t.teardown(() => w.stop());
  const until = performance.now() + 400;
  const asked: string[] = [];
  w.settle = (path) => {
    asked.push(path);
    return Math.max(0, until - performance.now());
  };
  a.writer!.writeFile('/conf', new TextEncoder().encode('v1'));
  await new Promise((r) => setTimeout(r, 200));
  t.same(lines(out), [], 'not run while the kernel may still show the old version');
  await w.idle();
  t.same(lines(out), ['/conf'], 'run once it shows the new one');
  t.ok(performance.now() >= until, 'not before');
  t.ok(asked.length >= 2 && asked.every((p) => p === '/conf'), 'asked about the changed path');
});
