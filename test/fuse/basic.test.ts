/**
 * One real mount: the operations and their errno values, and that a file's content becomes one
 * entry per close (not one per write). Clients use fs.promises (a synchronous call on the mount
 * from this process would block the event loop that serves it).
 */
import t from 'tap';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { errnoOf, fuseUnavailable, mountFresh, sh } from '../helpers/mount.ts';
import { waitFor } from '../helpers/wait.ts';
import { isBasefsError } from '../../src/core/errors.ts';
import { mountReplica } from '../../src/fuse/mount.ts';

const why = await fuseUnavailable();
if (why !== null) t.plan(0, `FUSE unavailable: ${why}`);

t.test('files: write, read, overwrite, append, truncate; one entry per close', async (t) => {
  const { mnt, replica } = await mountFresh(t);
  const f = join(mnt, 'conf');
  await fsp.writeFile(f, 'a=1\n');
  t.equal(await fsp.readFile(f, 'utf8'), 'a=1\n');
  // A new file is parked at close and committed a moment later (parking.ts; test/fuse/parking.test.ts).
  await waitFor(() => replica.view.exists('/conf'), 'a new file in the log a moment after its close');
  t.equal(Buffer.from(replica.view.readFile('/conf')).toString(), 'a=1\n');
  t.equal(replica.view.revisions('/conf').length, 1, 'as one entry');

  const before = replica.log.size;
  const h = await fsp.open(f, 'r+');
  for (let i = 0; i < 50; i++) await h.write(`line ${i}\n`, undefined, 'utf8');
  t.equal(replica.log.size, before, 'no entry per write()');
  await h.close();
  t.equal(replica.log.size, before + 1, 'one entry at close');
  const text = await fsp.readFile(f, 'utf8');
  t.ok(text.startsWith('line 0\nline 1\n') && text.endsWith('line 49\n'));

  await fsp.appendFile(f, 'tail\n');
  t.ok((await fsp.readFile(f, 'utf8')).endsWith('line 49\ntail\n'));
  await fsp.truncate(f, 4);
  t.equal(await fsp.readFile(f, 'utf8'), 'line');
  t.equal((await fsp.stat(f)).size, 4);

  const g = await fsp.open(f, 'r+');
  await g.write('durable');
  await g.sync();
  t.equal(Buffer.from(replica.view.readFile('/conf')).toString(), 'durable', 'fsync commits before close');
  const n = replica.log.size;
  await g.close();
  t.equal(replica.log.size, n, 'nothing more to write at close after fsync');

  await fsp.writeFile(join(mnt, 'empty'), '');
  t.equal((await fsp.stat(join(mnt, 'empty'))).size, 0);
  await waitFor(() => replica.view.exists('/empty'), 'the empty file saved at release');

  // A shell's `> file` closes a duplicate descriptor before writing: still one entry, never an
  // empty intermediate version.
  await sh(`printf 'one\\n' > ${join(mnt, 'shell')}`);
  await waitFor(() => replica.view.exists('/shell'), 'the new file committed');
  await sh(`printf 'two\\n' > ${join(mnt, 'shell')}`);
  t.same(replica.view.revisions('/shell').map((r) => r.action), ['WRITE', 'WRITE'], 'one WRITE per redirect');
  t.equal(Buffer.from(replica.view.readFile('/shell')).toString(), 'two\n');
});

t.test('directories, rename, symlink, chmod, link, stat and errno values', async (t) => {
  const { mnt, replica } = await mountFresh(t);
  const p = (s: string) => join(mnt, s);
  await fsp.mkdir(p('etc'));
  await fsp.mkdir(p('etc/app'));
  await fsp.writeFile(p('etc/app/conf'), 'x');
  t.same((await fsp.readdir(p('etc'))).sort(), ['app']);
  t.equal(await errnoOf(fsp.mkdir(p('etc'))), 'EEXIST');
  t.equal(await errnoOf(fsp.rmdir(p('etc'))), 'ENOTEMPTY');
  t.equal(await errnoOf(fsp.unlink(p('nope'))), 'ENOENT');
  t.equal(await errnoOf(fsp.readFile(p('nope'))), 'ENOENT');
  t.equal(await errnoOf(fsp.mkdir(p('nope/x'))), 'ENOENT');
  t.equal(await errnoOf(fsp.writeFile(p('etc/app/conf/x'), 'x')), 'ENOTDIR');
  t.equal(await errnoOf(fsp.rmdir(p('etc/app/conf'))), 'ENOTDIR');
  t.equal(await errnoOf(fsp.unlink(p('etc'))), 'EISDIR');
  t.equal(await errnoOf(fsp.writeFile(p('etc'), 'x')), 'EISDIR');
  t.equal(await errnoOf(fsp.rename(p('etc'), p('etc/app/inside'))), 'EINVAL');
  await fsp.mkdir(p('full'));
  await fsp.writeFile(p('full/f'), 'f');
  t.equal(await errnoOf(fsp.rename(p('etc'), p('full'))), 'ENOTEMPTY');

  await fsp.rename(p('etc/app'), p('etc/app2'));
  t.equal(await fsp.readFile(p('etc/app2/conf'), 'utf8'), 'x');
  t.equal(await errnoOf(fsp.stat(p('etc/app'))), 'ENOENT');
  await fsp.rename(p('etc/app2/conf'), p('moved'));
  t.equal(await fsp.readFile(p('moved'), 'utf8'), 'x');
  await fsp.writeFile(p('other'), 'other');
  await fsp.rename(p('other'), p('moved'));
  t.equal(await fsp.readFile(p('moved'), 'utf8'), 'other', 'rename replaces the destination');

  await fsp.symlink('moved', p('link'));
  t.equal(await fsp.readlink(p('link')), 'moved');
  t.equal(await fsp.readFile(p('link'), 'utf8'), 'other');
  t.ok((await fsp.lstat(p('link'))).isSymbolicLink());
  t.equal(await errnoOf(fsp.readlink(p('moved'))), 'EINVAL');

  await fsp.chmod(p('moved'), 0o600);
  t.equal((await fsp.stat(p('moved'))).mode & 0o7777, 0o600);
  t.equal(replica.view.stat('/moved').mode, 0o600, 'chmod is a MODE entry');
  await fsp.mkdir(p('private'), 0o700);
  t.equal((await fsp.stat(p('private'))).mode & 0o7777, 0o700);
  const st = await fsp.stat(p('moved'));
  t.equal(st.uid, process.getuid?.());
  t.ok(st.isFile());
  t.ok((await fsp.stat(p('etc'))).isDirectory());

  await fsp.link(p('moved'), p('hard'));
  t.equal(await fsp.readFile(p('hard'), 'utf8'), 'other');
  t.equal(await errnoOf(fsp.link(p('etc'), p('dirlink'))), 'EPERM');
  await fsp.chown(p('moved'), st.uid, st.gid);
  t.equal(await errnoOf(fsp.chown(p('moved'), 12345, 12345)), 'EPERM');

  await fsp.rmdir(p('private'));
  await fsp.unlink(p('link'));
  t.same((await fsp.readdir(mnt)).sort(), ['.cluster', 'etc', 'full', 'hard', 'moved']);

  const df = await sh(`stat -f -c '%S %l' ${mnt}`);
  t.match(df.stdout, /^\d+ 255/, 'statfs answers');
  const touched = await sh(`touch -d @1500000000 ${p('moved')} && stat -c %Y ${p('moved')}`);
  t.equal(touched.stdout.trim(), '1500000000', 'touch sets the mtime (an entry every node shows)');
});

t.test('open files: created files show before close; unlink and rename while open', async (t) => {
  const { mnt, replica } = await mountFresh(t);
  const h = await fsp.open(join(mnt, 'new'), 'w');
  await h.write('pending');
  t.ok((await fsp.readdir(mnt)).includes('new'), 'listed before its first commit');
  t.equal((await fsp.stat(join(mnt, 'new'))).size, 7);
  t.notOk(replica.view.exists('/new'), 'not in the log yet');
  await fsp.rename(join(mnt, 'new'), join(mnt, 'renamed'));
  await h.write(' more');
  await h.close();
  t.equal(await fsp.readFile(join(mnt, 'renamed'), 'utf8'), 'pending more', 'writes after a rename land at the new name');
  t.notOk(replica.view.exists('/new'));

  const g = await fsp.open(join(mnt, 'gone'), 'w');
  await g.write('never saved');
  await fsp.unlink(join(mnt, 'gone'));
  await g.write(' still writable');
  await g.close();
  t.notOk(replica.view.exists('/gone'), 'an unlinked open file is not saved');
  t.equal(await errnoOf(fsp.stat(join(mnt, 'gone'))), 'ENOENT');
});

t.test('a directory keeps the mtime it is given; a chmod keeps it too', async (t) => {
  const { mnt, replica } = await mountFresh(t);
  const d = join(mnt, 'etc');
  await fsp.mkdir(d);
  await fsp.writeFile(join(d, 'f'), 'x');
  await fsp.utimes(d, 1_600_000_000, 1_600_000_000);
  t.equal((await fsp.stat(d)).mtimeMs, 1_600_000_000_000);
  const size = replica.log.size;
  await fsp.utimes(d, 1_600_000_000, 1_600_000_000);
  t.equal(replica.log.size, size, 'the same time again writes nothing');
  await fsp.chmod(d, 0o700);
  const st = await fsp.stat(d);
  t.same([st.mode & 0o777, st.mtimeMs], [0o700, 1_600_000_000_000]);
  t.equal(replica.view.stat('/etc').mtime, 1_600_000_000_000, 'in the log');
  t.same(await fsp.readdir(d), ['f'], 'its content untouched');
});

t.test('an open file shows the size and times it will have once saved', async (t) => {
  // No kernel attribute cache, so that every stat below is answered by the mount.
  const { mnt } = await mountFresh(t, { mount: { attrSeconds: 0 } });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  for (const existing of [false, true]) {
    const h = await fsp.open(join(mnt, 'conf'), 'w');
    await h.write(existing ? 'second version' : 'first');
    const before = await h.stat();
    await sleep(30); // the save at close comes later: its entry must still carry these times
    const again = await h.stat();
    await h.close();
    const after = await fsp.stat(join(mnt, 'conf'));
    for (const [what, s] of [['fstat later', again], ['stat after close', after]] as const) {
      t.same([s.size, s.mtimeMs, s.ctimeMs], [before.size, before.mtimeMs, before.ctimeMs], `${existing ? 'rewrite' : 'new file'}: ${what}`);
    }
  }
});

t.test('a mount that cannot start says why in one line (MOUNTPOINT)', async (t) => {
  const { mnt, dir, replica } = await mountFresh(t);
  const refused = async (path: string, why: RegExp) => {
    try {
      await mountReplica(replica, path);
      t.fail(`mounted on ${path}`);
    } catch (e) {
      t.ok(isBasefsError(e, 'MOUNTPOINT'), String(e));
      t.match((e as Error).message, why);
      t.notMatch((e as Error).message, /\n/, 'one line');
    }
  };
  await refused(join(dir, 'missing'), /does not exist: create it/);
  await fsp.writeFile(join(dir, 'file'), 'x');
  await refused(join(dir, 'file'), /not a directory/);
  await fsp.mkdir(join(dir, 'full'));
  await fsp.writeFile(join(dir, 'full', 'x'), 'x');
  await refused(join(dir, 'full'), /not empty/);
  await refused(mnt, /already a mount point: unmount it first/);
});

t.test('a directory removed behind the kernel (another node) lists as ENOENT, not as empty', async (t) => {
  const { mnt, replica } = await mountFresh(t);
  await fsp.mkdir(join(mnt, 'd'));
  await fsp.writeFile(join(mnt, 'd', '.f'), 'x');
  await fsp.rename(join(mnt, 'd', '.f'), join(mnt, 'd', 'f')); // in the log at once
  t.same(await fsp.readdir(join(mnt, 'd')), ['f']);
  // The kernel keeps the name d for entry_timeout; the log loses it now, as when a peer's DELETE arrives.
  (replica.writer as NonNullable<typeof replica.writer>).delete('/d', { recursive: true });
  t.equal(await errnoOf(fsp.readdir(join(mnt, 'd'))), 'ENOENT');
});
