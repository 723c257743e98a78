/**
 * Hosting a node in this process: what `basefs run` and `basefs mount` share. NodeHostCommand
 * declares their common options, opens the replica (taking the log's lock), starts the BasefsNode,
 * serves the control socket (node-control.ts), runs the watcher, and waits for SIGINT/SIGTERM, a
 * `leave` request, or the end of what the subclass attached (a mount that was unmounted); then it
 * detaches, leaves the group, closes the log and returns 0.
 *
 * Background: without -f/--foreground the command re-runs itself detached with --foreground, its
 * output appended to $BASEFS_HOME/fs/NAME/node.log, waits until the node answers on its control
 * socket, prints where it runs and returns (as the original's mount did). Mistakes that can be
 * seen before starting (unknown filesystem, bad options, a node already running) are reported by
 * the first process, in one line.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option } from 'clipanion';
import { err, isBasefsError } from '../core/errors.ts';
import { toHex } from '../core/hash.ts';
import { checkFsName, fsConfig, readConfig } from '../core/home.ts';
import { fingerprint, type KeyPair } from '../core/keys.ts';
import { Replica } from '../core/replica.ts';
import type { SyncPolicy } from '../core/log-file.ts';
import type { ProfileName } from '../swim/config.ts';
import { parseAddress } from '../swim/net-address.ts';
import type { MemberInfo } from '../swim/types.ts';
import { BasefsNode } from '../sync/node.ts';
import { BasefsCommand } from './base.ts';
import { closeControl, serveControl, socketPath } from './control.ts';
import { nodeAnswers } from './node-write.ts';
import { answerControl, type LogFields, type LogLine } from './node-control.ts';
import { parseSeed } from './commands/bootstrap.ts';
import { Watcher } from './watcher.ts';

export const STATE_FILE = 'node.state';
export const LOG_FILE = 'node.log';
const PROFILES: readonly ProfileName[] = ['lan', 'wan', 'local'];
/**
 * V8 flags of the background node: a 1 MiB young generation (instead of 16) keeps a node with a
 * 10,000-entry log about 28 MB smaller (112 -> 84 MB RSS), which matters on routers; the extra
 * scavenges cost a few percent of bulk ingest (measured 7.0-8.0k vs 7.4-8.1k entries/s on a busy
 * 2-core machine), and a running node ingests little. Not added when the user sets them.
 */
export const DAEMON_V8_FLAGS = ['--max-semi-space-size=1'];
/** How long the first process waits for its background node to answer. */
const READY_TIMEOUT_MS = 60_000;

/** The first non-internal IPv4 address of this machine, else 127.0.0.1. */
function defaultHost(): string {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}

function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1';
}

export interface HostedNode {
  node: BasefsNode;
  replica: Replica;
  log(event: string, fields?: LogFields): void;
}

export interface Attached {
  /** Called on shutdown, before the node leaves. */
  close(): Promise<void>;
  /** Resolves (with a reason) if what was attached ends by itself: the node then shuts down too. */
  ended?: Promise<string>;
  /** How long a watcher script should wait before reading a changed path through it (a mount). */
  settleMs?: (path: string) => number;
}

export abstract class NodeHostCommand extends BasefsCommand {
  name = Option.String({ name: 'NAME' });
  bind = Option.String('-b,--bind', { description: 'IP[:PORT] to bind and advertise (default: first non-loopback IPv4, the filesystem port)' });
  joinAddrs = Option.String('-j,--join', { description: 'seed addresses to join, comma-separated: ADDR[:PORT][,...]' });
  nodeName = Option.String('-H,--hostname', { description: 'node name in the group (default: the host name)' });
  key = Option.String('-k,--key', { description: 'private key file for writing (default: $BASEFS_HOME/id_ed25519 when it exists)' });
  profile = Option.String('--profile', 'lan', { description: 'SWIM timers: lan (default), wan or local' });
  jsonLog = Option.Boolean('--json-log', false, { description: 'log JSON lines instead of text' });
  watcher = Option.String('-w,--watcher', { description: 'shell command run after each applied change (BASEFS_EVENT_TYPE, BASEFS_EVENT_PATH)' });
  foreground = Option.Boolean('-f,--foreground', false, { description: 'stay in the foreground, logging to stderr' });

  readonly #logListeners = new Set<(line: LogLine) => void>();

  /** The positional arguments after NAME (mount's MOUNTPOINT), to re-run the command in the background. */
  protected extraPositionals(): string[] {
    return [];
  }

  /** The subclass's own options, as command-line words, to re-run the command in the background. */
  protected extraOptions(): string[] {
    return [];
  }

  /** Checks made before starting (and before going to the background), e.g. the mountpoint. */
  protected preflight(): void {}

  /** How the replica makes writes durable: each before it is acknowledged, unless a subclass says otherwise. */
  protected syncPolicy(): SyncPolicy {
    return 'always';
  }

  protected log(event: string, fields: LogFields = {}): void {
    const at = new Date().toISOString();
    const line = { at, event, ...fields };
    for (const fn of this.#logListeners) fn(line);
    if (this.jsonLog) {
      this.context.stderr.write(JSON.stringify(line) + '\n');
      return;
    }
    const rest = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    this.context.stderr.write(`${at} ${event}${rest ? ' ' + rest : ''}\n`);
  }

  protected async hostNode(attach?: (h: HostedNode) => Promise<Attached>): Promise<number> {
    checkFsName(this.name);
    if (!PROFILES.includes(this.profile as ProfileName)) throw err('USAGE', `bad --profile '${this.profile}' (lan, wan or local)`);
    const dir = this.fsDirOf(this.name);
    const settings = fsConfig(readConfig(this.home), this.name);
    let host = defaultHost();
    let port = settings.port;
    if (this.bind !== undefined) {
      const hp = parseAddress(parseSeed(this.bind, port));
      host = hp.host;
      port = hp.port;
    }
    const joins = (this.joinAddrs ?? '').split(',').filter((s) => s.trim() !== '').map((s) => parseSeed(s, port));
    const key = this.#key();
    this.preflight();
    if (!this.foreground) return this.#background(dir);

    let replica: Replica;
    try {
      replica = Replica.open(dir, {
        writable: true,
        key,
        sync: this.syncPolicy(),
        onSyncError: (e) => this.log('sync-failed', { error: String((e as Error)?.message ?? e), effect: 'writes refused until restart' }),
      });
    } catch (e) {
      if (isBasefsError(e, 'LOCKED'))
        throw err('LOCKED', `filesystem '${this.name}' is locked by another process (is a node already running? see 'basefs members ${this.name}')`);
      throw e;
    }
    const nodeName = this.nodeName ?? (this.bind !== undefined && isLoopback(host) ? `${hostname()}-${host}` : hostname());
    const self = `${host}:${port}`;
    const seeds = [...new Set([...joins, ...replica.seeds(), ...settings.seeds])].filter((s) => s !== self);
    let node: BasefsNode | null = null;
    let closeFailed = false;
    let control: Awaited<ReturnType<typeof serveControl>> | null = null;
    let attached: Attached | null = null;
    let watcher: Watcher | null = null;
    const sock = socketPath(dir);
    let stop: (reason: string) => void = () => {};
    const stopped = new Promise<string>((resolve) => (stop = resolve));
    try {
      node = await BasefsNode.start({ replica, name: nodeName, host, port, seeds, profile: this.profile as ProfileName, statePath: join(dir, STATE_FILE) });
      const n = node;
      for (const ev of ['join', 'leave', 'dead', 'suspect'] as const)
        n.swim.on(ev, (m: MemberInfo) => this.log(`member-${ev}`, { member: m.name, address: m.address }));
      n.onSync = (o) => {
        const s = o.result.stats;
        if (o.error !== undefined) this.log('sync-failed', { peer: o.peer, role: o.role, error: `${o.error.code} ${o.error.message}` });
        else if (s.entriesAccepted > 0 || s.blocksReceived > 0)
          this.log('sync', { peer: o.peer, role: o.role, entries: s.entriesAccepted, blocks: s.blocksReceived, ms: Math.round(o.ms) });
      };
      if (this.watcher !== undefined)
        watcher = new Watcher({ script: this.watcher, fsName: this.name, replica, env: this.env, log: (e, f) => this.log(e, f) });
      const w = watcher;
      n.onEvent = (e) => {
        this.log('user-event', { name: e.name, from: fingerprint(e.author), bytes: e.payload.length });
        w?.event(e.name, e.payload);
      };
      // Attach (mount) before serving the control socket: a node that answers is ready, which is
      // what the background start waits for.
      if (attach) {
        attached = await attach({ node: n, replica, log: (e, f) => this.log(e, f) });
        void attached.ended?.then((why) => stop(why));
        if (w !== null && attached.settleMs !== undefined) w.settle = attached.settleMs;
      }
      const startedAt = Date.now();
      control = await serveControl(sock, (req) =>
        answerControl(
          {
            fsName: this.name,
            node: n,
            startedAt,
            requestStop: (reason) => stop(reason),
            onLog: (fn) => {
              this.#logListeners.add(fn);
              return () => this.#logListeners.delete(fn);
            },
            eventKey: key,
            ...(w ? { extra: () => ({ watcherRuns: w.fired, watcherFailures: w.failed, watcherDropped: w.dropped }) } : {}),
          },
          req,
        ),
      );
      this.log('started', {
        fs: this.name,
        node: nodeName,
        address: n.address,
        syncPort: n.syncPort,
        entries: replica.log.size,
        root: toHex(n.rootHash()).slice(0, 16),
        seeds: seeds.join(',') || undefined,
        writable: key !== null,
        pid: process.pid,
      });
      const onSignal = (s: string) => () => stop(s);
      const int = onSignal('SIGINT');
      const term = onSignal('SIGTERM');
      process.once('SIGINT', int);
      process.once('SIGTERM', term);
      const reason = await stopped;
      process.off('SIGINT', int);
      process.off('SIGTERM', term);
      // A second signal while leaving: stop at once.
      const hard = () => process.exit(1);
      process.once('SIGINT', hard);
      process.once('SIGTERM', hard);
      this.log('stopping', { reason });
    } finally {
      watcher?.stop();
      if (attached !== null) await attached.close().catch((e: unknown) => this.log('detach-failed', { error: String(e) }));
      // The control socket closes last: `serf leave` waits for it to go as the sign of a finished leave.
      if (node !== null) await node.stop();
      try {
        replica.close();
      } catch (e) {
        // Its last flush failed (the disk?): say so, still release the control socket, exit 1.
        closeFailed = true;
        this.log('close-failed', { error: String((e as Error)?.message ?? e) });
      }
      if (control !== null) await closeControl(control, sock);
    }
    this.log('stopped', { fs: this.name });
    this.#logListeners.clear();
    return closeFailed ? 1 : 0;
  }

  #key(): KeyPair | null {
    if (this.key !== undefined) return this.loadKey(this.key);
    try {
      return this.loadKey(undefined);
    } catch (e) {
      if (!isBasefsError(e, 'NO_KEY')) throw e;
      return null;
    }
  }

  /** The argument list that runs this same command in the foreground. */
  #foregroundArgs(): string[] {
    const cls = this.constructor as { paths?: string[][] };
    const args = [...(cls.paths?.[0] ?? []), this.name, ...this.extraPositionals(), '--foreground'];
    const opt = (flag: string, v: string | undefined) => (v === undefined ? [] : [flag, v]);
    args.push(...opt('--bind', this.bind), ...opt('--join', this.joinAddrs), ...opt('--hostname', this.nodeName));
    args.push(...opt('--key', this.key === undefined ? undefined : this.keyPath(this.key)), '--profile', this.profile);
    args.push(...opt('--watcher', this.watcher));
    if (this.jsonLog) args.push('--json-log');
    args.push(...this.extraOptions());
    return args;
  }

  async #background(dir: string): Promise<number> {
    if (await nodeAnswers(this.home, this.name)) throw err('LOCKED', `a node of '${this.name}' is already running (see 'basefs members ${this.name}')`);
    const logPath = join(dir, LOG_FILE);
    const offset = existsSync(logPath) ? statSync(logPath).size : 0;
    const fd = openSync(logPath, 'a', 0o600);
    const main = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './main.ts' : './main.js', import.meta.url));
    const given = [...process.execArgv, ...(this.env['NODE_OPTIONS'] ?? '').split(/\s+/)];
    const v8Flags = DAEMON_V8_FLAGS.filter((f) => !given.some((g) => g.startsWith(f.split('=')[0] as string)));
    const child = spawn(process.execPath, [...process.execArgv, ...v8Flags, main, ...this.#foregroundArgs()], {
      detached: true,
      stdio: ['ignore', fd, fd],
      // The working directory is kept: the runtime's own flags (a loader) may name relative paths.
      env: this.env as NodeJS.ProcessEnv,
    });
    closeSync(fd);
    let exited: number | null | undefined;
    child.once('exit', (code) => (exited = code));
    child.once('error', () => (exited = -1));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (exited === undefined && Date.now() < deadline) {
      if (await nodeAnswers(this.home, this.name)) {
        child.unref();
        this.out(`node of ${this.name} running in the background (pid ${child.pid}); log: ${logPath}; stop it with 'kill ${child.pid}' or 'basefs serf ${this.name} leave'`);
        return 0;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (exited === undefined) {
      child.kill('SIGTERM');
      throw err('TIMEOUT', `the node did not start within ${READY_TIMEOUT_MS / 1000} s (see ${logPath})`);
    }
    throw err('IO', `the node stopped while starting: ${lastError(logPath, offset)}`);
  }
}

/** The child's one-line failure ("basefs: ...") from its log, for the first process to repeat. */
function lastError(logPath: string, offset: number): string {
  try {
    const text = readFileSync(logPath).subarray(offset).toString('utf8');
    const line = text.split('\n').reverse().find((l) => l.startsWith('basefs: '));
    return line !== undefined ? line.slice('basefs: '.length) : `see ${logPath}`;
  } catch {
    return `see ${logPath}`;
  }
}
