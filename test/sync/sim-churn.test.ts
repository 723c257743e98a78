/**
 * Churn on 1,000 simulated BaseFS nodes: a tenth of them crash while the rest keep writing, then
 * restart on their logs (as after a reboot), and new nodes that hold only the genesis entry join
 * late; every node ends with the same log and root, within a bound in simulated time.
 */
import t from 'tap';
import { performance } from 'node:perf_hooks';
import type { Entry } from '../../src/core/entry.ts';
import { SeededRandom } from '../../src/swim/sim/random.ts';
import type { SimNode } from '../../src/sync/sim/index.ts';
import { ROOT_KEY, simCluster, syncSeed } from './sim-helpers.ts';

const N = 1000;
const CRASHED = 100;
const LATE = 20;

t.test('crashed nodes restart and late joiners with only the genesis entry catch up', async (t) => {
  const seed = syncSeed(t, 2001);
  const wall = performance.now();
  const rng = new SeededRandom(seed ^ 0xc0ffee);
  const net = simCluster(seed, N);
  net.runFor(2_000);

  const down = new Set<string>();
  while (down.size < CRASHED) down.add(`n${1 + rng.int(N - 1)}`);
  for (const name of down) net.crash(name);
  const up = () => net.live().map((n) => n.name);

  // The survivors keep writing while a tenth of the group is down.
  const entries: Entry[] = [];
  const somewhere = () => {
    const names = up();
    return names[rng.int(names.length)] as string;
  };
  const first = somewhere();
  const wrote = net.now;
  entries.push(net.writer(first, ROOT_KEY).mkdir('/etc'));
  net.runFor(300);
  entries.push(net.writer(first, ROOT_KEY).mkdir('/etc/a'), net.writer(somewhere(), ROOT_KEY).mkdir('/srv'));
  net.runFor(300);
  entries.push(net.writer(somewhere(), ROOT_KEY).mkdir('/var'));
  const holdsAll = (n: SimNode) => entries.every((e) => n.log.has(e.hash));
  const survivors = net.waitFor(() => net.live().every(holdsAll), 20_000, 50);
  t.not(survivors, -1, 'the survivors hold every write');
  t.ok(net.live().every((n) => !down.has(n.name)) && [...down].every((d) => !net.node(d).log.has((entries[0] as Entry).hash)), 'the crashed nodes missed them');

  // The crashed come back on their logs; new nodes join with the genesis entry only.
  const restartAt = net.now;
  for (const name of down) {
    const seeds = up();
    net.restart(name, [seeds[rng.int(seeds.length)] as string]);
  }
  const late: SimNode[] = [];
  for (let i = 0; i < LATE; i++) {
    const seeds = up();
    late.push(net.join(`late${i}`, seeds[rng.int(seeds.length)] as string, { genesisOnly: true }));
  }
  t.ok(late.every((n) => n.log.size === 1), 'the late joiners start with the genesis entry only');
  const caughtUp = net.waitFor(() => net.live().every(holdsAll) && net.converged(), 30_000, 50);
  t.not(caughtUp, -1, 'every node holds every write and the roots are identical');
  t.equal(net.live().length, N + LATE, 'everyone is up');
  const size = net.node('n0').log.size;
  t.ok(net.live().every((n) => n.log.size === size && n.log.pending === 0), `every log has the same ${size} entries, none pending`);
  t.ok(late.every((n) => n.view.exists('/etc/a') && n.view.exists('/.cluster')), 'the late joiners read the whole tree');
  t.ok(caughtUp - restartAt <= 10_000, `caught up within 10 s of simulated time (${caughtUp - restartAt} ms)`);
  t.comment(`N=${N}, ${CRASHED} crashed and restarted, ${LATE} late joiners: survivors held every write +${survivors - wrote} ms after the first; everyone +${caughtUp - restartAt} ms after the restarts (simulated); ${net.sessions.length} session ends; wall ${(performance.now() - wall).toFixed(0)} ms`);
});
