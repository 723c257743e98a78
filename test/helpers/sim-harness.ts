/**
 * The compliance harness on the in-memory simulator (src/swim/sim): virtual clock, seeded
 * network, Local profile. `waitFor` advances virtual time in small steps until the condition
 * holds; a budget is virtual milliseconds, so the suite costs milliseconds of wall time.
 */
import { makeConfig } from '../../src/swim/config.ts';
import { Simulator } from '../../src/swim/sim/simulator.ts';
import type { ComplianceHarness, ComplianceNode } from './swim-compliance.ts';

export interface SimHarnessOptions {
  seed: number;
  loss?: number;
}

export function simHarness(opts: SimHarnessOptions): ComplianceHarness {
  const sim = new Simulator({ seed: opts.seed, config: makeConfig('local'), latencyMs: 2, jitterMs: 1, loss: opts.loss ?? 0 });
  const inboxes = new Map<string, { from: string; payload: Uint8Array }[]>();
  sim.onEvent = (node, ev) => {
    if (ev.type === 'user') inboxes.get(node)?.push({ from: ev.from, payload: ev.payload });
  };
  return {
    kind: 'sim',
    async start(name, seeds, meta) {
      sim.addNode(name, meta ? { meta } : {});
      const received: { from: string; payload: Uint8Array }[] = [];
      inboxes.set(name, received);
      sim.join(name, seeds);
      const node: ComplianceNode = {
        name,
        address: sim.addressOf(name),
        members: () => sim.node(name).members(),
        broadcast: (key, payload) => sim.broadcast(name, key, payload),
        setMeta: (m) => sim.setMeta(name, m),
        received,
        crash: async () => sim.crash(name),
        leave: async () => {
          // As the real runtime's close({ leave: true }): leave, keep running a moment, stop.
          sim.leave(name);
          sim.runFor(500);
          sim.crash(name);
        },
      };
      return node;
    },
    async waitFor(cond, what, budgetMs) {
      if (sim.waitFor(cond, budgetMs, 20) < 0) throw new Error(`simulated ${budgetMs} ms without ${what} (seed ${opts.seed})`);
    },
    async pass(ms) {
      sim.runFor(ms);
    },
    async close() {},
  };
}
