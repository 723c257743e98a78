/**
 * Simulator measurements for bench/dissemination.ts: the real SwimNode state machines in the
 * in-memory simulator (src/swim/sim), LAN profile, nothing modelled.
 *
 * Large clusters are bootstrapped (every node already knows the others, as after convergence, the
 * way src/swim/sim/bootstrap.ts does it) instead of running N joins; above FULL_VIEW_MAX nodes
 * each node knows a random sample of VIEW peers with clusterSizeHint = N, so retransmit limits and
 * timeouts scale with the real N. Names and addresses have the same width at every N
 * ("n00042", "10.100.100.142:7946"), so per-node byte counts compare N with N and not the number
 * of digits in a name.
 */
import { makeConfig, pushPullScale, suspicionTimeout } from '../src/swim/config.ts';
import type { SwimConfig } from '../src/swim/config.ts';
import { SeededRandom } from '../src/swim/sim/random.ts';
import { Simulator } from '../src/swim/sim/simulator.ts';
import { median, quantile, seededRandom } from './stats.ts';

export const FULL_VIEW_MAX = 1000;
export const VIEW = 200;

export interface SimCost {
  label: string;
  nodes: number;
  simSeconds: number;
  wallMs: number;
  events: number;
}

export const costs: SimCost[] = [];

function timed<T>(label: string, nodes: number, sim: () => { sim: Simulator; simMs: number; value: T }): T {
  const t0 = performance.now();
  const r = sim();
  costs.push({ label, nodes, simSeconds: r.simMs / 1000, wallMs: performance.now() - t0, events: r.sim.eventsProcessed });
  return r.value;
}

/** Fixed-width name and address of node i (i < 156³). */
export function benchName(i: number): string {
  return `n${String(i).padStart(5, '0')}`;
}

export function benchAddress(i: number): string {
  const o = (k: number): number => 100 + (Math.floor(i / 156 ** k) % 156);
  return `10.${o(2)}.${o(1)}.${o(0)}:7946`;
}

/**
 * With a partial view, push-pull and reconnect would merge views until every node knows every
 * other (the protocol's correct behaviour, and O(N²) memory for the simulator at N = 10,000:
 * it ran out of 4 GB), so they are off for those runs. Dissemination of a broadcast uses only
 * gossip and piggybacking either way.
 */
function cluster(seed: number, n: number, loss: number, base: SwimConfig): { sim: Simulator; names: string[] } {
  const config = n > FULL_VIEW_MAX ? { ...base, pushPullIntervalMs: 0, reconnectIntervalMs: 1e9 } : base;
  const sim = new Simulator({ seed, config, latencyMs: 1, jitterMs: 1, loss });
  const all = Array.from({ length: n }, (_, i) => ({ name: benchName(i), address: benchAddress(i) }));
  const rng = SeededRandom.derive(seed, 0x5eed);
  for (let i = 0; i < n; i++) {
    let members = all;
    if (n > FULL_VIEW_MAX) {
      const picked = new Set<number>();
      while (picked.size < VIEW) {
        const j = rng.int(n);
        if (j !== i) picked.add(j);
      }
      members = [...picked].map((j) => all[j] as { name: string; address: string });
    }
    sim.addNode(benchName(i), { address: benchAddress(i), initialMembers: members, clusterSizeHint: n });
  }
  const names = all.map((m) => m.name);
  for (const name of names) sim.join(name, []);
  return { sim, names };
}

// ---- dissemination ------------------------------------------------------------------------------

export interface DisseminationRun {
  /** Virtual ms after the broadcast until 50%, 99.9% and 100% of live nodes had it (Infinity: never). */
  t50: number;
  t999: number;
  t100: number;
  /** Fraction of live nodes that got it in the end. */
  reached: number;
}

export interface DisseminationPoint {
  n: number;
  loss: number;
  runs: number;
  gossipIntervalMs: number;
  /** Median and worst rounds (gossip intervals, rounded up) to each level; null = not reached. */
  rounds50: [number, number];
  rounds999: [number, number];
  rounds100: [number, number];
  /** Median seconds to each level. */
  seconds50: number;
  seconds999: number;
  seconds100: number;
  /** Runs in which every live node got the update. */
  complete: number;
  minReached: number;
}

export function disseminationOnce(seed: number, n: number, loss: number): DisseminationRun {
  const config = makeConfig('lan');
  return timed(`dissemination N=${n} loss=${loss}`, n, () => {
    const { sim, names } = cluster(seed, n, loss, config);
    // Let every loop start (each begins after a random fraction of its interval).
    sim.runFor(2 * config.probeIntervalMs);
    const rng = seededRandom(seed ^ 0xb0b);
    const origin = names[Math.floor(rng.next() * names.length)] as string;
    const live = new Set(sim.liveNames());
    const got = new Set<string>([origin]);
    const times: number[] = [];
    const t0 = sim.now;
    sim.onEvent = (node, ev, now) => {
      if (ev.type === 'user' && ev.from === origin && live.has(node) && !got.has(node)) {
        got.add(node);
        times.push(now - t0);
      }
    };
    sim.broadcast(origin, 'bench', new TextEncoder().encode(`update from ${origin}`));
    // Gossip reaches everyone in a few seconds or never; push-pull (which carries recent user
    // broadcasts) completes a delivery within one scaled interval (target T2). Partial-view runs
    // have no push-pull (see cluster), so gossip is all they get.
    const budget = n > FULL_VIEW_MAX ? 30_000 : pushPullScale(config.pushPullIntervalMs, n) + 10_000;
    sim.waitFor(() => got.size >= live.size, budget, config.gossipIntervalMs);
    const simMs = sim.now;
    const at = (frac: number): number => {
      const need = Math.ceil(frac * live.size) - 1; // the origin has it at t0
      if (need <= 0) return 0;
      return times.length >= need ? (times[need - 1] as number) : Infinity;
    };
    return { sim, simMs, value: { t50: at(0.5), t999: at(0.999), t100: at(1), reached: got.size / live.size } };
  });
}

export function dissemination(n: number, loss: number, runs: number, seed: number): DisseminationPoint {
  const config = makeConfig('lan');
  const res: DisseminationRun[] = [];
  for (let i = 0; i < runs; i++) res.push(disseminationOnce(seed + i * 7919, n, loss));
  const g = config.gossipIntervalMs;
  const rounds = (xs: number[]): [number, number] => {
    const r = xs.map((x) => Math.ceil(x / g));
    return [median(r), quantile(r, 1)];
  };
  return {
    n,
    loss,
    runs,
    gossipIntervalMs: g,
    rounds50: rounds(res.map((r) => r.t50)),
    rounds999: rounds(res.map((r) => r.t999)),
    rounds100: rounds(res.map((r) => r.t100)),
    seconds50: median(res.map((r) => r.t50)) / 1000,
    seconds999: median(res.map((r) => r.t999)) / 1000,
    seconds100: median(res.map((r) => r.t100)) / 1000,
    complete: res.filter((r) => r.reached === 1).length,
    minReached: Math.min(...res.map((r) => r.reached)),
  };
}

// ---- steady-state traffic -----------------------------------------------------------------------

export interface SteadyPoint {
  n: number;
  windowSeconds: number;
  /** Per node per second, datagrams only (push-pull excluded, as target T3 says). */
  bytesSent: number;
  bytesReceived: number;
  packetsSent: number;
  packetsReceived: number;
  /** Push-pull (stream) bytes sent + received per node per second, reported separately. */
  streamBytes: number;
}

export function steadyState(n: number, seed: number, warmupMs: number, windowMs: number): SteadyPoint {
  const config = makeConfig('lan');
  return timed(`steady N=${n}`, n, () => {
    const { sim, names } = cluster(seed, n, 0, config);
    sim.runFor(warmupMs);
    const snap = (): number[] => {
      let bs = 0;
      let br = 0;
      let ps = 0;
      let pr = 0;
      let sb = 0;
      for (const name of names) {
        const c = sim.counters(name);
        bs += c.bytesSent;
        br += c.bytesReceived;
        ps += c.packetsSent;
        pr += c.packetsReceived;
        sb += c.streamBytesSent + c.streamBytesReceived;
      }
      return [bs, br, ps, pr, sb];
    };
    const before = snap();
    sim.runFor(windowMs);
    const after = snap();
    const per = (i: number): number => ((after[i] as number) - (before[i] as number)) / n / (windowMs / 1000);
    return {
      sim,
      simMs: sim.now,
      value: {
        n,
        windowSeconds: windowMs / 1000,
        bytesSent: per(0),
        bytesReceived: per(1),
        packetsSent: per(2),
        packetsReceived: per(3),
        streamBytes: per(4),
      },
    };
  });
}

// ---- crash detection ----------------------------------------------------------------------------

export interface CrashPoint {
  n: number;
  runs: number;
  suspicionMinSeconds: number;
  suspicionMaxSeconds: number;
  /** Seconds from crash until the first live node suspects it / declares it dead / all do. */
  firstSuspectMedian: number;
  firstDeadMedian: number;
  allDeadMedian: number;
  allDeadP99: number;
  allDeadMax: number;
  /** Runs where some live node never declared it dead within the budget. */
  undetected: number;
}

export function crashDetection(n: number, runs: number, seed: number): CrashPoint {
  const config = makeConfig('lan');
  const min = suspicionTimeout(config.suspicionMult, n, config.probeIntervalMs);
  const firstSuspect: number[] = [];
  const firstDead: number[] = [];
  const allDead: number[] = [];
  let undetected = 0;
  for (let i = 0; i < runs; i++) {
    const s = seed + i * 104_729;
    timed(`crash N=${n}`, n, () => {
      const { sim, names } = cluster(s, n, 0, config);
      sim.runFor(10_000);
      const rng = seededRandom(s ^ 0xdead);
      const victim = names[Math.floor(rng.next() * names.length)] as string;
      const t0 = sim.now;
      let suspectAt = Infinity;
      let deadAt = Infinity;
      const deadAtNode = new Set<string>();
      sim.onEvent = (node, ev, now) => {
        if (ev.type === 'suspect' && ev.member.name === victim) suspectAt = Math.min(suspectAt, now - t0);
        if (ev.type === 'dead' && ev.member.name === victim) {
          deadAt = Math.min(deadAt, now - t0);
          deadAtNode.add(node);
        }
      };
      sim.crash(victim);
      const live = sim.liveNames();
      const ok = sim.waitFor(() => deadAtNode.size >= live.length, 6 * min + 30_000, 50);
      firstSuspect.push(suspectAt / 1000);
      firstDead.push(deadAt / 1000);
      if (ok < 0) {
        undetected++;
        allDead.push(Infinity);
      } else {
        allDead.push((ok - t0) / 1000);
      }
      return { sim, simMs: sim.now, value: null };
    });
  }
  return {
    n,
    runs,
    suspicionMinSeconds: min / 1000,
    suspicionMaxSeconds: (min * config.suspicionMaxTimeoutMult) / 1000,
    firstSuspectMedian: median(firstSuspect),
    firstDeadMedian: median(firstDead),
    allDeadMedian: median(allDead),
    allDeadP99: quantile(allDead, 0.99),
    allDeadMax: quantile(allDead, 1),
    undetected,
  };
}

// ---- false deaths under loss --------------------------------------------------------------------

export interface FalseDeathPoint {
  n: number;
  loss: number;
  /** TCP fallback pings on; they fail with the link's loss like push-pull streams (simulator). */
  tcpFallback: boolean;
  simulatedMinutes: number;
  runs: number;
  /** Summed over runs: "dead" and "suspect" events about nodes that never crashed. */
  falseDeaths: number;
  falseSuspicions: number;
  refutes: number;
}

export function falseDeaths(n: number, loss: number, minutes: number, runs: number, seed: number, tcpFallback = true): FalseDeathPoint {
  const config = makeConfig('lan', { disableTcpPings: !tcpFallback });
  let dead = 0;
  let suspect = 0;
  let refutes = 0;
  for (let i = 0; i < runs; i++) {
    timed(`false deaths N=${n} loss=${loss}${tcpFallback ? '' : ' udp only'}`, n, () => {
      const { sim, names } = cluster(seed + i * 15_485_863, n, loss, config);
      sim.onEvent = (_node, ev) => {
        if (ev.type === 'dead') dead++;
        if (ev.type === 'suspect') suspect++;
      };
      sim.runFor(minutes * 60_000);
      for (const name of names) refutes += sim.node(name).stats().refutes;
      return { sim, simMs: sim.now, value: null };
    });
  }
  return { n, loss, tcpFallback, simulatedMinutes: minutes, runs, falseDeaths: dead, falseSuspicions: suspect, refutes };
}
