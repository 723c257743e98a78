/**
 * The cost of a sync between two replicas that differ by k entries grows with k and with the depth
 * of the tree, not with the size of the log: bytes on the wire for k = 1, 10, 100 on a ~500-entry
 * and a ~5,000-entry log with the same directory fan-out (20 top directories, 25 files per leaf
 * directory; the large log has one more level of 10 subdirectories).
 * Replay with SYNC_SEED=<seed>.
 */
import t from 'tap';
import { toHex } from '../../src/core/hash.ts';
import { encodeRecord, Log } from '../../src/core/log.ts';
import { View } from '../../src/core/view.ts';
import { Writer } from '../../src/core/writer.ts';
import { key } from '../helpers/fs.ts';
import { Rng, seedFrom } from '../helpers/random.ts';
import { newReplica, pump, SyncMemoryBlocks, type Replica } from '../helpers/sync-pair.ts';

const enc = new TextEncoder();
const root = key(1);

/** Files under /dNN (small) or /dNN/sNN (large), 25 per leaf directory. */
function build(subdirs: number): { replica: Replica; files: string[] } {
  const replica = newReplica(root);
  const w = replica.writer(root);
  const files: string[] = [];
  for (let d = 0; d < 20; d++) {
    const top = `/d${d}`;
    w.mkdir(top);
    const leaves = subdirs === 0 ? [top] : Array.from({ length: subdirs }, (_, s) => `${top}/s${s}`);
    for (const leaf of leaves) {
      if (leaf !== top) w.mkdir(leaf);
      for (let f = 0; f < 25; f++) {
        const path = `${leaf}/f${f}.conf`;
        w.writeFile(path, enc.encode(`setting=${d}.${f}\n`));
        files.push(path);
      }
    }
  }
  return { replica, files };
}

/** A copy through the trusted loader (what a node does at start): no signatures to re-check. */
function copy(src: Replica): Replica {
  const log = new Log(null);
  log.loadTrusted([...src.log.entriesInOrder()].map(encodeRecord));
  const blocks = new SyncMemoryBlocks();
  const view = new View(log, blocks);
  let now = 1_800_000_000_000;
  return { log, view, blocks, writer: (k) => new Writer({ log, view, key: k, blocks, now: () => ++now }) };
}

interface Figure {
  entries: number;
  k: number;
  bytes: number;
  roundTrips: number;
  ms: number;
}

t.test('bytes grow with k and depth, not with the log size', async (t) => {
  const seed = seedFrom('SYNC_SEED', 5000);
  t.comment(`seed ${seed} (replay: SYNC_SEED=${seed})`);
  const rng = new Rng(seed);
  const logs = { small: build(0), large: build(10) };
  const figures: Record<string, Figure> = {};
  for (const [name, { replica, files }] of Object.entries(logs)) {
    for (const k of [1, 10, 100]) {
      const a = copy(replica);
      const b = copy(replica);
      // k rewrites of random files, split between the two sides (both directions move).
      for (let i = 0; i < k; i++) {
        const side = i % 2 === 0 ? a : b;
        side.writer(root).writeFile(rng.pick(files), enc.encode(`changed ${i} ${rng.int(1e9)}\n`));
      }
      // A running node has its root hash at hand (it advertises it): leave it out of the timing.
      a.log.rootHash();
      b.log.rootHash();
      const started = performance.now();
      const r = pump(a, b);
      const ms = performance.now() - started;
      t.equal(r.initiator.failure, undefined);
      t.equal(toHex(a.log.rootHash()), toHex(b.log.rootHash()), `${name} k=${k}: converged`);
      t.equal(r.initiator.stats.entriesSent + r.responder.stats.entriesSent, k, `${name} k=${k}: exactly k entries move`);
      const f = { entries: replica.log.size, k, bytes: r.wireBytes, roundTrips: r.initiator.stats.roundTrips, ms };
      figures[`${name}/${k}`] = f;
      t.comment(`${name} log (${f.entries} entries), k=${k}: ${f.bytes} bytes, ${f.roundTrips} round trips, ${ms.toFixed(1)} ms`);
    }
  }
  const fig = (n: string) => figures[n] as Figure;
  for (const name of ['small', 'large']) {
    t.ok(fig(`${name}/1`).bytes < fig(`${name}/10`).bytes && fig(`${name}/10`).bytes < fig(`${name}/100`).bytes, `${name}: grows with k`);
  }
  for (const k of [1, 10, 100]) {
    const ratio = fig(`large/${k}`).bytes / fig(`small/${k}`).bytes;
    t.comment(`k=${k}: large/small bytes = ${ratio.toFixed(2)} for a log ${(fig(`large/${k}`).entries / fig(`small/${k}`).entries).toFixed(1)}x larger`);
    t.ok(fig(`large/${k}`).roundTrips <= fig(`small/${k}`).roundTrips + 1, `k=${k}: one more round trip for one more level at most`);
  }
  // One more level of (10-child) summaries per change, nothing proportional to the 10x log. At
  // k=100 the small log's changes share its 20 leaf directories (each summary serves ~5 changes)
  // while the large log's land in ~100 distinct ones: the small one is cheaper by saturation, so
  // there the bound is per change: never more than k times the cost of one change.
  for (const k of [1, 10]) {
    const ratio = fig(`large/${k}`).bytes / fig(`small/${k}`).bytes;
    t.ok(ratio < 1.6, `k=${k}: nearly equal across log sizes (${ratio.toFixed(2)})`);
  }
  for (const name of ['small', 'large']) {
    t.ok(fig(`${name}/100`).bytes <= 100 * fig(`${name}/1`).bytes, `${name}: at most linear in k`);
  }
  // Against shipping the log: the whole large log is ~200 bytes per entry.
  const whole = [...logs.large.replica.log.entriesInOrder()].reduce((n, e) => n + e.bytes.length, 0);
  t.ok(fig('large/100').bytes < whole / 4, `k=100 costs ${fig('large/100').bytes} bytes, the log is ${whole}`);
  t.comment(`whole large log: ${whole} bytes of entries`);
});
