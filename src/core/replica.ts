/**
 * One filesystem on this machine: its log file, block store, view and (with a key) a writer.
 *
 * Directory layout (inside BASEFS_HOME/fs/<name>/, see home.ts):
 *   log        the append-only log file (log-file.ts), each record = entry hash || entry bytes
 *   log.lock   held while a process has the log open for writing
 *   blocks/    content-addressed file blocks (block-store.ts)
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { err } from './errors.ts';
import { GroupCommit } from './group-commit.ts';
import { ACTION, createEntry, ZERO_HASH, type Entry } from './entry.ts';
import { chunkFile, decodeText } from './content.ts';
import { BlockStore } from './block-store.ts';
import type { KeyPair } from './keys.ts';
import { LogFile, readLog, type Recovery, type SyncPolicy } from './log-file.ts';
import { Log, encodeRecord } from './log.ts';
import { View } from './view.ts';
import { Writer } from './writer.ts';

export interface OpenOptions {
  /** Writable (takes the lock) or a read-only snapshot that may run beside a writer. Default true. */
  writable?: boolean;
  /**
   * 'always' (default): every entry and block is on disk before the call that wrote it returns.
   * 'background' (group commit, for the mount): writes reach the OS before the call returns, so
   * they survive the process being killed, and a flush on the I/O thread pool starts at once and
   * takes every change made meanwhile along (blocks first, then the log); durable() waits for it.
   */
  sync?: SyncPolicy;
  /** sync 'background': a flush failed; the log then refuses further appends (IO). */
  onSyncError?: (e: unknown) => void;
  key?: KeyPair | null;
  now?: () => number;
}

export class Replica {
  readonly dir: string;
  readonly log: Log;
  readonly view: View;
  readonly blocks: BlockStore;
  readonly writer: Writer | null;
  readonly recovered: Recovery | null;
  private readonly file: LogFile | null;
  readonly #flusher: GroupCommit | null;

  private constructor(dir: string, log: Log, file: LogFile | null, blocks: BlockStore, recovered: Recovery | null, opts: OpenOptions, flusher: GroupCommit | null) {
    this.dir = dir;
    this.log = log;
    this.file = file;
    this.blocks = blocks;
    this.recovered = recovered;
    this.view = new View(log, blocks);
    this.writer =
      opts.key && file !== null
        ? new Writer({ log, view: this.view, key: opts.key, blocks, ...(opts.now ? { now: opts.now } : {}) })
        : null;
    this.#flusher = flusher;
    if (flusher !== null) log.onAccept(() => flusher.changed());
  }

  static exists(dir: string): boolean {
    return existsSync(join(dir, 'log'));
  }

  static open(dir: string, opts: OpenOptions = {}): Replica {
    if (!Replica.exists(dir)) throw err('NOT_FOUND', `no filesystem at ${dir}`);
    const background = opts.sync === 'background' && opts.writable !== false;
    let flusher: GroupCommit | null = null;
    const blocks = BlockStore.open(join(dir, 'blocks'), {
      ...(opts.sync ? { sync: opts.sync } : {}),
      readOnly: opts.writable === false,
      ...(background ? { onWrite: () => flusher?.changed() } : {}),
    });
    if (opts.writable === false) {
      const snap = readLog(join(dir, 'log'));
      const log = new Log(null);
      log.loadTrusted(snap.records);
      return new Replica(dir, log, null, blocks, null, opts, null);
    }
    const opened = LogFile.open(join(dir, 'log'), opts.sync ? { sync: opts.sync } : {});
    const log = new Log(opened.log);
    log.loadTrusted(opened.records);
    if (background) flusher = new GroupCommit(blocks, opened.log, opts.onSyncError);
    return new Replica(dir, log, opened.log, blocks, opened.recovered, opts, flusher);
  }

  /**
   * Resolves once every change made before the call is on disk: at once unless opened with sync
   * 'background' (see group-commit.ts). Rejects (IO) if a flush failed.
   */
  durable(): Promise<void> {
    return this.#flusher?.durable() ?? Promise.resolve();
  }

  /**
   * Create a filesystem from its first entries (bootstrap), or from a peer's log (get): `entries`
   * are verified like any received entry, and the first one must be a genesis entry.
   */
  static create(dir: string, entries: readonly Uint8Array[], opts: OpenOptions & { force?: boolean } = {}): Replica {
    if (Replica.exists(dir) && !opts.force) throw err('EXISTS', `a filesystem already exists at ${dir}`);
    mkdirSync(dir, { recursive: true });
    const check = new Log(null);
    const results = check.ingestMany(entries);
    const bad = results.find((r) => r.status !== 'accepted');
    if (bad !== undefined) throw err(bad.code ?? 'MALFORMED', `initial entries rejected (${bad.status})`);
    // Replace under the lock, so a log that a running node holds is refused (LOCKED), not deleted.
    const path = join(dir, 'log');
    let opened = LogFile.open(path, opts.sync ? { sync: opts.sync } : {});
    if (opened.records.length > 0) {
      rmSync(path);
      const fresh = LogFile.open(path, { ...(opts.sync ? { sync: opts.sync } : {}), lock: false });
      opened.log.close(); // releases the lock only once the new file is in place
      opened = fresh;
    }
    opened.log.append([...check.entriesInOrder()].map(encodeRecord));
    opened.log.close();
    return Replica.open(dir, opts);
  }

  get name(): string {
    return decodeText(this.log.genesis.entry.content);
  }

  /** The bootstrap seed list kept in /.cluster ("ip:port" lines). */
  seeds(): string[] {
    try {
      return decodeText(this.view.readFile('/.cluster'))
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.length > 0 && !l.startsWith('#'));
    } catch {
      return [];
    }
  }

  close(): void {
    if (this.#flusher !== null && this.file !== null) this.#flusher.close(() => this.file?.close());
    else this.file?.close();
  }
}

/**
 * The first entries of a new filesystem: the genesis MKDIR "/" (its author is the root of trust),
 * a GRANT at "/" for each further root key, and /.cluster listing the seed addresses.
 */
export function bootstrapEntries(name: string, rootKeys: readonly KeyPair[], seeds: readonly string[], now: number): Entry[] {
  const first = rootKeys[0];
  if (first === undefined) throw err('USAGE', 'bootstrap needs at least one root key');
  const enc = new TextEncoder();
  const sign = (parent: Uint8Array, action: Entry['action'], n: string, content: Uint8Array) =>
    createEntry({ parent, timestamp: now, action, name: n, content }, first.publicKey, first.seed);
  const genesis = sign(ZERO_HASH, ACTION.MKDIR, '/', enc.encode(name));
  const out = [genesis];
  let permHead = genesis;
  rootKeys.slice(1).forEach((k, i) => {
    permHead = sign(permHead.hash, ACTION.GRANT, `root-${i + 1}`, k.publicKey);
    out.push(permHead);
  });
  const cluster = chunkFile(enc.encode(seeds.map((s) => s + '\n').join('')));
  if (cluster.blocks.length > 0) throw err('TOO_LARGE', 'too many seed addresses');
  out.push(sign(genesis.hash, ACTION.WRITE, '.cluster', cluster.manifest));
  return out;
}
