/**
 * Sync test helpers: replicas of one in-memory filesystem, seeded random divergence, and a pump
 * that runs two SyncSessions against each other in-process (no streams, no clock), optionally
 * through a tamper hook that plays a lying peer.
 */
import { bytesEqual, blockHash, toHex, type Hash } from '../../src/core/hash.ts';
import { isBasefsError, err } from '../../src/core/errors.ts';
import type { KeyPair } from '../../src/core/keys.ts';
import { Log } from '../../src/core/log.ts';
import { View } from '../../src/core/view.ts';
import { Writer } from '../../src/core/writer.ts';
import { SyncSession, type SyncLimits, type SyncOptions } from '../../src/sync/anti-entropy.ts';
import { missingBlocks, type SyncBlocks } from '../../src/sync/block-wants.ts';
import { MemoryBlocks, memoryFs } from './fs.ts';
import type { Rng } from './random.ts';

/** MemoryBlocks with the verified put that sync uses (BlockStore.putExpected's contract). */
export class SyncMemoryBlocks extends MemoryBlocks implements SyncBlocks {
  putExpected(hash: Hash, bytes: Uint8Array): void {
    if (!bytesEqual(blockHash(bytes), hash)) throw err('BAD_HASH', 'block does not hash to its name');
    this.map.set(toHex(hash), bytes);
  }
}

export interface Replica {
  log: Log;
  view: View;
  blocks: SyncMemoryBlocks;
  writer(k: KeyPair): Writer;
}

let clock = 1_700_000_000_000;

function replicaFrom(log: Log, blocks: SyncMemoryBlocks): Replica {
  const view = new View(log, blocks);
  return { log, view, blocks, writer: (k) => new Writer({ log, view, key: k, blocks, now: () => ++clock }) };
}

/** A fresh filesystem owned by `root`. */
export function newReplica(root: KeyPair): Replica {
  const fs = memoryFs(root);
  const blocks = new SyncMemoryBlocks();
  for (const [k, v] of fs.blocks.map) blocks.map.set(k, v);
  return replicaFrom(fs.log, blocks);
}

/** Another node holding the same entries (and, unless `withBlocks` is false, the same blocks). */
export function cloneReplica(src: Replica, withBlocks = true): Replica {
  const log = new Log(null);
  log.ingestMany([...src.log.entriesInOrder()].map((e) => e.bytes));
  const blocks = new SyncMemoryBlocks();
  if (withBlocks) for (const [k, v] of src.blocks.map) blocks.map.set(k, v);
  return replicaFrom(log, blocks);
}

/** A node that has only the genesis entry of `src`'s filesystem. */
export function emptyReplica(src: Replica): Replica {
  const log = new Log(null);
  log.ingest(src.log.genesis.entry.bytes);
  return replicaFrom(log, new SyncMemoryBlocks());
}

const enc = new TextEncoder();

/** One random change by key `k`; refusals (no authority, exists, ...) are part of the game. */
export function randomChange(rng: Rng, r: Replica, k: KeyPair, authors: readonly Uint8Array[]): void {
  const w = r.writer(k);
  const all = [...r.view.walk('/')];
  const dirs = all.filter((s) => s.kind === 'dir').map((s) => s.path);
  const files = all.filter((s) => s.kind === 'file').map((s) => s.path);
  const dir = rng.pick(dirs);
  const path = (dir === '/' ? '' : dir) + '/' + rng.pick(['a', 'b', 'c', 'conf', 'd', 'e']);
  try {
    switch (rng.int(9)) {
      case 0:
      case 1:
        w.mkdir(path);
        break;
      case 2:
      case 3:
        w.writeFile(rng.next() < 0.5 && files.length ? rng.pick(files) : path, enc.encode(`v${rng.int(1e6)}`));
        break;
      case 4: {
        // A file with blocks (> 512 bytes), so block transfer is exercised too.
        const big = new Uint8Array(600 + rng.int(70_000));
        for (let i = 0; i < big.length; i += 97) big[i] = rng.int(256);
        w.writeFile(path, big);
        break;
      }
      case 5:
        if (files.length) w.delete(rng.pick(files));
        break;
      case 6:
        w.grant(dir, rng.pick(authors), `k${rng.int(9)}`);
        break;
      case 7:
        if (rng.next() < 0.3) w.revoke(dir, rng.pick(authors));
        break;
      case 8:
        if (files.length) w.chmod(rng.pick(files), rng.pick([0o600, 0o644, 0o755]));
        break;
    }
  } catch (e) {
    if (!isBasefsError(e)) throw e;
  }
}

/** Everything a reader observes (paths, kinds, heads, file bytes), as one comparable string. */
export function snapshot(r: Replica): string {
  const lines: string[] = [];
  for (const st of r.view.walk('/')) {
    let extra = '';
    if (st.kind === 'file') extra = st.complete ? toHex(blockHash(r.view.readFile(st.path))) : 'incomplete';
    lines.push(`${st.path} ${st.kind} ${st.mode.toString(8)} ${toHex(st.head)} ${extra}`);
  }
  return lines.join('\n');
}

export type Tamper = (frame: Uint8Array, from: 'initiator' | 'responder') => Uint8Array[];

export interface PumpResult {
  initiator: SyncSession;
  responder: SyncSession;
  /** Frame bytes both ways, plus a 4-byte length prefix per frame as stream.ts sends them. */
  wireBytes: number;
  frames: number;
}

/**
 * Run a session between two replicas to the end, delivering every frame in order. `tamper` may
 * replace, drop or add frames on their way (a lying peer).
 */
export function pump(
  a: Replica,
  b: Replica,
  opts: {
    tamper?: Tamper;
    limits?: Partial<SyncLimits>;
    now?: number;
    maxFrames?: number;
    /** Both sides pass their incomplete files' blocks as `missingBlocks`, as a node that knows them. */
    missingBlocks?: boolean;
    /** Called before each delivery (local writes while a session runs); false cuts the connection. */
    between?: (frame: number) => boolean | void;
    /** The initiator's `fsId` (a fetch into an empty log). */
    fsId?: SyncOptions['fsId'];
  } = {},
): PumpResult {
  const now = opts.now ?? 0;
  const mk = (r: Replica, role: 'initiator' | 'responder') =>
    new SyncSession({
      log: r.log,
      blocks: r.blocks,
      role,
      now,
      ...(opts.limits ? { limits: opts.limits } : {}),
      ...(opts.missingBlocks ? { missingBlocks: missingBlocks(r.view, r.blocks) } : {}),
      ...(role === 'initiator' && opts.fsId !== undefined ? { fsId: opts.fsId } : {}),
    });
  const initiator = mk(a, 'initiator');
  const responder = mk(b, 'responder');
  responder.start(now);
  let wireBytes = 0;
  let frames = 0;
  // Each queue holds frames in flight towards the named side.
  const queue: Array<{ to: SyncSession; from: 'initiator' | 'responder'; frame: Uint8Array }> = [];
  const post = (from: 'initiator' | 'responder', out: Uint8Array[]) => {
    const to = from === 'initiator' ? responder : initiator;
    for (const f of out) for (const g of opts.tamper ? opts.tamper(f, from) : [f]) queue.push({ to, from, frame: g });
  };
  post('initiator', initiator.start(now).send);
  while (queue.length > 0) {
    if (opts.between?.(frames) === false) break;
    const { to, from, frame } = queue.shift() as (typeof queue)[number];
    wireBytes += frame.length + 4;
    if (++frames > (opts.maxFrames ?? 1e6)) throw new Error('too many frames');
    post(from === 'initiator' ? 'responder' : 'initiator', to.receive(frame, now).send);
  }
  return { initiator, responder, wireBytes, frames };
}

/**
 * Several sessions at once, deliveries interleaved one frame at a time across them (a node serving
 * several peers while it initiates its own sessions: they share its log).
 */
export function pumpInterleaved(pairs: ReadonlyArray<[Replica, Replica]>, rng: Rng): Array<{ initiator: SyncSession; responder: SyncSession }> {
  const runs = pairs.map(([a, b]) => {
    const initiator = new SyncSession({ log: a.log, blocks: a.blocks, role: 'initiator', now: 0 });
    const responder = new SyncSession({ log: b.log, blocks: b.blocks, role: 'responder', now: 0 });
    responder.start(0);
    const queue = initiator.start(0).send.map((frame) => ({ to: responder, back: initiator, frame }));
    return { initiator, responder, queue };
  });
  for (;;) {
    const live = runs.filter((r) => r.queue.length > 0);
    if (live.length === 0) break;
    const r = rng.pick(live);
    const { to, back, frame } = r.queue.shift() as (typeof r.queue)[number];
    for (const f of to.receive(frame, 0).send) r.queue.push({ to: back, back: to, frame: f });
  }
  return runs.map(({ initiator, responder }) => ({ initiator, responder }));
}
