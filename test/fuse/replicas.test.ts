/**
 * Authority and read-only mounts, and changes from elsewhere: entries made by another replica and
 * ingested into the mounted one show in the mount without remounting, and a file whose new blocks
 * have not arrived keeps showing its previous complete version.
 */
import t from 'tap';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { key } from '../helpers/fs.ts';
import { errnoOf, fuseUnavailable, mountFresh, peerReplica } from '../helpers/mount.ts';
import { waitFor } from '../helpers/wait.ts';

const why = await fuseUnavailable();
if (why !== null) t.plan(0, `FUSE unavailable: ${why}`);

/** Read `path` until it holds `want` (at most 10 s); every content read on the way. */
async function readUntil(path: string, want: Buffer): Promise<Buffer[]> {
  const seen: Buffer[] = [];
  const deadline = performance.now() + 10_000;
  for (;;) {
    const b = await fsp.readFile(path);
    seen.push(b);
    if (b.equals(want) || performance.now() > deadline) return seen;
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('a key without authority gets EACCES and nothing is written', async (t) => {
  const other = peerReplica();
  other.writer.mkdir('/home');
  other.writer.mkdir('/etc');
  other.writer.writeFile('/etc/root.conf', new TextEncoder().encode('root'));
  other.writer.grant('/home', key(2).publicKey, 'alice');
  const entries = [...other.log.entriesInOrder()].map((e) => e.bytes);
  const { mnt, replica } = await mountFresh(t, { writerKey: key(2), entries });
  const p = (s: string) => join(mnt, s);

  await fsp.writeFile(p('home/mine'), 'ok');
  t.equal(await fsp.readFile(p('home/mine'), 'utf8'), 'ok', 'allowed below its grant');
  await waitFor(() => replica.view.exists('/home/mine'), 'the new file committed');
  const size = replica.log.size;
  // rsync or tar into the grant sets the time of its top directory, which the key may not change.
  await fsp.utimes(p('home'), 1_600_000_000, 1_600_000_000);
  t.equal(await errnoOf(fsp.writeFile(p('etc/new'), 'x')), 'EACCES', 'create outside the grant');
  t.equal(await errnoOf(fsp.writeFile(p('etc/root.conf'), 'x')), 'EACCES', 'overwrite outside the grant');
  t.equal(await errnoOf(fsp.appendFile(p('etc/root.conf'), 'x')), 'EACCES');
  t.equal(await errnoOf(fsp.mkdir(p('etc/d'))), 'EACCES');
  t.equal(await errnoOf(fsp.unlink(p('etc/root.conf'))), 'EACCES');
  t.equal(await errnoOf(fsp.chmod(p('etc/root.conf'), 0o600)), 'EACCES');
  t.equal(await errnoOf(fsp.rename(p('home/mine'), p('etc/mine'))), 'EACCES', 'rename out of the grant');
  t.equal(await errnoOf(fsp.rename(p('etc/root.conf'), p('home/stolen'))), 'EACCES', 'rename into the grant');
  t.equal(await errnoOf(fsp.symlink('x', p('etc/l'))), 'EACCES');
  t.equal(await errnoOf(fsp.rmdir(p('home'))), 'EACCES', 'a key granted at /home cannot delete /home');
  t.equal(await errnoOf(fsp.access(p('etc/root.conf'), 2)), 'EACCES', 'access(W_OK) says so up front');
  await fsp.access(p('home/mine'), 2);
  t.equal(replica.log.size, size, 'nothing was written');
  t.equal(await fsp.readFile(p('etc/root.conf'), 'utf8'), 'root', 'and everything stays readable');
});

t.test('a mount without a key is read-only (EROFS)', async (t) => {
  const { mnt, replica } = await mountFresh(t, { writerKey: null });
  const size = replica.log.size;
  t.equal(await fsp.readFile(join(mnt, '.cluster'), 'utf8'), '127.0.0.51:7946\n');
  t.equal(await errnoOf(fsp.writeFile(join(mnt, 'x'), 'x')), 'EROFS');
  t.equal(await errnoOf(fsp.writeFile(join(mnt, '.cluster'), 'x')), 'EROFS');
  t.equal(await errnoOf(fsp.mkdir(join(mnt, 'd'))), 'EROFS');
  t.equal(await errnoOf(fsp.unlink(join(mnt, '.cluster'))), 'EROFS');
  t.equal(await errnoOf(fsp.access(join(mnt, '.cluster'), 2)), 'EROFS');
  t.equal(replica.log.size, size);
});

t.test('entries from another replica appear without remounting; missing blocks keep the old version', async (t) => {
  const { mnt, replica } = await mountFresh(t);
  const other = peerReplica();
  const sent = new Set<string>();
  /** Hand the mounted replica every entry it lacks (what the node's sync does), blocks optional. */
  const deliver = (withBlocks: boolean) => {
    for (const e of other.log.entriesInOrder()) {
      const h = Buffer.from(e.hash).toString('hex');
      if (sent.has(h)) continue;
      sent.add(h);
      replica.log.ingest(e.bytes);
    }
    if (withBlocks) for (const b of other.blocks.map.values()) replica.blocks.put(b);
  };
  const read = (s: string) => fsp.readFile(join(mnt, s), 'utf8').catch((e: NodeJS.ErrnoException) => e.code ?? 'error');

  // Make the mount read and cache these paths first, so a stale cache would show.
  t.equal(await read('etc/app.conf'), 'ENOENT');
  other.writer.mkdir('/etc');
  other.writer.writeFile('/etc/app.conf', new TextEncoder().encode('v1'));
  deliver(true);
  t.equal(await read('etc/app.conf'), 'v1', 'a new file from elsewhere');

  // A new file whose blocks have not arrived is not shown at first, then readable at once: shown
  // (empty), the kernel would keep size 0 and read it as empty for another second.
  const fresh = Buffer.alloc(100_000, 5);
  other.writer.writeFile('/etc/fresh', fresh);
  deliver(false);
  t.equal(await read('etc/fresh'), 'ENOENT', 'a file whose content has not arrived is not there yet');
  t.notOk((await fsp.readdir(join(mnt, 'etc'))).includes('fresh'), 'nor listed');
  deliver(true);
  t.ok((await fsp.readFile(join(mnt, 'etc/fresh'))).equals(fresh), 'readable whole as soon as its blocks are in');

  const big1 = Buffer.alloc(200_000, 1);
  other.writer.writeFile('/etc/big', big1);
  deliver(true);
  t.equal((await fsp.stat(join(mnt, 'etc/big'))).size, 200_000);
  const big2 = Buffer.alloc(300_000, 2);
  other.writer.writeFile('/etc/big', big2);
  deliver(false);
  const shown = await fsp.readFile(join(mnt, 'etc/big'));
  t.ok(shown.equals(big1), 'blocks of the new version missing: the previous complete version is shown');
  t.equal((await fsp.stat(join(mnt, 'etc/big'))).size, 200_000);
  deliver(true);
  // The kernel may hold the old size for up to attr_timeout (1 s): until then the old version,
  // whole; then the new one.
  const seen = await readUntil(join(mnt, 'etc/big'), big2);
  t.ok(seen.at(-1)?.equals(big2), 'once the blocks are in, the new version');
  t.ok(seen.every((b) => b.equals(big1) || b.equals(big2)), 'every read on the way was one whole version');
  t.equal((await fsp.stat(join(mnt, 'etc/big'))).size, 300_000);

  other.writer.rename('/etc/app.conf', '/etc/app.conf.old');
  other.writer.chmod('/etc/app.conf.old', 0o600);
  other.writer.symlink('/etc/current', 'app.conf.old');
  deliver(true);
  t.same((await fsp.readdir(join(mnt, 'etc'))).sort(), ['app.conf.old', 'big', 'current', 'fresh']);
  t.equal((await fsp.stat(join(mnt, 'etc/app.conf.old'))).mode & 0o777, 0o600);
  t.equal(await fsp.readlink(join(mnt, 'etc/current')), 'app.conf.old');
  const revert = other.view.revisions('/etc/big')[0];
  if (revert) other.writer.revert('/etc/big', Buffer.from(revert.hash).toString('hex'));
  other.writer.delete('/etc/current');
  deliver(true);
  const reverted = await readUntil(join(mnt, 'etc/big'), big1);
  t.ok(reverted.at(-1)?.equals(big1), 'a revert from elsewhere shows');
  t.ok(reverted.every((b) => b.equals(big1) || b.equals(big2)), 'every read on the way was one whole version');
  t.equal(await read('etc/current'), 'ENOENT', 'a delete from elsewhere shows');
});

t.test('a file whose blocks never come shows (empty) after arrivingSeconds, and can be removed', async (t) => {
  const { mnt, replica } = await mountFresh(t, { mount: { arrivingSeconds: 0.3 } });
  const other = peerReplica();
  other.writer.mkdir('/d');
  other.writer.writeFile('/d/lost', Buffer.alloc(100_000, 7));
  for (const e of other.log.entriesInOrder()) replica.log.ingest(e.bytes); // no blocks, ever
  t.equal(await errnoOf(fsp.stat(join(mnt, 'd/lost'))), 'ENOENT', 'hidden while it may still arrive');
  await new Promise((r) => setTimeout(r, 400));
  t.equal((await fsp.stat(join(mnt, 'd/lost'))).size, 0, 'then shown, empty');
  t.same(await fsp.readdir(join(mnt, 'd')), ['lost']);
  await fsp.unlink(join(mnt, 'd/lost'));
  await fsp.rmdir(join(mnt, 'd'));
  t.notOk(replica.view.exists('/d'), 'removed, with its directory');
});
