/**
 * The simulator's own behaviour: loss, partitions, stalls, crashes, counters, determinism of the PRNG.
 */
import t from 'tap';
import { SeededRandom } from '../../src/swim/sim/random.ts';
import { MinHeap } from '../../src/swim/heap.ts';
import { allSee, joinCluster, localSim, testSeed } from '../helpers/swim-sim.ts';

t.test('seeded PRNG: reproducible, uniform enough, distinct per seed', async (t) => {
  const a = new SeededRandom(7);
  const b = new SeededRandom(7);
  const xs = Array.from({ length: 1000 }, () => a.next());
  t.same(Array.from({ length: 1000 }, () => b.next()), xs, 'same seed, same stream');
  t.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  t.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  t.not(new SeededRandom(8).next(), new SeededRandom(7).next());
  t.not(SeededRandom.derive(1, 1).next(), SeededRandom.derive(1, 2).next());
});

t.test('min-heap pops in (at, seq) order', async (t) => {
  const h = new MinHeap<{ at: number; seq: number }>();
  const r = new SeededRandom(3);
  for (let i = 0; i < 500; i++) h.push({ at: Math.floor(r.next() * 50), seq: i });
  let prev = { at: -1, seq: -1 };
  let n = 0;
  for (let e = h.pop(); e; e = h.pop()) {
    t.ok(e.at > prev.at || (e.at === prev.at && e.seq > prev.seq), 'ordered') || t.bailout();
    prev = e;
    n++;
  }
  t.equal(n, 500);
});

t.test('loss drops about the configured share of datagrams', async (t) => {
  const sim = localSim(testSeed(t, 501), {}, { loss: 0.3 });
  const names = joinCluster(sim, 5);
  sim.runFor(200_000);
  let sent = 0;
  let dropped = 0;
  for (const n of names) {
    sent += sim.counters(n).packetsSent;
    dropped += sim.counters(n).packetsDropped;
  }
  const share = dropped / sent;
  t.ok(share > 0.27 && share < 0.33, `dropped ${(share * 100).toFixed(1)}% of ${sent}`);
});

t.test('partition: no datagram crosses; stall: inbound waits, then is processed', async (t) => {
  const sim = localSim(testSeed(t, 502));
  const names = joinCluster(sim, 4);
  sim.waitFor(() => allSee(sim, names, names, 'alive'), 20_000);
  sim.partition([['n0', 'n1'], ['n2', 'n3']]);
  const before = sim.counters('n2').packetsReceived;
  sim.runFor(500);
  const fromOthers = sim.counters('n2').packetsReceived - before;
  sim.heal();
  t.ok(fromOthers <= 6, `n2 only hears n3 while split (${fromOthers} packets)`);
  const r0 = sim.counters('n1').packetsReceived;
  sim.stall('n1', 3000);
  sim.runFor(2900);
  t.equal(sim.counters('n1').packetsReceived, r0, 'nothing processed while stalled');
  sim.runFor(200);
  t.ok(sim.counters('n1').packetsReceived > r0, 'the backlog is processed on waking');
});

t.test('crash and restart: a fresh state machine under the same name', async (t) => {
  const sim = localSim(testSeed(t, 503));
  const names = joinCluster(sim, 3);
  sim.runFor(3000);
  const old = sim.node('n2');
  sim.crash('n2');
  t.ok(sim.isCrashed('n2'));
  t.same(sim.liveNames(), ['n0', 'n1']);
  const sent = sim.counters('n2').packetsSent;
  sim.runFor(3000);
  t.equal(sim.counters('n2').packetsSent, sent, 'a crashed node sends nothing');
  const fresh = sim.restart('n2', { seeds: ['n0'] });
  t.not(fresh, old);
  t.equal(sim.node('n2'), fresh);
  sim.waitFor(() => allSee(sim, names, names, 'alive'), 30_000);
  t.ok(allSee(sim, names, names, 'alive'));
});

t.test('streams across a lossy link fail at the link loss rate, after at most about a second', async (t) => {
  // Push-pull every second so there are many streams; every datagram and stream attempt sees 30%.
  const sim = localSim(testSeed(t, 504), { pushPullIntervalMs: 1000 }, { loss: 0.3 });
  const names = joinCluster(sim, 5);
  const replies: Array<{ ok: boolean; after: number }> = [];
  // Watch stream outcomes from outside: wrap one node's receiveStreamReply.
  const n0 = sim.node('n0');
  const opened = new Map<number, number>();
  const origReply = n0.receiveStreamReply.bind(n0);
  n0.receiveStreamReply = (id, data, now) => {
    const at = opened.get(id);
    if (at !== undefined) replies.push({ ok: data !== null, after: now - at });
    opened.delete(id);
    return origReply(id, data, now);
  };
  const origTick = n0.tick.bind(n0);
  const track = (out: ReturnType<typeof origTick>): typeof out => {
    for (const s of out.streams) opened.set(s.id, sim.now);
    return out;
  };
  n0.tick = (now) => track(origTick(now));
  sim.runFor(300_000);
  let open = 0;
  let failed = 0;
  for (const n of names) {
    open += sim.counters(n).streamsOpened;
    failed += sim.counters(n).streamsFailed;
  }
  const share = failed / open;
  t.ok(share > 0.25 && share < 0.35, `${failed} of ${open} streams failed (${(share * 100).toFixed(1)}%)`);
  const bad = replies.filter((r) => !r.ok);
  t.ok(replies.length > 100, `${replies.length} stream outcomes seen at n0`);
  t.ok(bad.length > 0.2 * replies.length, `n0 saw ${bad.length} failures of ${replies.length}`);
  t.ok(bad.every((r) => r.after <= 1000), 'a failure is reported within the connect delay (1 s)');

  // No loss, no failures.
  const clean = localSim(testSeed(t, 505), { pushPullIntervalMs: 1000 });
  const cn = joinCluster(clean, 5);
  clean.runFor(60_000);
  t.equal(cn.reduce((a, n) => a + clean.counters(n).streamsFailed, 0), 0, 'a lossless link never breaks a stream');
});
