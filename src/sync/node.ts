/**
 * A running BaseFS node in this process: one replica, one SWIM member, one TCP server for
 * anti-entropy sessions. The daemon (`basefs run`) and the multi-node tests are built on it.
 *
 *   const node = await BasefsNode.start({ replica, name: 'a', host: '127.0.0.31', port: 7946, seeds });
 *   replica.writer.writeFile('/etc/x', bytes);   // spreads by itself
 *   node.rootHash(); node.members();
 *   await node.stop();                            // leave, close; then the caller closes the replica
 *
 * Ownership: the caller opens the replica (writable) and closes it after `stop()`; the node never
 * closes it. Writes go straight to `replica.writer`; the node sees them through `log.onAccept`.
 *
 * Sockets: SWIM uses UDP and TCP on `port` (memberlist style); sync sessions have their own TCP
 * server on `syncPort` (default `port + 1`, or an ephemeral port when `port` is 0), advertised in
 * the SWIM metadata with the log root hash (node-meta.ts). A separate port keeps the SWIM
 * transport untouched and lets sync sessions be long, streamed and capped on their own.
 *
 * Dissemination:
 *   - An entry accepted from this process (the writer, not a peer: see RemoteFlag) is broadcast
 *     through SWIM under its own key: the entry itself when it fits one user payload, else a
 *     32-byte announcement by hash (node-gossip.ts). SWIM relays user payloads epidemically.
 *   - A received ENTRY goes through `log.ingest` (which verifies everything) inside SWIM's
 *     validateUser hook, so SWIM relays only what this node accepted (or holds as authentic but
 *     waiting for a parent or grant); garbage and invalid entries are counted and go no further.
 *   - An ENTRY that is pending (orphan, or waiting for a grant) or an ANNOUNCE of an entry we lack
 *     makes us pull: a sync with the origin soon. An entry whose file blocks we lack makes us pull
 *     the blocks soon from a random peer that advertises holding every block (and our entries),
 *     the origin only when none is known, so a file spreads from every node that has it
 *     (block-pull.ts).
 *
 * Anti-entropy (SyncSession over TCP, one peer at a time per peer):
 *   - periodically (a jittered interval), with the alive peer whose advertised root differs from
 *     ours, else the least recently synced;
 *   - soon (debounced) after a member advertises a root different from ours and at least as many
 *     entries (the side with fewer entries pulls: a restarted or new node is not pushed to by every
 *     node that notices it), re-checked when the timer fires (the broadcast usually got there first);
 *   - at most `maxOutboundSessions` initiator sessions, never two with the same peer, and at most
 *     `maxInboundSessions` responder sessions (more connections are closed at once);
 *   - a peer that sent something invalid in a session we started is not chosen for a while.
 *   Files with missing blocks are tracked, and their blocks are asked in every session until
 *   complete. Our advertised root, entry count and completeness flag follow the log (debounced
 *   after any accepted entry, at once after a session).
 *
 * Split: every decision above is NodeCore's (node-core.ts), a deterministic state machine that
 * the simulator (sim/) runs too. This class is its runtime on real sockets: it feeds the core SWIM
 * events, gossip, accepted entries, finished sessions and one timer, and carries out what the core
 * returns (broadcast, setMeta, open a sync connection).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Hash } from '../core/hash.ts';
import type { Node } from '../core/tree.ts';
import type { Replica } from '../core/replica.ts';
import { makeConfig, type ProfileName, type SwimConfig } from '../swim/config.ts';
import type { MemberInfo } from '../swim/types.ts';
import { startSwimNode, type SwimRuntime } from '../swim/udp.ts';
import type { Role, SessionError, SyncLimits } from './anti-entropy.ts';
import { NodeCore, type Candidate, type NodeAction, type NodePort, type NodeStats, type NodeTiming } from './node-core.ts';
import { scanFiles, type FileScan } from './node-files.ts';
import { encodeNodeMeta } from './node-meta.ts';
import type { UserEvent } from './user-event.ts';
import { runOverStream, type StreamResult } from './stream.ts';

export { DEFAULT_TIMING } from './node-core.ts';
export type { NodeStats, NodeTiming } from './node-core.ts';

export interface BasefsNodeOptions {
  /** Open and writable; owned by the caller (closed by the caller after `stop`). */
  replica: Replica;
  /** Unique SWIM node name. */
  name: string;
  /** IP address to bind SWIM and the sync server to (and that peers reach us at). */
  host: string;
  /** SWIM UDP+TCP port; 0 = ephemeral. */
  port: number;
  /** Sync TCP port; default port + 1, or ephemeral when `port` is 0. */
  syncPort?: number;
  /** SWIM addresses ("ip:port") to join through. */
  seeds?: string[];
  profile?: ProfileName;
  swimConfig?: Partial<SwimConfig>;
  /** SWIM incarnation file (restarts). */
  statePath?: string;
  /** How long a graceful leave keeps gossiping before sockets close (SWIM default 1 s). */
  leaveLingerMs?: number;
  /** Milliseconds since the epoch, for sync sessions' deadlines. */
  now?: () => number;
  /** Uniform in [0, 1): jitter and peer choice. */
  random?: () => number;
  timing?: Partial<NodeTiming>;
  limits?: Partial<SyncLimits>;
  maxInboundSessions?: number;
  maxOutboundSessions?: number;
}

export interface SyncOutcome {
  peer: string;
  role: Role;
  error?: SessionError;
  result: StreamResult;
  ms: number;
}

/** Lets SWIM's validateUser hook, created before the node, reach the node once it exists. */
interface GossipGate {
  check(payload: Uint8Array, from: string): boolean;
}

const MAX_TIMER_MS = 0x7fff_ffff;

export class BasefsNode {
  readonly name: string;
  readonly replica: Replica;
  readonly swim: SwimRuntime;
  readonly syncPort: number;
  readonly stats: NodeStats;
  /** Called after every finished session (tests, logging). */
  onSync: ((o: SyncOutcome) => void) | null = null;

  readonly #core: NodeCore;
  readonly #server: Server;
  readonly #now: () => number;
  readonly #port: NodePort;
  readonly #unsubscribe: () => void;
  readonly #sockets = new Set<Socket>();
  readonly #running = new Set<Promise<unknown>>();
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Infinity;

  private constructor(opts: BasefsNodeOptions, swim: SwimRuntime, server: Server, syncPort: number, gate: GossipGate, files: FileScan) {
    this.name = opts.name;
    this.replica = opts.replica;
    this.swim = swim;
    this.#server = server;
    this.syncPort = syncPort;
    this.#now = opts.now ?? Date.now;
    this.#port = {
      broadcast: (key, payload) => this.swim.broadcast(key, payload),
      setMeta: (meta) => this.swim.setMeta(meta),
      sync: (c) => void this.#syncWith(c),
    };
    const core = new NodeCore({
      files,
      name: opts.name,
      log: opts.replica.log,
      view: opts.replica.view,
      blocks: opts.replica.blocks,
      syncPort,
      members: () => swim.members(),
      random: opts.random ?? Math.random,
      now: clock(),
      maxUserPayload: makeConfig(opts.profile ?? 'lan', opts.swimConfig ?? {}).maxUserPayload,
      wallClock: this.#now,
      ...(opts.timing !== undefined ? { timing: opts.timing } : {}),
      ...(opts.limits !== undefined ? { limits: opts.limits } : {}),
      ...(opts.maxInboundSessions !== undefined ? { maxInboundSessions: opts.maxInboundSessions } : {}),
      ...(opts.maxOutboundSessions !== undefined ? { maxOutboundSessions: opts.maxOutboundSessions } : {}),
    });
    this.#core = core;
    this.stats = core.stats;

    this.#unsubscribe = this.replica.log.onAccept((nodes: readonly Node[]) => this.#drive(() => core.accepted(nodes, clock())));
    server.on('connection', (s) => this.#serve(s));
    // Gossip is handled inside SWIM's validateUser hook, before SWIM relays it: what this node
    // refuses (garbage, forged or invalid entries) it never passes on.
    gate.check = (payload, from) => {
      const relay = core.gossip(payload, from, clock());
      this.#rearm();
      return relay;
    };
    const seen = (m: MemberInfo) => this.#drive(() => (core.member(m, clock()), []));
    swim.on('join', seen);
    swim.on('update', seen);
    swim.on('alive', seen);
    const gone = (m: MemberInfo) => core.memberGone(m.name);
    swim.on('dead', gone);
    swim.on('leave', gone);
    this.#rearm();
  }

  /** Binds the sync server, then starts SWIM (advertising it) and joins the seeds. */
  static async start(opts: BasefsNodeOptions): Promise<BasefsNode> {
    const { replica } = opts;
    if (replica.log.size === 0) throw new Error('the replica has no genesis entry');
    const server = createServer({ noDelay: true });
    server.on('error', () => {}); // per-connection errors are handled on each socket
    const wantedSyncPort = opts.syncPort ?? (opts.port === 0 ? 0 : opts.port + 1);
    await new Promise<void>((resolve, reject) => {
      const fail = (e: Error) => reject(e);
      server.once('error', fail);
      server.listen({ host: opts.host, port: wantedSyncPort, exclusive: true }, () => {
        server.off('error', fail);
        resolve();
      });
    });
    const addr = server.address();
    const syncPort = typeof addr === 'object' && addr !== null ? addr.port : wantedSyncPort;
    const gate: GossipGate = { check: () => false }; // nothing is relayed before the node exists
    const scan = scanFiles(replica.log, replica.view, replica.blocks);
    let swim: SwimRuntime;
    try {
      swim = await startSwimNode({
        name: opts.name,
        host: opts.host,
        port: opts.port,
        seeds: opts.seeds ?? [],
        meta: encodeNodeMeta({
          syncPort, root: replica.log.rootHash(), fsId: replica.log.id, entries: replica.log.size,
          complete: scan.missing === 0,
        }),
        profile: opts.profile ?? 'lan',
        delegate: { validateUser: (payload, origin) => gate.check(payload, origin) },
        // Push-pull need not carry recent entries: the root hash in every member's metadata shows
        // a difference, and anti-entropy moves only that. It keeps idle push-pull small.
        config: { pushPullUserBytes: 0, ...opts.swimConfig },
        ...(opts.statePath !== undefined ? { statePath: opts.statePath } : {}),
        ...(opts.leaveLingerMs !== undefined ? { leaveLingerMs: opts.leaveLingerMs } : {}),
      });
    } catch (e) {
      await new Promise<void>((r) => server.close(() => r()));
      throw e;
    }
    return new BasefsNode(opts, swim, server, syncPort, gate, scan);
  }

  /** The SWIM "ip:port" of this node (what others use as a seed). */
  get address(): string {
    return this.swim.address;
  }

  get stopped(): boolean {
    return this.#core.stopped;
  }

  rootHash(): Hash {
    return this.replica.log.rootHash();
  }

  /** The SWIM member table (self included); `decodeNodeMeta(m.meta)` gives a member's root and sync port. */
  members(): MemberInfo[] {
    return this.swim.members();
  }

  /** Called once for each signed user event delivered here, ours included (`serf event`). */
  set onEvent(fn: ((e: UserEvent) => void) | null) {
    this.#core.events.onEvent = fn;
  }

  /**
   * Signs a user event with `key` and spreads it. The key should hold write authority here
   * (`mayWrite`): other nodes deliver only events of such keys.
   */
  sendEvent(name: string, payload: Uint8Array, key: { publicKey: Uint8Array; seed: Uint8Array }): void {
    const b = this.#core.events.create(name, payload, key);
    this.swim.broadcast(b.key, b.payload);
  }

  /** The key may write somewhere in this filesystem (so its events are delivered). */
  mayWrite(key: Uint8Array): boolean {
    return this.#core.events.mayWrite(key);
  }

  /** Blocks of current file versions this node still lacks (being fetched). */
  missingBlocks(): Hash[] {
    return this.#core.missingBlocks();
  }

  /** Run one initiator session with `peer` now (or the best candidate); null if none is possible. */
  async syncNow(peer?: string): Promise<SyncOutcome | null> {
    const c = this.#core.requestSync(peer);
    return c === null ? null : this.#syncWith(c);
  }

  /**
   * Graceful by default: leave the SWIM group, close the sync server and every session. The replica
   * stays open (its owner closes it).
   */
  async stop(opts: { leave?: boolean } = {}): Promise<void> {
    if (this.#core.stopped) return;
    this.#core.stop();
    this.#unsubscribe();
    this.#rearm();
    const closed = new Promise<void>((r) => this.#server.close(() => r()));
    for (const s of this.#sockets) s.destroy();
    await Promise.all([this.swim.close({ leave: opts.leave ?? true }), closed, ...this.#running]);
  }

  // ---- driving the core ------------------------------------------------------------------------

  /** Run one input through the core, carry out what it returns, re-arm the wake-up. */
  #drive(input: () => readonly NodeAction[]): void {
    this.#core.apply(input(), this.#port);
    this.#rearm();
  }

  #rearm(): void {
    const at = this.#core.nextDeadline();
    if (this.#timer !== null) {
      if (this.#timerAt === at) return;
      clearTimeout(this.#timer);
      this.#timer = null;
      this.#timerAt = Infinity;
    }
    if (!Number.isFinite(at)) return;
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#timerAt = Infinity;
      this.#drive(() => this.#core.tick(clock()));
    }, Math.min(MAX_TIMER_MS, Math.max(0, at - clock())));
    this.#timer.unref();
  }

  // ---- sessions over TCP -----------------------------------------------------------------------

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {}); // runOverStream reports errors through the session
  }

  /** After runOverStream: the peer should close too; if it does not, the socket goes anyway. */
  #linger(socket: Socket): void {
    if (socket.destroyed) return;
    socket.setTimeout(this.#core.timing.closeGraceMs, () => socket.destroy());
  }

  #syncWith(c: Candidate): Promise<SyncOutcome> {
    const started = clock();
    const socket = connect({ host: c.host, port: c.meta.syncPort, noDelay: true });
    this.#track(socket);
    const run = runOverStream(this.#core.session('initiator', this.#now()), socket, { now: this.#now }).then((result) => {
      this.#linger(socket);
      return this.#finished(c.name, 'initiator', result, started);
    });
    return this.#hold(run);
  }

  #serve(socket: Socket): void {
    if (!this.#core.acceptInbound()) {
      socket.destroy();
      return;
    }
    this.#track(socket);
    socket.setNoDelay(true);
    const started = clock();
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    void this.#hold(
      runOverStream(this.#core.session('responder', this.#now()), socket, { now: this.#now }).then((result) => {
        this.#linger(socket);
        return this.#finished(peer, 'responder', result, started);
      }),
    );
  }

  #finished(peer: string, role: Role, result: StreamResult, started: number): SyncOutcome {
    const now = clock();
    this.#drive(() => this.#core.finished(peer, role, result.error, now));
    const outcome: SyncOutcome = { peer, role, result, ms: now - started };
    if (result.error !== undefined) outcome.error = result.error;
    try {
      this.onSync?.(outcome);
    } catch {
      // an observer's bug is not the node's
    }
    return outcome;
  }

  #hold<T>(p: Promise<T>): Promise<T> {
    this.#running.add(p);
    p.finally(() => this.#running.delete(p)).catch(() => {});
    return p;
  }
}

/** The runtime's monotonic clock: the core's timers and session durations. */
function clock(): number {
  return performance.now();
}
