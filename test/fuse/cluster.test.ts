/**
 * Three nodes (in-process BasefsNodes on 127.0.0.51-53), each with a real mount: a change made
 * through one mount is read through the others, byte for byte; mkdir, rename, delete, symlink and
 * chmod propagate; a revert shows everywhere.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { promises as fsp, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../../src/core/hash.ts';
import { isMounted } from '../../src/fuse/preflight.ts';
import { mountReplica, type Mounted } from '../../src/fuse/mount.ts';
import { NodeCluster } from '../helpers/node-cluster.ts';
import { cleanupMount, fuseUnavailable } from '../helpers/mount.ts';

const why = await fuseUnavailable();
if (why !== null) t.plan(0, `FUSE unavailable: ${why}`);

const HOSTS = ['127.0.0.51', '127.0.0.52', '127.0.0.53'];

/** Poll an async condition (generous deadline; never a fixed sleep). */
async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sameBytes = (path: string, want: Buffer) => async () => (await fsp.readFile(path)).equals(want);
const gone = (path: string) => async () => fsp.lstat(path).then(() => false, (e: NodeJS.ErrnoException) => e.code === 'ENOENT');

t.test('three mounted nodes: writes, tree changes and a revert propagate', async (t) => {
  const cluster = new NodeCluster(t);
  const mdir = mkdtempSync(join(tmpdir(), 'basefs-fuse-cluster-'));
  const mounts: Mounted[] = [];
  const mnts = ['a', 'b', 'c'].map((n) => join(mdir, n));
  t.teardown(async () => {
    for (const [i, mnt] of mnts.entries()) await cleanupMount(mounts[i] ?? null, mnt);
    if (mnts.every((m) => !isMounted(m))) rmSync(mdir, { recursive: true, force: true });
  });
  const nodes = [];
  for (const [i, host] of HOSTS.entries()) {
    const node = await cluster.start(`n${i}`, host);
    nodes.push(node);
    mkdirSync(mnts[i] as string);
    mounts.push(await mountReplica(node.replica, mnts[i] as string));
  }
  await cluster.converged(nodes);
  const [a, b, c] = mnts as [string, string, string];
  const start = performance.now();

  const conf = Buffer.from('listen 80;\n');
  const big = randomBytes(300_000);
  await fsp.mkdir(join(a, 'etc'));
  await fsp.writeFile(join(a, 'etc/nginx.conf'), conf);
  await fsp.writeFile(join(a, 'etc/big.bin'), big);
  for (const m of [b, c]) {
    await until(sameBytes(join(m, 'etc/nginx.conf'), conf), `nginx.conf on ${m}`);
    await until(sameBytes(join(m, 'etc/big.bin'), big), `big.bin on ${m}`);
  }
  t.pass(`a write on A is read on B and C (${(performance.now() - start).toFixed(0)} ms)`);

  await fsp.mkdir(join(b, 'etc/sites'));
  await fsp.rename(join(b, 'etc/nginx.conf'), join(b, 'etc/sites/default.conf'));
  await fsp.symlink('sites/default.conf', join(b, 'etc/current'));
  await fsp.chmod(join(b, 'etc/big.bin'), 0o600);
  await fsp.writeFile(join(b, 'etc/tmp'), 'x');
  await fsp.unlink(join(b, 'etc/tmp'));
  for (const m of [a, c]) {
    await until(sameBytes(join(m, 'etc/sites/default.conf'), conf), `renamed file on ${m}`);
    await until(gone(join(m, 'etc/nginx.conf')), `old name gone on ${m}`);
    await until(async () => (await fsp.readlink(join(m, 'etc/current'))) === 'sites/default.conf', `symlink on ${m}`);
    await until(async () => ((await fsp.stat(join(m, 'etc/big.bin'))).mode & 0o777) === 0o600, `chmod on ${m}`);
    await until(gone(join(m, 'etc/tmp')), `delete on ${m}`);
  }
  t.pass('mkdir, rename, symlink, chmod and delete made on B show on A and C');

  await fsp.writeFile(join(c, 'etc/sites/default.conf'), 'listen 8080;\n');
  for (const m of [a, b]) await until(sameBytes(join(m, 'etc/sites/default.conf'), Buffer.from('listen 8080;\n')), `v2 on ${m}`);
  const first = nodes[0]?.replica.view.revisions('/etc/sites/default.conf').find((r) => r.action === 'WRITE');
  t.ok(first);
  nodes[0]?.replica.writer?.revert('/etc/sites/default.conf', toHex(first?.hash ?? new Uint8Array()));
  for (const m of [a, b, c]) await until(sameBytes(join(m, 'etc/sites/default.conf'), conf), `revert on ${m}`);
  t.pass('a revert restores the earlier version on every mount');
  await cluster.sameRoot(nodes, 'identical logs');
});
