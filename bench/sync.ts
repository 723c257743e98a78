/**
 * `npm run bench:sync [-- --full] [-- --no-serf] [-- --ns 8,32] [-- --cost-entries N] [-- --writes N] [-- --idle-s S]`
 *
 * Issue 5's benchmarks for the node (src/sync), on real node processes where it matters:
 *   1. entry latency: one new entry accepted by every node, N = 8, 32, 64 node processes on
 *      127.0.0.100.. (bench/sync-group.ts), LAN profile; in the same run a Serf user event across N
 *      Serf agents (bench/sync-serf.ts) when `serf` is installed, and the ratio. Target ours <= 0.5 x Serf.
 *   2. idle bytes/s per node at N = 32, ours and Serf's in the same run. Target ours <= Serf.
 *   3. anti-entropy cost: bytes to reconcile two nodes that differ by 1, 10 and 1,000 entries on a
 *      100,000-entry log (in process, bench/sync-cost.ts).
 *   4. RSS of a node process with a 10,000-entry log in the 32-node group. Target <= 64 MB.
 * Every node starts from the same 10,000-entry log (bench/sync-log.ts, the bench:verify layout).
 *
 * Each group, ours then Serf's: members started one at a time, wait until every member sees all N
 * alive, [idle window, --full only], one unmeasured write, the measured writes one at a time, idle
 * window (the windows only at N = 32, with the RSS). Quick mode (default, about 5 minutes on 2
 * cores): 5 writes per group, one 30 s window, and a 20,000-entry log for the anti-entropy cost
 * (said in the output). --full: 20 writes, two 120 s windows, the 100,000-entry log. Progress on stderr; tables,
 * then one JSON line, on stdout. BENCH_KEEP=1 keeps the work directory (node logs, Serf logs).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecord, Log } from '../src/core/log.ts';
import { DAEMON_V8_FLAGS } from '../src/cli/node-host.ts';
import { makeConfig } from '../src/swim/config.ts';
import { antiEntropyCost, type CostPoint } from './sync-cost.ts';
import { runGroup, type GroupResult } from './sync-group.ts';
import { buildLog, writeLogFile } from './sync-log.ts';
import { findSerf, runSerfGroup, type SerfResult } from './sync-serf.ts';
import { fmt, printReport, textTable, type Verdict } from './stats.ts';

interface Plan {
  mode: 'quick' | 'full';
  ns: number[];
  writes: number;
  /** The group whose idle traffic and RSS are measured. */
  idleN: number;
  idleMs: number;
  /** A membership-only window before the writes too (--full). */
  idleBefore: boolean;
  nodeEntries: number;
  costEntries: number;
  ks: number[];
  serf: boolean;
}

function plan(argv: string[]): Plan {
  const full = argv.includes('--full');
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const ns = arg('--ns')?.split(',').map(Number) ?? [8, 32, 64];
  const costEntries = Number(arg('--cost-entries') ?? (full ? 100_000 : 20_000));
  return {
    mode: full ? 'full' : 'quick',
    ns,
    writes: Number(arg('--writes') ?? (full ? 20 : 5)),
    idleN: ns.includes(32) ? 32 : (ns[0] as number),
    // Whole push-pull periods (LAN: 30 s, unscaled up to 32 members): each member of either system
    // starts one every period at its own phase (a Serf agent exactly every 30 s), so a window of
    // whole periods holds one per member, a shorter one a number that depends on the phases.
    idleMs: 1000 * Number(arg('--idle-s') ?? (full ? 120 : 30)),
    idleBefore: full,
    nodeEntries: 10_000,
    costEntries,
    ks: [1, 10, 1000],
    serf: !argv.includes('--no-serf'),
  };
}

const progress = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

const RSS_TARGET_MB = 64;

/** What the runtime alone costs: the floor under any node's RSS. */
function bareNodeRssMb(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.memoryUsage().rss))'], { encoding: 'utf8' });
  return Number(r.stdout) / 1048576;
}
const LATENCY_RATIO_TARGET = 0.5;

async function main(): Promise<void> {
  const p = plan(process.argv.slice(2));
  const wall0 = performance.now();
  const work = mkdtempSync(join(tmpdir(), 'basefs-bench-sync-'));
  const serf = p.serf ? findSerf() : null;
  const lan = makeConfig('lan');
  progress(`${p.mode} mode; node groups N = ${p.ns.join(', ')}; serf: ${serf ?? (p.serf ? 'not installed' : 'skipped (--no-serf)')}`);
  try {
    // One generated log: its first nodeEntries entries are every node's log (a prefix of the
    // insertion order is a valid log), the whole of it is the anti-entropy cost's log.
    const size = Math.max(p.costEntries, p.nodeEntries);
    progress(`generating a ${size}-entry log (signing and verifying every entry)`);
    const big = buildLog(size, (d) => d % 10_000 === 0 && progress(`  ${d}/${size}`));
    const records = [...big.entriesInOrder()].map(encodeRecord);
    const nodeLog = new Log(null);
    nodeLog.loadTrusted(records.slice(0, p.nodeEntries));
    const template = join(work, 'template');
    writeLogFile(nodeLog, template);

    progress(`anti-entropy cost on a ${big.size}-entry log, k = ${p.ks.join(', ')}`);
    const cost: CostPoint[] = await antiEntropyCost(big, p.ks, 5);

    const ours: GroupResult[] = [];
    const theirs: SerfResult[] = [];
    for (const n of p.ns) {
      const idleMs = n === p.idleN ? p.idleMs : 0;
      const extra = idleMs > 0 ? `, idle window${p.idleBefore ? 's' : ''} of ${idleMs / 1000} s ${p.idleBefore ? 'before and ' : ''}after the writes` : '';
      progress(`BaseFS: ${n} node processes, ${p.writes} writes${extra}`);
      ours.push(await runGroup({ n, writes: p.writes, idleMs, idleBefore: p.idleBefore, profile: 'lan', template, work, progress }));
      if (serf !== null) {
        progress(`Serf: ${n} agents, ${p.writes} user events${extra}`);
        theirs.push(await runSerfGroup({ serf, n, writes: p.writes, idleMs, idleBefore: p.idleBefore, work, progress }));
      }
    }
    const oi = ours.find((o) => o.n === p.idleN);
    const si = theirs.find((s) => s.n === p.idleN);

    // ---- verdicts -----------------------------------------------------------------------------
    const targets: Record<string, Verdict> = {};
    for (const o of ours) {
      const s = theirs.find((x) => x.n === o.n);
      const ratio = s ? o.allMedianMs / s.allMedianMs : NaN;
      targets[`latency_N${o.n}`] = {
        target: `median to all nodes <= ${LATENCY_RATIO_TARGET} x Serf's`,
        measured: s ? `${fmt(o.allMedianMs)} ms vs ${fmt(s.allMedianMs)} ms: ${fmt(ratio)} x` : `${fmt(o.allMedianMs)} ms (serf not installed)`,
        met: s ? ratio <= LATENCY_RATIO_TARGET && o.incomplete === 0 : null,
      };
    }
    const windows = [
      ['before', 'idle, before any write (membership only)'],
      ['after', 'idle, after the writes (Serf keeps its recent events in every push-pull)'],
    ] as const;
    const idleOf = (r: GroupResult | SerfResult | undefined, w: 'before' | 'after') => (w === 'before' ? r?.idleBefore : r?.idleAfter) ?? null;
    for (const [w] of windows) {
      const mine = idleOf(oi, w);
      const serfs = idleOf(si, w);
      if (mine === null) continue;
      targets[`idle_bytes_N${p.idleN}_${w}_writes`] = {
        target: "bytes/s per node <= Serf's",
        measured: serfs ? `${fmt(mine.bytesPerNodeSec)} vs ${fmt(serfs.bytesPerNodeSec)}` : `${fmt(mine.bytesPerNodeSec)} (serf not installed)`,
        met: serfs ? mine.bytesPerNodeSec <= serfs.bytesPerNodeSec : null,
      };
    }
    if (oi) {
      targets[`rss_N${p.idleN}_${p.nodeEntries}_entries`] = {
        target: `<= ${RSS_TARGET_MB} MB (largest node process)`,
        measured: `max ${fmt(oi.rssMaxMb)} MB, median ${fmt(oi.rssMedianMb)} MB`,
        met: oi.rssMaxMb <= RSS_TARGET_MB,
      };
    }

    // ---- human output -------------------------------------------------------------------------
    const out: string[] = [];
    out.push(`BaseFS sync benchmark (${p.mode} mode; LAN profile: gossip ${lan.gossipIntervalMs} ms to ${lan.gossipNodes}, probe ${lan.probeIntervalMs} ms, push-pull ${lan.pushPullIntervalMs / 1000} s)`);
    out.push(`BaseFS: one process per node (V8 flags of \`basefs run\`'s background node: ${DAEMON_V8_FLAGS.join(' ')}), a ${p.nodeEntries}-entry log each, fsync per append`);
    out.push(`Serf: ${serf === null ? 'not installed' : `${serf} (\`serf version\`: ${theirs[0]?.version ?? '?'}), one agent per process, -profile=lan, user events with Coalesce=false`}`);
    out.push('');
    out.push('Entry latency: write on one node until the last other node accepted it (verified, durable); Serf: user event until the last other agent streamed it');
    const rows: Array<Array<string | number>> = [];
    for (const o of ours) {
      const row = (name: string, r: GroupResult | SerfResult, ratio: string | number) =>
        [name, String(r.n), r.startMs / 1000, r.convergeMs / 1000, r.writes, r.halfMedianMs, r.allMedianMs, r.allP95Ms, r.incomplete, ratio];
      rows.push(row('BaseFS', o, ''));
      const s = theirs.find((x) => x.n === o.n);
      if (s) rows.push(row('Serf', s, o.allMedianMs / s.allMedianMs));
    }
    out.push(textTable(['system', 'N', 'start s', 'converge s', 'writes', 'half median ms', 'all median ms', 'all p95 ms', 'incomplete', 'ours/Serf'], rows));
    out.push('(start: staggered, one member at a time; converge: from the last start until every member saw all N alive)');
    if (oi) {
      out.push('');
      out.push(`Idle traffic at N = ${p.idleN}: payload bytes sent per node per second (no IP/UDP/TCP headers), ${fmt(p.idleMs / 1000)} s windows, at least 60 s after the last start and 5 s after any write`);
      const idleRows: Array<Array<string | number>> = [];
      for (const [w, label] of windows) {
        const mine = idleOf(oi, w);
        const serfs = idleOf(si, w);
        if (mine) idleRows.push([label, 'BaseFS', mine.bytesPerNodeSec, `SWIM UDP ${fmt(mine.parts.swimUdp ?? NaN)}, SWIM TCP ${fmt(mine.parts.swimTcp ?? NaN)}, sync sessions ${fmt(mine.parts.syncTcp ?? NaN)}`]);
        if (serfs) idleRows.push(['', 'Serf', serfs.bytesPerNodeSec, `memberlist UDP ${fmt(serfs.parts.memberlistUdp ?? NaN)}, TCP ${fmt(serfs.parts.memberlistTcp ?? NaN)} (its statsd counters; ${fmt(si?.statsdDrops ?? NaN)} statsd datagrams dropped)`]);
      }
      out.push(textTable(['window', 'system', 'bytes/s/node', 'parts'], idleRows));
      out.push('');
      out.push(`Memory at N = ${p.idleN}, at the end: node process RSS median ${fmt(oi.rssMedianMb)} MB, max ${fmt(oi.rssMaxMb)} MB, heap used median ${fmt(oi.heapMedianMb)} MB${si ? `; a Serf agent: RSS median ${fmt(si.rssMedianMb)} MB` : ''}`);
      out.push(`  (RSS medians at start: ${fmt(oi.rssOpenedMedianMb)} MB once the log is open, ${fmt(oi.rssStartedMedianMb)} MB once the node has started; a bare Node.js ${process.version} process: ${fmt(bareNodeRssMb())} MB)`);
    }
    out.push('');
    const costNote = big.size < 100_000 ? ` (quick mode: ${big.size} entries, not 100,000; --full uses 100,000)` : '';
    out.push(`Anti-entropy cost: one session between two nodes that differ by k entries, on a ${big.size}-entry log${costNote}`);
    out.push(
      textTable(
        ['k', 'bytes both ways', 'bytes/k', 'entry bytes', 'overhead x', 'frames', 'round trips', 'moved', 'ms', 'converged'],
        cost.map((c) => [String(c.k), c.bytes, c.bytes / c.k, c.entryBytes, c.bytes / c.entryBytes, c.frames, c.roundTrips, c.entriesMoved, c.ms, c.converged ? 'yes' : 'NO']),
      ),
    );
    printReport(out, targets, wall0, (wallSeconds) => ({
      bench: 'sync',
      mode: p.mode,
      profile: 'lan',
      nodeEntries: p.nodeEntries,
      serf: serf === null ? null : { path: serf, version: theirs[0]?.version ?? null },
      basefs: ours,
      serfGroups: theirs,
      antiEntropy: cost,
      targets,
      wallSeconds,
    }));
  } finally {
    if (!process.env.BENCH_KEEP) rmSync(work, { recursive: true, force: true });
    else progress(`kept ${work}`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
