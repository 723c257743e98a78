/**
 * A partition on the simulator: two halves of the group cannot reach each other, both keep
 * writing (including a conflicting write to the same file), and after healing every node converges
 * to one root with the conflict rules applied: the root key's version beats the one written under a
 * grant, on every node, exactly as a log holding both sides' entries resolves it.
 */
import t from 'tap';
import { performance } from 'node:perf_hooks';
import { Log } from '../../src/core/log.ts';
import { View } from '../../src/core/view.ts';
import type { SimNode } from '../../src/sync/sim/index.ts';
import { OTHER_KEY, readText, ROOT_KEY, simCluster, syncSeed } from './sim-helpers.ts';

// 200 nodes: at N = 1,000 the same run (7 s to converge each side, 5 s after the heal) costs about
// two minutes of wall time, nearly all of it SWIM's queues carrying every node's new metadata.
const N = 200;
const PARTITION_MS = 20_000;
const enc = new TextEncoder();
const dec = new TextDecoder();

t.test('both sides of a partition write; after healing, one root and the conflict rules applied', async (t) => {
  const seed = syncSeed(t, 3001);
  const wall = performance.now();
  const net = simCluster(seed, N);
  net.runFor(2_000);
  const setup = net.writer('n0', ROOT_KEY);
  setup.mkdir('/etc');
  setup.grant('/etc', OTHER_KEY.publicKey, 'other');
  t.not(net.waitFor(() => net.converged() && net.node(`n${N - 1}`).log.size === net.node('n0').log.size, 10_000), -1, 'the grant reached everyone');

  const left = [...net.nodes.values()].slice(0, N / 2);
  const right = [...net.nodes.values()].slice(N / 2);
  net.sim.partition([left.map((n) => n.name), right.map((n) => n.name)]);
  const cut = net.now;
  net.runFor(500);
  // The same file on both sides: by the root key on the left, by the granted key on the right.
  net.writer('n1', ROOT_KEY).writeFile('/etc/conf', enc.encode('left (root key)'));
  net.writer(`n${N - 2}`, OTHER_KEY).writeFile('/etc/conf', enc.encode('right (granted key)'));
  net.writer('n2', ROOT_KEY).mkdir('/left-only');
  net.writer(`n${N - 3}`, OTHER_KEY).mkdir('/etc/right-only');
  const sides = net.waitFor(() => net.converged(left) && net.converged(right), PARTITION_MS - 1_000);
  t.not(sides, -1, 'each side converges on its own');
  t.not((left[0] as SimNode).root, (right[0] as SimNode).root, 'to different roots');
  t.ok(left.every((n) => readText(n, '/etc/conf') === 'left (root key)') && right.every((n) => readText(n, '/etc/conf') === 'right (granted key)'), 'each side reads its own version');
  net.sim.runUntil(cut + PARTITION_MS);

  net.sim.heal();
  const healed = net.now;
  const one = net.waitFor(() => net.converged(), 120_000, 200);
  t.not(one, -1, 'one root after healing');
  t.ok(one - healed <= 60_000, `within 60 s of simulated time after the heal (${one - healed} ms)`);

  // What a log holding both sides' entries makes of them, whatever the order they came in.
  const reference = new Log(null);
  const both = [...(left[0] as SimNode).log.entriesInOrder(), ...(right[0] as SimNode).log.entriesInOrder()];
  for (const e of both.reverse()) reference.ingest(e.bytes);
  t.equal(reference.pending, 0);
  const expected = dec.decode(new View(reference).readFile('/etc/conf'));
  t.equal(expected, 'left (root key)', 'the root key has more authority than a key granted at /etc');
  t.ok(net.live().every((n) => readText(n, '/etc/conf') === expected), 'every node reads the winning version');
  t.ok(net.live().every((n) => n.view.exists('/left-only') && n.view.exists('/etc/right-only')), 'and both sides\' other writes');
  t.ok(net.live().every((n) => n.root === (left[0] as SimNode).root && n.log.size === reference.size), 'every log holds both sides\' entries');
  const bySync = net.sessions.filter((s) => s.at >= healed).reduce((k, s) => k + s.result.stats.entriesAccepted, 0);
  t.comment(`N=${N}: sides converged +${sides - cut} ms after the cut; one root +${one - healed} ms after the heal (simulated), ${bySync} entries by sync after it; ${net.sessions.length} session ends; wall ${(performance.now() - wall).toFixed(0)} ms`);
});
