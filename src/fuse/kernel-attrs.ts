/**
 * Which version of each file the kernel may still hold the attributes of.
 *
 * The kernel keeps the attributes getattr answered for attr_timeout (mount.ts), and uses the
 * cached size to cut reads short: were a read served from a newer, longer version that another
 * node wrote meanwhile, the reader would get its first "old size" bytes, a torn file. libfuse 2's
 * high-level API (fuse-native) cannot tell the kernel to drop its copy. So the mount remembers
 * which version each answer described, and a handle that starts reading while the kernel may still
 * hold those attributes reads that version, whole: the change shows at most attr_timeout later,
 * never half.
 *
 * Every getattr the mount answers goes to the kernel (mount.ts leaves out libfuse's auto_cache,
 * whose check at open would not; libfuse's other own getattr calls only probe .fuse_hidden names),
 * so the last answer for a path is what the kernel holds, until `holdMs` after it. Changes made
 * through the mount also change the kernel's copy without a getattr: a commit sets the size to the
 * saved version's (answered), an unlink drops the inode (forget), a rename moves it (move).
 *
 * Left open, both rare:
 * - Two getattr calls on one file at once (libfuse runs several threads): the kernel keeps the
 *   answer to the later request, the map the later answer; should a peer's version land between
 *   the two answers, they differ.
 * - The kernel asks again when its copy expires, and the answer (the newest version) replaces the
 *   size for every open file of that inode. A reader that is partway through an older version and
 *   does several reads could then be cut at the new size if it is shorter. That needs the
 *   attributes of a file handle (fgetattr), which fuse-native 2.2.6 answers with the path's.
 *
 * Entries are kept in answer order (a rename puts its entries last with their old times), so the
 * expired ones are dropped from the front as new answers come in: the map holds about the paths
 * answered in the last `holdMs`, and held() checks the time of each.
 */
import { isWithin } from '../core/paths.ts';

interface Answer {
  /** The file version described; null for anything else (a directory, an unsaved buffer). */
  version: string | null;
  at: number;
}

export class KernelAttrs {
  private readonly holdMs: number;
  private readonly now: () => number;
  private readonly answers = new Map<string, Answer>();

  /** `holdMs`: the kernel's attribute timeout plus a margin for the reply's way to the kernel. */
  constructor(holdMs: number, now: () => number = () => performance.now()) {
    this.holdMs = holdMs;
    this.now = now;
  }

  /** getattr answered `path` with this file version (null: not a file version). */
  answered(path: string, version: string | null): void {
    const now = this.now();
    this.answers.delete(path);
    if (this.holdMs > 0) this.answers.set(path, { version, at: now });
    for (const [p, a] of this.answers) {
      if (now - a.at <= this.holdMs) break;
      this.answers.delete(p);
    }
  }

  /** The file version whose attributes the kernel may still hold for `path`, or null. */
  held(path: string): string | null {
    const a = this.answers.get(path);
    if (a === undefined) return null;
    return this.now() - a.at <= this.holdMs ? a.version : null;
  }

  /**
   * How long (ms) the kernel may still hold attributes of `path` other than those it would be
   * given now, which describe `current` (a file version; null: not one; undefined: the path is
   * gone). 0 when it holds none, or the current ones. A watcher script waits this long, so that
   * what it reads through the mount is the change it was run for.
   */
  staleFor(path: string, current: string | null | undefined): number {
    const a = this.answers.get(path);
    if (a === undefined || a.version === current) return 0;
    return Math.max(0, a.at + this.holdMs - this.now());
  }

  /** The file at `path` was changed through the mount: the kernel's copy follows that change. */
  forget(path: string): void {
    this.answers.delete(path);
  }

  /**
   * A rename through the mount: the kernel's inode at `from` now lives at `to` (and, for a
   * directory, every inode below it). Only a directory rename walks the map.
   */
  move(from: string, to: string, dir: boolean): void {
    if (!dir) {
      const a = this.answers.get(from);
      this.answers.delete(from);
      this.answers.delete(to);
      if (a !== undefined) this.answers.set(to, a);
      return;
    }
    for (const p of [...this.answers.keys()]) if (isWithin(p, to)) this.answers.delete(p);
    for (const [p, a] of [...this.answers]) {
      if (!isWithin(p, from)) continue;
      this.answers.delete(p);
      this.answers.set(to + p.slice(from.length), a);
    }
  }

  get size(): number {
    return this.answers.size;
  }
}
