/**
 * BasefsNode on real sockets (127.0.0.31..40, ephemeral ports, SWIM 'local' profile): a write
 * spreads to every node, a late node catches up by anti-entropy, large files arrive with their
 * blocks, and garbage from the group is dropped. Every wait polls with a generous deadline.
 */
import t from 'tap';
import { performance } from 'node:perf_hooks';
import { ACTION, createEntry } from '../../src/core/entry.ts';
import { toHex } from '../../src/core/hash.ts';
import { Replica } from '../../src/core/replica.ts';
import { startSwimNode } from '../../src/swim/udp.ts';
import { decodeGossip, encodeAnnounceGossip, encodeEntryGossip } from '../../src/sync/node-gossip.ts';
import { decodeNodeMeta, encodeNodeMeta, META_BYTES, sameFilesystem } from '../../src/sync/node-meta.ts';
import type { BasefsNode } from '../../src/sync/node.ts';
import { key } from '../helpers/fs.ts';
import { NodeCluster, NODE_HOSTS } from '../helpers/node-cluster.ts';
import { waitFor } from '../helpers/wait.ts';

const enc = new TextEncoder();
const host = (i: number) => NODE_HOSTS[i] as string;
const DEADLINE = 30_000;

function pattern(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  let x = seed * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const hasFile = (n: BasefsNode, path: string, data: Uint8Array) => {
  try {
    if (!n.replica.view.stat(path).complete) return false;
    return Buffer.from(n.replica.view.readFile(path)).equals(Buffer.from(data));
  } catch {
    return false;
  }
};

t.test('meta and gossip codecs are bounded and defensive', async (t) => {
  const root = pattern(32, 1);
  const fsId = pattern(32, 2);
  const m = encodeNodeMeta({ syncPort: 40001, root, fsId });
  t.equal(m.length, META_BYTES);
  const d = decodeNodeMeta(m);
  t.equal(d?.syncPort, 40001);
  t.same(d && [...d.root], [...root]);
  t.ok(d && sameFilesystem(d, fsId));
  t.notOk(d && sameFilesystem(d, pattern(32, 3)));
  t.equal(decodeNodeMeta(m.subarray(0, META_BYTES - 1)), null, 'short');
  t.equal(decodeNodeMeta(new Uint8Array(0)), null, 'empty');
  t.equal(decodeNodeMeta(Uint8Array.from([2, ...m.subarray(1)])), null, 'other version');
  t.equal(decodeNodeMeta(Uint8Array.from([1, 0, 0, ...m.subarray(3)])), null, 'port 0');
  t.ok(decodeNodeMeta(Uint8Array.from([...m, 9, 9])), 'trailing fields ignored');
  t.throws(() => encodeNodeMeta({ syncPort: 0, root, fsId }));
  t.equal(d?.complete, null, 'no flags: completeness unknown (an older node)');
  const counted = encodeNodeMeta({ syncPort: 40001, root, fsId, entries: 7 });
  t.same([decodeNodeMeta(counted)?.entries, decodeNodeMeta(counted)?.complete], [7, null], 'a count and no flags (an older node)');
  for (const complete of [true, false]) {
    const f = encodeNodeMeta({ syncPort: 40001, root, fsId, entries: 7, complete });
    t.equal(f.length, META_BYTES + 5, 'the flags byte follows the count');
    t.same([decodeNodeMeta(f)?.entries, decodeNodeMeta(f)?.complete], [7, complete], `complete ${complete}`);
    t.equal(decodeNodeMeta(Uint8Array.from([...f, 9, 9]))?.complete, complete, 'trailing fields ignored after the flags');
  }
  const reserved = encodeNodeMeta({ syncPort: 40001, root, fsId, entries: 7, complete: false });
  reserved[META_BYTES + 4] = 0xfe;
  t.equal(decodeNodeMeta(reserved)?.complete, false, 'reserved flag bits are ignored');
  t.throws(() => encodeNodeMeta({ syncPort: 40001, root, fsId, complete: true }), 'flags without the count');

  t.same(decodeGossip(encodeEntryGossip(Uint8Array.of(7, 8))), { type: 'entry', bytes: Uint8Array.of(7, 8) });
  t.same(decodeGossip(encodeAnnounceGossip(root)), { type: 'announce', hash: root });
  t.equal(decodeGossip(new Uint8Array(0)), null);
  t.equal(decodeGossip(Uint8Array.of(1)), null);
  t.equal(decodeGossip(Uint8Array.of(2, 1, 2)), null, 'short announce');
  t.equal(decodeGossip(Uint8Array.of(9, 1, 2)), null, 'unknown type');
});

t.test('a write on one node reaches the others; a late node catches up', async (t) => {
  const cluster = new NodeCluster(t);
  const a = await cluster.start('a', host(0));
  const b = await cluster.start('b', host(1));
  const c = await cluster.start('c', host(2));
  await cluster.converged([a, b, c]);
  await cluster.sameRoot([a, b, c], 'equal roots at start');

  const data = enc.encode('listen 80\n');
  const started = performance.now();
  a.replica.writer!.writeFile('/.cluster-config', data);
  await waitFor(() => [b, c].every((n) => hasFile(n, '/.cluster-config', data)), 'the write on b and c', DEADLINE, 5);
  const spreadMs = performance.now() - started;
  await cluster.sameRoot([a, b, c], 'equal roots after the write');
  t.ok(a.stats.entriesBroadcast >= 1, 'piggybacked, not announced');
  t.ok(b.stats.gossipAccepted + c.stats.gossipAccepted >= 1, 'accepted from gossip');
  t.comment(`write reached all 3 nodes in ${spreadMs.toFixed(0)} ms`);

  // Several writes in a row, from two nodes: everything converges.
  b.replica.writer!.mkdir('/etc');
  for (let i = 0; i < 10; i++) a.replica.writer!.writeFile(`/f${i}`, enc.encode(`v${i}`));
  await cluster.sameRoot([a, b, c], 'equal roots after a burst');
  t.ok(c.replica.view.exists('/etc') && c.replica.view.exists('/f9'));

  // A node that has only the genesis entry and joins later.
  const d = await cluster.start('d', host(3), { replica: cluster.replica('d', 1) });
  t.equal(d.replica.log.size, 1);
  await cluster.sameRoot([a, b, c, d], 'the late node caught up', DEADLINE);
  t.ok(hasFile(d, '/f9', enc.encode('v9')));
  t.same(d.replica.seeds(), a.replica.seeds(), 'and has /.cluster');

  // A node that misses a write while stopped, then restarts on the same replica directory.
  await c.stop();
  c.replica.close();
  a.replica.writer!.writeFile('/while-away', enc.encode('x'));
  await cluster.sameRoot([a, b, d], 'the others agree');
  const reopened = Replica.open(c.replica.dir, { key: key(1), sync: 'never' });
  const c2 = await cluster.start('c2', host(2), { replica: reopened });
  await cluster.sameRoot([a, b, d, c2], 'the restarted node caught up', DEADLINE);
  t.ok(hasFile(c2, '/while-away', enc.encode('x')));
});

t.test('the node catches up by periodic anti-entropy alone', async (t) => {
  const cluster = new NodeCluster(t);
  // Reactions to a different root are pushed far out on both: only a periodic round can sync.
  const slow = { rootDiffDelayMs: 600_000, antiEntropyMinMs: 500, antiEntropyMaxMs: 1_000 };
  const a = await cluster.start('pa', host(4), { timing: slow });
  a.replica.writer!.writeFile('/before', enc.encode('b'));
  const b = await cluster.start('pb', host(5), { replica: cluster.replica('pb', 1), timing: slow });
  const started = performance.now();
  await cluster.sameRoot([a, b], 'periodic sync', DEADLINE);
  t.ok(a.stats.syncsInitiated + b.stats.syncsInitiated >= 1, 'by a sync session');
  t.comment(`caught up ${(performance.now() - started).toFixed(0)} ms after joining (rounds every 0.5-1 s)`);
});

t.test('large files arrive complete, with their blocks', async (t) => {
  const cluster = new NodeCluster(t);
  const a = await cluster.start('la', host(4));
  const b = await cluster.start('lb', host(5));
  const c = await cluster.start('lc', host(6));
  await cluster.converged([a, b, c]);

  // 200 KiB: the entry (a manifest of 4 block hashes) is piggybacked, the blocks are pulled.
  const mid = pattern(200 * 1024, 5);
  a.replica.writer!.writeFile('/mid', mid);
  // 3 MiB: 48 block hashes, the entry is larger than one SWIM payload and is announced by hash.
  const big = pattern(3 * 1024 * 1024, 6);
  const started = performance.now();
  a.replica.writer!.writeFile('/big', big);
  t.ok(a.stats.entriesAnnounced >= 1, 'the big entry was announced');
  await waitFor(() => [b, c].every((n) => hasFile(n, '/mid', mid) && hasFile(n, '/big', big)), 'large files on b and c', DEADLINE * 2, 20);
  t.comment(`200 KiB + 3 MiB reached 2 nodes in ${(performance.now() - started).toFixed(0)} ms`);
  const { announcesReceived, gossipAccepted, syncsInitiated } = b.stats;
  t.comment(`b: ${announcesReceived} announcements, ${gossipAccepted} entries by gossip, ${syncsInitiated} syncs initiated`);
  await cluster.sameRoot([a, b, c], 'equal roots');
  await waitFor(() => [b, c].every((n) => n.missingBlocks().length === 0), 'no missing blocks', DEADLINE, 20);
});

t.test('garbage and forged entries from the group are dropped; the node keeps working', async (t) => {
  const cluster = new NodeCluster(t);
  const a = await cluster.start('ga', host(7));
  const b = await cluster.start('gb', host(8));
  const evil = await startSwimNode({ name: 'evil', host: host(9), port: 0, seeds: [a.address], profile: 'local', leaveLingerMs: 100 });
  t.teardown(() => evil.close());
  await waitFor(() => [a, b].every((n) => n.members().some((m) => m.name === 'evil' && m.status === 'alive')), 'evil joined', DEADLINE, 20);

  const genesis = a.replica.log.genesis.entry;
  const forged = createEntry({ parent: genesis.hash, timestamp: 1_700_000_000_500, action: ACTION.MKDIR, name: 'evil', content: new Uint8Array(0) }, key(1).publicKey, key(1).seed).bytes.slice();
  forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 0xff; // breaks the signature
  evil.broadcast('x1', Uint8Array.of(9, 9, 9));
  evil.broadcast('x2', encodeEntryGossip(Uint8Array.of(1, 2, 3, 4)));
  evil.broadcast('x3', encodeEntryGossip(forged));
  evil.broadcast('x4', Uint8Array.of(2, 1));
  await waitFor(
    () => [a, b].every((n) => n.stats.gossipMalformed >= 2 && n.stats.gossipRejected >= 2),
    'garbage counted',
    DEADLINE,
    20,
  );
  t.notOk(a.replica.view.exists('/evil'));

  a.replica.writer!.writeFile('/ok', enc.encode('still fine'));
  await waitFor(() => hasFile(b, '/ok', enc.encode('still fine')), 'a later write', DEADLINE, 10);
  await cluster.sameRoot([a, b], 'equal roots');
  t.equal(toHex(a.rootHash()), toHex(b.rootHash()));
});

t.test('responder sessions are capped; a refused session fails cleanly and the node recovers', async (t) => {
  const cluster = new NodeCluster(t);
  const slow = { rootDiffDelayMs: 600_000, antiEntropyMinMs: 600_000, antiEntropyMaxMs: 600_000 };
  const a = await cluster.start('ca', host(7), { maxInboundSessions: 0, timing: slow });
  const b = await cluster.start('cb', host(8), { timing: slow });
  await cluster.converged([a, b]);
  a.replica.writer!.writeFile('/x', enc.encode('x'));
  await waitFor(() => b.replica.view.exists('/x'), 'gossip', DEADLINE, 10);
  const refused = await b.syncNow('ca');
  t.ok(refused?.error, `refused: ${refused?.error?.code}`);
  t.ok(a.stats.syncsRefused >= 1);
  const other = await a.syncNow('cb');
  t.equal(other?.error, undefined, 'the other direction works');
  t.equal(other?.role, 'initiator');
  t.equal(await a.syncNow('nobody'), null, 'no such peer');
  t.equal(toHex(a.rootHash()), toHex(b.rootHash()));
});
