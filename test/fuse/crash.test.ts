/**
 * Crash: `basefs mount` as a real process, killed with SIGKILL in the middle of a stream of file
 * writes. After a restart and remount, every file whose close() had returned is there with its
 * content, and every entry of the log verifies again from scratch.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Log } from '../../src/core/log.ts';
import { Replica } from '../../src/core/replica.ts';
import { isMounted } from '../../src/fuse/preflight.ts';
import { abortMount, fuseUnavailable, run } from '../helpers/mount.ts';
import { waitFor } from '../helpers/wait.ts';

const why = await fuseUnavailable();
const loader = process.execArgv.filter((a) => /@tapjs[\\/]typescript/.test(a));
const skip = why ?? (loader.length === 0 ? 'not run under tap (no TypeScript loader)' : false);
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

t.test('kill -9 a mounted node during writes: every closed file survives, the log verifies', { skip }, async (t) => {
  // A short path: the node's control socket lives in it (unix socket paths are short).
  const home = mkdtempSync(join(tmpdir(), 'basefs-crash-'));
  const mnt = join(home, 'mnt');
  mkdirSync(mnt);
  const env = { PATH: process.env['PATH'], HOME: home, BASEFS_HOME: home, TS_NODE_TRANSPILE_ONLY: '1' };
  const basefs = (...args: string[]) => run(process.execPath, [...loader, MAIN, ...args], { env });
  t.equal((await basefs('genkey')).code, 0);
  t.equal((await basefs('bootstrap', 'crash', '-i', '127.0.0.54')).code, 0);

  const children: ChildProcess[] = [];
  t.teardown(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    if (isMounted(mnt)) await abortMount(mnt);
    if (!isMounted(mnt)) rmSync(home, { recursive: true, force: true });
  });
  const mount = async () => {
    const child = spawn(process.execPath, [...loader, MAIN, 'mount', 'crash', mnt, '-f', '-b', '127.0.0.54', '--profile', 'local'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let log = '';
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    await waitFor(() => /mounted mountpoint/.test(log) || child.exitCode !== null, 'the mount', 60_000);
    if (!/mounted mountpoint/.test(log)) throw new Error(`basefs mount failed: ${log}`);
    return child;
  };

  const first = await mount();
  const acks = join(home, 'acks');
  // Each number is recorded only after close(2) of the file returned success. dd checks it; a
  // shell's `> file` does not (the close that restores stdout ignores an error, so a write whose
  // flush failed as the mount died would count as acknowledged).
  const writer = spawn('bash', ['-c', `i=0; while true; do i=$((i+1)); printf 'content %d\\n' $i | dd of=${mnt}/f$i status=none 2>/dev/null || exit 0; echo $i >> ${acks}; done`], { stdio: 'ignore' });
  children.push(writer);
  const acked = () => {
    try {
      return readFileSync(acks, 'utf8').split('\n').filter((l) => l !== '').map(Number);
    } catch {
      return [];
    }
  };
  await waitFor(() => acked().length >= 40, '40 acknowledged writes', 60_000);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  await new Promise((r) => (writer.exitCode !== null ? r(null) : writer.once('exit', r)));
  const done = acked();
  t.comment(`killed after ${done.length} acknowledged writes`);
  await run('fusermount', ['-uz', mnt]);

  const second = await mount();
  const wrong: string[] = [];
  for (const i of done) {
    const text = await fsp.readFile(join(mnt, `f${i}`), 'utf8').catch((e: NodeJS.ErrnoException) => e.code ?? String(e));
    if (text !== `content ${i}\n`) wrong.push(`f${i}: ${JSON.stringify(text)}`);
  }
  t.same(wrong, [], `all ${done.length} acknowledged files are there, with their content (last acknowledged: f${done.at(-1)})`);
  second.kill('SIGTERM');
  await new Promise((r) => (second.exitCode !== null ? r(null) : second.once('exit', r)));
  t.notOk(isMounted(mnt), 'SIGTERM unmounted');

  // In the background (the default), then `basefs unmount NAME`: the node stops with the mount.
  const bg = await basefs('mount', 'crash', mnt, '-b', '127.0.0.54', '--profile', 'local');
  t.equal(bg.code, 0, bg.stderr);
  t.ok(isMounted(mnt), 'mounted once the command returned');
  t.equal(await fsp.readFile(join(mnt, `f${done[0]}`), 'utf8'), `content ${done[0]}\n`);
  const um = await basefs('unmount', 'crash');
  t.equal(um.code, 0, um.stderr);
  t.notOk(isMounted(mnt));
  await waitFor(() => !existsSync(join(home, 'fs', 'crash', 'node.sock')), 'the node to stop after the unmount', 30_000);

  const replica = Replica.open(join(home, 'fs', 'crash'), { writable: false });
  const bytes = [...replica.log.entriesInOrder()].map((e) => e.bytes);
  replica.close();
  const results = new Log(null).ingestMany(bytes);
  t.equal(results.filter((r) => r.status !== 'accepted').length, 0, `all ${bytes.length} entries verify again`);
});
