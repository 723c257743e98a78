/**
 * The flush behind sync 'background' (Replica): group commit. Writes return once they are in the
 * OS; the first change schedules a flush, which waits GATHER_MS for more (not when fsync(2) asks),
 * fsyncs the blocks written so far, then fdatasyncs the log, and runs again while changes came in
 * meanwhile. One flush thus covers every change made while the previous one ran, however many,
 * and no writer waits for the disk; durable() does.
 *
 * Order: the log's fdatasync starts only once no block written before it is still unsynced, so the
 * log on disk names no block that is not. Two cases escape this, both only in a power failure:
 * an entry appended while that fdatasync runs (the OS may write it along), and the OS writing the
 * log page back on its own before any flush. A block left empty or torn is then caught by its hash
 * when read, and the file shows its previous version until a peer supplies the block: what a file
 * system loses in a power failure is what was written in the last milliseconds, unless fsync(2)
 * was asked for.
 */
import type { BlockStore } from './block-store.ts';
import { isBasefsError } from './errors.ts';
import type { LogFile } from './log-file.ts';

/** Rounds of block fsyncs before the log's turn, when writes keep coming: a bound, not a loop. */
const MAX_BLOCK_ROUNDS = 4;

/**
 * How long a flush waits for more changes to take along before it starts, unless something waits
 * in durable() (fsync(2)). Started at once, flushes ran back to back while a copy wrote: `cp -a`
 * of 1,000 files into a mount made 1,244 fdatasyncs of the log and 1,567 fsyncs, and the kernel's
 * work for them took CPU from the mount on a 2-core machine.
 */
export const GATHER_MS = 10;

interface Waiter {
  upTo: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class GroupCommit {
  readonly #blocks: BlockStore;
  readonly #file: LogFile;
  readonly #onError: (e: unknown) => void;
  /** Changes seen, and how many of them a completed flush covered. */
  #changes = 0;
  #durable = 0;
  #running = false;
  #closed = false;
  #failure: unknown = null;
  #waiters: Waiter[] = [];
  readonly #gatherMs: number;
  /** Ends the current wait for more changes (durable() and close() do not wait). */
  #wake: (() => void) | null = null;
  #flushes = 0;

  constructor(blocks: BlockStore, file: LogFile, onError: (e: unknown) => void = () => {}, gatherMs = GATHER_MS) {
    this.#blocks = blocks;
    this.#file = file;
    this.#onError = onError;
    this.#gatherMs = gatherMs;
  }

  /** How many flushes have completed (each: block fsyncs, then one fdatasync of the log). */
  get flushes(): number {
    return this.#flushes;
  }

  /** A block or an entry was written: a flush will cover it. */
  changed(): void {
    this.#changes++;
    if (this.#running || this.#closed || this.#failure !== null) return;
    this.#running = true;
    // After the current synchronous work: an operation's blocks and its entry are all written then.
    queueMicrotask(() => void this.#run());
  }

  /** Resolves once every change made before the call is on disk; rejects after a failed flush. */
  durable(): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (this.#closed || this.#durable >= this.#changes) return Promise.resolve();
    const waiting = new Promise<void>((resolve, reject) => this.#waiters.push({ upTo: this.#changes, resolve, reject }));
    this.#wake?.();
    return waiting;
  }

  /** Flush synchronously (blocks, including those a running flush holds, then the log) and close. */
  close(closeLog: () => void): void {
    this.#closed = true;
    this.#wake?.();
    try {
      try {
        this.#blocks.syncPending();
      } finally {
        closeLog(); // fdatasyncs the log, also when a flush is in flight
      }
      this.#durable = this.#changes;
    } catch (e) {
      this.#fail(e);
      throw e;
    } finally {
      this.#settle();
    }
  }

  async #run(): Promise<void> {
    try {
      while (!this.#closed && this.#failure === null && this.#durable < this.#changes) {
        await this.#gather();
        if (this.#closed) break;
        const upTo = this.#changes;
        for (let i = 0; i < MAX_BLOCK_ROUNDS && this.#blocks.unsynced; i++) await this.#blocks.syncAsync();
        await this.#file.syncAsync(); // no await between the last block check and this call
        this.#durable = Math.max(this.#durable, upTo);
        this.#flushes++;
        this.#settle();
      }
    } catch (e) {
      // After close(), which flushed everything itself, a CLOSED log is no failure.
      if (!(this.#closed && isBasefsError(e, 'CLOSED'))) this.#fail(e);
    } finally {
      this.#running = false;
      this.#settle();
    }
  }

  /** Wait gatherMs for more changes, unless a durable() caller is waiting (or comes). */
  #gather(): Promise<void> {
    if (this.#gatherMs <= 0 || this.#waiters.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, this.#gatherMs);
      this.#wake = done;
    });
  }

  /** Durability is lost: the log refuses further appends (IO), and the owner is told. */
  #fail(e: unknown): void {
    if (this.#failure !== null) return;
    this.#failure = e;
    this.#file.markFailed();
    this.#onError(e);
  }

  #settle(): void {
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const w of waiting) {
      if (this.#failure !== null) w.reject(this.#failure);
      else if (this.#closed || w.upTo <= this.#durable) w.resolve();
      else this.#waiters.push(w);
    }
  }
}
