/**
 * Serf's force-leave: a failed member declared left on its behalf spreads to every node; an alive
 * member cannot be forced out (the call says so and nothing changes).
 */
import t from 'tap';
import { makeConfig } from '../../src/swim/config.ts';
import { Simulator } from '../../src/swim/sim/simulator.ts';
import { allSee, joinCluster, statusAt, testSeed } from '../helpers/swim-sim.ts';

/** Runs force-leave of `target` at `at`; whether it was done. */
function forceLeave(sim: Simulator, at: string, target: string): boolean {
  let done = false;
  sim.call(at, (n, now) => {
    const r = n.forceLeave(target, now);
    done = r.done;
    return r.out;
  });
  return done;
}

t.test('force-leave turns a dead member into left everywhere; an alive one is refused', async (t) => {
  const sim = new Simulator({ seed: testSeed(t, 231), config: makeConfig('lan'), latencyMs: 2, jitterMs: 1 });
  const names = joinCluster(sim, 10);
  sim.waitFor(() => allSee(sim, names, names, 'alive'), 30_000);

  t.equal(forceLeave(sim, 'n0', 'n5'), false, 'an alive member is not forced out');
  t.equal(statusAt(sim, 'n0', 'n5'), 'alive');

  sim.crash('n5');
  const others = names.filter((n) => n !== 'n5');
  t.ok(sim.waitFor(() => allSee(sim, others, ['n5'], 'dead'), 60_000) >= 0, 'n5 dead everywhere after the crash');
  t.equal(forceLeave(sim, 'n1', 'n5'), true, 'a dead member is forced out');
  t.ok(sim.waitFor(() => allSee(sim, others, ['n5'], 'left'), 30_000) >= 0, 'every node sees n5 left');
  t.equal(forceLeave(sim, 'n1', 'nobody'), false, 'an unknown name is refused');
});
