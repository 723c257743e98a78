/**
 * Parked files: a new file (made by create()) that was closed waits `parkMs` before it becomes an
 * entry, and the wait starts again whenever it is changed. The programs that write most files
 * through a mount close a new file only to rename it into place right after: rsync writes every
 * file as `.name.XXXXXX`, then sets its times and mode and renames it; editors and configuration
 * tools save to a temporary name and rename it over the old file. Committed at close, each such
 * save was three entries (the temporary file, its copy at the real name, the temporary's
 * DELETE), more with the time and mode set in between, and every peer received and applied all of
 * them, watchers included. Parked, the rename writes the file at its real name as one entry (and a
 * MODE if its mode is not the default), and a temporary file removed while parked writes nothing.
 *
 * A close is still not lost if the mount process is killed: parking records the file in the
 * journal (parked-journal.ts; its blocks are stored first), and the next mount commits it. An
 * fsync(2) makes the record durable. Until it is committed a parked file exists on this node only,
 * as an open new file does: peers see it parkMs after its last change.
 */
import type { BlockSink } from '../core/writer.ts';
import { chunkFile } from '../core/content.ts';
import type { OpenFile } from './open-files.ts';
import type { ParkedJournal, ParkedRecord } from './parked-journal.ts';

export interface ParkingOptions {
  parkMs: number;
  /** Write a parked file to the log, or drop it if that fails (MountContext); settles it here. */
  commit: (file: OpenFile) => void;
  /** Resolves once everything written to the replica so far is on disk (Replica.durable). */
  durable: () => Promise<void>;
  onError: (op: string, e: unknown) => void;
  /** Past this size, the journal is rewritten with only its live records (see drop); default 1 MiB. */
  compactBytes?: number;
}

export class Parking {
  private readonly journal: ParkedJournal;
  private readonly blocks: BlockSink;
  private readonly opts: ParkingOptions;
  private readonly parked = new Set<OpenFile>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** While commitDue runs: the ids it settled, dropped with one record at its end. */
  private settling: number[] | null = null;
  /** Records of committed files whose fsync(2) made them durable, until the commit is too. */
  private readonly awaiting = new Map<number, ParkedRecord>();
  /**
   * Records left for the next mount: files whose commit failed for a passing reason (IO: the
   * log may even hold the entry in memory only), and those recovery could not commit. They stay
   * in the journal whatever else is dropped, compacted or cleared.
   */
  private readonly held = new Map<number, ParkedRecord>();
  /** Ids whose drop failed (a full disk): dropped with the next one. */
  private undropped: number[] = [];

  /** `held`: records a previous mount left that recovery could not commit now (kept in the journal). */
  constructor(journal: ParkedJournal, blocks: BlockSink, opts: ParkingOptions, held: ReadonlyArray<readonly [number, ParkedRecord]> = []) {
    this.journal = journal;
    this.blocks = blocks;
    this.opts = opts;
    for (const [id, r] of held) this.held.set(id, r);
  }

  /**
   * `file`'s commit failed for a passing reason: it is no longer parked here, and its record stays
   * in the journal for the next mount's recovery (retrying now could find the entry in the log's
   * memory though not on disk, and take it for written).
   */
  shelve(file: OpenFile): void {
    if (!file.parked) return;
    file.parked = false;
    this.parked.delete(file);
    if (file.parkRecord !== null) this.held.set(file.parkId as number, file.parkRecord);
  }

  get size(): number {
    return this.parked.size;
  }

  /**
   * Record `file` as it is now (blocks, then the journal record) and (re)start its wait. Throws
   * IO if the record cannot be written; the caller then commits the file at once instead.
   */
  park(file: OpenFile): void {
    if (file.parkedManifest === null) {
      // Cut and stored once per content: rsync's time and mode changes re-record the same manifest.
      const { manifest, blocks } = chunkFile(file.bytes());
      for (const b of blocks) this.blocks.put(b.bytes);
      file.parkedManifest = manifest;
    }
    file.parkId ??= this.journal.newId();
    const record = { path: file.path, mode: file.mode, mtime: file.savedTime, manifest: file.parkedManifest };
    this.journal.put(file.parkId, record);
    file.parkRecord = record;
    file.parked = true;
    file.journaled = true;
    file.parkedAt = performance.now();
    this.parked.add(file);
    this.schedule(this.opts.parkMs);
  }

  /**
   * `file` no longer needs its record: it was committed as entry `hash` (null: its content was in
   * the log already), replaced by a rename whose entry is `hash`, or removed (never to be
   * committed: the record goes at once, or a killed mount's successor would bring the file back).
   * The record of a file whose fsync(2) made it durable stays, marked with `hash`, until that entry
   * is durable too, so that a power failure in between loses neither; recovery then skips it
   * unless the entry was lost (recover-parked.ts).
   */
  settle(file: OpenFile, how: 'committed' | 'replaced' | 'removed', hash: Uint8Array | null = null): void {
    if (!file.parked) return;
    file.parked = false;
    this.parked.delete(file);
    const id = file.parkId as number;
    if (how === 'removed' || !file.parkSynced || hash === null) {
      if (this.settling !== null) this.settling.push(id);
      else this.drop([id]);
      return;
    }
    try {
      this.journal.done(id, hash);
      // Durable before the entry's own flush (which waits GATHER_MS) as a rule: were the entry
      // durable and this not, recovery would bring back a temporary name the file was renamed from.
      this.journal.sync().catch((e: unknown) => this.opts.onError('parked files journal', e));
    } catch (e) {
      this.opts.onError('parked files journal', e);
    }
    this.awaiting.set(id, { ...(file.parkRecord as ParkedRecord), committedAs: hash });
    this.opts.durable().then(
      () => {
        this.awaiting.delete(id);
        if (!this.closed) this.drop([id]);
      },
      () => undefined, // the replica reported it (sync-failed); the record stays for the next mount
    );
  }

  /**
   * A parked file opened again and being rewritten had its mode or mtime changed (answered now):
   * its record keeps the content last closed, with them, as the entries of a committed file would.
   */
  rerecord(file: OpenFile): void {
    if (!file.parked || file.parkRecord === null) return;
    const record = { ...file.parkRecord, mode: file.mode, mtime: file.mtime ?? file.parkRecord.mtime };
    this.journal.put(file.parkId as number, record);
    file.parkRecord = record;
  }

  /**
   * Drop records; the journal empties itself when no file is parked. While one stays parked for
   * long (opened again and kept open), every other file's records pile up behind it: past
   * compactBytes, when most of the file is dead records, it is rewritten with the live ones
   * (and those of committed files still waiting to be durable).
   */
  private drop(ids: number[]): void {
    const all = this.undropped.length === 0 ? ids : [...this.undropped, ...ids];
    try {
      this.journal.drop(all);
      this.undropped = [];
    } catch (e) {
      // Tried again with the next drop (a removed file's record must not outlive a kill). A full
      // disk must not take the mount down from a timer either.
      this.undropped = all;
      return this.opts.onError('parked files journal', e);
    }
    if (this.journal.bytes < (this.opts.compactBytes ?? 1 << 20)) return;
    const live: Array<readonly [number, ParkedRecord]> = [...this.held, ...this.awaiting];
    for (const f of this.parked) if (f.parkRecord !== null) live.push([f.parkId as number, f.parkRecord]);
    let bytes = 0;
    for (const [, r] of live) bytes += 64 + r.path.length + r.manifest.length;
    if (this.journal.bytes < 2 * bytes) return;
    try {
      this.journal.rewrite(live);
    } catch (e) {
      this.opts.onError('parked files journal', e);
    }
  }

  /** fsync(2) of a parked file: its record (and blocks, with everything else) on disk. */
  async sync(file: OpenFile): Promise<void> {
    file.parkSynced = true;
    await Promise.all([this.journal.sync(), this.opts.durable()]);
  }

  /** fsync(2) of a directory: the records of parked files too (their names are in it). */
  syncJournal(): Promise<void> {
    return this.journal.sync();
  }

  /** Forget every record (unmount: every parked file was committed and is on disk). */
  clearJournal(): void {
    if (this.closed || this.held.size > 0) return;
    this.journal.clear();
  }

  /** Stop the timer and close the journal (after the parked files were committed: unmount). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.journal.close();
  }

  private schedule(ms: number): void {
    if (this.timer !== null || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.commitDue();
    }, ms);
  }

  /** Commit the files whose wait is over. */
  private commitDue(): void {
    const now = performance.now();
    let next = Infinity;
    this.settling = [];
    try {
      for (const f of [...this.parked]) {
        // Being rewritten through a descriptor opened again: its close parks it again. (One no
        // descriptor has open that is not journaled failed to park again: committed now.)
        if (!f.journaled && f.refs > 0) continue;
        const left = f.parkedAt + this.opts.parkMs - now;
        if (left > 0) {
          next = Math.min(next, left);
          continue;
        }
        this.opts.commit(f);
      }
    } finally {
      // Synchronously, before any other operation can change these files again.
      const ids = this.settling;
      this.settling = null;
      this.drop(ids);
    }
    if (next !== Infinity) this.schedule(next);
  }
}
