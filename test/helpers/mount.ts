/**
 * Real FUSE mounts for tests: a replica in a temp dir mounted on a temp directory, unmounted and
 * removed at teardown (even when the test fails, so no stale mount is left). Clients run as child
 * processes or through fs.promises: a synchronous fs call on the mount from this process would
 * block the event loop that serves the mount.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBasefsError } from '../../src/core/errors.ts';
import type { KeyPair } from '../../src/core/keys.ts';
import { bootstrapEntries, Replica } from '../../src/core/replica.ts';
import { mountReplica, type Mounted, type MountOptions } from '../../src/fuse/mount.ts';
import { checkDevice, isMounted, loadFuse } from '../../src/fuse/preflight.ts';
import { Log } from '../../src/core/log.ts';
import { View } from '../../src/core/view.ts';
import { Writer } from '../../src/core/writer.ts';
import { key, MemoryBlocks } from './fs.ts';

const WATCHDOG_MS = Number(process.env.BASEFS_MOUNT_WATCHDOG_MS ?? 240_000);

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Why FUSE cannot be used here, or null when it can (tests skip with this reason). */
export async function fuseUnavailable(): Promise<string | null> {
  try {
    checkDevice();
    await loadFuse();
    return null;
  } catch (e) {
    if (isBasefsError(e, 'FUSE_UNAVAILABLE')) return e.message;
    throw e;
  }
}

export interface MountedReplica {
  replica: Replica;
  mount: Mounted;
  mnt: string;
  dir: string;
}

/** Bootstrap entries shared by every replica of one test filesystem (root key(1)). */
export function testBootstrap(seeds: string[] = ['127.0.0.51:7946']): Uint8Array[] {
  return bootstrapEntries('mnt', [key(1)], seeds, 1_700_000_000_000).map((e) => e.bytes);
}

/** Unmount (if still mounted) and remove a temp dir; never throws (teardown must finish). */
/**
 * Another replica of the test filesystem, in memory, writing as `k` (default the root key): the
 * other node whose entries a test hands to a mounted replica (what the node's sync does).
 */
export function peerReplica(k: KeyPair = key(1)) {
  const log = new Log(null);
  for (const b of testBootstrap()) log.ingest(b);
  const blocks = new MemoryBlocks();
  const view = new View(log, blocks);
  let clock = 1_700_000_000_000;
  return { log, blocks, view, writer: new Writer({ log, view, key: k, blocks, now: () => ++clock }) };
}

export async function cleanupMount(m: Mounted | null, mnt: string): Promise<void> {
  try {
    await m?.unmount();
  } catch {
    // fall through to the forced unmount
  }
  if (isMounted(mnt)) await run('fusermount', ['-uz', mnt]);
}

/** A fresh replica (writer `writerKey`, default the root key; null: no key) mounted in a temp dir. */
export async function mountFresh(
  t: Teardown,
  opts: { writerKey?: KeyPair | null; entries?: Uint8Array[]; mount?: MountOptions } = {},
): Promise<MountedReplica> {
  const dir = mkdtempSync(join(tmpdir(), 'basefs-fuse-'));
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  const writerKey = opts.writerKey === undefined ? key(1) : opts.writerKey;
  const replica = Replica.create(join(dir, 'fs'), opts.entries ?? testBootstrap(), { key: writerKey, sync: 'background' }); // as `basefs mount` opens it
  let mount: Mounted | null = null;
  // A stuck mount would hang every process that touches it (even ps): abort it after a deadline.
  const watchdog = setTimeout(() => {
    process.stderr.write(`mount ${mnt} still up after ${WATCHDOG_MS} ms: aborting it\n`);
    void abortMount(mnt);
  }, WATCHDOG_MS);
  watchdog.unref();
  t.teardown(async () => {
    clearTimeout(watchdog);
    await cleanupMount(mount, mnt);
    replica.close();
    if (!isMounted(mnt) && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  });
  mount = await mountReplica(replica, mnt, { onError: (op, e) => process.stderr.write(`mount ${op}: ${String(e)}\n`), ...opts.mount });
  return { replica, mount, mnt, dir };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run a program; resolves with its exit status. A cwd is entered by the child's shell, never by
 * spawn: libuv's spawn blocks this event loop until the child has changed directory, and a cwd on
 * a mount this process serves would then wait for itself.
 */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<RunResult> {
  if (opts.cwd !== undefined) {
    const { cwd, ...rest } = opts;
    return run('sh', ['-c', 'cd "$0" && exec "$@"', cwd, cmd, ...args], rest);
  }
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { env: opts.env ?? process.env, maxBuffer: 64 * 1024 * 1024 }, (e, stdout, stderr) => {
      const code = e === null ? 0 : typeof (e as { code?: unknown }).code === 'number' ? ((e as { code: number }).code) : 1;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** A shell command line (bash -c), for pipelines; cwd defaults to the process's. */
export function sh(script: string, cwd?: string): Promise<RunResult> {
  return run('bash', ['-c', script], cwd === undefined ? {} : { cwd });
}

/**
 * Abort a FUSE connection (fusectl): every waiting request fails at once. The last resort when a
 * mount's server is stuck, so a failing test cannot leave processes hanging on the mount.
 */
export async function abortMount(mnt: string): Promise<void> {
  const { readFileSync, writeFileSync, existsSync: exists } = await import('node:fs');
  const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === mnt);
  const minor = line?.split(' ')[2]?.split(':')[1];
  if (minor === undefined) return;
  if (!exists('/sys/fs/fuse/connections/' + minor)) await run('mount', ['-t', 'fusectl', 'none', '/sys/fs/fuse/connections']);
  try {
    writeFileSync(`/sys/fs/fuse/connections/${minor}/abort`, '1');
  } catch {
    // already gone
  }
  await run('fusermount', ['-uz', mnt]);
}

/** The errno code a promise fails with ('ok' when it succeeds), for errno assertions. */
export async function errnoOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
}
