/**
 * The compliance suite (test/helpers/swim-compliance.ts) on the simulator: the same scenarios as
 * compliance-udp.test.ts, on a virtual clock. Seeded; replay with SWIM_SEED=<n>.
 */
import t from 'tap';
import { simHarness } from '../helpers/sim-harness.ts';
import { runSwimCompliance } from '../helpers/swim-compliance.ts';
import { testSeed } from '../helpers/swim-sim.ts';

const seed = testSeed(t, 4_2026);
let run = 0;
runSwimCompliance(t, async () => simHarness({ seed: seed + run++ }));

// The same behaviour with 10% loss on every datagram: the protocol must not need a clean network.
// Gossip may miss a node under loss (the Local profile retransmits little); push-pull, which also
// carries recent user broadcasts, completes delivery within the suite's budgets.
void t.test('with 10% datagram loss', async (t) => {
  let lossy = 0;
  runSwimCompliance(t, async () => simHarness({ seed: seed + 1000 + lossy++, loss: 0.1 }));
});
