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

// The membership behaviour with 10% loss on every datagram: it must not need a clean network.
// User broadcasts are best effort (retransmit-limited gossip, not in push-pull): with the Local
// profile's retransmit multiplier of 2 at N = 5, each node forwards a payload only twice, and a
// node can miss it at 10% loss (seed 43027 does). Completing delivery is the sync layer's job
// (its push-pull delegate state), so that scenario is left out here; bench/dissemination.ts
// measures delivery under loss.
void t.test('with 10% datagram loss', async (t) => {
  let lossy = 0;
  runSwimCompliance(t, async () => simHarness({ seed: seed + 1000 + lossy++, loss: 0.1 }), {
    skip: { broadcast: 'user payloads are best effort under loss; see the comment in this file' },
  });
});
