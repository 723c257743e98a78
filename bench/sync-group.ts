/**
 * A group of N BaseFS nodes, one child process each (bench/sync-node.ts), on 127.0.0.100.. with
 * ephemeral ports; node 0 is everyone's seed. Measures, in one run:
 *   - entry latency: the parent asks one node to write a small file; every node records the wall
 *     clock at which its log accepted the entry (log.onAccept). Latency = the last other node's
 *     time minus the time just before the write call (so it includes the writer's signature and
 *     fsync and the receivers' verification and fsync: a verified, durable entry, not a bare event);
 *   - idle bytes/s per node over quiet windows (before the writes with --full, and after them):
 *     SWIM datagrams + SWIM TCP streams + sync sessions (both roles), as counted by each node's own
 *     transport and sessions;
 *   - RSS of every node process at the end.
 * `scenario` is the part shared with the Serf run (bench/sync-serf.ts).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DAEMON_V8_FLAGS } from '../src/cli/node-host.ts';
import type { ProfileName } from '../src/swim/udp.ts';
import { ProcWorker } from './real-procs.ts';
import type { NodeReply, NodeRequest } from './sync-node.ts';
import { median, quantile } from './stats.ts';

/** Only these addresses are ours on this shared machine (other suites use 127.0.0.11-44). */
export const GROUP_HOST_BASE = 100;
export const MAX_GROUP = 100;
export const groupHost = (i: number): string => `127.0.0.${GROUP_HOST_BASE + i}`;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const epochNow = (): number => performance.timeOrigin + performance.now();

/** Latency figures for one group, shared with the Serf run (bench/sync-serf.ts). */
export interface LatencyFigures {
  n: number;
  /** Wall ms to start every member (staggered, one at a time). */
  startMs: number;
  /** Then, from the last start, until every member saw all N alive. */
  convergeMs: number;
  writes: number;
  /** Per write: ms until the last other member had it; Infinity when one never did within the budget. */
  allMs: number[];
  allMedianMs: number;
  allP95Ms: number;
  /** Median over writes of the time until half of the other members had it. */
  halfMedianMs: number;
  incomplete: number;
}

export interface IdleFigures {
  windowSeconds: number;
  bytesPerNodeSec: number;
  /** Its parts (ours: SWIM UDP, SWIM TCP, sync sessions; Serf: memberlist UDP, TCP). */
  parts: Record<string, number>;
}

export interface ScenarioResult extends LatencyFigures {
  /** Idle traffic after the group settled, before any write (membership only), and after the writes. */
  idleBefore: IdleFigures | null;
  idleAfter: IdleFigures | null;
}

/** What the scenario needs from a running group (ours or Serf's). */
export interface Members {
  n: number;
  /** Every member sees all N alive. */
  converged(): Promise<boolean>;
  /** Member `origin` writes (or fires) `tag`; resolves to the epoch ms just before it did. */
  send(origin: number, tag: string): Promise<number>;
  /** Epoch ms at which each other member got `tag` (members that have not yet are left out). */
  delivered(origin: number, tag: string): Promise<number[]>;
  /** Cumulative bytes sent, summed over the members, by part. */
  counters(): Promise<Record<string, number>>;
}

export interface ScenarioOptions {
  writes: number;
  /** 0: no idle windows. */
  idleMs: number;
  /** Also a window before the writes (membership only); the one after them is always measured. */
  idleBefore: boolean;
  label: string;
  progress: (msg: string) => void;
}

/** How long one write or event may take to reach everybody before it counts as incomplete. */
export const DELIVERY_BUDGET_MS = 15_000;
const FIRST_LOOK_MS = 1_000;
/** Between two writes: lets the previous one's retransmits die down (LAN: 4 x log10(N) x 200 ms). */
const GAP_MS = 1_000;
/** Before an idle window: joins' or writes' retransmits, root updates and the syncs they trigger settle. */
const SETTLE_MS = 5_000;

/** Poll until `done()` or the budget runs out; returns the elapsed ms, or Infinity. */
export async function pollUntil(done: () => Promise<boolean>, budgetMs: number, everyMs: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < budgetMs) {
    if (await done()) return performance.now() - t0;
    await sleep(everyMs);
  }
  return Infinity;
}

/**
 * An idle window starts no earlier than this after the last member started. memberlist (so Serf)
 * waits a random stagger in [0, interval) and then a whole interval before its first periodic
 * push-pull (seen on this serf build: none from the joins until 34 s, then each agent every 30 s),
 * so a window in the first minute catches only some of them and flatters Serf. Ours is timed the same.
 */
const STEADY_AFTER_START_MS = 60_000;

async function idleWindow(m: Members, ms: number, started: number): Promise<IdleFigures> {
  await sleep(Math.max(SETTLE_MS, started + STEADY_AFTER_START_MS - performance.now()));
  const a = await m.counters();
  const s0 = performance.now();
  await sleep(ms);
  const b = await m.counters();
  const secs = (performance.now() - s0) / 1000;
  const parts: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) parts[k] = (v - (a[k] ?? 0)) / m.n / secs;
  return { windowSeconds: secs, bytesPerNodeSec: Object.values(parts).reduce((x, y) => x + y, 0), parts };
}

/**
 * The same steps for both systems, once the members are started: wait until the group has
 * converged, [an idle window], then one unmeasured write (it warms every member's path; ours creates
 * /bench) and `writes` measured ones from different origins one at a time, then another idle window.
 */
export async function scenario(m: Members, startMs: number, opts: ScenarioOptions): Promise<ScenarioResult> {
  const { n } = m;
  const started = performance.now();
  const convergeMs = await pollUntil(() => m.converged(), 180_000, 250);
  opts.progress(`  ${opts.label}: all ${n} alive at every member ${(convergeMs / 1000).toFixed(1)} s after the last start`);
  const idleBefore = opts.idleMs > 0 && opts.idleBefore ? await idleWindow(m, opts.idleMs, started) : null;
  const perWrite: number[][] = [];
  for (let w = -1; w < opts.writes; w++) {
    const origin = (((w + 1) * 7) % n + n) % n;
    const tag = w < 0 ? 'warmup' : `w${w}`;
    const at = await m.send(origin, tag);
    // The times are stamped where the write arrives, so how often we ask changes nothing but the
    // load: asking N node processes over IPC while the write spreads would take CPU from the very
    // nodes being timed, so the first look is after FIRST_LOOK_MS (longer than most deliveries take).
    await sleep(FIRST_LOOK_MS);
    let times: number[] = [];
    await pollUntil(
      async () => {
        times = (await m.delivered(origin, tag)).map((t) => t - at);
        return times.length >= n - 1;
      },
      DELIVERY_BUDGET_MS - FIRST_LOOK_MS,
      250,
    );
    if (w >= 0) perWrite.push(times);
    await sleep(GAP_MS);
  }
  const idleAfter = opts.idleMs > 0 ? await idleWindow(m, opts.idleMs, started) : null;
  const allMs = perWrite.map((t) => (t.length >= n - 1 ? Math.max(...t) : Infinity));
  const half = perWrite.map((t) => [...t].sort((a, b) => a - b)[Math.ceil((n - 1) / 2) - 1] ?? Infinity);
  return {
    n,
    startMs,
    convergeMs,
    writes: perWrite.length,
    allMs,
    allMedianMs: median(allMs),
    allP95Ms: quantile(allMs, 0.95),
    halfMedianMs: median(half),
    incomplete: allMs.filter((x) => !Number.isFinite(x)).length,
    idleBefore,
    idleAfter,
  };
}

export interface GroupResult extends ScenarioResult {
  profile: ProfileName;
  entries: number;
  openMsMedian: number;
  /** Sync sessions that ended (either role) over the whole run. */
  syncSessions: number;
  /** Settled (at the end), and at start: log opened, node started. */
  rssMedianMb: number;
  rssMaxMb: number;
  heapMedianMb: number;
  rssOpenedMedianMb: number;
  rssStartedMedianMb: number;
}

export interface GroupOptions extends Omit<ScenarioOptions, 'label'> {
  n: number;
  profile: ProfileName;
  /** The stored log every node starts from (a directory with `log`); copied per node under `work`. */
  template: string;
  work: string;
}

type NodeProc = ProcWorker<NodeRequest, NodeReply>;

export async function runGroup(opts: GroupOptions): Promise<GroupResult> {
  const { n, progress } = opts;
  if (n > MAX_GROUP) throw new Error(`at most ${MAX_GROUP} nodes (127.0.0.100-199)`);
  const script = fileURLToPath(new URL('./sync-node.js', import.meta.url));
  const procs: NodeProc[] = [];
  const ask = async <C extends NodeReply['cmd']>(p: NodeProc, req: NodeRequest & { cmd: C }): Promise<Extract<NodeReply, { cmd: C }>> =>
    (await p.ask(req)) as Extract<NodeReply, { cmd: C }>;
  const all = <C extends NodeReply['cmd']>(req: NodeRequest & { cmd: C }) => Promise.all(procs.map((p) => ask<C>(p, req)));
  try {
    const t0 = performance.now();
    let seed = '';
    let entries = 0;
    const openMs: number[] = [];
    const rssOpened: number[] = [];
    const rssStarted: number[] = [];
    // Staggered: one process at a time, each started (log open, sockets bound, join sent) before
    // the next is forked, so 64 Node start-ups do not fight over 2 cores at once.
    for (let i = 0; i < n; i++) {
      const dir = join(opts.work, `n${n}-${i}`);
      mkdirSync(dir, { recursive: true });
      copyFileSync(join(opts.template, 'log'), join(dir, 'log'));
      // The V8 flags `basefs run` gives its background node (a 1 MiB young generation): the RSS
      // measured is the daemon's, not that of a default Node.js process.
      const p: NodeProc = new ProcWorker(script, DAEMON_V8_FLAGS);
      procs.push(p);
      const r = await ask(p, { cmd: 'start', dir, name: `node${i}`, host: groupHost(i), seeds: i === 0 ? [] : [seed], profile: opts.profile });
      if (i === 0) seed = r.address;
      entries = r.entries;
      openMs.push(r.openMs);
      rssOpened.push(r.rssOpened);
      rssStarted.push(r.rssStarted);
      if (i % 16 === 15) progress(`  ${i + 1}/${n} node processes started`);
    }
    const startMs = performance.now() - t0;
    const pathOf = (tag: string) => `/bench/${tag}.conf`;
    const members: Members = {
      n,
      converged: async () => (await all({ cmd: 'alive' })).every((a) => a.alive === n),
      send: async (origin, tag) => (await ask(procs[origin] as NodeProc, { cmd: 'write', path: pathOf(tag) })).at,
      delivered: async (origin, tag) => {
        const got = await Promise.all(procs.filter((_, i) => i !== origin).map((p) => ask(p, { cmd: 'accepted', path: pathOf(tag) })));
        return got.flatMap((g) => (g.at === null ? [] : [g.at]));
      },
      counters: async () => {
        const s = await all({ cmd: 'stats' });
        const sum = (f: (x: (typeof s)[number]) => number) => s.reduce((a, x) => a + f(x), 0);
        return { swimUdp: sum((x) => x.udpBytes), swimTcp: sum((x) => x.swimStreamBytes), syncTcp: sum((x) => x.syncBytes) };
      },
    };
    const result = await scenario(members, startMs, { ...opts, label: 'BaseFS' });
    const last = await all({ cmd: 'stats' });
    const mb = (x: number) => x / 1048576;
    return {
      ...result,
      profile: opts.profile,
      entries,
      openMsMedian: median(openMs),
      syncSessions: last.reduce((a, x) => a + x.syncSessions, 0),
      rssMedianMb: mb(median(last.map((x) => x.rss))),
      rssMaxMb: mb(quantile(last.map((x) => x.rss), 1)),
      heapMedianMb: mb(median(last.map((x) => x.heapUsed))),
      rssOpenedMedianMb: mb(median(rssOpened)),
      rssStartedMedianMb: mb(median(rssStarted)),
    };
  } finally {
    await Promise.all(
      procs.map(async (p) => {
        if (!p.child.connected) return;
        const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
        await Promise.race([p.ask({ cmd: 'stop' }).then(() => exited), sleep(5_000)]);
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      }),
    );
  }
}
