/**
 * `--watcher SCRIPT`: runs `sh -c SCRIPT` after a change is applied, with the event in the
 * environment (the original's inotify substitute, section 8.5 of its description):
 *   BASEFS_EVENT_TYPE  the action in upper case: MKDIR, WRITE, DELETE, REVERT, GRANT, REVOKE, ACK,
 *                      LINK, SLINK, MODE
 *   BASEFS_EVENT_PATH  the path (for GRANT and REVOKE, the directory)
 *   BASEFS_NAME        the filesystem's name
 * A user event (`basefs serf NAME event EVENT [PAYLOAD]`) runs it with BASEFS_EVENT_TYPE=EVENT,
 * BASEFS_EVENT_NAME=EVENT and the payload on stdin (as Serf's event handlers get it).
 * plus PATH, SHELL, USER, HOME, TERM and LANG from the node's environment, nothing else.
 *
 * Unlike the original (which crashed on start, and skipped local writes but not local mkdirs), it
 * fires for every stored entry, local or received, with three rules:
 *   - a WRITE or LINK fires only once the file's blocks are all here (never on a half-received
 *     file; until then the view shows the previous version anyway);
 *   - events are debounced: the same (type, path) within `debounceMs` fires once, after the last;
 *   - on a mounted node, an event waits until a script can no longer read the path's previous
 *     content through the mount (`settle`: the kernel keeps attributes for a second);
 *   - scripts run one at a time, in order, each killed after `timeoutMs`; the queue is bounded
 *     (events beyond `maxQueued` are dropped and counted, so a flood cannot grow memory).
 * A script that exits non-zero is logged with the tail of its stderr.
 */
import { spawn } from 'node:child_process';
import { actionName, ACTION } from '../core/entry.ts';
import type { Replica } from '../core/replica.ts';
import type { Node } from '../core/tree.ts';

export interface WatcherOptions {
  script: string;
  fsName: string;
  replica: Replica;
  env: Record<string, string | undefined>;
  log: (event: string, fields: Record<string, string | number | boolean | undefined>) => void;
  debounceMs?: number;
  timeoutMs?: number;
  maxQueued?: number;
  /** How often files waiting for blocks are re-checked. */
  blockPollMs?: number;
}

interface WatchEvent {
  type: string;
  path: string;
  /** User events (`serf event`): the event's name, and its payload on the script's stdin. */
  name?: string;
  payload?: Uint8Array;
}

const PASSED_ENV = ['PATH', 'SHELL', 'USER', 'HOME', 'TERM', 'LANG'];
const STDERR_TAIL = 400;

export class Watcher {
  readonly #o: Required<Omit<WatcherOptions, 'env'>> & { env: Record<string, string | undefined> };
  /** Debounce timers by "TYPE path". */
  readonly #pending = new Map<string, NodeJS.Timeout>();
  /** Files whose current version misses blocks: "path" → event, re-checked every blockPollMs. */
  readonly #incomplete = new Map<string, WatchEvent>();
  readonly #queue: WatchEvent[] = [];
  #running = false;
  #poll: NodeJS.Timeout | null = null;
  #stopped = false;
  #idle: Array<() => void> = [];
  readonly #unsubscribe: () => void;
  fired = 0;
  dropped = 0;
  failed = 0;
  /**
   * How long (ms) before the script may read `path` as the log has it now (a mount's settleMs);
   * set by the mount once it is up.
   */
  settle: ((path: string) => number) | null = null;

  constructor(o: WatcherOptions) {
    this.#o = { debounceMs: 200, timeoutMs: 60_000, maxQueued: 1000, blockPollMs: 250, ...o };
    this.#unsubscribe = o.replica.log.onAccept((nodes) => {
      for (const n of nodes) this.#accepted(n);
    });
  }

  #accepted(n: Node): void {
    const a = n.entry.action;
    const ev = { type: actionName(a).toUpperCase(), path: n.path };
    if (a === ACTION.WRITE || a === ACTION.LINK) {
      if (!this.#complete(n.path)) {
        this.#incomplete.set(n.path, ev);
        this.#armPoll();
        return;
      }
      this.#incomplete.delete(n.path);
    }
    this.#debounce(ev);
  }

  /** A user event: queued at once (each is distinct), BASEFS_EVENT_TYPE=EVENT, the payload on stdin. */
  event(name: string, payload: Uint8Array): void {
    if (!this.#stopped) this.#enqueue({ type: 'EVENT', path: '', name, payload });
  }

  /** The file's current version has all its blocks (or the path is no longer a file: nothing to wait for). */
  #complete(path: string): boolean {
    try {
      return this.#o.replica.view.blockState(path).missing === 0;
    } catch {
      return true;
    }
  }

  #armPoll(): void {
    if (this.#poll !== null || this.#stopped) return;
    this.#poll = setInterval(() => {
      for (const [path, ev] of this.#incomplete)
        if (this.#complete(path)) {
          this.#incomplete.delete(path);
          this.#debounce(ev);
        }
      if (this.#incomplete.size === 0 && this.#poll !== null) {
        clearInterval(this.#poll);
        this.#poll = null;
      }
    }, this.#o.blockPollMs);
  }

  #debounce(ev: WatchEvent): void {
    if (this.#stopped) return;
    const k = `${ev.type} ${ev.path}`;
    const old = this.#pending.get(k);
    if (old !== undefined) clearTimeout(old);
    const fire = (): void => {
      const wait = this.settle?.(ev.path) ?? 0;
      if (wait > 0 && !this.#stopped) {
        this.#pending.set(k, setTimeout(fire, wait + 1));
        return;
      }
      this.#pending.delete(k);
      this.#enqueue(ev);
    };
    this.#pending.set(k, setTimeout(fire, this.#o.debounceMs));
  }

  #enqueue(ev: WatchEvent): void {
    if (this.#queue.length >= this.#o.maxQueued) {
      this.dropped++;
      return;
    }
    this.#queue.push(ev);
    void this.#drain();
  }

  async #drain(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    while (this.#queue.length > 0 && !this.#stopped) await this.#run(this.#queue.shift() as WatchEvent);
    this.#running = false;
    if (this.#pending.size === 0 && this.#queue.length === 0) for (const f of this.#idle.splice(0)) f();
  }

  #run(ev: WatchEvent): Promise<void> {
    const env: Record<string, string> = {};
    for (const k of PASSED_ENV) {
      const v = this.#o.env[k];
      if (v !== undefined) env[k] = v;
    }
    env['BASEFS_EVENT_TYPE'] = ev.type;
    if (ev.name !== undefined) env['BASEFS_EVENT_NAME'] = ev.name;
    else env['BASEFS_EVENT_PATH'] = ev.path;
    env['BASEFS_NAME'] = this.#o.fsName;
    return new Promise((resolve) => {
      const child = spawn('/bin/sh', ['-c', this.#o.script], { env, stdio: [ev.payload ? 'pipe' : 'ignore', 'ignore', 'pipe'] });
      if (ev.payload && child.stdin) {
        child.stdin.on('error', () => {}); // a script that does not read its input
        child.stdin.end(ev.payload);
      }
      let stderr = '';
      child.stderr?.on('data', (c: Buffer) => {
        stderr = (stderr + c.toString('utf8')).slice(-STDERR_TAIL);
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), this.#o.timeoutMs);
      const done = (code: number | null, signal: string | null, error?: string) => {
        clearTimeout(timer);
        this.fired++;
        if (code !== 0 || error !== undefined) {
          this.failed++;
          this.#o.log('watcher-failed', {
            type: ev.type,
            path: ev.path,
            exit: code ?? undefined,
            signal: signal ?? undefined,
            error: error ?? (stderr.trim().replace(/\s+/g, ' ') || undefined),
          });
        } else this.#o.log('watcher', { type: ev.type, path: ev.path });
        resolve();
      };
      child.once('error', (e) => done(null, null, e.message));
      child.once('exit', (code, signal) => done(code, signal));
    });
  }

  /** Resolves when nothing is debounced, queued or running (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.#running && this.#pending.size === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  stop(): void {
    this.#stopped = true;
    this.#unsubscribe();
    for (const t of this.#pending.values()) clearTimeout(t);
    this.#pending.clear();
    if (this.#poll !== null) clearInterval(this.#poll);
    this.#poll = null;
  }
}
