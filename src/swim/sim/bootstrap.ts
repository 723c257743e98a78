/**
 * Build a large simulated cluster without running N joins (which would cost O(N²) push-pull work):
 * every node starts already knowing the others, as if the cluster had converged.
 *
 *   const names = bootstrapCluster(sim, 10_000, { view: 200 });  // each node knows 200 random peers
 *   sim.runFor(2000);                                             // let the loops start
 *   sim.broadcast(names[0], 'k', payload);                        // then watch 'user' events
 *
 * `view: 'full'` (the default) gives each node the whole member list: memory is O(N²) records,
 * fine up to a few thousand nodes. A partial view samples `view` random peers per node and sets
 * clusterSizeHint = N, so retransmit limits and timeouts still scale with the real N; gossip over
 * a random graph of that degree behaves like gossip over the complete graph. A partial view also
 * turns push-pull off (unless `node.config` is given): push-pull would merge the views until every
 * node knows every other, the O(N²) convergence this shortcut exists to avoid.
 */
import type { AddNodeOptions, Simulator } from './simulator.ts';
import { defaultAddress } from './simulator.ts';
import { SeededRandom } from './random.ts';

export interface BootstrapOptions {
  view?: number | 'full';
  /** Node names are prefix + index. */
  prefix?: string;
  /** Extra options for every node. */
  node?: AddNodeOptions;
  /** Options of one node (e.g. a delegate that knows which node it serves), over `node`. */
  perNode?: (name: string) => AddNodeOptions;
}

export function bootstrapCluster(sim: Simulator, n: number, o: BootstrapOptions = {}): string[] {
  const prefix = o.prefix ?? 'n';
  const first = sim.names().length;
  // Every node starts with the same options, so each already knows the others' metadata too.
  const meta = o.node?.meta;
  const all = Array.from({ length: n }, (_, i) => ({ name: `${prefix}${i}`, address: defaultAddress(first + i), ...(meta ? { meta } : {}) }));
  const view = o.view ?? 'full';
  const rng = SeededRandom.derive(sim.seed, 0x5eed);
  const partial = view !== 'full' && view < n - 1;
  const nodeOptions: AddNodeOptions = { ...o.node };
  if (partial && nodeOptions.config === undefined) nodeOptions.config = { ...sim.config, pushPullIntervalMs: 0 };
  for (let i = 0; i < n; i++) {
    let members = all;
    if (partial) {
      const picked = new Set<number>();
      while (picked.size < view) {
        const j = rng.int(n);
        if (j !== i) picked.add(j);
      }
      members = [...picked].map((j) => all[j] as (typeof all)[number]);
    }
    const name = `${prefix}${i}`;
    sim.addNode(name, { ...nodeOptions, ...o.perNode?.(name), initialMembers: members, clusterSizeHint: n });
  }
  for (let i = 0; i < n; i++) sim.join(`${prefix}${i}`, []);
  return all.map((m) => m.name);
}
