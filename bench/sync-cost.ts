/**
 * Anti-entropy cost, in process: two copies of one log (loaded as a starting node loads its own,
 * no signature re-checks), k rewrites of random existing files split between the two sides (so
 * both directions move), then one SyncSession pair run to the end with runOverStream over an
 * in-memory duplex: the real framing (4-byte length prefix per frame), every byte counted as it
 * is written, no clock or network in the figure.
 */
import { Duplex } from 'node:stream';
import { bytesEqual } from '../src/core/hash.ts';
import { encodeRecord, Log } from '../src/core/log.ts';
import { View } from '../src/core/view.ts';
import { Writer } from '../src/core/writer.ts';
import { SyncSession } from '../src/sync/anti-entropy.ts';
import { runOverStream } from '../src/sync/stream.ts';
import { benchKey } from './sync-log.ts';
import { seededRandom } from './stats.ts';

export interface CostPoint {
  entries: number;
  k: number;
  /** Both directions, length prefixes included. */
  bytes: number;
  frames: number;
  roundTrips: number;
  entriesMoved: number;
  /** Entry bytes the k entries themselves weigh (the floor for any protocol). */
  entryBytes: number;
  ms: number;
  converged: boolean;
}

/** Two duplexes wired to each other; `bytes()` counts everything written either way. */
function duplexPair(): { a: Duplex; b: Duplex; bytes: () => number } {
  let bytes = 0;
  const ends: Duplex[] = [];
  const end = (other: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        other().push(chunk);
        cb();
      },
      final(cb) {
        other().push(null);
        cb();
      },
    });
  ends.push(end(() => ends[1] as Duplex), end(() => ends[0] as Duplex));
  return { a: ends[0] as Duplex, b: ends[1] as Duplex, bytes: () => bytes };
}

function copy(records: readonly Uint8Array[]): { log: Log; writer: Writer } {
  const log = new Log(null);
  log.loadTrusted(records);
  let t = 1_800_000_000_000;
  return { log, writer: new Writer({ log, view: new View(log, null), key: benchKey(1), now: () => ++t }) };
}

export async function antiEntropyCost(source: Log, ks: readonly number[], seed: number): Promise<CostPoint[]> {
  const records = [...source.entriesInOrder()].map(encodeRecord);
  const view = new View(source, null);
  const files = [...view.walk('/')].filter((s) => s.kind === 'file').map((s) => s.path);
  const rng = seededRandom(seed);
  const enc = new TextEncoder();
  const out: CostPoint[] = [];
  for (const k of ks) {
    const a = copy(records);
    const b = copy(records);
    let entryBytes = 0;
    for (let i = 0; i < k; i++) {
      const side = i % 2 === 0 ? a : b;
      const path = files[Math.floor(rng.next() * files.length)] as string;
      entryBytes += side.writer.writeFile(path, enc.encode(`key=changed-${i}-${rng.next()}\n`)).bytes.length;
    }
    // A running node has its root at hand (it advertises it): not part of the session's cost.
    a.log.rootHash();
    b.log.rootHash();
    const pair = duplexPair();
    const initiator = new SyncSession({ log: a.log, blocks: null, role: 'initiator', now: Date.now() });
    const responder = new SyncSession({ log: b.log, blocks: null, role: 'responder', now: Date.now() });
    const t0 = performance.now();
    const [ri, rr] = await Promise.all([runOverStream(initiator, pair.a), runOverStream(responder, pair.b)]);
    const ms = performance.now() - t0;
    if (ri.error !== undefined || rr.error !== undefined) throw new Error(`sync failed: ${ri.error?.message ?? rr.error?.message}`);
    out.push({
      entries: source.size,
      k,
      bytes: pair.bytes(),
      frames: ri.stats.framesSent + rr.stats.framesSent,
      roundTrips: ri.stats.roundTrips,
      entriesMoved: ri.stats.entriesSent + rr.stats.entriesSent,
      entryBytes,
      ms,
      converged: bytesEqual(a.log.rootHash(), b.log.rootHash()),
    });
  }
  return out;
}
