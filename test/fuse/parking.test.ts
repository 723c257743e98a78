/**
 * New files are parked at close (src/fuse/parking.ts): a rename soon after writes the file at its
 * real name only, a temporary file removed meanwhile writes nothing, and a parked file survives the
 * mount process being killed (parked-journal.ts). The mounts here park for seconds, so that what
 * is tested does not depend on how fast this machine runs the steps.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBasefsError } from '../../src/core/errors.ts';
import { Log } from '../../src/core/log.ts';
import { Replica } from '../../src/core/replica.ts';
import { mountReplica, PARKED_JOURNAL, type Mounted } from '../../src/fuse/mount.ts';
import { ParkedJournal } from '../../src/fuse/parked-journal.ts';
import { isMounted } from '../../src/fuse/preflight.ts';
import { key } from '../helpers/fs.ts';
import { cleanupMount, errnoOf, fuseUnavailable, mountFresh, run, testBootstrap } from '../helpers/mount.ts';
import { waitFor } from '../helpers/wait.ts';

const why = await fuseUnavailable();
if (why !== null) t.plan(0, `FUSE unavailable: ${why}`);

const LONG = { mount: { parkMs: 5_000 } };
/** Names of the entries written since the log had `size` entries. */
const namesSince = (replica: Replica, size: number) => [...replica.log.entriesInOrder()].slice(size).map((e) => `${e.name}`);

t.test("rsync's way (temp file, close, times, mode, rename over): one version of the real name", async (t) => {
  const { mnt, replica, mount: m } = await mountFresh(t, LONG);
  const conf = join(mnt, 'conf');
  await fsp.writeFile(join(mnt, '.init'), 'old\n');
  await fsp.rename(join(mnt, '.init'), conf); // a rename writes a parked file at once
  await fsp.chmod(conf, 0o600);
  t.equal(replica.view.stat('/conf').mode, 0o600);
  const size = replica.log.size;

  const tmp = join(mnt, '.conf.Nd6L43');
  const h = await fsp.open(tmp, 'wx', 0o600);
  await h.write('new\n');
  await h.close();
  await fsp.utimes(tmp, 1_600_000_000, 1_600_000_000);
  await fsp.chmod(tmp, 0o644);
  await fsp.rename(tmp, conf);
  t.same(namesSince(replica, size), ['conf', 'conf'], 'a WRITE and a MODE at the real name; nothing under the temporary one');
  const st = await fsp.stat(conf);
  t.equal(st.mode & 0o7777, 0o644, 'the mode it was given');
  t.equal(st.mtime.getTime(), 1_600_000_000_000, 'the time it was given');
  t.equal(await fsp.readFile(conf, 'utf8'), 'new\n');
  t.same((await fsp.readdir(mnt)).sort(), ['.cluster', 'conf']);

  const noRsync = (await run('rsync', ['--version'])).code !== 0;
  if (noRsync) return t.comment('rsync is not installed: the real rsync run is skipped');
  const src = join(mkdtempSync(join(tmpdir(), 'basefs-rsync-')), 'src');
  t.teardown(() => rmSync(join(src, '..'), { recursive: true, force: true }));
  mkdirSync(src);
  for (const n of ['a.conf', 'b.conf', 'c.conf']) writeFileSync(join(src, n), `${n}\n`);
  const rsync = () => run('rsync', ['-aU', '--open-noatime', src + '/', join(mnt, 'r') + '/']);
  t.equal((await rsync()).code, 0);
  t.equal(m.parked(), 0, 'each copied file was renamed into place, so written at once');
  const before = replica.log.size;
  writeFileSync(join(src, 'b.conf'), 'changed\n');
  t.equal((await rsync()).code, 0);
  t.same(namesSince(replica, before), ['b.conf'], 'rsync of one changed file: one entry');
  t.equal(await fsp.readFile(join(mnt, 'r/b.conf'), 'utf8'), 'changed\n');
});

t.test('a temporary file removed while parked writes nothing', async (t) => {
  const { mnt, replica, mount } = await mountFresh(t, LONG);
  const size = replica.log.size;
  await fsp.writeFile(join(mnt, 'scratch'), 'x'.repeat(5000));
  t.equal(mount.parked(), 1);
  await fsp.unlink(join(mnt, 'scratch'));
  t.equal(mount.parked(), 0);
  await mount.unmount();
  t.equal(replica.log.size, size, 'not one entry');
});

t.test('a parked file counts in its directory; changes after its close are kept', async (t) => {
  const { mnt, replica, mount } = await mountFresh(t, LONG);
  const p = (s: string) => join(mnt, s);
  await fsp.mkdir(p('d'));
  await fsp.mkdir(p('e'));
  await fsp.writeFile(p('d/f'), 'f');
  t.equal(await errnoOf(fsp.rmdir(p('d'))), 'ENOTEMPTY');
  t.equal(await errnoOf(fsp.rename(p('e'), p('d'))), 'ENOTEMPTY', 'a rename onto it fails too');
  await fsp.rename(p('d'), p('d2'));
  t.equal(await fsp.readFile(p('d2/f'), 'utf8'), 'f', 'a directory moves with its parked files');
  t.equal(Buffer.from(replica.view.readFile('/d2/f')).toString(), 'f');

  await fsp.writeFile(p('g'), 'a longer first version');
  await fsp.truncate(p('g'), 8);
  await fsp.chmod(p('g'), 0o640);
  await fsp.utimes(p('g'), 1_500_000_000, 1_500_000_000);
  const size = replica.log.size;
  await mount.unmount();
  t.same(namesSince(replica, size), ['g', 'g'], 'one WRITE and one MODE, whatever was changed while parked');
  const st = replica.view.stat('/g');
  t.same([Buffer.from(replica.view.readFile('/g')).toString(), st.mode, st.mtime], ['a longer', 0o640, 1_500_000_000_000]);
});

t.test('a new file is committed parkMs after its last change', async (t) => {
  const { mnt, replica, mount } = await mountFresh(t, { mount: { parkMs: 50 } });
  await fsp.writeFile(join(mnt, 'n'), 'n');
  await waitFor(() => replica.view.exists('/n'), 'the parked file in the log');
  t.equal(mount.parked(), 0);
  t.equal(replica.view.revisions('/n').length, 1);
});

const loader = process.execArgv.filter((a) => /@tapjs[\\/]typescript/.test(a));
const CHILD = fileURLToPath(new URL('../helpers/mount-child.ts', import.meta.url));

t.test('kill -9 with files parked: the next mount commits them as they were closed', { skip: loader.length === 0 && 'not run under tap' }, async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'basefs-park-'));
  const dir = join(home, 'fs');
  const mnt = join(home, 'mnt');
  mkdirSync(mnt);
  Replica.create(dir, testBootstrap()).close();
  const child = spawn(process.execPath, [...loader, CHILD, dir, mnt, '60000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  // One teardown, in order: the mount this process serves goes before anything else is removed.
  let replica: Replica | null = null;
  let mounted: Mounted | null = null;
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await cleanupMount(mounted, mnt);
    replica?.close();
    if (isMounted(mnt)) await run('fusermount', ['-uz', mnt]);
    if (!isMounted(mnt)) rmSync(home, { recursive: true, force: true });
  });
  await waitFor(() => out.includes('mounted') || child.exitCode !== null, 'the child mount', 60_000);
  t.ok(out.includes('mounted'), 'the child mounted');
  const p = (s: string) => join(mnt, s);

  await fsp.writeFile(p('a'), 'alpha');
  await fsp.chmod(p('a'), 0o600);
  await fsp.utimes(p('a'), 1_600_000_000, 1_600_000_000);
  const b = await fsp.open(p('b'), 'w');
  await b.write('beta');
  await b.sync();
  await b.close();
  await fsp.writeFile(p('c'), 'removed while parked');
  await fsp.unlink(p('c'));
  await fsp.writeFile(p('.e.tmp'), 'epsilon');
  await fsp.rename(p('.e.tmp'), p('e'));
  const synced = async (name: string, text: string) => {
    const h = await fsp.open(p(name), 'w');
    await h.write(text);
    await h.sync();
    await h.close();
  };
  await synced('s', 'v1'); // fsynced, then replaced by a rename: v2 must stay
  await synced('.s.tmp', 'v2');
  await fsp.rename(p('.s.tmp'), p('s'));
  await synced('.t.tmp', 'tau'); // fsynced under a temporary name, then renamed into place
  await fsp.rename(p('.t.tmp'), p('t'));
  await synced('r', 'removed after its fsync');
  await fsp.unlink(p('r'));
  await fsp.writeFile(p('o'), 'closed');
  const reopened = await fsp.open(p('o'), 'a'); // opened again and written, not closed when killed
  await reopened.write(' and more');
  await fsp.chmod(p('o'), 0o600);
  child.kill('SIGKILL');
  await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  await run('fusermount', ['-uz', mnt]);

  replica = Replica.open(dir, { key: key(1), sync: 'background' });
  await reopened.close().catch(() => undefined);
  t.same(['/a', '/b', '/c', '/e'].map((f) => replica.view.exists(f)), [false, false, false, true], 'a and b were parked, e renamed (written)');
  mounted = await mountReplica(replica, mnt, { onError: (op, e) => t.fail(`${op}: ${String(e)}`) });
  t.equal(await fsp.readFile(p('a'), 'utf8'), 'alpha');
  const st = replica.view.stat('/a');
  t.same([st.mode, st.mtime], [0o600, 1_600_000_000_000], 'with the mode and time set after its close');
  t.equal(Buffer.from(replica.view.readFile('/b')).toString(), 'beta', 'the fsynced one');
  t.equal(await errnoOf(fsp.stat(p('c'))), 'ENOENT', 'the removed one stays removed');
  t.equal(await fsp.readFile(p('e'), 'utf8'), 'epsilon');
  t.equal(await fsp.readFile(p('s'), 'utf8'), 'v2', 'an fsynced file replaced by a rename stays replaced');
  t.equal(await fsp.readFile(p('t'), 'utf8'), 'tau');
  t.same((await fsp.readdir(mnt)).sort(), ['.cluster', 'a', 'b', 'e', 'o', 's', 't'], 'no temporary name comes back, nor the removed file');
  t.equal(await fsp.readFile(p('o'), 'utf8'), 'closed', 'a file being rewritten: the content last closed');
  t.equal(replica.view.stat('/o').mode, 0o600, 'with the chmod answered meanwhile');
  t.equal(statSync(join(dir, PARKED_JOURNAL)).size, 16, 'the journal is empty again');
  const results = new Log(null).ingestMany([...replica.log.entriesInOrder()].map((e) => e.bytes));
  t.equal(results.filter((r) => r.status !== 'accepted').length, 0, 'the log verifies');
});

t.test('a record that outlived its commit is not written again over a later version', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'basefs-park-'));
  const dir = join(home, 'fs');
  const mnt = join(home, 'mnt');
  mkdirSync(mnt);
  const replica = Replica.create(dir, testBootstrap(), { key: key(1), sync: 'background' });
  let mounted: Mounted | null = null;
  t.teardown(async () => {
    await cleanupMount(mounted, mnt);
    replica.close();
    if (!isMounted(mnt)) rmSync(home, { recursive: true, force: true });
  });
  const w = replica.writer as NonNullable<Replica['writer']>;
  const v1 = w.writeFile('/x', new TextEncoder().encode('v1'), { mtime: 1_600_000_000_000 });
  w.writeFile('/x', new TextEncoder().encode('v2 from later'), { mtime: 1_600_000_100_000 });
  const { journal } = ParkedJournal.open(join(dir, PARKED_JOURNAL));
  journal.put(journal.newId(), { path: '/x', mode: 0o644, mtime: 1_600_000_000_000, manifest: v1.content });
  journal.put(journal.newId(), { path: '/y', mode: 0o600, mtime: 1_600_000_000_000, manifest: Uint8Array.of(0, 0x79) });
  w.writeFile('/z', new TextEncoder().encode('made by another node'));
  journal.put(journal.newId(), { path: '/z', mode: 0o644, mtime: 1_600_000_000_000, manifest: Uint8Array.of(0, 0x7a) });
  // fsynced, committed under the name it was renamed to, killed before the record was dropped.
  const renamed = w.writeFile('/renamed', new TextEncoder().encode('r'), { mtime: 1_600_000_000_000 });
  const tmpId = journal.newId();
  journal.put(tmpId, { path: '/.renamed.tmp', mode: 0o644, mtime: 1_600_000_000_000, manifest: renamed.content });
  journal.done(tmpId, renamed.hash);
  // fsynced and committed, but the power failure took the entry: the record brings the file back.
  const lostId = journal.newId();
  journal.put(lostId, { path: '/lost', mode: 0o644, mtime: 1_600_000_000_000, manifest: Uint8Array.of(0, 0x6c) });
  journal.done(lostId, new Uint8Array(32).fill(9));
  // An empty file like another one, with the same time: still this one's own record.
  w.writeFile('/empty1', new Uint8Array(0), { mtime: 1_600_000_000_000 });
  journal.put(journal.newId(), { path: '/empty2', mode: 0o644, mtime: 1_600_000_000_000, manifest: Uint8Array.of(0) });
  journal.close();
  const reported: string[] = [];
  mounted = await mountReplica(replica, mnt, { onError: (op, e) => reported.push(`${op}: ${isBasefsError(e) ? e.code : String(e)}`) });
  t.equal(await fsp.readFile(join(mnt, 'x'), 'utf8'), 'v2 from later', 'the committed record is skipped');
  t.equal(await fsp.readFile(join(mnt, 'y'), 'utf8'), 'y', 'the other one is recovered');
  t.equal(replica.view.stat('/y').mode, 0o600);
  t.equal(await fsp.readFile(join(mnt, 'z'), 'utf8'), 'made by another node', 'a path made since is not written over');
  t.same(reported, ['recover parked /z: EXISTS'], 'and that is reported');
  t.equal(await errnoOf(fsp.stat(join(mnt, '.renamed.tmp'))), 'ENOENT', 'a record whose entry survived under another name is skipped');
  t.equal(await fsp.readFile(join(mnt, 'lost'), 'utf8'), 'l', 'a record whose entry was lost is recovered');
  t.ok(replica.view.exists('/empty2'), 'the same content and time at another path is not taken for this file');
});

t.test("names like libfuse's for unlinked open files: only its exact form is taken as one", async (t) => {
  const { mnt, replica, mount } = await mountFresh(t, LONG);
  await fsp.writeFile(join(mnt, 'f'), 'kept');
  await fsp.rename(join(mnt, 'f'), join(mnt, '.fuse_hidden1'));
  t.equal(await fsp.readFile(join(mnt, '.fuse_hidden1'), 'utf8'), 'kept');
  // What libfuse does when a file still open is unlinked: rename it to .fuse_hidden + 16 hex digits
  // (unlinked when its last descriptor closes). A parked file is gone with it: nothing is written.
  await fsp.writeFile(join(mnt, 'g'), 'removed');
  await fsp.rename(join(mnt, 'g'), join(mnt, '.fuse_hidden0000000100000002'));
  t.equal(await errnoOf(fsp.stat(join(mnt, '.fuse_hidden0000000100000002'))), 'ENOENT', 'not left behind (no descriptor holds it)');
  await mount.unmount();
  t.equal(Buffer.from(replica.view.readFile('/.fuse_hidden1')).toString(), 'kept');
  t.notOk(replica.view.exists('/g') || replica.view.exists('/.fuse_hidden0000000100000002'));
});
