/**
 * `npm run bench:dissemination [-- --full] [-- --seed N] [-- --no-real]`
 *
 * How fast one update spreads and what SWIM costs per node, measured on the real protocol code:
 * the SwimNode state machines in the in-memory simulator (virtual clock, seeded loss), plus one
 * run on real UDP/TCP sockets on 127.0.0.x. Prints human tables (progress goes to stderr) and, as
 * the very last line of stdout, one JSON object with every figure and the verdict on each target
 * of docs/swim.md section 6 / issue 4.
 *
 * Quick mode (default) keeps to a few minutes on 2 cores: fewer repetitions (2 at N = 10,000),
 * socket runs of 16 and 32 nodes in this process and 32 across 2 child processes. --full repeats
 * more and runs 16, 32 and 64 nodes in this process, 32 in 2 and 64 in 4 child processes.
 */
import { makeConfig } from '../src/swim/config.ts';
import { realSockets, type RealSocketResult } from './real-bench.ts';
import { realSocketsMultiProcess, type MultiProcResult } from './real-procs.ts';
import {
  costs,
  crashDetection,
  dissemination,
  falseDeaths,
  steadyState,
  type CrashPoint,
  type DisseminationPoint,
  type FalseDeathPoint,
  type SteadyPoint,
} from './sim-bench.ts';
import { fmt, printReport, textTable, type Verdict } from './stats.ts';

interface Plan {
  mode: 'quick' | 'full';
  seed: number;
  /** `losses` overrides the plan-wide losses for one group size. */
  dissemination: Array<{ n: number; runs: number; losses?: number[] }>;
  losses: number[];
  steadyNs: number[];
  steadyWarmupMs: number;
  steadyWindowMs: number;
  crashRuns: number;
  falseDeathLosses: number[];
  falseDeathRuns: number;
  realNs: number[];
  realBroadcasts: number;
  /** Multi-process socket runs: [N, processes]. */
  procRuns: Array<[number, number]>;
  real: boolean;
}

function plan(argv: string[]): Plan {
  const full = argv.includes('--full');
  const seedArg = argv.indexOf('--seed');
  const seed = seedArg >= 0 ? Number(argv[seedArg + 1]) >>> 0 : 20_261_125;
  const base = {
    seed,
    losses: [0, 0.1, 0.3],
    steadyWarmupMs: 40_000,
    real: !argv.includes('--no-real'),
  };
  return full
    ? {
        ...base,
        mode: 'full',
        dissemination: [
          { n: 10, runs: 200 },
          { n: 100, runs: 100 },
          { n: 1000, runs: 30 },
          { n: 10_000, runs: 10 },
        ],
        steadyNs: [10, 30, 100, 300, 1000],
        steadyWindowMs: 120_000,
        crashRuns: 100,
        falseDeathLosses: [0.1, 0.2],
        falseDeathRuns: 10,
        realNs: [16, 32, 64],
        realBroadcasts: 10,
        procRuns: [
          [32, 2],
          [64, 4],
        ],
      }
    : {
        ...base,
        mode: 'quick',
        dissemination: [
          { n: 10, runs: 50 },
          { n: 100, runs: 30 },
          { n: 1000, runs: 10 },
          // At 30% loss a 10,000-node group spends minutes of wall time on suspicion churn
          // (every failed probe is news); quick mode leaves that point to --full.
          { n: 10_000, runs: 2, losses: [0, 0.1] },
        ],
        steadyNs: [10, 30, 100, 300, 1000],
        steadyWindowMs: 30_000,
        crashRuns: 20,
        falseDeathLosses: [0.1, 0.2],
        falseDeathRuns: 2,
        realNs: [16, 32],
        realBroadcasts: 5,
        procRuns: [[32, 2]],
      };
}

const progress = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

/** Issue 4's dissemination targets: 100% of live nodes within this many rounds at no loss. */
const ROUND_TARGETS: Record<number, number> = { 100: 6, 1000: 8, 10_000: 9 };

async function main(): Promise<void> {
  const p = plan(process.argv.slice(2));
  const wall0 = performance.now();
  const lan = makeConfig('lan');
  progress(`${p.mode} mode, seed ${p.seed}`);

  const dis: DisseminationPoint[] = [];
  for (const { n, runs, losses } of p.dissemination) {
    for (const loss of losses ?? p.losses) {
      progress(`dissemination N=${n} loss=${loss * 100}% (${runs} runs)`);
      dis.push(dissemination(n, loss, runs, p.seed + n));
    }
  }

  const steady: SteadyPoint[] = [];
  for (const n of p.steadyNs) {
    progress(`steady state N=${n}`);
    steady.push(steadyState(n, p.seed + 17 * n, p.steadyWarmupMs, p.steadyWindowMs));
  }

  progress(`crash detection N=50 (${p.crashRuns} runs)`);
  const crash: CrashPoint = crashDetection(50, p.crashRuns, p.seed + 50);

  const fd: FalseDeathPoint[] = [];
  for (const loss of p.falseDeathLosses) {
    progress(`false deaths N=50 loss=${loss * 100}% (10 simulated minutes x ${p.falseDeathRuns})`);
    fd.push(falseDeaths(50, loss, 10, p.falseDeathRuns, p.seed + 99));
    progress(`false deaths N=50 loss=${loss * 100}%, TCP fallback off`);
    fd.push(falseDeaths(50, loss, 10, p.falseDeathRuns, p.seed + 99, false));
  }

  const real: RealSocketResult[] = [];
  if (p.real) {
    for (const n of p.realNs) {
      progress(`real sockets N=${n}`);
      real.push(await realSockets(n, p.realBroadcasts));
    }
  }
  const procs: MultiProcResult[] = [];
  if (p.real) {
    for (const [n, k] of p.procRuns) {
      progress(`real sockets N=${n} in ${k} processes`);
      procs.push(await realSocketsMultiProcess(n, k, p.realBroadcasts));
    }
  }

  // ---- verdicts -------------------------------------------------------------------------------
  const targets: Record<string, Verdict> = {};
  for (const [nText, rounds] of Object.entries(ROUND_TARGETS)) {
    const n = Number(nText);
    const clean = dis.find((d) => d.n === n && d.loss === 0);
    const lossy = dis.find((d) => d.n === n && d.loss === 0.1);
    if (clean) {
      targets[`rounds100_N${n}_loss0`] = {
        target: `median <= ${rounds} rounds to 100%`,
        measured: `median ${fmt(clean.rounds100[0])}, worst ${fmt(clean.rounds100[1])}, complete ${clean.complete}/${clean.runs}`,
        met: clean.rounds100[0] <= rounds,
      };
    }
    if (lossy) {
      targets[`rounds100_N${n}_loss10`] = {
        target: `median <= ${rounds + 1} rounds to 100%`,
        measured: `median ${fmt(lossy.rounds100[0])}, worst ${fmt(lossy.rounds100[1])}, complete ${lossy.complete}/${lossy.runs}`,
        met: lossy.rounds100[0] <= rounds + 1,
      };
    }
  }
  const s10 = steady.find((s) => s.n === 10);
  const s1000 = steady.find((s) => s.n === 1000);
  const ratio = s10 && s1000 ? s1000.bytesSent / s10.bytesSent : NaN;
  const packetRatio = s10 && s1000 ? s1000.packetsSent / s10.packetsSent : NaN;
  targets['steady_ratio_N1000_N10'] = { target: '<= 1.2 (datagram bytes/s per node)', measured: fmt(ratio), met: ratio <= 1.2 };
  const crashTarget = crash.suspicionMinSeconds + 3;
  targets['crash_to_dead_N50_median'] = {
    target: `<= suspicion min + 3 s = ${fmt(crashTarget)} s`,
    measured: `${fmt(crash.allDeadMedian)} s`,
    met: crash.allDeadMedian <= crashTarget,
  };
  targets['crash_to_dead_N50_p99'] = {
    target: `<= suspicion max + 3 s = ${fmt(crash.suspicionMaxSeconds + 3)} s`,
    measured: `${fmt(crash.allDeadP99)} s`,
    met: crash.allDeadP99 <= crash.suspicionMaxSeconds + 3,
  };
  // T2: every live node gets every update within one scaled push-pull interval, at any loss up
  // to 30% (gossip, then push-pull, which carries recent user broadcasts).
  const incomplete = dis.filter((d) => d.complete < d.runs);
  targets['complete_delivery_loss_upto30'] = {
    target: 'every run reaches 100% of live nodes within one scaled push-pull interval (+10 s)',
    measured:
      incomplete.length === 0
        ? 'all runs complete'
        : incomplete.map((d) => `N=${d.n} loss ${d.loss * 100}%: ${d.runs - d.complete}/${d.runs} runs missed a node`).join('; '),
    met: incomplete.length === 0,
  };
  const fd10 = fd.find((f) => f.loss === 0.1 && f.tcpFallback);
  if (fd10) {
    targets['false_deaths_N50_loss10_10min'] = { target: '0', measured: String(fd10.falseDeaths), met: fd10.falseDeaths === 0 };
  }

  // ---- human output -----------------------------------------------------------------------------
  const out: string[] = [];
  out.push(`SWIM dissemination benchmark (${p.mode} mode, seed ${p.seed}, LAN profile: gossip ${lan.gossipIntervalMs} ms to ${lan.gossipNodes}, retransmit mult ${lan.retransmitMult})`);
  out.push('');
  out.push('Rounds (gossip intervals) until one update reaches 50% / 99.9% / 100% of live nodes: median (worst);');
  out.push('a worst case of tens of rounds is a node that gossip missed and push-pull completed');
  out.push(
    textTable(
      ['N', 'loss', 'runs', '50%', '99.9%', '100%', 's to 100%', 'complete', 'min reached'],
      dis.map((d) => [
        String(d.n),
        `${d.loss * 100}%`,
        d.runs,
        `${fmt(d.rounds50[0])} (${fmt(d.rounds50[1])})`,
        `${fmt(d.rounds999[0])} (${fmt(d.rounds999[1])})`,
        `${fmt(d.rounds100[0])} (${fmt(d.rounds100[1])})`,
        d.seconds100,
        `${d.complete}/${d.runs}`,
        `${fmt(d.minReached * 100)}%`,
      ]),
    ),
  );
  out.push('');
  out.push(`Steady state per node per second (no churn, ${p.steadyWindowMs / 1000} s window after ${p.steadyWarmupMs / 1000} s)`);
  out.push(
    textTable(
      ['N', 'bytes sent', 'bytes recv', 'packets sent', 'packets recv', 'push-pull bytes'],
      steady.map((s) => [String(s.n), s.bytesSent, s.bytesReceived, s.packetsSent, s.packetsReceived, s.streamBytes]),
    ),
  );
  out.push(`ratio N=1000 / N=10: bytes ${fmt(ratio)}, packets ${fmt(packetRatio)}`);
  out.push('');
  out.push(`Crash to "dead" at every live node, N = 50, ${crash.runs} runs (suspicion min ${fmt(crash.suspicionMinSeconds)} s, max ${fmt(crash.suspicionMaxSeconds)} s)`);
  out.push(
    textTable(
      ['first suspect', 'first dead', 'all dead median', 'all dead p99', 'all dead max', 'undetected'],
      [[crash.firstSuspectMedian, crash.firstDeadMedian, crash.allDeadMedian, crash.allDeadP99, crash.allDeadMax, crash.undetected].map((x) => `${fmt(x)}`)],
    ),
  );
  out.push('');
  out.push('False deaths of live nodes, N = 50 (a stream across a lossy link fails with the link\'s loss, per attempt)');
  out.push(
    textTable(
      ['loss', 'TCP fallback', 'simulated', 'false deaths', 'suspect events (all observers)', 'refutations'],
      fd.map((f) => [`${f.loss * 100}%`, f.tcpFallback ? 'on' : 'off', `${f.runs} x ${f.simulatedMinutes} min`, f.falseDeaths, f.falseSuspicions, f.refutes]),
    ),
  );
  out.push('');
  const costRows = new Map<string, { nodes: number; simSeconds: number; wallMs: number; events: number; runs: number }>();
  for (const c of costs) {
    const r = costRows.get(c.label) ?? { nodes: c.nodes, simSeconds: 0, wallMs: 0, events: 0, runs: 0 };
    r.simSeconds += c.simSeconds;
    r.wallMs += c.wallMs;
    r.events += c.events;
    r.runs++;
    costRows.set(c.label, r);
  }
  out.push('Simulator cost (wall clock of this process)');
  out.push(
    textTable(
      ['run', 'runs', 'simulated s', 'wall s', 'events', 'us/event', 'node-s per wall s'],
      [...costRows].map(([label, r]) => [
        label,
        r.runs,
        r.simSeconds,
        r.wallMs / 1000,
        r.events,
        (r.wallMs * 1000) / Math.max(1, r.events),
        (r.nodes * r.simSeconds) / Math.max(0.001, r.wallMs / 1000),
      ]),
    ),
  );
  if (real.length > 0) {
    out.push('');
    out.push('Real sockets: nodes in one process on 127.0.0.11..20, LAN profile; time for one broadcast to reach all other nodes');
    out.push(
      textTable(
        ['N', 'converge ms', 'broadcasts', 'half median ms', 'all median ms', 'all max ms', 'incomplete', 'bytes/s/node', 'pkts/s/node', 'loop p99 ms'],
        real.map((r) => [
          String(r.n),
          r.convergeMs,
          r.broadcasts,
          r.halfMedianMs,
          r.allMedianMs,
          r.allMaxMs,
          r.incomplete,
          r.steadyBytesPerNodeSec,
          r.steadyPacketsPerNodeSec,
          r.loopDelayP99Ms,
        ]),
      ),
    );
  }
  if (procs.length > 0) {
    out.push('');
    out.push('Real sockets across child processes (node i in process i mod P; all nodes start and join at once)');
    out.push(
      textTable(
        ['N', 'processes', 'converge ms', 'broadcasts', 'all median ms', 'all max ms', 'incomplete', 'bytes/s/node', 'pkts/s/node'],
        procs.map((r) => [String(r.n), r.processes, r.convergeMs, r.broadcasts, r.allMedianMs, r.allMaxMs, r.incomplete, r.steadyBytesPerNodeSec, r.steadyPacketsPerNodeSec]),
      ),
    );
  }
  // ---- targets, wall time, the JSON line -----------------------------------------------------------
  printReport(out, targets, wall0, (wallSeconds) => ({
    bench: 'swim-dissemination',
    mode: p.mode,
    seed: p.seed,
    profile: 'lan',
    dissemination: dis,
    steady: { points: steady, ratioBytesN1000toN10: ratio, ratioPacketsN1000toN10: packetRatio },
    crash,
    falseDeaths: fd,
    simulatorCost: [...costRows].map(([label, r]) => ({ label, ...r })),
    realSockets: real,
    realSocketsMultiProcess: procs,
    targets,
    wallSeconds,
  }));
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
