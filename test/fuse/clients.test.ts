/**
 * Real clients on one mount: git, tar, rsync, an editor's save-by-rename, and a large file read at
 * random offsets. Timings are printed as comments (the figures in the mount's closing note).
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { fuseUnavailable, mountFresh, run, sh } from '../helpers/mount.ts';
import { waitFor } from '../helpers/wait.ts';

const why = await fuseUnavailable();
if (why !== null) t.plan(0, `FUSE unavailable: ${why}`);

const timed = async <T>(t: { comment(s: string): void }, what: string, fn: () => Promise<T>): Promise<T> => {
  const start = performance.now();
  const out = await fn();
  t.comment(`${what}: ${(performance.now() - start).toFixed(0)} ms`);
  return out;
};

/** A deterministic tree: nested directories, small and block-sized files, a symlink, modes. */
async function makeTree(root: string): Promise<void> {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let d = 0; d < 6; d++) {
    const dir = join(root, `dir${d}`, `sub${d % 3}`);
    await fsp.mkdir(dir, { recursive: true });
    for (let f = 0; f < 12; f++) {
      const size = f === 0 ? 150_000 + d : rand() % 3000;
      const bytes = Buffer.alloc(size);
      for (let i = 0; i < size; i++) bytes[i] = rand() & 0xff;
      await fsp.writeFile(join(dir, `file${f}.conf`), bytes);
    }
  }
  await fsp.chmod(join(root, 'dir1/sub1/file3.conf'), 0o600);
  await fsp.symlink('sub0/file1.conf', join(root, 'dir0/link'));
}

t.test('git: init, several commits, log and fsck', async (t) => {
  const { mnt } = await mountFresh(t);
  const repo = join(mnt, 'repo');
  const git = (...args: string[]) => run('git', ['-c', 'user.email=t@example.org', '-c', 'user.name=t', ...args], { cwd: repo });
  await fsp.mkdir(repo);
  await timed(t, 'git init + 5 commits', async () => {
    t.equal((await git('init', '-q')).code, 0);
    for (let i = 1; i <= 5; i++) {
      await fsp.writeFile(join(repo, `file${i}.txt`), `content ${i}\n`.repeat(i * 100));
      await fsp.mkdir(join(repo, `d${i}`));
      await fsp.writeFile(join(repo, `d${i}`, 'nested'), `n${i}`);
      t.equal((await git('add', '-A')).code, 0);
      const c = await git('commit', '-q', '-m', `commit ${i}`);
      t.equal(c.code, 0, c.stderr);
    }
  });
  const log = await git('log', '--oneline');
  t.equal(log.code, 0);
  t.equal(log.stdout.trim().split('\n').length, 5);
  const fsck = await timed(t, 'git fsck', () => git('fsck', '--full', '--strict'));
  t.equal(fsck.code, 0, fsck.stderr);
  const status = await git('status', '--porcelain');
  t.equal(status.stdout, '', 'clean working tree');
});

t.test('tar extraction of a generated tree is byte-for-byte the source (diff -r)', async (t) => {
  const { mnt, dir } = await mountFresh(t);
  const src = join(dir, 'src');
  await makeTree(src);
  t.equal((await run('tar', ['cf', join(dir, 'tree.tar'), '-C', src, '.'])).code, 0);
  await fsp.mkdir(join(mnt, 'x'));
  const x = await timed(t, 'tar x of 72 files (1 MB)', () => run('tar', ['xf', join(dir, 'tree.tar'), '-C', join(mnt, 'x')]));
  t.equal(x.code, 0, x.stderr);
  const diff = await run('diff', ['-r', '--no-dereference', src, join(mnt, 'x')]);
  t.equal(diff.code, 0, diff.stdout + diff.stderr);
  const modes = await sh(`cd ${src} && find . -printf '%p %m %y\\n' | sort > ${dir}/a; cd ${mnt}/x && find . -printf '%p %m %y\\n' | sort > ${dir}/b; diff ${dir}/a ${dir}/b`);
  t.equal(modes.code, 0, 'same modes and types: ' + modes.stdout);
});

t.test('cp -a over an identical tree writes no file again', async (t) => {
  const { mnt, dir, replica, mount } = await mountFresh(t);
  const src = join(dir, 'src');
  await makeTree(src);
  // As for rsync below: fuse-native hands utimens the atime, which a read of the source moves,
  // so the source's times are set again before each copy.
  const copy = async () => {
    await sh(`find ${src} -exec touch -h -d @1600000000 {} +`);
    const r = await run('cp', ['-a', src + '/.', join(mnt, 'c') + '/']);
    await waitFor(() => mount.parked() === 0, 'new files committed');
    return r;
  };
  const first = await copy();
  t.equal(first.code, 0, first.stderr);
  // What each copy added, but for the one symlink, which cp -a removes and makes again (2 entries).
  const added = (since: number) => [...replica.log.entriesInOrder()].slice(since).filter((e) => e.name !== 'link').map((e) => e.name);
  const size = replica.log.size;
  const again = await copy(); // rewrites every file, unchanged
  t.equal(again.code, 0, again.stderr);
  t.same(added(size), [], 'every file was rewritten with the content and mtime it had: no entry');
  const size2 = replica.log.size;
  await sh(`echo changed >> ${src}/dir0/sub0/file0.conf`);
  const third = await copy();
  t.equal(third.code, 0, third.stderr);
  t.same(added(size2), ['file0.conf'], 'one changed file: one entry');
  const diff = await run('diff', ['-r', '--no-dereference', src, join(mnt, 'c')]);
  t.equal(diff.code, 0, diff.stdout);
});

const noRsync = (await run('rsync', ['--version'])).code !== 0 && 'rsync is not installed (apt-get install rsync)';
t.test('rsync -a twice: the second run finds nothing to transfer', { skip: noRsync }, async (t) => {
  const { mnt, dir } = await mountFresh(t);
  const src = join(dir, 'src');
  await makeTree(src);
  // fuse-native 2.2.6 hands the atime to utimens in place of the mtime (see ops/meta.ts), so the
  // source's atimes are made equal to its mtimes, and rsync asked to carry atimes (-U) without
  // touching them while reading (--open-noatime).
  await sh(`find ${src} -exec touch -h -d @1600000000 {} +`);
  const first = await timed(t, 'rsync -a (first run, 72 files)', () => run('rsync', ['-aU', '--open-noatime', '--stats', src + '/', join(mnt, 'r') + '/']));
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /Number of regular files transferred: 72/);
  const second = await timed(t, 'rsync -a (second run)', () => run('rsync', ['-aU', '--open-noatime', '--stats', src + '/', join(mnt, 'r') + '/']));
  t.equal(second.code, 0, second.stderr);
  t.match(second.stdout, /Number of regular files transferred: 0/, second.stdout);
  const diff = await run('diff', ['-r', '--no-dereference', src, join(mnt, 'r')]);
  t.equal(diff.code, 0, diff.stdout);
});

t.test('an editor saves by writing a temp file and renaming it over the original', async (t) => {
  const { mnt, replica } = await mountFresh(t);
  await fsp.writeFile(join(mnt, 'nginx.conf'), 'worker_processes 1;\n');
  await waitFor(() => replica.view.exists('/nginx.conf'), 'the new file committed');
  const before = replica.view.revisions('/nginx.conf').length;
  // What vim (backupcopy=no) and most editors do: write, fsync, rename over.
  const tmp = join(mnt, '.nginx.conf.swp');
  const h = await fsp.open(tmp, 'w', 0o644);
  await h.write('worker_processes 4;\n');
  await h.sync();
  await h.close();
  await fsp.rename(tmp, join(mnt, 'nginx.conf'));
  t.equal(await fsp.readFile(join(mnt, 'nginx.conf'), 'utf8'), 'worker_processes 4;\n');
  t.same((await fsp.readdir(mnt)).sort(), ['.cluster', 'nginx.conf'], 'no temp file left');
  const revs = replica.view.revisions('/nginx.conf');
  t.equal(revs.length, before + 1, 'the save is one more version of the same path');
  t.equal(revs.at(-1)?.action, 'WRITE');
  const viaSed = await run('sed', ['-i', 's/4/8/', join(mnt, 'nginx.conf')]);
  t.equal(viaSed.code, 0, viaSed.stderr);
  t.equal(await fsp.readFile(join(mnt, 'nginx.conf'), 'utf8'), 'worker_processes 8;\n', 'sed -i (temp + rename) works too');
});

t.test('a 3 MiB file: written through the mount, read back whole and at random offsets', async (t) => {
  const { mnt, replica } = await mountFresh(t);
  const data = randomBytes(3 * 1024 * 1024 + 123);
  const f = join(mnt, 'big.bin');
  await timed(t, `write ${data.length} bytes`, () => fsp.writeFile(f, data));
  await waitFor(() => replica.view.exists('/big.bin'), 'the new file committed');
  t.equal(replica.view.stat('/big.bin').size, data.length);
  const whole = await timed(t, 'read it whole', () => fsp.readFile(f));
  t.ok(whole.equals(data), 'same bytes');
  const h = await fsp.open(f, 'r');
  let seed = 99;
  await timed(t, '500 random reads', async () => {
    for (let i = 0; i < 500; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const off = seed % data.length;
      const len = 1 + (seed % 9000);
      const buf = Buffer.alloc(len);
      const { bytesRead } = await h.read(buf, 0, len, off);
      const want = data.subarray(off, off + len);
      if (bytesRead !== want.length || !buf.subarray(0, bytesRead).equals(want)) {
        t.fail(`read at ${off} (+${len}) differs`);
        break;
      }
    }
  });
  await h.close();
  // Overwrite a range in the middle: one new version whose unchanged blocks are shared.
  const g = await fsp.open(f, 'r+');
  await g.write(Buffer.alloc(10, 0xab), 0, 10, 1_000_000);
  await g.close();
  data.fill(0xab, 1_000_000, 1_000_010);
  t.ok((await fsp.readFile(f)).equals(data), 'in-place write seen');
  const cat = await sh(`dd if=${f} of=/dev/null bs=1M 2>&1 | tail -1`);
  t.comment(`dd read: ${cat.stdout.trim()}`);
});
