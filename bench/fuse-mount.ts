/**
 * The bench side of a mount hosted by bench/fuse-worker.ts, and the client commands run against it.
 * Everything that touches the mount runs in a child process or through fs.promises from this
 * process, which does not serve the mount, so a slow operation only makes a client wait.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SyncPolicy } from '../src/core/log-file.ts';
import { isMounted } from '../src/fuse/preflight.ts';
import type { MountReply, MountRequest } from './fuse-worker.ts';
import { ProcWorker } from './real-procs.ts';

/** A client command that takes longer than this is taken as a stuck mount (the run fails, cleanly). */
const COMMAND_TIMEOUT_MS = 20 * 60_000;

export interface Timed {
  ms: number;
  stdout: string;
}

/** Run `script` with bash (pipefail), time it, fail on a non-zero exit. */
export function timedShell(script: string): Promise<Timed> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile('bash', ['-o', 'pipefail', '-c', script], { maxBuffer: 16 << 20, timeout: COMMAND_TIMEOUT_MS }, (e, stdout, stderr) => {
      const ms = performance.now() - t0;
      const said = `${String(stderr).trim()}\n${String(stdout).slice(0, 2000)}`.trim();
      if (e !== null) reject(new Error(`\`${script}\` failed after ${Math.round(ms)} ms: ${said || e.message}`));
      else resolve({ ms, stdout: String(stdout) });
    });
  });
}

/** Quote for bash: the bench's paths are its own temp dirs, but a quote costs nothing. */
export const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export interface MountHandle {
  worker: ProcWorker<MountRequest, MountReply>;
  mnt: string;
  /** Fork until `probe` (a path under the mount) answered stat through FUSE. */
  readyMs: number;
  /** The worker's own figures: opening the replica, then mountReplica. */
  openMs: number;
  mountMs: number;
  entries: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Start a worker that mounts the replica at `dir` on `mnt`, and time it from the fork until a stat
 * of `probe` (relative to the mount) succeeds: before the mount is up the empty mountpoint
 * answers ENOENT, so the first success is the mount answering.
 */
export async function startMount(dir: string, mnt: string, probe: string, sync: SyncPolicy = 'background', parkMs?: number): Promise<MountHandle> {
  const script = fileURLToPath(new URL('./fuse-worker.js', import.meta.url));
  const t0 = performance.now();
  const worker = new ProcWorker<MountRequest, MountReply>(script);
  let exited = false;
  worker.child.once('exit', () => (exited = true));
  const reply = worker.ask({ cmd: 'mount', dir, mnt, sync, ...(parkMs === undefined ? {} : { parkMs }) }) as Promise<Extract<MountReply, { cmd: 'mount' }>>;
  // Awaited only on success; a worker that dies may reject it first, which the loop below reports.
  reply.catch(() => undefined);
  let readyMs = NaN;
  while (!exited && performance.now() - t0 < 60_000) {
    try {
      await fsp.stat(join(mnt, probe));
      readyMs = performance.now() - t0;
      break;
    } catch {
      await sleep(2);
    }
  }
  if (!Number.isFinite(readyMs)) {
    worker.child.kill('SIGKILL');
    throw new Error(`mount of ${dir} on ${mnt} did not answer within 60 s${exited ? ' (worker exited)' : ''}`);
  }
  const r = await reply;
  return { worker, mnt, readyMs, openMs: r.openMs, mountMs: r.mountMs, entries: r.entries };
}

export async function mountStats(m: MountHandle): Promise<Extract<MountReply, { cmd: 'stats' }>> {
  return (await m.worker.ask({ cmd: 'stats' })) as Extract<MountReply, { cmd: 'stats' }>;
}

/** Unmount through the worker (saves open files), then make sure it and the mount are gone. */
export async function stopMount(m: MountHandle): Promise<void> {
  const exited = new Promise<void>((r) => (m.worker.child.exitCode !== null ? r() : m.worker.child.once('exit', () => r())));
  try {
    if (m.worker.child.connected) await Promise.race([m.worker.ask({ cmd: 'stop' }), sleep(30_000)]);
  } finally {
    await Promise.race([exited, sleep(5000)]);
    if (m.worker.child.exitCode === null) m.worker.child.kill('SIGKILL');
    await forceUnmount(m.mnt);
  }
}

/** Last resort on failure: a lazy unmount detaches the mount even when its server is stuck. */
export async function forceUnmount(mnt: string): Promise<void> {
  if (isMounted(mnt)) await timedShell(`fusermount -uz ${q(mnt)}`).catch(() => undefined);
}
