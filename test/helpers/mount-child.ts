/**
 * A mount in a process of its own, for tests that kill it: `node <loader> mount-child.ts DIR MNT
 * PARK_MS` opens the replica at DIR with the root test key, as `basefs mount` does (group commit),
 * mounts it on MNT with new files parked for PARK_MS, prints "mounted" and serves until killed
 * (SIGTERM unmounts first).
 */
import { Replica } from '../../src/core/replica.ts';
import { mountReplica } from '../../src/fuse/mount.ts';
import { key } from './fs.ts';

const [dir, mnt, parkMs] = process.argv.slice(2);
if (dir === undefined || mnt === undefined) throw new Error('usage: mount-child.ts DIR MNT [PARK_MS]');
const replica = Replica.open(dir, { key: key(1), sync: 'background' });
const mounted = await mountReplica(replica, mnt, {
  parkMs: Number(parkMs ?? 25),
  onError: (op, e) => process.stderr.write(`mount-child ${op}: ${String(e)}\n`),
});
process.stdout.write('mounted\n');
process.once('SIGTERM', () => {
  void mounted.unmount().then(() => {
    replica.close();
    process.exit(0);
  });
});
