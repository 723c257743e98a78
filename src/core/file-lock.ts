/**
 * An exclusive lock file, so that a daemon and a CLI command never append to the same log at once.
 *
 * The lock file holds "pid <pid>\nboot <boot id>\n". It appears atomically with its full content
 * (written under a temporary name, then hard-linked to the lock name, which fails if the name is
 * taken), so a lock file that cannot be parsed was not written by us and counts as stale.
 *
 * A lock is stale when its holder is gone: a different boot id (written before a reboot; this
 * matters on routers, whose daemons get the same small pids on every boot) or a pid with no live
 * process. A stale lock is taken over; a live one gives BasefsError('LOCKED').
 *
 * Two processes may find the same stale lock at the same moment. Removing it is therefore done
 * under a second, short-lived lock ("<lock>.takeover"), and only if the lock still holds the stale
 * content that was judged; so exactly one of them ends up holding the lock. (The remaining gap: a
 * process killed inside that few-microsecond critical section leaves a stale takeover file, which
 * is removed the same way without a third level; two racers could then both remove it. Accepted.)
 *
 * Lock files are not fsynced: after a power failure every lock is stale anyway.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { err } from './errors.ts';
import { createFileSynced, errnoCode, ioError, publishFile } from './durable-fs.ts';

export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM'; // exists, but belongs to another user
  }
}

let bootIdCache: string | undefined;
/** Linux's per-boot random id; '' where unknown (then only the pid is checked). */
function bootId(): string {
  if (bootIdCache === undefined) {
    try {
      bootIdCache = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      bootIdCache = '';
    }
  }
  return bootIdCache;
}

interface Holder {
  pid: number;
  boot: string;
}

function parseHolder(text: string): Holder | null {
  const m = /^pid (\d+)\nboot ([0-9a-f-]*)\n$/.exec(text);
  return m ? { pid: Number(m[1]), boot: m[2] ?? '' } : null;
}

function holderIsAlive(holder: Holder | null): boolean {
  if (holder === null) return false;
  const ours = bootId();
  if (holder.boot !== '' && ours !== '' && holder.boot !== ours) return false;
  return isProcessAlive(holder.pid);
}

/** The lock file's text, or null if it does not exist. */
function readLockText(path: string): string | null {
  try {
    return readFileSync(path, 'latin1');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw e;
  }
}

/** Creates `path` atomically with `content`; false if the name is already taken. */
function tryCreate(path: string, content: string): boolean {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  createFileSynced(tmp, Buffer.from(content, 'latin1'), 'never');
  return publishFile(tmp, path, false, 'never');
}

function ownContent(): string {
  return `pid ${process.pid}\nboot ${bootId()}\n`;
}

/** Removes the lock at `path` if it still holds `staleText`, serialized by the takeover lock. */
function removeStaleLock(path: string, staleText: string): void {
  const takeover = `${path}.takeover`;
  if (!tryCreate(takeover, ownContent())) {
    const text = readLockText(takeover);
    if (text !== null && holderIsAlive(parseHolder(text))) {
      throw err('LOCKED', `${path} is being taken over by another process`);
    }
    if (text !== null) unlinkIfUnchanged(takeover, text);
    return; // the caller retries
  }
  try {
    unlinkIfUnchanged(path, staleText);
  } finally {
    unlinkSync(takeover);
  }
}

function unlinkIfUnchanged(path: string, text: string): void {
  if (readLockText(path) !== text) return;
  try {
    unlinkSync(path);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
}

export class FileLock {
  readonly path: string;
  readonly #content: string;
  #held = true;

  private constructor(path: string, content: string) {
    this.path = path;
    this.#content = content;
  }

  /** Takes the lock at `path` (taking over a stale one) or throws BasefsError('LOCKED'). */
  static acquire(path: string): FileLock {
    const content = ownContent();
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        if (tryCreate(path, content)) return new FileLock(path, content);
        const text = readLockText(path);
        if (text === null) continue; // released in between: try again
        const holder = parseHolder(text);
        if (holderIsAlive(holder)) {
          throw err('LOCKED', `${path} is held by live process ${holder?.pid ?? '?'}`);
        }
        removeStaleLock(path, text);
      }
    } catch (e) {
      throw ioError(e, `cannot take lock ${path}`);
    }
    throw err('LOCKED', `${path}: lock keeps changing hands`);
  }

  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    try {
      unlinkIfUnchanged(this.path, this.#content);
    } catch (e) {
      throw ioError(e, `cannot release lock ${this.path}`);
    }
  }
}
