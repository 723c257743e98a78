/**
 * What every BaseFS command shares: the home directory from `this.context.env`, opening a
 * filesystem read-only or writable, loading the user's key, and turning any failure into one line
 * on stderr (errors.ts). Commands write only to `this.context`; they never touch `process`.
 */
import { resolve } from 'node:path';
import { Command } from 'clipanion';
import { err, isBasefsError } from '../core/errors.ts';
import { defaultKeyPath, fsDir, homeDir, listFilesystems, resolveTarget, type Target } from '../core/home.ts';
import { readKeyFile, type KeyPair } from '../core/keys.ts';
import { Replica } from '../core/replica.ts';
import { describeError, oneLine, type Failure } from './errors.ts';
import { style, wantsColor, type Style } from './format.ts';

export abstract class BasefsCommand extends Command {
  /** The command's work; a thrown error becomes one line on stderr and a non-zero exit. */
  abstract run(): Promise<number | void> | number | void;

  async execute(): Promise<number> {
    try {
      return (await this.run()) ?? 0;
    } catch (e) {
      return reportError(this.context, e);
    }
  }

  get env(): Record<string, string | undefined> {
    return this.context.env;
  }

  get home(): string {
    return homeDir(this.context.env);
  }

  get style(): Style {
    return style(wantsColor(this.context.stdout, this.context.env));
  }

  out(text = ''): void {
    this.context.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }

  /** The replica directory of an existing filesystem (NOT_FOUND with a hint otherwise). */
  fsDirOf(name: string): string {
    const dir = fsDir(this.home, name);
    if (!Replica.exists(dir)) throw err('NOT_FOUND', `no filesystem named '${name}' (see 'basefs list')`);
    return dir;
  }

  /**
   * "NAME[:/PATH]", or with no text the only filesystem in the home directory (USAGE when there
   * are several, NOT_FOUND when there is none).
   */
  target(text: string | undefined): Target {
    if (text !== undefined) return resolveTarget(text);
    const names = listFilesystems(this.home);
    if (names.length === 1) return { name: names[0] as string, path: '/', explicitPath: false };
    if (names.length === 0) throw err('NOT_FOUND', `no filesystems in ${this.home} (create one with 'basefs bootstrap')`);
    throw err('USAGE', `several filesystems here (${names.join(', ')}); name one`);
  }

  /** A read-only snapshot: takes no lock, so it works beside a running node. */
  openRead(name: string): Replica {
    return Replica.open(this.fsDirOf(name), { writable: false });
  }

  /** Takes the log's lock; LOCKED becomes a one-line explanation. */
  openWrite(name: string, key: KeyPair): Replica {
    const dir = this.fsDirOf(name);
    try {
      return Replica.open(dir, { writable: true, key });
    } catch (e) {
      if (isBasefsError(e, 'LOCKED'))
        throw err('LOCKED', `filesystem '${name}' is locked by another process (a running node or command); stop it or try again`);
      throw e;
    }
  }

  /** The key file at `path` (relative to the working directory), or the home's default key. */
  keyPath(path: string | undefined): string {
    return path === undefined ? defaultKeyPath(this.home) : resolve(path);
  }

  loadKey(path: string | undefined): KeyPair {
    const p = this.keyPath(path);
    try {
      return readKeyFile(p);
    } catch (e) {
      if (isBasefsError(e, 'NO_KEY')) throw err('NO_KEY', `no key file at ${p}`);
      if (isBasefsError(e, 'MALFORMED')) throw err('MALFORMED', `${p} is not a BaseFS private key file`);
      throw e;
    }
  }
}

/** What a context may carry besides clipanion's: a hook that sees each failure (tests check its code). */
export interface ErrorObserver {
  onFailure?: (failure: Failure, error: unknown) => void;
}

/** Writes the one-line message for `e` to the context's stderr and returns the exit status. */
export function reportError(context: { stderr: NodeJS.WritableStream; env: Record<string, string | undefined> }, e: unknown): number {
  const failure = describeError(e);
  (context as ErrorObserver).onFailure?.(failure, e);
  context.stderr.write(`basefs: ${oneLine(failure.message)}\n`);
  const debug = context.env['BASEFS_DEBUG'];
  if (debug !== undefined && debug !== '' && debug !== '0' && e instanceof Error && e.stack !== undefined)
    context.stderr.write(e.stack + '\n');
  return failure.exit;
}
