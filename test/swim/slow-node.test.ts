/**
 * Lifeguard against a slow node (swim.md T7): one member processes everything it receives late.
 * Without Lifeguard it accuses healthy peers and kills some of them in its own view (and theirs,
 * when the refutation is slower than the fixed timeout); with Lifeguard its health score slows its
 * probing, its suspicions start at the maximum and need confirmations nobody gives, and no healthy
 * node dies.
 */
import t from 'tap';
import { makeConfig } from '../../src/swim/config.ts';
import { Simulator } from '../../src/swim/sim/simulator.ts';
import { allSee, joinCluster, recordEvents, testSeed } from '../helpers/swim-sim.ts';

function run(seed: number, lifeguard: boolean, slow: (sim: Simulator) => void): { falseDeaths: number; falseSuspicions: number; sim: Simulator; names: string[] } {
  const sim = new Simulator({ seed, config: makeConfig('local', { lifeguard }), latencyMs: 2, jitterMs: 1 });
  const names = joinCluster(sim, 20, 'n', 10);
  sim.waitFor(() => allSee(sim, names, names, 'alive'), 60_000);
  sim.runFor(5000);
  const log = recordEvents(sim);
  slow(sim);
  const healthy = (m: string): boolean => m !== 'n3';
  return {
    falseDeaths: log.filter((e) => e.type === 'dead' && healthy(e.member)).length,
    falseSuspicions: log.filter((e) => e.type === 'suspect' && healthy(e.member)).length,
    sim, names,
  };
}

t.test('slow receive path (3 s behind for 60 s): Lifeguard on vs off', async (t) => {
  const seed = testSeed(t, 401);
  const slow = (sim: Simulator): void => {
    sim.setInboundDelay('n3', 3000);
    sim.runFor(60_000);
    sim.setInboundDelay('n3', 0);
    sim.runFor(30_000);
  };
  const on = run(seed, true, slow);
  const off = run(seed, false, slow);
  t.comment(`Lifeguard on: ${on.falseSuspicions} false suspicions, ${on.falseDeaths} false deaths; ` +
    `off: ${off.falseSuspicions} false suspicions, ${off.falseDeaths} false deaths`);
  t.equal(on.falseDeaths, 0, 'no healthy node declared dead with Lifeguard');
  t.ok(off.falseDeaths > 0, 'without Lifeguard the slow node kills healthy peers');
  t.ok(off.falseSuspicions >= 10 * Math.max(1, on.falseSuspicions), 'at least 10× fewer false suspicions');
  t.ok(on.sim.node('n3').healthScore() === 0 || on.sim.node('n3').healthScore() < 8, 'health score stays within bounds');
  t.ok(allSee(on.sim, on.names, on.names, 'alive'), 'with Lifeguard everyone is alive again at the end');
});

t.test('stalled event loop (500 ms of every 1 s for 60 s): no healthy node dies, the slow node recovers', async (t) => {
  const seed = testSeed(t, 402);
  for (const lifeguard of [true, false]) {
    const r = run(seed, lifeguard, (sim) => {
      for (let at = 0; at < 60_000; at += 1000) sim.stall('n3', 500, sim.now + at);
      sim.runFor(60_000);
      sim.runFor(30_000);
    });
    t.comment(`lifeguard=${lifeguard}: ${r.falseSuspicions} false suspicions, ${r.falseDeaths} false deaths`);
    t.equal(r.falseDeaths, 0, `lifeguard=${lifeguard}: no healthy node declared dead`);
    t.ok(allSee(r.sim, r.names, r.names, 'alive'), 'everyone alive after the stalls end');
  }
});

t.test('stall longer than the suspicion window: the stalled node is declared dead, then refutes on waking', async (t) => {
  const seed = testSeed(t, 403);
  const sim = new Simulator({ seed, config: makeConfig('local'), latencyMs: 2, jitterMs: 1 });
  const names = joinCluster(sim, 10);
  sim.waitFor(() => allSee(sim, names, names, 'alive'), 60_000);
  const log = recordEvents(sim);
  const wake = sim.now + 25_000;
  sim.stall('n2', 25_000);
  sim.runFor(24_000);
  const others = names.filter((n) => n !== 'n2');
  t.ok(others.every((o) => log.some((e) => e.node === o && e.type === 'dead' && e.member === 'n2')), 'declared dead everywhere while stalled');
  const inc = sim.node('n2').incarnation();
  // Others may have dropped n2 already (gossip-to-the-dead is 15 s): its push-pull brings it back.
  const back = sim.waitFor(() => allSee(sim, names, names, 'alive'), 60_000, 100);
  t.ok(back >= 0 && back - wake <= 20_000, `alive everywhere again ${back - wake} ms after waking`);
  t.ok(sim.node('n2').incarnation() > inc, 'it refuted its death with a higher incarnation');
  t.same(log.filter((e) => e.type === 'dead' && e.member !== 'n2'), [], 'the stalled node killed nobody on waking');
});
