/**
 * Lying peers among 1,000 simulated nodes. One forges (it pushes an entry with a broken signature
 * after its hello, and breaks the signature of every entry it sends), one babbles (every frame it sends is random bytes); both
 * advertise a made-up root with a huge entry count so that their neighbours want to sync with
 * them, and both gossip forged entries and garbage. Every session with them fails with a typed
 * error detected by the honest side, each honest node gives a liar one chance (then the liar is
 * not chosen again), nothing forged is accepted or relayed, and an honest write still reaches
 * every honest node with identical roots.
 */
import t from 'tap';
import { performance } from 'node:perf_hooks';
import { ACTION, createEntry } from '../../src/core/entry.ts';
import { SeededRandom } from '../../src/swim/sim/random.ts';
import { decodeNodeMeta, encodeNodeMeta } from '../../src/sync/node-meta.ts';
import { encodeEntryGossip } from '../../src/sync/node-gossip.ts';
import { decodeMessage, encodeMessage } from '../../src/sync/wire.ts';
import { EPOCH_MS, ROOT_KEY, simCluster, sumStats, syncSeed } from './sim-helpers.ts';

const N = 1000;

t.test('liars are refused and dropped; the honest nodes converge', async (t) => {
  const seed = syncSeed(t, 4001);
  const wall = performance.now();
  const rng = new SeededRandom(seed ^ 0x11a12);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => rng.int(256));
  const net = simCluster(seed, N);
  net.runFor(2_000);

  // An entry by the root key with a broken signature: pushed in sessions and gossiped.
  const genesis = net.node('n0').log.genesis.entry;
  const forged = createEntry({ parent: genesis.hash, timestamp: EPOCH_MS + 1, action: ACTION.MKDIR, name: 'evil', content: new Uint8Array(0) }, ROOT_KEY.publicKey, ROOT_KEY.seed).bytes.slice();
  forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 0xff;
  const forger = 'n13';
  const babbler = 'n77';
  const liars = new Set([forger, babbler]);
  const lie = (name: string) => {
    const honest = decodeNodeMeta(net.honestMeta(name));
    if (honest === null) throw new Error('no meta');
    return encodeNodeMeta({ syncPort: honest.syncPort, root: bytes(32), fsId: net.node(name).log.id, entries: 1_000_000 });
  };
  net.liar(forger, {
    advertise: lie(forger),
    tamper: (f) => {
      const m = decodeMessage(f);
      if (m.type === 'hello') return [f, encodeMessage({ type: 'entries', entries: [forged] })];
      if (m.type !== 'entries') return [f];
      const broken = m.entries.map((e) => {
        const x = e.slice();
        x[x.length - 1] = (x[x.length - 1] as number) ^ 1; // the signature's last byte
        return x;
      });
      return [encodeMessage({ type: 'entries', entries: broken })];
    },
  });
  net.liar(babbler, { advertise: lie(babbler), tamper: (f) => [bytes(Math.max(1, f.length))] });

  // Gossip lies: the forged entry, and garbage.
  net.sim.broadcast(forger, 'x1', encodeEntryGossip(forged));
  net.sim.broadcast(babbler, 'x2', bytes(40));
  net.sim.broadcast(babbler, 'x3', encodeEntryGossip(bytes(120)));

  const entry = net.writer('n500', ROOT_KEY).mkdir('/etc');
  const start = net.now;
  const honest = net.live().filter((n) => !liars.has(n.name));
  const at = net.waitFor(() => net.holding(entry.hash, honest) === honest.length && net.converged(honest), 30_000, 50);
  t.not(at, -1, 'every honest node holds the write, with identical roots');
  net.runFor(5_000); // and the liars keep lying meanwhile

  t.ok(net.live().every((n) => !n.view.exists('/evil')), 'nothing forged was accepted anywhere');
  const refused = sumStats(net, (s) => s.gossipRejected + s.gossipMalformed, honest);
  t.ok(refused > 0, `gossiped lies refused (${refused} times)`);
  // Relayed, each of the 3 lies would reach nearly every honest node.
  t.ok(refused < honest.length, `and not relayed: only the liars' own gossip targets saw them (${refused})`);

  const withLiars = net.sessions.filter((s) => s.role === 'initiator' && liars.has(s.peer) && !liars.has(s.node));
  t.ok(withLiars.length > 0, `honest nodes tried the liars (${withLiars.length} sessions)`);
  const detected = withLiars.filter((s) => s.result.error !== undefined && !s.result.error.remote && s.result.error.code !== 'CLOSED' && s.result.error.code !== 'TIMEOUT');
  const codes = [...new Set(detected.map((s) => s.result.error?.code))].sort();
  t.ok(withLiars.every((s) => s.result.error !== undefined), 'every session with a liar failed');
  t.ok(detected.length > 0, `lies detected by the honest side: ${codes.join(', ')}`);
  const perPair = new Map<string, number>();
  for (const s of detected) perPair.set(`${s.node}>${s.peer}`, (perPair.get(`${s.node}>${s.peer}`) ?? 0) + 1);
  t.ok([...perPair.values()].every((k) => k === 1), 'a liar caught once is not chosen again');
  t.ok(net.converged(honest), 'the honest nodes still agree');
  t.comment(`N=${N}: honest nodes converged +${at - start} ms (simulated); ${withLiars.length} sessions with liars (${detected.length} lies detected: ${codes.join(', ')}); ${refused} gossiped lies refused; wall ${(performance.now() - wall).toFixed(0)} ms`);
});
