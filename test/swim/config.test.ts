import t from 'tap';
import { lanConfig, localConfig, makeConfig, pushPullScale, retransmitLimit, suspicionTimeout, wanConfig } from '../../src/swim/config.ts';
import { throwsCode } from '../helpers/swim-sim.ts';
import { Suspicion, remainingSuspicionTime } from '../../src/swim/suspicion.ts';
import { Awareness } from '../../src/swim/awareness.ts';

t.test('profiles carry memberlist values', async (t) => {
  const lan = lanConfig();
  t.match(lan, { probeIntervalMs: 1000, probeTimeoutMs: 500, indirectChecks: 3, suspicionMult: 4, suspicionMaxTimeoutMult: 6,
    retransmitMult: 4, gossipIntervalMs: 200, gossipNodes: 3, gossipToTheDeadMs: 30000, pushPullIntervalMs: 30000,
    tcpTimeoutMs: 10000, awarenessMaxMultiplier: 8, udpBufferSize: 1400, deadNodeReclaimMs: 0 });
  t.match(wanConfig(), { probeIntervalMs: 5000, probeTimeoutMs: 3000, suspicionMult: 6, gossipIntervalMs: 500, gossipNodes: 4,
    gossipToTheDeadMs: 60000, pushPullIntervalMs: 60000, tcpTimeoutMs: 30000 });
  t.match(localConfig(), { probeIntervalMs: 1000, probeTimeoutMs: 200, indirectChecks: 1, suspicionMult: 3, retransmitMult: 2,
    gossipIntervalMs: 100, gossipToTheDeadMs: 15000, pushPullIntervalMs: 15000, tcpTimeoutMs: 1000 });
  t.equal(makeConfig().probeIntervalMs, 1000, 'LAN is the default');
  t.equal(makeConfig('local', { gossipNodes: 5 }).gossipNodes, 5);
  for (const bad of [{ probeIntervalMs: 0 }, { probeTimeoutMs: 2000 }, { udpBufferSize: 100 }, { gossipIntervalMs: NaN }]) {
    throwsCode(t, () => makeConfig('lan', bad), 'BAD_ARGUMENT');
  }
});

t.test('retransmit limit: mult × ceil(log10(N+1))', async (t) => {
  const table: Array<[number, number, number]> = [
    [1, 4, 2], [9, 4, 2], [10, 8, 4], [99, 8, 4], [100, 12, 6], [999, 12, 6], [1000, 16, 8], [9999, 16, 8], [10000, 20, 10],
  ];
  for (const [n, lan, local] of table) {
    t.equal(retransmitLimit(4, n), lan, `LAN N=${n}`);
    t.equal(retransmitLimit(2, n), local, `Local N=${n}`);
  }
  t.equal(retransmitLimit(4, 0), 0);
  // The small-group floor (minRetransmits, 4 by default) only raises what the formula gives less.
  const floor = lanConfig().minRetransmits;
  t.equal(floor, 4);
  t.equal(localConfig().minRetransmits, 4);
  for (const [n, lan, local] of table) {
    t.equal(retransmitLimit(4, n, floor), lan, `LAN N=${n}: unchanged`);
    t.equal(retransmitLimit(2, n, floor), Math.max(local, 4), `Local N=${n}: at least 4`);
  }
  t.throws(() => makeConfig('lan', { minRetransmits: -1 }));
});

t.test('retention of dead and left rows: Serf-like defaults, checked', async (t) => {
  t.equal(lanConfig().deadRetentionMs, 24 * 3600 * 1000, 'failed members listed 24 h');
  t.equal(lanConfig().leftRetentionMs, 3600 * 1000, 'members that left listed 1 h');
  t.equal(localConfig().deadRetentionMs, lanConfig().deadRetentionMs);
  throwsCode(t, () => makeConfig('lan', { deadRetentionMs: -1 }), 'BAD_ARGUMENT');
  throwsCode(t, () => makeConfig('lan', { leftRetentionMs: NaN }), 'BAD_ARGUMENT');
});

t.test('suspicion minimum and maximum (swim.md §1.3 table)', async (t) => {
  const table: Array<[number, number, number, number]> = [
    // N, LAN min, WAN min, Local min (ms)
    [10, 4000, 30000, 3000],
    [50, 6795, 50969, 5096],
    [100, 8000, 60000, 6000],
    [1000, 12000, 90000, 9000],
    [10000, 16000, 120000, 12000],
  ];
  for (const [n, lan, wan, local] of table) {
    t.equal(suspicionTimeout(4, n, 1000), lan, `LAN N=${n}`);
    t.equal(suspicionTimeout(6, n, 5000), wan, `WAN N=${n}`);
    t.equal(suspicionTimeout(3, n, 1000), local, `Local N=${n}`);
    t.equal(6 * suspicionTimeout(4, n, 1000), lan * 6, `LAN max N=${n}`);
  }
  t.equal(suspicionTimeout(4, 1, 1000), 4000, 'never below one interval × mult');
});

t.test('push-pull interval scale', async (t) => {
  const table: Array<[number, number]> = [[1, 1], [32, 1], [33, 2], [64, 2], [65, 3], [128, 3], [1024, 6], [10000, 10]];
  for (const [n, mult] of table) t.equal(pushPullScale(30000, n), 30000 * mult, `N=${n} ×${mult}`);
});

t.test('remaining suspicion time: pure table (memberlist suspicion_test.go)', async (t) => {
  const min = 2000;
  const max = 30000;
  const table: Array<[number, number, number, number]> = [
    // n, k, elapsed, expected
    [0, 3, 0, 30000],
    [1, 3, 2000, 14000],
    [2, 3, 3000, 4810],
    [3, 3, 4000, -2000],
    [4, 3, 5000, -3000],
    [5, 3, 10000, -8000],
  ];
  for (const [n, k, elapsed, want] of table) {
    t.equal(remainingSuspicionTime(n, k, elapsed, min, max), want, `n=${n} k=${k} elapsed=${elapsed}`);
  }
  // LAN at N=100: min 8 s, max 48 s, K = 2; one confirmation puts the timeout near 22.8 s.
  t.equal(remainingSuspicionTime(1, 2, 0, 8000, 48000), 22762);
  t.equal(remainingSuspicionTime(0, 0, 0, 8000, 48000), 8000, 'k = 0: min');
});

t.test('suspicion timer: accuser does not count, duplicates do not count, deadline shrinks', async (t) => {
  const s = new Suspicion('a', 1, 2, 8000, 48000, 1000);
  t.equal(s.deadline, 49000, 'starts at max');
  t.notOk(s.confirm('a', 2000), 'the accuser is not a confirmation');
  t.ok(s.confirm('b', 2000));
  t.equal(s.deadline, 2000 + remainingSuspicionTime(1, 2, 1000, 8000, 48000));
  t.notOk(s.confirm('b', 2500), 'each sender counts once');
  t.ok(s.confirm('c', 3000));
  t.equal(s.deadline, 9000, 'K confirmations: min');
  t.notOk(s.confirm('d', 3000), 'no more than K');
  const small = new Suspicion('a', 1, 0, 3000, 18000, 0);
  t.equal(small.deadline, 3000, 'k = 0 runs for min');
});

t.test('awareness saturates and scales intervals', async (t) => {
  const a = new Awareness(8);
  t.equal(a.scaleTimeout(1000), 1000);
  a.applyDelta(3);
  t.equal(a.getHealthScore(), 3);
  t.equal(a.scaleTimeout(1000), 4000);
  a.applyDelta(100);
  t.equal(a.getHealthScore(), 7, 'ceiling is max − 1');
  a.applyDelta(-100);
  t.equal(a.getHealthScore(), 0, 'floor is 0');
  const off = new Awareness(8, false);
  off.applyDelta(5);
  t.equal(off.getHealthScore(), 0, 'disabled without Lifeguard');
});
