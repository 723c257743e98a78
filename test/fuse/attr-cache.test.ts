/**
 * The kernel keeps a file's attributes for attr_timeout and cuts reads at the size it holds: a
 * file another node changed meanwhile must be read as the version of those attributes, whole,
 * never as the new version cut at the old size; and changes made through the mount itself are
 * read back at once. The mounts here keep attributes for 30 s so that the window cannot close
 * before the test reads, however slow the machine.
 */
import t from 'tap';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Log } from '../../src/core/log.ts';
import { KernelAttrs } from '../../src/fuse/kernel-attrs.ts';
import { fuseUnavailable, mountFresh, peerReplica } from '../helpers/mount.ts';

t.test('KernelAttrs: what was answered is held for holdMs, follows renames, forgets local changes', async (t) => {
  let now = 0;
  const k = new KernelAttrs(2000, () => now);
  k.answered('/a', 'v1');
  t.equal(k.held('/a'), 'v1');
  now = 2000;
  t.equal(k.held('/a'), 'v1', 'held up to holdMs after the answer');
  now = 2001;
  t.equal(k.held('/a'), null, 'then no longer');

  k.answered('/a', 'v2');
  k.answered('/a', null);
  t.equal(k.held('/a'), null, 'answered as no file version (a directory, an open buffer): nothing held');

  k.answered('/d/x', 'x1');
  k.answered('/d/sub/y', 'y1');
  k.answered('/e/x', 'old');
  k.answered('/dx', 'dx1');
  k.move('/d', '/e', true);
  t.equal(k.held('/e/x'), 'x1', 'a renamed directory takes its files along');
  t.equal(k.held('/e/sub/y'), 'y1');
  t.equal(k.held('/d/x'), null);
  t.equal(k.held('/dx'), 'dx1', 'a sibling sharing the prefix stays');
  k.answered('/f', 'f1');
  k.answered('/g', 'g1');
  k.move('/f', '/g', false);
  t.equal(k.held('/g'), 'f1', 'a file renamed over another: the kernel holds the moved one');
  t.equal(k.held('/f'), null);
  k.forget('/g');
  t.equal(k.held('/g'), null);

  for (let i = 0; i < 1000; i++) {
    now += 10;
    k.answered(`/many/${i}`, 'v');
  }
  t.ok(k.size <= 202, `only the last holdMs of answers are kept (${k.size})`);
  t.equal(new KernelAttrs(0).held('/a'), null);
  const off = new KernelAttrs(0, () => now);
  off.answered('/a', 'v');
  t.equal(off.held('/a'), null, 'holdMs 0 (attr_timeout=0): nothing is ever held');
});

const why = await fuseUnavailable();
const skip = why === null ? false : `FUSE unavailable: ${why}`;

/**
 * Another replica writing as the root key: `deliver` hands the mounted replica its entries and
 * blocks (what sync does), `receive` takes the mounted replica's, so that its next write to a path
 * follows (and wins over) what the mount wrote there.
 */
function peerOf(replica: { log: Log; blocks: { put(b: Uint8Array): unknown } }) {
  const { log, blocks, writer } = peerReplica();
  const deliver = () => {
    for (const b of blocks.map.values()) replica.blocks.put(b);
    for (const e of log.entriesInOrder()) if (!replica.log.has(e.hash)) replica.log.ingest(e.bytes);
  };
  const receive = () => {
    for (const e of replica.log.entriesInOrder()) if (!log.has(e.hash)) log.ingest(e.bytes);
  };
  return { writer, deliver, receive };
}

const text = (s: string) => new TextEncoder().encode(s);

t.test('a file another node made longer is read whole, as the version whose size the kernel holds', { skip }, async (t) => {
  const { mnt, replica } = await mountFresh(t, { mount: { attrSeconds: 30 } });
  const peer = peerOf(replica);
  const f = join(mnt, 'etc/app.conf');
  peer.writer.mkdir('/etc');
  peer.writer.writeFile('/etc/app.conf', text('short'));
  peer.deliver();
  t.equal((await fsp.stat(f)).size, 5, 'the kernel now holds size 5');

  peer.writer.writeFile('/etc/app.conf', text('a new version, much longer than the first'));
  peer.deliver();
  t.equal((await fsp.stat(f)).size, 5, 'stat answers from the kernel cache');
  t.equal(await fsp.readFile(f, 'utf8'), 'short', 'a reader gets the version of those attributes, not a cut new one');
  const h = await fsp.open(f, 'r');
  const head = Buffer.alloc(3);
  await h.read(head, 0, 3, 0);
  await h.close();
  t.equal(head.toString(), 'sho', 'so does a read that stays within the cached size');

  // Reading marks the cached access time stale, so the next stat asks the mount again: from then
  // on the kernel holds the new attributes and readers get the new version.
  t.equal((await fsp.stat(f)).size, 41);
  t.equal(await fsp.readFile(f, 'utf8'), 'a new version, much longer than the first');
});

t.test('with the default 1 s, another node\'s change shows within about a second', { skip }, async (t) => {
  const { mnt, replica } = await mountFresh(t);
  const peer = peerOf(replica);
  const f = join(mnt, 'conf');
  peer.writer.writeFile('/conf', text('v1'));
  peer.deliver();
  t.equal(await fsp.readFile(f, 'utf8'), 'v1');
  await fsp.stat(f);
  peer.writer.writeFile('/conf', text('version 2, longer'));
  peer.deliver();
  const seen = new Set<string>();
  const started = performance.now();
  let last = '';
  while (last !== 'version 2, longer' && performance.now() - started < 10_000) {
    last = await fsp.readFile(f, 'utf8');
    seen.add(last);
    await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(last, 'version 2, longer', `shown after ${Math.round(performance.now() - started)} ms`);
  t.same([...seen].filter((s) => s !== 'v1' && s !== 'version 2, longer'), [], 'every read was one whole version');
});

/** The first `n` bytes through one read(2), which the kernel serves without asking for attributes. */
async function readHead(path: string, n: number): Promise<string> {
  const h = await fsp.open(path, 'r');
  const b = Buffer.alloc(n);
  const { bytesRead } = await h.read(b, 0, n, 0);
  await h.close();
  return b.subarray(0, bytesRead).toString();
}

/** RELEASE reaches the mount after close returns; until then a new reader shares the writer's buffer. */
const released = () => new Promise((r) => setTimeout(r, 300));

t.test('changes made through the mount are read back at once, whatever the kernel held', { skip }, async (t) => {
  const { mnt, replica } = await mountFresh(t, { mount: { attrSeconds: 30 } });
  const peer = peerOf(replica);
  const p = (s: string) => join(mnt, s);
  peer.writer.writeFile('/a', text('one'));
  peer.writer.writeFile('/from', text('alpha content'));
  peer.writer.writeFile('/to', text('b'));
  peer.deliver();
  for (const f of ['a', 'from', 'to']) await fsp.stat(p(f));

  // Overwrite in place: no truncate and no getattr on the way, only writes and the close.
  const w = await fsp.open(p('a'), 'r+');
  await w.write('ONE', 0);
  await w.close();
  await released();
  t.equal(await readHead(p('a'), 3), 'ONE', 'an overwrite through the mount');

  await fsp.rename(p('from'), p('to'));
  t.equal(await readHead(p('to'), 5), 'alpha', 'a rename over a file whose attributes the kernel held');
  t.equal(await fsp.readFile(p('to'), 'utf8'), 'alpha content');
});

t.test('after a save or a rename here, a peer\'s longer version is not read cut at the size the kernel holds', { skip }, async (t) => {
  const { mnt, replica } = await mountFresh(t, { mount: { attrSeconds: 30 } });
  const peer = peerOf(replica);
  const p = (s: string) => join(mnt, s);

  // A save through the mount, with an fstat before the close (as cp -a's fchmod and futimens do):
  // the kernel holds the size that answer gave, 5, with no reason to ask again.
  const long = 'a longer version from another node';
  const w = await fsp.open(p('f'), 'w');
  await w.write('local');
  t.equal((await w.stat()).size, 5);
  await w.close();
  await released();
  peer.receive();
  peer.writer.writeFile('/f', text(long));
  peer.deliver();
  t.equal(Buffer.from(replica.view.readFile('/f')).toString(), long, 'the peer\'s version is the newest');
  const got = await readHead(p('f'), 64);
  t.ok(got === 'local' || got === long, `read as one whole version (${JSON.stringify(got)})`);

  // A directory renamed here: the kernel's inode for d/x (size 4) is now e/x.
  await fsp.mkdir(p('d'));
  await fsp.writeFile(p('d/x'), 'in d');
  await released();
  await fsp.stat(p('d/x'));
  await fsp.rename(p('d'), p('e'));
  peer.receive();
  peer.writer.writeFile('/e/x', text('a longer x from another node'));
  peer.deliver();
  const x = await readHead(p('e/x'), 64);
  t.ok(x === 'in d' || x === 'a longer x from another node', `the renamed file is read as one whole version (${JSON.stringify(x)})`);
});

t.test('settleMs: how long the kernel may still show a path as it was (what a watcher waits for)', { skip }, async (t) => {
  const { mnt, replica, mount } = await mountFresh(t, { mount: { attrSeconds: 30 } });
  const peer = peerOf(replica);
  peer.writer.writeFile('/conf', text('v1'));
  peer.writer.writeFile('/other', text('x'));
  peer.writer.mkdir('/d');
  peer.deliver();
  await fsp.stat(join(mnt, 'conf'));
  await fsp.stat(join(mnt, 'd'));
  t.equal(mount.settleMs('/conf'), 0, 'the kernel holds the current attributes');
  t.equal(mount.settleMs('/other'), 0, 'nothing held for a path never looked at');
  peer.writer.writeFile('/conf', text('version 2'));
  peer.writer.chmod('/d', 0o700);
  peer.deliver();
  const wait = mount.settleMs('/conf');
  t.ok(wait > 29_000 && wait <= 31_000, `a peer's change: up to attr_timeout + 1 s (${Math.round(wait)} ms)`);
  t.equal(mount.settleMs('/d'), 0, 'a directory: no content the kernel could cut');
  peer.writer.delete('/conf');
  peer.deliver();
  t.ok(mount.settleMs('/conf') > 29_000, 'a deleted file the kernel may still show');
  await fsp.writeFile(join(mnt, 'mine'), 'local');
  await fsp.stat(join(mnt, 'mine'));
  await new Promise((r) => setTimeout(r, 300)); // RELEASE comes after close returns
  t.equal(mount.settleMs('/mine'), 0, 'a change made through the mount: nothing to wait for');
});
