/**
 * Probe paths (memberlist ProbeNode_*) and Lifeguard's health score, as seeded simulator scripts.
 */
import t from 'tap';
import { allSee, deadEverywhere, localSim, joinCluster, statusAt, testSeed, recordEvents } from '../helpers/swim-sim.ts';
import { makeConfig } from '../../src/swim/config.ts';
import { decodePacket } from '../../src/swim/codec.ts';
import { Simulator } from '../../src/swim/sim/simulator.ts';

t.test('direct path: acks, no indirect probes, no suspicion', async (t) => {
  const sim = localSim(testSeed(t, 101));
  const names = joinCluster(sim, 4);
  sim.runFor(20_000);
  for (const n of names) {
    const s = sim.node(n).stats();
    t.ok(s.probes >= 15, `${n} probed ${s.probes} times`);
    t.equal(s.probeFailures, 0);
    t.equal(s.indirectPingsSent, 0);
    t.equal(s.suspicionsRaised, 0);
  }
});

t.test('indirect path: a → b blocked, helpers reach b, no suspicion', async (t) => {
  const sim = localSim(testSeed(t, 102), { disableTcpPings: true, indirectChecks: 2 });
  joinCluster(sim, 4);
  sim.runFor(3000);
  sim.setLink('n0', 'n1', { blockUdp: true });
  const log = recordEvents(sim);
  sim.runFor(20_000);
  const s = sim.node('n0').stats();
  t.ok(s.indirectPingsSent > 0, `n0 sent ${s.indirectPingsSent} indirect pings`);
  t.ok(s.probeSuccesses > 0);
  t.equal(statusAt(sim, 'n0', 'n1'), 'alive');
  t.same(log.filter((e) => e.type === 'dead'), [], 'nobody declared dead');
  t.same(log.filter((e) => e.type === 'suspect' && e.node === 'n0'), [], 'n0 never suspects n1');
});

t.test('nack path: target crashed, helpers answer with nacks, health does not degrade', async (t) => {
  const sim = localSim(testSeed(t, 103), { indirectChecks: 2 });
  joinCluster(sim, 5);
  sim.runFor(3000);
  const log = recordEvents(sim);
  sim.crash('n1');
  const t0 = sim.now;
  const got = sim.waitFor(() => deadEverywhere(log, ['n0', 'n2', 'n3', 'n4'], 'n1'), 60_000, 100);
  t.ok(got > 0, `dead everywhere after ${got - t0} ms`);
  const nacks = ['n0', 'n2', 'n3', 'n4'].reduce((a, n) => a + sim.node(n).stats().nacksReceived, 0);
  t.ok(nacks > 0, `${nacks} nacks received`);
  for (const n of ['n0', 'n2', 'n3', 'n4']) t.ok(sim.node(n).healthScore() <= 1, `${n} health ${sim.node(n).healthScore()}`);
});

t.test('TCP fallback: UDP to b blocked everywhere, streams work: no suspicion, counted as misconfigured', async (t) => {
  for (const disableTcpPings of [false, true]) {
    const sim = localSim(testSeed(t, 104), { disableTcpPings });
    const names = joinCluster(sim, 4);
    sim.runFor(3000);
    for (const n of names) if (n !== 'n1') sim.setLinkBoth(n, 'n1', { blockUdp: true });
    const log = recordEvents(sim);
    sim.runFor(40_000);
    const others = names.filter((n) => n !== 'n1');
    const fallbacks = others.reduce((a, n) => a + sim.node(n).stats().tcpFallbackSuccesses, 0);
    if (!disableTcpPings) {
      t.ok(fallbacks > 0, `${fallbacks} probes saved by the TCP fallback`);
      t.same(log.filter((e) => e.type === 'dead'), [], 'nobody is declared dead');
    } else {
      t.equal(fallbacks, 0);
      const deaths = log.filter((e) => e.type === 'dead' && e.member === 'n1' && e.node !== 'n1').length;
      t.ok(deaths > 0, `without the fallback, n1 is declared dead (${deaths} times; push-pull still refreshes it)`);
    }
  }
});

t.test('awareness: a node that cannot hear gets worse health, and recovers', async (t) => {
  const sim = localSim(testSeed(t, 105), { indirectChecks: 2, disableTcpPings: true });
  const names = joinCluster(sim, 6);
  sim.runFor(3000);
  t.equal(sim.node('n0').healthScore(), 0);
  // n0 hears nothing over UDP (its receive path is broken), so acks and nacks both go missing.
  for (const n of names) if (n !== 'n0') sim.setLink(n, 'n0', { blockUdp: true });
  sim.runFor(15_000);
  const sick = sim.node('n0').healthScore();
  t.ok(sick >= 4, `health score rose to ${sick}`);
  sim.clearLinks();
  sim.runFor(60_000);
  t.equal(sim.node('n0').healthScore(), 0, 'back to 0 after successful probes');
});

t.test('refutation: alive again everywhere within 2 probe intervals of the suspect hearing of it (T8)', async (t) => {
  const sim = new Simulator({ seed: testSeed(t, 106), config: makeConfig('lan'), latencyMs: 2, jitterMs: 1 });
  const names = joinCluster(sim, 5);
  sim.waitFor(() => allSee(sim, names, names, 'alive'), 30_000);
  const log = recordEvents(sim);
  const n2 = sim.addressOf('n2');
  let firstBuddy = -1;
  sim.onPacket = (_from, to, data, now) => {
    if (firstBuddy >= 0 || to !== n2) return;
    const msgs = decodePacket(data, 1400);
    if (msgs.some((m) => m.type === 'suspect' && m.node === 'n2')) firstBuddy = now;
  };
  // n0 wrongly suspects n2 (as after a lost ack); gossip or n0's next ping to n2 (buddy) tells n2.
  const inc = sim.node('n0').member('n2')?.incarnation ?? 0;
  sim.call('n0', (n, now) => n.receivePacket(sim.addressOf('n3'), encodeSuspect(inc, 'n2', 'n3'), now));
  const back = sim.waitFor(() => sim.node('n2').incarnation() > inc && names.every((o) => statusAt(sim, o, 'n2') === 'alive'), 30_000, 10);
  t.ok(firstBuddy >= 0, `the suspicion reached n2 at ${firstBuddy}`);
  t.ok(back >= 0 && back - firstBuddy <= 2000, `alive everywhere ${back - firstBuddy} ms later`);
  t.same(log.filter((e) => e.type === 'dead'), [], 'no death');
});

import { encodeMessage } from '../../src/swim/codec.ts';
function encodeSuspect(incarnation: number, node: string, from: string): Uint8Array {
  return encodeMessage({ type: 'suspect', incarnation, node, from });
}
