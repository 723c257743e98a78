/**
 * Durable storage of a node's incarnation number, so a restarted node comes back above every
 * incarnation its peers may still hold (otherwise its alive messages are ignored until it has
 * refuted its own death; Habitat #5581, swim-js #10).
 *
 * A file store writes synchronously and durably: a temporary file in the same directory,
 * fsync, rename over the target, fsync of the directory. The runtime saves before it sends any
 * packet that carries a new incarnation, so no peer can ever have seen a number we forget.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SwimError } from './errors.ts';

export interface IncarnationStore {
  /** The last saved incarnation, or null when nothing was ever saved. */
  load(): number | null;
  save(incarnation: number): void;
}

const MAX_INCARNATION = 0xffff_ffff;
const MAX_STATE_FILE_BYTES = 4096;

export class FileIncarnationStore implements IncarnationStore {
  readonly path: string;

  constructor(filePath: string) {
    this.path = path.resolve(filePath);
  }

  /** Throws SwimError('MALFORMED') on a file that is not ours, the fs error if it is unreadable. */
  load(): number | null {
    let text: string;
    try {
      const st = fs.statSync(this.path);
      if (!st.isFile() || st.size > MAX_STATE_FILE_BYTES) {
        throw new SwimError('MALFORMED', `${this.path} is not a SWIM state file`);
      }
      text = fs.readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new SwimError('MALFORMED', `${this.path} is not valid JSON`);
    }
    const inc = (parsed as { incarnation?: unknown } | null)?.incarnation;
    if (typeof inc !== 'number' || !Number.isInteger(inc) || inc < 0 || inc > MAX_INCARNATION) {
      throw new SwimError('MALFORMED', `${this.path} has no valid incarnation number`);
    }
    return inc;
  }

  /** Throws the fs error (ENOSPC, EACCES, ...) when the write fails; the old file is then intact. */
  save(incarnation: number): void {
    if (!Number.isInteger(incarnation) || incarnation < 0 || incarnation > MAX_INCARNATION) {
      throw new RangeError(`incarnation must be an integer in 0..${MAX_INCARNATION}, got ${incarnation}`);
    }
    const dir = path.dirname(this.path);
    const tmp = path.join(dir, `.${path.basename(this.path)}.${process.pid}.tmp`);
    const body = `${JSON.stringify({ version: 1, incarnation })}\n`;
    try {
      const fd = fs.openSync(tmp, 'w', 0o644);
      try {
        fs.writeSync(fd, body);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.path);
      fsyncDir(dir);
    } catch (e) {
      try {
        fs.unlinkSync(tmp);
      } catch {
        // already renamed or never created
      }
      throw e;
    }
  }
}

/** Makes the rename itself durable. Some platforms cannot open or fsync a directory; skip there. */
function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fs.fsyncSync(fd);
  } catch {
    // EISDIR/EINVAL on some systems: the rename is still atomic, only not yet durable
  } finally {
    fs.closeSync(fd);
  }
}

/** For tests and for embedders that keep their own state. */
export class MemoryIncarnationStore implements IncarnationStore {
  value: number | null;
  saves = 0;
  constructor(initial: number | null = null) {
    this.value = initial;
  }
  load(): number | null {
    return this.value;
  }
  save(incarnation: number): void {
    this.value = incarnation;
    this.saves++;
  }
}
