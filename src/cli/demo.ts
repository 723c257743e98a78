/**
 * `npm run demo`: a three-node BaseFS group on this machine, run with the real `basefs` executable.
 *
 * Three throwaway BASEFS_HOMEs stand for three machines; the nodes bind 127.0.0.11..13. Node 1
 * bootstraps the filesystem and mounts it; nodes 2 and 3 fetch it (`get`, verified) and mount it
 * too. A file written into node 1's mount appears in the others' mounts, a bigger one follows, a
 * node without a key cannot write, and every node ends with the same root hash. Where FUSE is not
 * available (no /dev/fuse, libfuse2 or fusermount), the nodes run without a mount (`basefs run`),
 * the demo says why, writes through node 1's control socket instead, and reads with `basefs show`.
 * Every step checks its outcome (exit 1 otherwise); the nodes are stopped and the temporary
 * directories removed in every case.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { isBasefsError } from '../core/errors.ts';
import { fsDir } from '../core/home.ts';
import { readKeyFile } from '../core/keys.ts';
import { checkDevice, loadFuse } from '../fuse/preflight.ts';
import { askNode, socketPath } from './control.ts';
import { writeViaNode } from './node-write.ts';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), 'main.js');
const PORT = 17011;
const IPS = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];
const top = mkdtempSync(join(tmpdir(), 'basefs-demo-'));
const homes = IPS.map((_, i) => join(top, `node${i + 1}`));
const mounts = IPS.map((_, i) => join(top, `mnt${i + 1}`));
let mounted = false;
let step = 0;

const shown = (s: string) => s.split(top).join('$DEMO');

function say(s = ''): void {
  process.stdout.write(s + '\n');
}

function heading(title: string): void {
  say(`\n== ${++step}. ${title}`);
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`demo check failed: ${what}`);
}

/** `basefs ...args` on node `n` (its own BASEFS_HOME), printed with its output. */
function basefs(n: number, args: string[], expectExit = 0, quiet = false): string {
  say(`node${n + 1}$ basefs ${shown(args.join(' '))}`);
  const env = { ...process.env, BASEFS_HOME: homes[n], HOME: homes[n], NO_COLOR: '1' };
  const r = spawnSync(process.execPath, [MAIN, ...args], { env, encoding: 'utf8' });
  const out = (r.stdout ?? '') + (r.stderr ?? '');
  if (!quiet) for (const line of out.replace(/\n$/, '').split('\n')) if (line !== '') say('    ' + shown(line));
  if (r.status !== expectExit) throw new Error(`'basefs ${args.join(' ')}' on node${n + 1} exited with ${r.status}, expected ${expectExit}: ${out.trim()}`);
  return r.stdout ?? '';
}

async function waitFor<T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function status(n: number): Promise<{ root: string; alive: number }> {
  return (await askNode(socketPath(fsDir(homes[n] as string, 'demo')), { cmd: 'status' })) as unknown as { root: string; alive: number };
}

/** Why a mount is impossible here, or null when it can be tried. */
async function fuseProblem(): Promise<string | null> {
  try {
    checkDevice();
    await loadFuse();
    return null;
  } catch (e) {
    return isBasefsError(e) ? e.message : String(e);
  }
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  say('BaseFS demo: three nodes on 127.0.0.11..13, each with its own BASEFS_HOME under $DEMO.');
  for (const d of [...homes, ...mounts]) mkdirSync(d, { recursive: true });
  // BASEFS_DEMO_NO_MOUNT=1 shows the fallback on a machine that could mount.
  const problem = process.env['BASEFS_DEMO_NO_MOUNT'] === '1' ? 'BASEFS_DEMO_NO_MOUNT=1' : await fuseProblem();
  mounted = problem === null;
  if (!mounted) say(`FUSE is not available here (${problem}); the nodes run without a mount.`);

  heading('Node 1 makes a key and bootstraps the filesystem "demo" with the three seeds');
  basefs(0, ['genkey']);
  basefs(0, ['bootstrap', 'demo', '-i', IPS.map((ip) => `${ip}:${PORT}`).join(','), '-p', String(PORT)]);

  const start = (n: number) =>
    mounted
      ? basefs(n, ['mount', 'demo', mounts[n] as string, '-b', `${IPS[n]}:${PORT}`, '-H', `node${n + 1}`, '--profile', 'local'])
      : basefs(n, ['run', 'demo', '-b', `${IPS[n]}:${PORT}`, '-H', `node${n + 1}`, '--profile', 'local']);
  heading(mounted ? 'Node 1 mounts it (the node goes to the background once mounted)' : 'Node 1 runs its node');
  start(0);

  heading('Nodes 2 and 3 fetch the filesystem from node 1, verifying every entry, and start too');
  for (const n of [1, 2]) {
    basefs(n, ['get', 'demo', `${IPS[0]}:${PORT}`]);
    start(n);
  }
  for (let i = 0; i < 300; i++) {
    const all = await Promise.all([0, 1, 2].map(status));
    if (all.every((s) => s.alive === 3)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  basefs(0, ['members', 'demo']);

  heading('Node 1 writes a configuration file; it arrives on nodes 2 and 3');
  const conf = 'listen 8080\nworkers 4\n';
  const t0 = performance.now();
  if (mounted) {
    say(`node1$ mkdir $DEMO/mnt1/etc && echo ... > $DEMO/mnt1/etc/app.conf`);
    mkdirSync(join(mounts[0] as string, 'etc'));
    writeFileSync(join(mounts[0] as string, 'etc', 'app.conf'), conf);
    for (const n of [1, 2]) {
      await waitFor(`app.conf on node${n + 1}`, () => (readOr(join(mounts[n] as string, 'etc', 'app.conf')) === conf ? true : undefined));
      say(`    node${n + 1} reads $DEMO/mnt${n + 1}/etc/app.conf after ${Math.round(performance.now() - t0)} ms: ${JSON.stringify(readOr(join(mounts[n] as string, 'etc', 'app.conf')))}`);
    }
  } else {
    say('[node 1, through its control socket] mkdir /etc; write /etc/app.conf');
    const key = readKeyFile(join(homes[0] as string, 'id_ed25519'));
    await writeViaNode(homes[0] as string, 'demo', key, (w) => {
      w.mkdir('/etc');
      w.writeFile('/etc/app.conf', new TextEncoder().encode(conf));
    });
    const root1 = (await status(0)).root;
    for (const n of [1, 2]) {
      await waitFor(`node${n + 1} to receive the write`, async () => ((await status(n)).root === root1 ? true : undefined));
      say(`    node${n + 1} has it after ${Math.round(performance.now() - t0)} ms`);
    }
    basefs(2, ['show', 'demo:/etc']);
  }

  if (mounted) {
    heading('A bigger file (its blocks are fetched by hash and verified) and a node without a key');
    const big = Buffer.alloc(300_000, 'basefs ');
    writeFileSync(join(mounts[0] as string, 'etc', 'big.bin'), big);
    await waitFor('big.bin on node3', () => {
      try {
        return readFileSync(join(mounts[2] as string, 'etc', 'big.bin')).equals(big) ? true : undefined;
      } catch {
        return undefined;
      }
    });
    say(`    node3 reads the same ${big.length} bytes after ${Math.round(performance.now() - t0)} ms`);
    basefs(2, ['blocks', 'demo']);
    say(`node3$ echo x > $DEMO/mnt3/etc/app.conf     (node 3 has no key)`);
    let refused = '';
    try {
      writeFileSync(join(mounts[2] as string, 'etc', 'app.conf'), 'x\n');
    } catch (e) {
      refused = (e as NodeJS.ErrnoException).code ?? String(e);
    }
    check(refused === 'EROFS', `a node without a key cannot write (got ${refused || 'success'})`);
    say(`    refused: ${refused} (read-only: this node has no key)`);
  }

  heading('Every node ends with the same log root hash');
  const roots = await Promise.all([0, 1, 2].map(async (n) => (await status(n)).root));
  for (const [n, r] of roots.entries()) say(`    node${n + 1}: ${r.slice(0, 16)}`);
  check(roots.every((r) => r === roots[0]), 'identical roots');

  heading('Stop the nodes (they leave the group; mounts are unmounted)');
  for (const n of [2, 1, 0]) basefs(n, ['serf', 'demo', 'leave']);
  say('\nDemo finished: every step behaved as expected.');
}

/** Whatever happened: stop nodes still running and unmount, then remove the temporary tree. */
function cleanup(): void {
  for (const h of homes) {
    spawnSync(process.execPath, [MAIN, 'serf', 'demo', 'leave'], { env: { ...process.env, BASEFS_HOME: h, HOME: h }, encoding: 'utf8', timeout: 20_000 });
  }
  if (mounted) for (const m of mounts) spawnSync('fusermount', ['-uz', m], { stdio: 'ignore' });
  rmSync(top, { recursive: true, force: true });
}

let code = 0;
try {
  await main();
} catch (e) {
  process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
  code = 1;
} finally {
  cleanup();
}
process.exitCode = code;
