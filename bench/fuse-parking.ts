/**
 * `npm run bench:parking [-- --files N] [-- --mb M] [-- --rounds R] [-- --park-ms MS]`
 *
 * New files parked at close (src/fuse/parking.ts) against committed at close, side by side in one
 * run: two mounts (bench/fuse-worker.ts, each its own replica, group commit as `basefs mount`),
 * one with the default parking and one with parkMs 0. Both get the same seeded /etc-like tree
 * with `cp -a`, then R rounds of 5% of the files rewritten, 3 added and 3 removed, recopied with
 * the rsync of bench/fuse.ts; the two mounts take turns going first. Per round: rsync's wall
 * time, the mount process's CPU time, and the entries added to the log, which is what every
 * other node then receives, verifies and stores. Defaults: 1,000 files, 8 MB, 10 rounds.
 * Tables, then one JSON line, on stdout; progress on stderr.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bootstrapEntries, Replica } from '../src/core/replica.ts';
import { isMounted } from '../src/fuse/preflight.ts';
import { forceUnmount, mountStats, q, startMount, stopMount, timedShell, type MountHandle } from './fuse-mount.ts';
import { applyRound, generateTree, materialize, resetTimes } from './fuse-tree.ts';
import { fmt, median, printReport, textTable, type Verdict } from './stats.ts';
import { benchKey } from './sync-log.ts';

const RSYNC = 'rsync -a --atimes --open-noatime --delete'; // why --atimes: bench/fuse.ts

const { values: o } = parseArgs({
  args: process.argv.slice(2),
  options: {
    files: { type: 'string', default: '1000' },
    mb: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '10' },
    'park-ms': { type: 'string', default: '25' },
  },
});
const FILES = Number(o.files);
const BYTES = Number(o.mb) * 1e6;
const ROUNDS = Number(o.rounds);
const PARK_MS = Number(o['park-ms']);

const progress = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

interface Variant {
  name: string;
  parkMs: number;
  mnt: string;
  mount: MountHandle | null;
  initialS: number;
  initialEntries: number;
  rounds: Array<{ s: number; cpuS: number; entries: number }>;
  entries: number;
  cpuMs: number;
}

/** sync, then past the kernel's 1 s name and attribute caches: every copy starts cold (bench/fuse.ts settle). */
async function settle(): Promise<void> {
  await timedShell('sync');
  await new Promise((r) => setTimeout(r, 1100));
}

/** Copy with `cmd` into the variant's mount; the round's time, CPU and new entries. */
async function copy(v: Variant, cmd: string): Promise<{ s: number; cpuS: number; entries: number }> {
  const m = v.mount as MountHandle;
  await settle();
  const t = await timedShell(cmd);
  // Parked files still waiting are committed within parkMs: count them with this copy.
  await new Promise((r) => setTimeout(r, v.parkMs + 50));
  const s = await mountStats(m);
  const row = { s: t.ms / 1000, cpuS: (s.cpuMs - v.cpuMs) / 1000, entries: s.entries - v.entries };
  v.cpuMs = s.cpuMs;
  v.entries = s.entries;
  return row;
}

async function main(): Promise<void> {
  const wall0 = performance.now();
  const work = mkdtempSync(join(tmpdir(), 'basefs-bench-parking-'));
  const src = join(work, 'src');
  mkdirSync(src);
  const variants: Variant[] = [
    { name: `parked ${PARK_MS} ms`, parkMs: PARK_MS, mnt: join(work, 'mnt-parked'), mount: null, initialS: 0, initialEntries: 0, rounds: [], entries: 0, cpuMs: 0 },
    { name: 'committed at close', parkMs: 0, mnt: join(work, 'mnt-close'), mount: null, initialS: 0, initialEntries: 0, rounds: [], entries: 0, cpuMs: 0 },
  ];
  const cleanup = async (): Promise<void> => {
    for (const v of variants) {
      const m = v.mount;
      v.mount = null;
      if (m !== null) await stopMount(m).catch(() => undefined);
      await forceUnmount(v.mnt);
    }
    if (variants.some((v) => isMounted(v.mnt))) progress(`a mount is still up: left ${work} in place`);
    else rmSync(work, { recursive: true, force: true });
  };
  try {
    const tree = generateTree(FILES, BYTES);
    materialize(tree, src);
    resetTimes(tree, src);
    progress(`tree: ${tree.files.size} files, ${tree.links.size} symlinks, ${tree.dirs.length} directories`);
    for (const [i, v] of variants.entries()) {
      mkdirSync(v.mnt);
      const dir = join(work, `fs${i}`);
      const boot = bootstrapEntries('parkbench', [benchKey(1)], ['127.0.0.1:7946'], Date.now());
      Replica.create(dir, boot.map((e) => e.bytes)).close();
      v.mount = await startMount(dir, v.mnt, '.cluster', 'background', v.parkMs);
      const s = await mountStats(v.mount);
      v.entries = s.entries;
      v.cpuMs = s.cpuMs;
    }
    for (const v of variants) {
      resetTimes(tree, src); // the other copy's reads moved the source's access times (cp -a hands them over as mtimes)
      const r = await copy(v, `cp -a ${q(src + '/.')} ${q(v.mnt + '/')}`);
      v.initialS = r.s;
      v.initialEntries = r.entries;
      progress(`initial cp -a, ${v.name}: ${fmt(r.s)} s, ${r.entries} entries`);
    }
    resetTimes(tree, src);
    for (let round = 1; round <= ROUNDS; round++) {
      applyRound(tree, src, round);
      const order = round % 2 === 0 ? variants : [...variants].reverse();
      for (const v of order) v.rounds.push(await copy(v, `${RSYNC} ${q(src + '/')} ${q(v.mnt + '/')}`));
      resetTimes(tree, src);
      progress(`round ${round}/${ROUNDS}: ${variants.map((v) => `${v.name} ${fmt((v.rounds.at(-1)?.s ?? NaN) * 1000)} ms, ${v.rounds.at(-1)?.entries} entries`).join('; ')}`);
    }
    const diff = (dst: string): string => `diff -r --no-dereference --exclude=.cluster ${q(src)} ${q(dst)}`;
    const same = await timedShell(variants.map((v) => diff(v.mnt)).join(' && ')).then(
      () => true,
      () => false,
    );

    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
    const summary = variants.map((v) => ({
      name: v.name,
      parkMs: v.parkMs,
      initialS: v.initialS,
      initialEntries: v.initialEntries,
      roundsS: sum(v.rounds.map((r) => r.s)),
      medianRoundS: median(v.rounds.map((r) => r.s)),
      roundsCpuS: sum(v.rounds.map((r) => r.cpuS)),
      medianRoundEntries: median(v.rounds.map((r) => r.entries)),
      totalEntries: v.entries,
    }));
    const [parked, closed] = summary as [(typeof summary)[0], (typeof summary)[0]];
    const changedPerRound = Math.max(1, Math.round(tree.files.size * 0.05)) + 3 + 3;
    const out: string[] = [];
    out.push('BaseFS: new files parked at close against committed at close (src/fuse/parking.ts)');
    out.push(`tree: ${FILES} files, ${fmt(BYTES / 1e6)} MB; ${ROUNDS} rounds of ~${changedPerRound - 6} files rewritten, 3 added, 3 removed; recopy: \`${RSYNC}\``);
    out.push(`both mounts hold exactly the source tree at the end (diff -r): ${same ? 'yes' : 'NO'}`);
    out.push('');
    out.push(
      textTable(
        ['mount', 'initial cp -a s', 'entries', `${ROUNDS} rounds s`, 'median round s', 'rounds CPU s', 'entries per round', 'log entries'],
        summary.map((s) => [s.name, s.initialS, s.initialEntries, s.roundsS, s.medianRoundS, s.roundsCpuS, s.medianRoundEntries, s.totalEntries]),
      ),
    );
    out.push('(entries per round: the median; each is signed, stored, gossiped to every node and verified there)');
    const targets: Record<string, Verdict> = {
      one_entry_per_change: {
        target: `parked: at most one entry per file changed, added or removed (${changedPerRound} a round)`,
        measured: `median ${fmt(parked.medianRoundEntries)} a round (committed at close: ${fmt(closed.medianRoundEntries)})`,
        met: same && parked.medianRoundEntries <= changedPerRound,
      },
      rounds_not_slower: {
        target: 'parked: all rounds together no slower than committed at close',
        measured: `${fmt(parked.roundsS)} s against ${fmt(closed.roundsS)} s (CPU ${fmt(parked.roundsCpuS)} s against ${fmt(closed.roundsCpuS)} s)`,
        met: same && parked.roundsS <= closed.roundsS,
      },
    };
    printReport(out, targets, wall0, (wallSeconds) => ({ bench: 'fuse-parking', files: FILES, bytes: BYTES, rounds: ROUNDS, identical: same, variants: summary, targets, wallSeconds }));
  } finally {
    await cleanup();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
