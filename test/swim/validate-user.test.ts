/**
 * The application's validateUser hook: a refused broadcast is neither delivered nor relayed, and a
 * forged copy does not shadow the genuine messages of the origin it claims.
 */
import t from 'tap';
import { makeConfig } from '../../src/swim/config.ts';
import { encodeMessage } from '../../src/swim/codec.ts';
import { Simulator } from '../../src/swim/sim/simulator.ts';
import { bootstrapCluster } from '../../src/swim/sim/bootstrap.ts';
import { testSeed } from '../helpers/swim-sim.ts';

/** Payloads starting with 0xff are "invalid" for this application. */
const validateUser = (payload: Uint8Array) => payload[0] !== 0xff;

function cluster(seed: number) {
  const sim = new Simulator({ seed, config: makeConfig('lan'), latencyMs: 2, jitterMs: 1 });
  const names = bootstrapCluster(sim, 20, { node: { delegate: { validateUser } } });
  sim.runFor(3000);
  const got = new Map<string, string[]>();
  sim.onEvent = (node, ev) => {
    if (ev.type === 'user') got.set(node, [...(got.get(node) ?? []), Buffer.from(ev.payload).toString('hex')]);
  };
  return { sim, names, got };
}

t.test('a refused broadcast is delivered nowhere and relayed by no one', async (t) => {
  const { sim, names, got } = cluster(testSeed(t, 811));
  sim.broadcast(names[0]!, 'bad', Uint8Array.of(0xff, 1));
  sim.broadcast(names[0]!, 'good', Uint8Array.of(0x01, 2));
  sim.runFor(10_000);
  const bad = [...got.values()].filter((v) => v.includes('ff01')).length;
  const good = [...got.values()].filter((v) => v.includes('0102')).length;
  t.equal(bad, 0, 'nobody delivers the refused payload');
  t.equal(good, 19, 'the valid one reaches all 19 others');
  let rejected = 0;
  for (const n of names.slice(1)) sim.call(n, (node) => ((rejected += node.stats().userRejected), { packets: [], streams: [], events: [] }));
  t.ok(rejected >= 1 && rejected <= 19 * 3, `refused only where it arrived directly (${rejected} refusals), never relayed`);
});

t.test('a forged message claiming a huge version does not block the origin\'s real ones', async (t) => {
  const { sim, names, got } = cluster(testSeed(t, 812));
  const victim = names[5]!;
  const forged = encodeMessage({ type: 'user', origin: names[0]!, key: 'k', epoch: 1e6, version: 1e6, payload: Uint8Array.of(0xff) });
  sim.call(victim, (node, now) => node.receivePacket('127.9.9.9:7946', forged, now));
  sim.broadcast(names[0]!, 'k', Uint8Array.of(0x07));
  sim.runFor(10_000);
  t.ok(got.get(victim)?.includes('07'), 'the genuine message still arrives at the node that saw the forgery');
  t.equal([...got.values()].filter((v) => v.includes('07')).length, 19);
});
