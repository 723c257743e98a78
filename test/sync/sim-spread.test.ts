/**
 * 1,000 BaseFS nodes on the simulator (NodeCore + SyncSession over simulated streams, SWIM LAN
 * profile, 40-peer views, 2±1 ms links): one write reaches every node, verified, with identical
 * roots, within a bound in simulated time; a new file's blocks reach 200 and 1,000 nodes in a time
 * that grows like log N; and across a loss sweep, anti-entropy fills in what gossip missed. Bounds
 * are simulated milliseconds, never wall time.
 */
import t from 'tap';
import { performance } from 'node:perf_hooks';
import { isComplete, readText, ROOT_KEY, simCluster, sumStats, syncSeed } from './sim-helpers.ts';

const N = 1000;
const enc = new TextEncoder();

t.test('one write on one node is accepted by all 1,000 and the roots are identical', async (t) => {
  const seed = syncSeed(t, 1001);
  const wall = performance.now();
  const net = simCluster(seed, N);
  net.runFor(3_000);
  t.ok(net.converged(), 'identical roots before the write');
  const before = net.node('n0').root;
  const entry = net.writer('n7', ROOT_KEY).writeFile('/etc.conf', enc.encode('listen 80\n'));
  const start = net.now;
  const all = net.waitFor(() => net.holding(entry.hash) === N, 30_000, 10);
  t.not(all, -1, 'every node accepted the entry');
  const same = net.waitFor(() => net.converged(), 30_000, 10);
  t.not(same, -1, 'every root is identical');
  t.not(net.node('n0').root, before, 'and it is the new root');
  t.ok(all - start <= 5_000, `accepted by all within 5 s of simulated time (${all - start} ms)`);
  t.ok(net.live().every((n) => readText(n, '/etc.conf') === 'listen 80\n'), 'every node reads the file');
  t.equal(sumStats(net, (s) => s.gossipRejected + s.gossipMalformed), 0, 'nothing rejected');
  t.ok(sumStats(net, (s) => s.gossipAccepted) >= 0.99 * (N - 1), 'gossip carried it (piggybacked, not announced)');
  t.comment(`N=${N}: all accepted +${all - start} ms, identical roots +${same - start} ms (simulated); ${net.sessions.length} session ends; wall ${(performance.now() - wall).toFixed(0)} ms`);
});

// Blocks spread epidemically: a node that has a file's blocks advertises it (node-meta.ts) and
// serves them, and pullers pick such holders at random, the writer only while none is known
// (block-pull.ts). Uplinks are 10 Mbit/s (1,250 bytes per simulated ms, a mesh link), so serving
// a copy costs its sender size/1,250 ms: the writer alone would need (N-1) times that (3.2 s for
// 20 kB and 32 s for 200 kB at N = 200, 16 s and 160 s at N = 1,000); before holders served, the
// 20 kB file took 64 s at N = 200. The bounds grow with log2 N: measured at seed 1002 (20 kB:
// 0.6 s at 200, 1.2 s at 1,000; 200 kB: 0.9 s and 1.6 s) with a margin of 1.7x or more: 200 and
// 300 ms per doubling. A 1,000-node case costs 10 to 25 s of wall time, nearly all of it SWIM's
// simulated queues carrying every node's new metadata.
const UPLINK_BYTES_PER_MS = 1_250;
const BLOCK_CASES = [
  { n: 200, size: 20_000, perDoublingMs: 200 },
  { n: 200, size: 200_000, perDoublingMs: 300 },
  { n: 1000, size: 20_000, perDoublingMs: 200 },
  { n: 1000, size: 200_000, perDoublingMs: 300 },
];

for (const { n, size, perDoublingMs } of BLOCK_CASES) {
  t.test(`a new ${size / 1000} kB file is complete on all ${n} nodes within ${perDoublingMs} ms × log2 N, served by its holders`, async (t) => {
    const seed = syncSeed(t, 1002);
    const wall = performance.now();
    const net = simCluster(seed, n, { uplinkBytesPerMs: UPLINK_BYTES_PER_MS });
    net.runFor(2_000);
    const data = Uint8Array.from({ length: size }, (_, i) => (i * 31 + 7) & 0xff); // past the inline limit
    net.writer('n3', ROOT_KEY).writeFile('/blob', data);
    const blocks = net.node('n3').blocks.size;
    const start = net.now;
    const at = net.waitFor(() => net.live().every((x) => isComplete(x, '/blob')), 60_000, 50);
    t.not(at, -1, 'complete on every node');
    t.ok(net.converged(), 'identical roots');
    t.ok(net.live().every((x) => x.core?.missingBlocks().length === 0), 'nothing missing');
    const received = net.sessions.reduce((k, s) => k + s.result.stats.blocksReceived, 0);
    t.ok(received >= (n - 1) * blocks, `every node received the blocks (${received} blocks, ${blocks} per copy)`);
    const served = new Map<string, number>();
    for (const s of net.sessions) if (s.role === 'responder' && s.result.stats.blocksSent > 0) served.set(s.node, (served.get(s.node) ?? 0) + 1);
    const byWriter = served.get('n3') ?? 0;
    t.ok(byWriter <= n / 8, `the writer served ${byWriter} of ${n - 1} copies; ${served.size} nodes served`);
    const bound = perDoublingMs * Math.log2(n);
    t.ok(at - start <= bound, `within ${bound.toFixed(0)} ms of simulated time (${at - start} ms)`);
    const alone = ((n - 1) * size) / UPLINK_BYTES_PER_MS;
    t.comment(`N=${n}: ${size / 1000} kB file complete everywhere +${at - start} ms (simulated; the writer alone: ≥ ${alone.toFixed(0)} ms); ${net.sessions.length} session ends; wall ${(performance.now() - wall).toFixed(0)} ms`);
  });
}

t.test('loss sweep: 0%, 10%, 30% packet loss still converge (anti-entropy fills what gossip missed)', async (t) => {
  const seed = syncSeed(t, 1003);
  for (const loss of [0, 0.1, 0.3]) {
    const wall = performance.now();
    const net = simCluster(seed, N, { loss });
    net.runFor(3_000);
    const entries = [net.writer('n1', ROOT_KEY).mkdir('/a'), net.writer('n500', ROOT_KEY).mkdir('/b')];
    const start = net.now;
    const all = net.waitFor(() => entries.every((e) => net.holding(e.hash) === N), 60_000, 10);
    t.not(all, -1, `${loss * 100}% loss: every node accepted both entries`);
    const same = net.waitFor(() => net.converged(), 60_000, 10);
    t.not(same, -1, `${loss * 100}% loss: identical roots`);
    t.ok(same - start <= 20_000, `${loss * 100}% loss: within 20 s of simulated time (${same - start} ms)`);
    const byGossip = sumStats(net, (s) => s.gossipAccepted);
    const bySync = net.sessions.reduce((k, s) => k + s.result.stats.entriesAccepted, 0);
    t.equal(byGossip + bySync, 2 * (N - 1), `${loss * 100}% loss: each missing copy came by gossip or by sync, once`);
    // Since SWIM relays user broadcasts eagerly (50be561), gossip alone may reach every node even at
    // 30% loss, so sessions are not required here: the count above says whatever it missed came by
    // sync, once (sim-partition.test.ts makes anti-entropy do the filling in).
    t.comment(`loss ${loss * 100}%: all accepted +${all - start} ms, identical roots +${same - start} ms (simulated); ${byGossip} by gossip, ${bySync} by sync; ${net.sessions.length} session ends; wall ${(performance.now() - wall).toFixed(0)} ms`);
  }
});
