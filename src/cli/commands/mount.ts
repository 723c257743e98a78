/**
 * `basefs mount NAME MOUNTPOINT` runs a node (the same options as `run`, from NodeHostCommand) and
 * mounts its replica over FUSE; SIGINT/SIGTERM unmount, leave the group and exit, and an unmount
 * done from outside (`basefs unmount`, fusermount -u) stops the node too. While mounted, the
 * mountpoint is recorded in $BASEFS_HOME/fs/NAME/mountpoint, which is how `basefs unmount NAME`
 * finds it.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, Option } from 'clipanion';
import { err } from '../../core/errors.ts';
import { checkFsName, fsDir } from '../../core/home.ts';
import { Replica } from '../../core/replica.ts';
import type { SyncPolicy } from '../../core/log-file.ts';
import { mountReplica } from '../../fuse/mount.ts';
import { checkDevice, checkMountpoint, isMounted } from '../../fuse/preflight.ts';
import { BasefsCommand } from '../base.ts';
import { NodeHostCommand } from '../node-host.ts';

const MOUNTPOINT_FILE = 'mountpoint';

export class MountCommand extends NodeHostCommand {
  static override paths = [['mount']];
  static override usage = Command.Usage({
    category: 'Node',
    description: 'run a node and mount the filesystem over FUSE',
    details: `Runs a node of filesystem NAME, as \`basefs run\` does (same options; in the background unless -f), and mounts the filesystem on MOUNTPOINT, an existing empty directory. Files read there come from the log and the block store; a file written there becomes one signed entry when it is closed or fsynced (a new file 25 ms later, or at once when renamed, so that a save through a temporary name is one entry), checked against the key's authority first: no authority is EACCES, no key at all makes the mount read-only (EROFS). Changes from other nodes show without remounting, within about a second (the kernel keeps names and attributes that long; a file read meanwhile is the previous version, whole).

SIGINT or SIGTERM unmounts, leaves the group and exits; \`basefs unmount NAME\` (or fusermount -u MOUNTPOINT) unmounts, and the node then stops too. Needs Linux with /dev/fuse, libfuse2 and fusermount (apt-get install libfuse2 fuse).`,
    examples: [
      ['Mount on ~/myfs, joining a peer', '$0 mount myfs ~/myfs -b 127.0.0.2 -j 127.0.0.1'],
      ['In the foreground', '$0 mount myfs /mnt/myfs -f'],
    ],
  });

  mountpoint = Option.String({ name: 'MOUNTPOINT' });
  allowOther = Option.Boolean('--allow-other', false, { description: 'let other users use the mount (needs user_allow_other in /etc/fuse.conf unless root)' });

  protected override extraPositionals(): string[] {
    return [resolve(this.mountpoint)];
  }

  protected override extraOptions(): string[] {
    return this.allowOther ? ['--allow-other'] : [];
  }

  /**
   * Group commit: a file saved on close() is written to the OS before close() returns (it survives
   * the process being killed) and on disk a few milliseconds later; fsync(2) waits for the disk, as
   * on any POSIX file system. Per-entry fsyncs made the bench's initial copy into the mount 1.2x
   * slower (2.12 s against 1.78 s, bench/results/fuse-quick-sync-always.txt).
   */
  protected override syncPolicy(): SyncPolicy {
    return 'background';
  }

  protected override preflight(): void {
    checkDevice();
    checkMountpoint(this.mountpoint);
  }

  async run(): Promise<number> {
    const mnt = resolve(this.mountpoint);
    const record = join(this.fsDirOf(this.name), MOUNTPOINT_FILE);
    const code = await this.hostNode(async ({ replica, log }) => {
      const mounted = await mountReplica(replica, mnt, {
        allowOther: this.allowOther,
        onError: (op, e) => log('fuse-error', { op, error: String((e as Error)?.message ?? e) }),
      });
      writeFileSync(record, mnt + '\n');
      log('mounted', { mountpoint: mnt });
      const forget = () => rmSync(record, { force: true });
      void mounted.ended.then(forget);
      return {
        close: async () => {
          await mounted.unmount();
          forget();
          log('unmounted', { mountpoint: mnt });
        },
        ended: mounted.ended,
        settleMs: (path) => mounted.settleMs(path),
      };
    });
    // In the background the first process returns once the node answers, which is before the
    // mount is up: wait for it, so that what the caller does next lands in the mount.
    if (!this.foreground && code === 0) await waitMounted(mnt, join(this.fsDirOf(this.name), 'node.log'));
    return code;
  }
}

async function waitMounted(mnt: string, logFile: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!isMounted(mnt)) {
    if (Date.now() > deadline) throw err('MOUNTPOINT', `the node started but ${mnt} was not mounted: see ${logFile}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export class UnmountCommand extends BasefsCommand {
  static override paths = [['unmount']];
  static override usage = Command.Usage({
    category: 'Node',
    description: 'unmount a mounted filesystem (its node then stops)',
    details: `Unmounts the filesystem NAME mounted by \`basefs mount\` (its mountpoint is recorded while mounted), or whatever BaseFS mount is on MOUNTPOINT, with fusermount -u. The node that served it notices, leaves the group and exits.`,
    examples: [
      ['By name', '$0 unmount myfs'],
      ['By mountpoint', '$0 unmount ~/myfs'],
    ],
  });

  what = Option.String({ name: 'NAME|MOUNTPOINT' });

  async run(): Promise<number> {
    const mnt = this.#mountpoint();
    if (!isMounted(mnt)) throw err('NOT_FOUND', `nothing is mounted on ${mnt}`);
    await new Promise<void>((done, fail) =>
      execFile('fusermount', ['-u', mnt], (e, _out, stderr) =>
        e ? fail(err('IO', `fusermount -u ${mnt} failed: ${String(stderr).trim() || e.message} (files still open there? try fusermount -uz ${mnt})`)) : done(),
      ),
    );
    this.out(`unmounted ${mnt}`);
    return 0;
  }

  #mountpoint(): string {
    const dir = isFsName(this.what) ? fsDir(this.home, this.what) : null;
    if (dir === null || !Replica.exists(dir)) return resolve(this.what);
    const record = join(dir, MOUNTPOINT_FILE);
    if (!existsSync(record)) throw err('NOT_FOUND', `filesystem '${this.what}' is not mounted (mount it with 'basefs mount ${this.what} MOUNTPOINT')`);
    return readFileSync(record, 'utf8').trim();
  }
}

function isFsName(text: string): boolean {
  try {
    checkFsName(text);
    return true;
  } catch {
    return false;
  }
}
