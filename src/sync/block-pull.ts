/**
 * Where a node pulls the blocks it lacks from, so that a new file spreads epidemically instead of
 * every node queueing at the writer (NodeCore's block pulls; deterministic: time and randomness
 * come from the caller).
 *
 * Every node advertises in its metadata whether it holds every block of its current files
 * (node-meta.ts COMPLETE). A pull picks, uniformly at random, an alive peer of the filesystem that
 * advertises it and holds the entries we hold (the same root, or at least as many entries); only
 * when none is known does it fall back to the origin of the gossip (the writer), then to peers that
 * do not say (older nodes). So the first nodes to get a file's blocks from the writer serve the
 * next ones, and the number of sources doubles about every round instead of staying one: the time
 * for N nodes grows like log N, not N (test/sync/sim-spread.test.ts).
 *
 * One block pull runs at a time (two would ask the same blocks). A pull that brings none of the
 * blocks it asked (refused because the source serves its maximum, failed, or the source lacked
 * them) puts the source aside for blockBackoffMs and retries after blockRetryMs, doubled each time
 * and jittered so that refused nodes do not come back together; after MAX_ATTEMPTS in a row it waits
 * for the periodic round. A member that starts advertising completeness while we wait makes us try
 * at once: it is the source we were waiting for. Entries still come first: the core serves its
 * entry pulls before a block pull, and a session moves entries before blocks (anti-entropy.ts).
 */
import { bytesEqual, type Hash } from '../core/hash.ts';
import type { NodeMeta } from './node-meta.ts';
import type { Candidate } from './node-types.ts';

/** Block pulls in a row that brought nothing before waiting for the periodic round. */
const MAX_ATTEMPTS = 8;
/** The retry delay doubles up to 2^MAX_DOUBLINGS times blockRetryMs. */
const MAX_DOUBLINGS = 4;

export interface BlockPullOptions {
  /** Uniform in [0, 1). */
  random: () => number;
  has: (hash: Hash) => boolean;
  /** First try after a need appears (NodeTiming.pullDelayMs). */
  pullDelayMs: number;
  blockRetryMs: number;
  blockBackoffMs: number;
}

/** What the chooser needs to know about our log. */
export interface OurLog {
  root: Hash;
  entries: number;
}

export class BlockPull {
  readonly #o: BlockPullOptions;
  /** The peer that gossiped the entry whose blocks we lack: the fallback source. */
  #origin: string | null = null;
  #attempts = 0;
  /** When the next pull may start (Infinity: none planned). */
  #at = Infinity;
  /** The deadline passed: the next free outbound slot is a block pull. */
  #due = false;
  /** The running pull: its source and the blocks missing when it began. */
  #running: { peer: string; asked: Hash[] } | null = null;
  /** Sources that brought nothing lately → until when they are not chosen. */
  readonly #backoff = new Map<string, number>();

  constructor(o: BlockPullOptions) {
    this.#o = o;
  }

  get deadline(): number {
    return this.#at;
  }

  get due(): boolean {
    return this.#due;
  }

  /** `peer` is the source of the running pull. */
  isPull(peer: string): boolean {
    return this.#running?.peer === peer;
  }

  /** Blocks went missing because of what `from` gossiped (null: unknown): pull soon, afresh. */
  need(from: string | null, now: number): void {
    if (from !== null) this.#origin = from;
    this.#attempts = 0;
    this.#plan(now + this.#o.pullDelayMs);
  }

  /**
   * Blocks are still missing (after any session, or at a periodic round when `fresh`): pull soon
   * unless a pull is planned already (a retry keeps its backoff) or the attempts ran out.
   */
  stillMissing(now: number, fresh = false): void {
    if (fresh) this.#attempts = 0;
    if (this.#at === Infinity && !this.#due && this.#attempts < MAX_ATTEMPTS) this.#plan(now + this.#o.pullDelayMs);
  }

  /**
   * A member that holds our entries now advertises completeness (the caller lacks blocks): unless a
   * pull runs, try at once, even after MAX_ATTEMPTS, since it is the source we were waiting for.
   */
  sourceAppeared(now: number): void {
    if (this.#running === null && !this.#due) this.#at = Math.min(this.#at, now);
  }

  /** Nothing is missing any more. */
  satisfied(): void {
    this.#at = Infinity;
    this.#due = false;
    this.#attempts = 0;
  }

  /** The deadline passed (the core's tick): the next pump may start the pull. */
  fire(now: number): void {
    if (this.#at > now) return;
    this.#at = Infinity;
    this.#due = this.#running === null;
  }

  /**
   * The source of the pull that is due among `cs` (alive members of our filesystem with no session
   * with us), or null when there is none now (a retry is then planned). `missing` is what we lack.
   */
  choose(cs: readonly Candidate[], ours: OurLog, missing: Hash[], now: number): Candidate | null {
    if (!this.#due) return null;
    this.#due = false;
    const usable = cs.filter((c) => !this.#backedOff(c.name, now) && holdsOurs(c.meta, ours));
    const sources = usable.filter((c) => c.meta.complete === true);
    const origin = cs.find((c) => c.name === this.#origin && !this.#backedOff(c.name, now));
    const unknown = usable.filter((c) => c.meta.complete === null);
    const c = this.#pick(sources) ?? origin ?? this.#pick(unknown);
    if (c === undefined) {
      this.#failed(now);
      return null;
    }
    this.#running = { peer: c.name, asked: missing };
    return c;
  }

  /** The running pull ended: retry soon if it helped and blocks remain, else back off its source. */
  finished(peer: string, missing: number, now: number): void {
    const run = this.#running;
    if (run === null || run.peer !== peer) return;
    this.#running = null;
    if (run.asked.some((h) => this.#o.has(h))) {
      this.#attempts = 0;
      if (missing > 0) this.#plan(now + this.#o.pullDelayMs);
      return;
    }
    this.#backoff.set(peer, now + this.#o.blockBackoffMs);
    if (missing > 0) this.#failed(now);
  }

  #failed(now: number): void {
    if (++this.#attempts >= MAX_ATTEMPTS) return; // the periodic round will start over
    const base = this.#o.blockRetryMs * 2 ** Math.min(this.#attempts - 1, MAX_DOUBLINGS);
    this.#plan(now + base * (0.5 + this.#o.random()));
  }

  #plan(at: number): void {
    if (this.#running !== null) return; // its end decides what comes next
    this.#at = Math.min(this.#at, at);
  }

  #pick(cs: readonly Candidate[]): Candidate | undefined {
    return cs.length === 0 ? undefined : cs[Math.floor(this.#o.random() * cs.length)];
  }

  #backedOff(name: string, now: number): boolean {
    const until = this.#backoff.get(name);
    if (until === undefined) return false;
    if (until > now) return true;
    this.#backoff.delete(name);
    return false;
  }
}

/**
 * The member holds at least the entries we hold (so it may hold our files' blocks): the same root,
 * or more entries (a later write on top; a concurrent one is caught by the session's progress check).
 */
export function holdsOurs(meta: NodeMeta, ours: OurLog): boolean {
  return bytesEqual(meta.root, ours.root) || (meta.entries !== null && meta.entries >= ours.entries);
}
