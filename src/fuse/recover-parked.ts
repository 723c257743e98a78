/**
 * The next mount's side of parking (parking.ts): committing the files a killed mount had parked,
 * from the records its journal kept (parked-journal.ts), as their close would have.
 */
import { decodeManifest } from '../core/content.ts';
import { ACTION } from '../core/entry.ts';
import { err, isBasefsError } from '../core/errors.ts';
import { bytesEqual } from '../core/hash.ts';
import type { MountContext } from './context.ts';
import type { ParkedRecord, RecoveredRecord } from './parked-journal.ts';

/**
 * Whether a failed write may pass: storage (IO: a full disk, a failed flush) and the like. Any
 * other failure is a refusal for good: no authority (EACCES, EROFS), the path or its directory
 * not what it was (gone, a directory, made by another node), content that cannot be read back.
 */
export function mayPass(e: unknown): boolean {
  return isBasefsError(e) && ['IO', 'CLOSED', 'LOCKED', 'TIMEOUT'].includes(e.code);
}

/**
 * Commit `records` (ParkedJournal.open). Skipped: a record whose entry survived (committedAs:
 * kept for fsync(2) until durable), one committed at its own path just before the kill (the same
 * content and time in that path's history), and one whose path exists now: the file was new when
 * closed, so another node made that path since, and the version closed here is not written over
 * it (reported). Returns the records to keep for a later mount: those that failed for a passing
 * reason (IO); the others that failed are reported and dropped.
 */
export function recoverParked(ctx: MountContext, records: readonly RecoveredRecord[], onError: (op: string, e: unknown) => void): RecoveredRecord[] {
  const keep: RecoveredRecord[] = [];
  for (const r of records) {
    try {
      if (r.committedAs !== undefined && ctx.replica.log.has(r.committedAs)) continue;
      if (committedAtPath(ctx, r)) continue;
      if (ctx.view.exists(r.path)) throw err('EXISTS', `${r.path} was made by another node since: the version closed here before the mount stopped is not written over it`);
      const w = ctx.writerFor(r.path);
      const m = decodeManifest(r.manifest);
      const data = new Uint8Array(m.size);
      ctx.blocks.read(m, 0, m.size, data);
      w.writeFileIfChanged(r.path, data, { mtime: r.mtime });
      if ((ctx.view.stat(r.path).mode & 0o7777) !== r.mode) w.chmod(r.path, r.mode, { at: r.mtime });
    } catch (e) {
      onError(`recover parked ${r.path}`, e);
      if (mayPass(e)) keep.push(r);
    }
  }
  return keep;
}

/** Whether `r`'s content and time are in the history of its own path (committed, not dropped). */
function committedAtPath(ctx: MountContext, r: ParkedRecord): boolean {
  const found = ctx.view.find(r.path, true);
  if (found === undefined) return false;
  const stack = [...found.chain.roots];
  for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
    const e = n.entry;
    if (e.action === ACTION.WRITE && e.timestamp === Math.floor(r.mtime) && bytesEqual(e.content, r.manifest)) return true;
    stack.push(...n.children);
  }
  return false;
}
