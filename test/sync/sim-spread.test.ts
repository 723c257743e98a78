/**
 * 1,000 BaseFS nodes on the simulator (NodeCore + SyncSession over simulated streams, SWIM LAN
 * profile, 40-peer views, 2±1 ms links): one write reaches every node, verified, with identical
 * roots, within a bound in simulated time; and across a loss sweep, anti-entropy fills in what
 * gossip missed. Bounds are simulated milliseconds, never wall time.
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

// 200 nodes: every node pulls the block (from the writer first), so the run lasts tens of simulated
// seconds, and at N = 1,000 the SWIM metadata updates of that long a run cost minutes of wall time.
const NB = 200;

t.test('blocks of a new file are pulled by all 200 nodes; the file is complete everywhere', async (t) => {
  const seed = syncSeed(t, 1002);
  const wall = performance.now();
  const net = simCluster(seed, NB);
  net.runFor(2_000);
  const data = Uint8Array.from({ length: 20_000 }, (_, i) => (i * 31 + 7) & 0xff); // one block, past the inline limit
  net.writer('n3', ROOT_KEY).writeFile('/blob', data);
  const start = net.now;
  const at = net.waitFor(() => net.live().every((n) => isComplete(n, '/blob')), 120_000, 50);
  t.not(at, -1, 'complete on every node');
  t.ok(net.converged(), 'identical roots');
  t.ok(net.live().every((n) => n.core?.missingBlocks().length === 0), 'nothing missing');
  const blocks = net.sessions.reduce((k, s) => k + s.result.stats.blocksReceived, 0);
  t.ok(blocks >= NB - 1, `every node received the block once at least (${blocks})`);
  t.ok(at - start <= 60_000, `within 60 s of simulated time (${at - start} ms)`);
  t.comment(`N=${NB}: 20 kB file complete everywhere +${at - start} ms (simulated); ${net.sessions.length} session ends; wall ${(performance.now() - wall).toFixed(0)} ms`);
});

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
    if (loss >= 0.3) t.ok(bySync > 0, `${loss * 100}% loss: anti-entropy filled in (${bySync} entries by sync)`);
    t.comment(`loss ${loss * 100}%: all accepted +${all - start} ms, identical roots +${same - start} ms (simulated); ${byGossip} by gossip, ${bySync} by sync; ${net.sessions.length} session ends; wall ${(performance.now() - wall).toFixed(0)} ms`);
  }
});
