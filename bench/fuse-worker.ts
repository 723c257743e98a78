/**
 * Child process for bench/fuse.ts: opens a replica with the root key, as `basefs mount` opens it
 * (writable; durability as the bench asks, group commit by default), and mounts it with the mount
 * library. The mount lives in its own process because the FUSE operations are served on this
 * event loop: the bench drives cp, rsync and tar from its own process, never file I/O on the
 * mount from this one.
 * No node runs here (no peers to gossip with); what is measured is the mount and the replica.
 */
import type { SyncPolicy } from '../src/core/log-file.ts';
import { Replica } from '../src/core/replica.ts';
import { mountReplica, type Mounted } from '../src/fuse/mount.ts';
import { answerParent } from './real-procs.ts';
import { benchKey } from './sync-log.ts';

export type MountRequest = { cmd: 'mount'; dir: string; mnt: string; sync: SyncPolicy; parkMs?: number } | { cmd: 'stats' } | { cmd: 'stop' };

export type MountReply =
  | { cmd: 'mount'; openMs: number; mountMs: number; entries: number }
  | { cmd: 'stats'; entries: number; rss: number; errors: number; cpuMs: number; calls: Record<string, number> }
  | { cmd: 'stop' };

let replica: Replica | null = null;
let mounted: Mounted | null = null;
/** Unexpected failures inside operations (answered EIO): a correct run has none. */
let errors = 0;

async function handle(req: MountRequest): Promise<MountReply> {
  switch (req.cmd) {
    case 'mount': {
      const t0 = performance.now();
      replica = Replica.open(req.dir, { key: benchKey(1), sync: req.sync });
      const openMs = performance.now() - t0;
      mounted = await mountReplica(replica, req.mnt, {
        ...(req.parkMs === undefined ? {} : { parkMs: req.parkMs }),
        onError: (op, e) => {
          errors++;
          process.stderr.write(`fuse-worker: ${op}: ${String(e)}\n`);
        },
      });
      return { cmd: 'mount', openMs, mountMs: performance.now() - t0 - openMs, entries: replica.log.size };
    }
    case 'stats': {
      // CPU time (user + system) of the mount process: unlike wall time, barely moved by other load.
      const cpu = process.cpuUsage();
      return {
        cmd: 'stats',
        entries: replica?.log.size ?? 0,
        rss: process.memoryUsage().rss,
        errors,
        cpuMs: (cpu.user + cpu.system) / 1000,
        calls: mounted?.calls() ?? {},
      };
    }
    case 'stop':
      await release();
      return { cmd: 'stop' };
  }
}

async function release(): Promise<void> {
  const m = mounted;
  const r = replica;
  mounted = null;
  replica = null;
  await m?.unmount();
  r?.close();
}

// A bench that died without asking (kill -9) must not leave this mount behind.
process.on('disconnect', () => void release().finally(() => process.exit(0)));

answerParent('fuse-worker', handle);
