/**
 * Whole-cluster scenarios in the simulator: joins, failure detection, leave, loss, partitions,
 * restarts and address changes. Every test prints its seed; SWIM_SEED replays it.
 */
import t from 'tap';
import { makeConfig, pushPullScale, suspicionTimeout } from '../../src/swim/config.ts';
import { Simulator } from '../../src/swim/sim/simulator.ts';
import { allSee, deadEverywhere, joinCluster, localSim, recordEvents, statusAt, testSeed } from '../helpers/swim-sim.ts';

function lanSim(seed: number, loss = 0): Simulator {
  return new Simulator({ seed, config: makeConfig('lan'), latencyMs: 2, jitterMs: 1, loss });
}

t.test('mass join of 100 nodes through one seed', async (t) => {
  const seed = testSeed(t, 201);
  for (const profile of ['lan', 'local'] as const) {
    const sim = new Simulator({ seed, config: makeConfig(profile), latencyMs: 2, jitterMs: 1 });
    const names = joinCluster(sim, 100, 'n', 10);
    const t0 = sim.now;
    const at = sim.waitFor(() => allSee(sim, names, names, 'alive'), 60_000, 100);
    t.ok(at >= 0, `${profile}: 100 nodes see each other alive ${at - t0} ms after the last join`);
    // Gossip usually finishes in about a second on LAN, but with 100 updates at once a straggler
    // pair is likely (memberlist's tail); push-pull completes it within one scaled interval.
    const bound = pushPullScale(profile === 'lan' ? 30_000 : 15_000, 100);
    t.ok(at - t0 <= bound, `within one push-pull interval (${bound} ms)`);
  }
});

t.test('crash → dead at every live node (N = 50, LAN): about suspicion min + 3 s', async (t) => {
  const seed = testSeed(t, 202);
  const sim = lanSim(seed);
  const names = joinCluster(sim, 50, 'n', 10);
  sim.waitFor(() => allSee(sim, names, names, 'alive'), 30_000);
  const min = suspicionTimeout(4, 50, 1000);
  const times: number[] = [];
  for (const victim of ['n7', 'n19', 'n33', 'n41', 'n45']) {
    sim.runFor(5000);
    const log = recordEvents(sim);
    sim.crash(victim);
    const c0 = sim.now;
    const others = names.filter((n) => !sim.isCrashed(n));
    const at = sim.waitFor(() => deadEverywhere(log, others, victim), 6 * min + 10_000, 50);
    t.ok(at >= 0, `${victim} dead everywhere after ${at - c0} ms`);
    times.push(at - c0);
  }
  times.sort((a, b) => a - b);
  const median = times[2] as number;
  t.comment(`crash-to-dead (ms): ${times.join(', ')}; median ${median}; suspicion min ${min}`);
  t.ok(median <= min + 4000, `median ${median} ms ≤ min ${min} + 4 s`);
});

t.test('graceful leave: leave events everywhere, never dead', async (t) => {
  // LAN: 8 transmits at N = 10 make the leave reach everyone by gossip before the process exits.
  const sim = lanSim(testSeed(t, 203));
  const names = joinCluster(sim, 10);
  sim.waitFor(() => allSee(sim, names, names, 'alive'), 30_000);
  const log = recordEvents(sim);
  sim.leave('n4');
  sim.runFor(2000);
  sim.crash('n4'); // the process exits after the leave is out
  const others = names.filter((n) => n !== 'n4');
  t.ok(allSee(sim, others, ['n4'], 'left'), 'everyone sees n4 left');
  sim.runFor(60_000);
  t.equal(log.filter((e) => e.type === 'leave' && e.member === 'n4').length, others.length, 'one leave event per node');
  t.same(log.filter((e) => e.type === 'dead' || e.type === 'suspect'), [], 'no suspicion, no death');
});

t.test('no false deaths at 10% loss (N = 50, LAN, 10 simulated minutes)', async (t) => {
  const sim = lanSim(testSeed(t, 204));
  const names = joinCluster(sim, 50, 'n', 10);
  sim.waitFor(() => allSee(sim, names, names, 'alive'), 30_000);
  sim.loss = 0.1;
  const log = recordEvents(sim);
  sim.runFor(600_000);
  const suspects = log.filter((e) => e.type === 'suspect').length;
  t.comment(`false suspicions ${suspects}`);
  t.same(log.filter((e) => e.type === 'dead'), [], 'no false deaths');
  t.ok(allSee(sim, names, names, 'alive'));
});

t.test('one-way loss: a node whose outbound is lossy is not killed', async (t) => {
  const sim = localSim(testSeed(t, 205));
  const names = joinCluster(sim, 10);
  sim.waitFor(() => allSee(sim, names, names, 'alive'), 30_000);
  for (const n of names) if (n !== 'n2') sim.setLink('n2', n, { loss: 0.5 });
  const log = recordEvents(sim);
  sim.runFor(120_000);
  t.same(log.filter((e) => e.type === 'dead'), [], 'no deaths');
  t.ok(allSee(sim, names, names, 'alive'));
});

t.test('partition longer than the suspicion maximum heals by itself (no manual join)', async (t) => {
  const sim = localSim(testSeed(t, 206));
  const names = joinCluster(sim, 10);
  sim.waitFor(() => allSee(sim, names, names, 'alive'), 30_000);
  const a = names.slice(0, 5);
  const b = names.slice(5);
  sim.partition([a, b]);
  const p0 = sim.now;
  const gone = (obs: string[], targets: string[]): boolean =>
    obs.every((o) => targets.every((x) => ['dead', 'unknown'].includes(statusAt(sim, o, x))));
  const split = sim.waitFor(() => gone(a, b) && gone(b, a), 60_000, 100);
  t.ok(split >= 0, `each side sees the other dead after ${split - p0} ms`);
  // Longer than the suspicion maximum (18 s) and than gossip-to-the-dead (15 s): entries expire.
  sim.runFor(60_000);
  sim.heal();
  const h0 = sim.now;
  const healed = sim.waitFor(() => allSee(sim, names, names, 'alive'), 60_000, 100);
  const interval = pushPullScale(15_000, 10);
  t.ok(healed >= 0, `re-merged ${healed - h0} ms after the heal`);
  t.ok(healed - h0 <= 2 * interval, `within two push-pull intervals (${2 * interval} ms)`);
});

t.test('unequal partition: one node against the rest, then heal', async (t) => {
  const sim = localSim(testSeed(t, 207));
  const names = joinCluster(sim, 8);
  sim.waitFor(() => allSee(sim, names, names, 'alive'), 30_000);
  sim.partition([['n3'], names.filter((n) => n !== 'n3')]);
  sim.runFor(60_000);
  t.equal(statusAt(sim, 'n0', 'n3'), 'dead', 'the rest still list n3 as dead after gossip-to-the-dead (retention)');
  sim.heal();
  const h0 = sim.now;
  const healed = sim.waitFor(() => allSee(sim, names, names, 'alive'), 60_000, 100);
  t.ok(healed >= 0 && healed - h0 <= 30_000, `re-merged after ${healed - h0} ms`);
});

t.test('restart with a persisted incarnation: alive everywhere within 3 s, never dead', async (t) => {
  // LAN: the joiner's own alive gets 8 transmits at N = 10 (Local's 4 can miss a node, and then only
  // push-pull brings the news, up to 15 s later).
  const sim = lanSim(testSeed(t, 208));
  const names = joinCluster(sim, 10);
  sim.waitFor(() => allSee(sim, names, names, 'alive'), 30_000);
  // Give n5 some history: a refuted suspicion raises its incarnation.
  sim.call('n0', (n, now) => n.receivePacket(sim.addressOf('n1'), suspectBytes(sim.node('n5').incarnation(), 'n5', 'n1'), now));
  sim.runFor(3000);
  const before = sim.node('n5').incarnation();
  t.ok(before > 1, `n5 at incarnation ${before}`);
  const log = recordEvents(sim);
  sim.crash('n5');
  sim.runFor(500);
  sim.restart('n5', { persistedIncarnation: before, seeds: ['n0'] });
  t.equal(sim.node('n5').incarnation(), before + 1);
  const r0 = sim.now;
  const at = sim.waitFor(() => names.every((o) => sim.node(o).member('n5')?.incarnation === before + 1 && statusAt(sim, o, 'n5') === 'alive'), 10_000, 50);
  t.ok(at >= 0 && at - r0 <= 3000, `new incarnation alive everywhere after ${at - r0} ms`);
  sim.runFor(30_000);
  // A probe may have caught the 500 ms gap (suspect), but the new incarnation refutes it in time.
  t.same(log.filter((e) => e.member === 'n5' && e.type === 'dead'), [], 'never dead');
});

t.test('restart without persistence: refutes its old record and recovers', async (t) => {
  const sim = localSim(testSeed(t, 209));
  const names = joinCluster(sim, 10);
  sim.waitFor(() => allSee(sim, names, names, 'alive'), 30_000);
  sim.call('n0', (n, now) => n.receivePacket(sim.addressOf('n1'), suspectBytes(sim.node('n5').incarnation(), 'n5', 'n1'), now));
  sim.runFor(3000);
  const before = sim.node('n5').incarnation();
  sim.crash('n5');
  sim.runFor(500);
  sim.restart('n5', { seeds: ['n0'] });
  t.equal(sim.node('n5').incarnation(), 1, 'starts again at 1 (memberlist)');
  sim.runFor(5000);
  t.ok(sim.node('n5').incarnation() > before, `learned its old record and refuted it: ${sim.node('n5').incarnation()}`);
  t.ok(allSee(sim, names, ['n5'], 'alive'));
});

t.test('address change under the same name', async (t) => {
  const seed = testSeed(t, 210);
  for (const reclaim of [0, 5000]) {
    const sim = localSim(seed, { deadNodeReclaimMs: reclaim });
    const names = joinCluster(sim, 8);
    sim.waitFor(() => allSee(sim, names, names, 'alive'), 30_000);
    sim.crash('n6');
    sim.runFor(500);
    sim.restart('n6', { address: '10.1.0.6:7946', seeds: ['n0'] });
    const r0 = sim.now;
    const moved = (): boolean => names.every((o) => sim.node(o).member('n6')?.address === '10.1.0.6:7946' && statusAt(sim, o, 'n6') === 'alive');
    const at = sim.waitFor(moved, 120_000, 100);
    const conflicts = names.reduce((s, n) => s + sim.node(n).stats().conflicts, 0);
    t.ok(at >= 0, `reclaim ${reclaim}: everyone has n6 at its new address after ${at - r0} ms (${conflicts} conflicts first)`);
    t.ok(conflicts > 0, 'the live old record is protected at first');
  }
});

t.test('metadata changes spread as update events', async (t) => {
  const sim = localSim(testSeed(t, 211));
  const names = joinCluster(sim, 10);
  sim.waitFor(() => allSee(sim, names, names, 'alive'), 30_000);
  const log = recordEvents(sim);
  sim.setMeta('n3', new Uint8Array([0xab, 0xcd]));
  // Gossip (Local: 4 transmits) reaches most at once; push-pull completes it within an interval.
  const has = (n: string): boolean => sim.node(n).member('n3')?.meta[0] === 0xab;
  const at = sim.waitFor(() => names.every(has), 20_000, 50);
  t.ok(at >= 0, `everyone has the new meta after ${at} ms`);
  t.equal(log.filter((e) => e.type === 'update' && e.member === 'n3').length, names.length - 1);
});

t.test('push-pull carries the application hook payload both ways', async (t) => {
  const sim = localSim(testSeed(t, 212));
  const got: string[] = [];
  for (const name of ['a', 'b']) {
    sim.addNode(name, {
      delegate: {
        localState: (join) => new TextEncoder().encode(`${name}:${join ? 'join' : 'sync'}`),
        mergeRemoteState: (state, join) => got.push(`${name}<-${new TextDecoder().decode(state)}/${join}`),
      },
    });
  }
  sim.join('a', []);
  sim.join('b', ['a']);
  sim.runFor(20_000);
  t.ok(got.includes('a<-b:join/true'), 'the joiner sends its state with the join flag');
  t.ok(got.includes('b<-a:sync/false'), 'and gets the seed state back');
  t.ok(got.some((g) => g.endsWith('/false') && g.startsWith('a<-')), 'periodic push-pulls too');
});

t.test('gossip to the recently dead lets a wrongly killed node refute', async (t) => {
  const sim = localSim(testSeed(t, 213));
  const names = joinCluster(sim, 10);
  sim.waitFor(() => allSee(sim, names, names, 'alive'), 30_000);
  const log = recordEvents(sim);
  const inc = sim.node('n4').incarnation();
  // n0 is told (wrongly) that n4 is dead; the news spreads, and reaches n4 itself.
  sim.call('n0', (n, now) => n.receivePacket(sim.addressOf('n1'), encodeMessage({ type: 'dead', incarnation: inc, node: 'n4', from: 'n1' }), now));
  const t0 = sim.now;
  const back = sim.waitFor(() => allSee(sim, names, ['n4'], 'alive') && sim.node('n4').incarnation() > inc, 20_000, 20);
  t.ok(back >= 0, `alive everywhere again after ${back - t0} ms`);
  t.ok(log.some((e) => e.type === 'dead' && e.member === 'n4'), 'it was dead somewhere meanwhile');
});

t.test('push-pull interval scales with N (64 nodes: every 60 s on LAN)', async (t) => {
  const sim = new Simulator({ seed: testSeed(t, 214), config: makeConfig('lan'), latencyMs: 2, jitterMs: 1 });
  const names = bootstrapCluster(sim, 64);
  sim.runFor(600_000);
  const total = names.reduce((s, n) => s + sim.node(n).stats().pushPulls, 0);
  const perNode = total / names.length;
  t.comment(`push-pulls per node in 10 min: ${perNode.toFixed(2)} (interval ${pushPullScale(30_000, 64)} ms)`);
  t.ok(perNode >= 9 && perNode <= 10.5, 'about 600 s / 60 s');
});

t.test('the same seed replays the same run, event for event', async (t) => {
  const seed = testSeed(t, 215);
  const once = (): string => {
    const sim = localSim(seed, {}, { loss: 0.05, jitterMs: 5 });
    const log = recordEvents(sim);
    const names = joinCluster(sim, 12);
    sim.runFor(5000);
    sim.crash('n3');
    sim.broadcast('n1', 'k', new Uint8Array([1]));
    sim.runFor(20_000);
    return JSON.stringify({ log, c: names.map((n) => sim.counters(n)) });
  };
  const a = once();
  t.ok(a.length > 1000);
  t.equal(once(), a, 'identical transcripts');
});

import { bootstrapCluster } from '../../src/swim/sim/bootstrap.ts';
import { encodeMessage } from '../../src/swim/codec.ts';
function suspectBytes(incarnation: number, node: string, from: string): Uint8Array {
  return encodeMessage({ type: 'suspect', incarnation, node, from });
}

t.test('graceful leave under loss: every peer ends with left, not dead', async (t) => {
  // The leaver keeps running 500 ms after leave(), then exits (the runtime's close({ leave: true })).
  // A peer that missed the leave suspects the silent node and declares it dead. The leave is sent
  // directly to every member as well as queued, and a later leave corrects a dead verdict (Serf).
  const seed = testSeed(t, 213);
  const runs = 100;
  for (const loss of [0.1, 0.2]) {
    let wrong = 0;
    let transient = 0;
    for (let r = 0; r < runs; r++) {
      const sim = localSim(seed + r * 7919);
      const names = joinCluster(sim, 16);
      sim.waitFor(() => allSee(sim, names, names, 'alive'), 30_000);
      sim.loss = loss;
      sim.runFor(1000);
      const log = recordEvents(sim);
      sim.leave('n3');
      sim.runFor(500);
      sim.crash('n3');
      sim.runFor(40_000); // covers two push-pull intervals (15 s, Local)
      const verdicts = names.filter((n) => n !== 'n3').map((o) =>
        log.filter((e) => e.node === o && e.member === 'n3' && (e.type === 'dead' || e.type === 'leave')).map((e) => e.type));
      if (verdicts.some((v) => v[v.length - 1] !== 'leave')) wrong++;
      if (verdicts.some((v) => v.includes('dead'))) transient++;
    }
    t.comment(`loss ${loss * 100}%: a peer ended with dead (or nothing) in ${wrong} of ${runs} runs; said dead before left in ${transient}`);
    t.equal(wrong, 0, `every peer's last verdict is left at ${loss * 100}% loss`);
  }
});

t.test('dead and left members stay listed for their retention, are never probed or gossiped to, then are reaped', async (t) => {
  const sim = localSim(testSeed(t, 214), { deadRetentionMs: 240_000, leftRetentionMs: 120_000 });
  const names = joinCluster(sim, 6);
  sim.waitFor(() => allSee(sim, names, names, 'alive'), 30_000);
  sim.crash('n3');
  sim.leave('n4');
  sim.runFor(500);
  sim.crash('n4');
  const live = names.filter((n) => n !== 'n3' && n !== 'n4');
  const addr3 = sim.addressOf('n3');
  const addr4 = sim.addressOf('n4');
  let late = 0;
  let since = Infinity;
  sim.onPacket = (_from, to, _data, now) => {
    if (now >= since && (to === addr3 || to === addr4)) late++;
  };
  t.ok(sim.waitFor(() => allSee(sim, live, ['n3'], 'dead') && allSee(sim, live, ['n4'], 'left'), 60_000) >= 0, 'n3 dead, n4 left everywhere');
  // Past gossip-to-the-dead (15 s, Local) the protocol has forgotten them, but members() lists them.
  sim.runFor(20_000);
  since = sim.now;
  sim.runFor(80_000);
  t.ok(allSee(sim, live, ['n3'], 'dead'), 'n3 still listed as dead 100 s later');
  t.ok(allSee(sim, live, ['n4'], 'left'), 'n4 still listed as left 100 s later');
  t.equal(late, 0, 'no datagram (probe, gossip) went to a retired member');
  t.equal(sim.node('n0').members().length, 6, 'six rows at n0');
  // Left members are reaped after leftRetentionMs (2 min), dead ones after deadRetentionMs (4 min).
  sim.runFor(60_000);
  t.ok(live.every((o) => statusAt(sim, o, 'n4') === 'unknown'), 'n4 reaped after its retention');
  t.ok(allSee(sim, live, ['n3'], 'dead'), 'n3 still listed');
  // A retired name is free as memberlist's forgotten one: a restart without persisted incarnation
  // (incarnation 1, below the dead record's) rejoins at once.
  sim.restart('n3', { seeds: ['n0'] });
  const back = names.filter((n) => n !== 'n4');
  t.ok(sim.waitFor(() => allSee(sim, back, back, 'alive'), 30_000) >= 0, 'n3 rejoined, alive everywhere');
  sim.crash('n3');
  sim.runFor(400_000);
  t.ok(live.every((o) => statusAt(sim, o, 'n3') === 'unknown'), 'n3 reaped after its retention');
});
