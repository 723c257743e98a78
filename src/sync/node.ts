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
 *   - An ENTRY that is pending (orphan, or waiting for a grant), an ANNOUNCE of an entry we lack,
 *     or an entry whose file blocks we lack, makes us pull: a sync with the origin soon.
 *
 * Anti-entropy (SyncSession over TCP, one peer at a time per peer):
 *   - periodically (a jittered interval), with the alive peer whose advertised root differs from
 *     ours, else the least recently synced;
 *   - soon (debounced) after a member advertises a root different from ours, re-checked when the
 *     timer fires (the broadcast usually got there first);
 *   - at most `maxOutboundSessions` initiator sessions, never two with the same peer, and at most
 *     `maxInboundSessions` responder sessions (more connections are closed at once).
 *   Files with missing blocks are tracked, and their blocks are asked in every session until
 *   complete. Our advertised root follows the log (debounced after any accepted entry).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ACTION, type Entry } from '../core/entry.ts';
import { bytesEqual, toHex, type Hash } from '../core/hash.ts';
import type { Node } from '../core/tree.ts';
import type { Replica } from '../core/replica.ts';
import { makeConfig, type ProfileName, type SwimConfig } from '../swim/config.ts';
import { parseAddress } from '../swim/net-address.ts';
import type { MemberInfo } from '../swim/types.ts';
import { startSwimNode, type SwimRuntime } from '../swim/udp.ts';
import { type Role, type SessionError, type SyncLimits, SyncSession, type SyncOptions } from './anti-entropy.ts';
import { decodeGossip, encodeAnnounceGossip, encodeEntryGossip } from './node-gossip.ts';
import { decodeNodeMeta, encodeNodeMeta, sameFilesystem, type NodeMeta } from './node-meta.ts';
import { runOverStream, type StreamResult } from './stream.ts';

export interface NodeTiming {
  /** Periodic anti-entropy: a uniformly random delay in [min, max] between two rounds. */
  antiEntropyMinMs: number;
  antiEntropyMaxMs: number;
  /** After a member advertises a root different from ours. */
  rootDiffDelayMs: number;
  /** After an orphan, an announcement or a file with missing blocks arrived from a peer. */
  pullDelayMs: number;
  /** After a failed session that was needed (pull), or blocks still missing after one. */
  retryDelayMs: number;
  /** Our advertised root is updated at most this often. */
  metaDebounceMs: number;
  /** A finished sync socket that the peer has not closed is destroyed after this. */
  closeGraceMs: number;
}

export const DEFAULT_TIMING: NodeTiming = {
  antiEntropyMinMs: 10_000,
  antiEntropyMaxMs: 30_000,
  rootDiffDelayMs: 1_000,
  pullDelayMs: 100,
  retryDelayMs: 2_000,
  metaDebounceMs: 500,
  closeGraceMs: 5_000,
};

/** Quick retries after failed initiator sessions, or sessions that left blocks missing, in a row. */
const MAX_QUICK_RETRIES = 3;

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

export interface NodeStats {
  /** Own entries broadcast whole / announced by hash. */
  entriesBroadcast: number;
  entriesAnnounced: number;
  broadcastErrors: number;
  /** Received user payloads: accepted, duplicates, pending (triggered a pull), rejected, undecodable. */
  gossipAccepted: number;
  gossipDuplicate: number;
  gossipPending: number;
  gossipRejected: number;
  gossipMalformed: number;
  announcesReceived: number;
  syncsInitiated: number;
  syncsServed: number;
  syncsFailed: number;
  /** Inbound connections closed because `maxInboundSessions` were running. */
  syncsRefused: number;
  metaUpdates: number;
}

export interface SyncOutcome {
  peer: string;
  role: Role;
  error?: SessionError;
  result: StreamResult;
  ms: number;
}

type WantReason = 'root' | 'pull';

interface Candidate {
  name: string;
  host: string;
  meta: NodeMeta;
}

/** Lets SWIM's validateUser hook, created before the node, reach the node once it exists. */
interface GossipGate {
  check(payload: Uint8Array, from: string): boolean;
}

/** Counts nesting of ingests fed by peers, so onAccept can tell them from this process's writes. */
interface RemoteFlag {
  depth: number;
}

/** A SyncSession whose ingests are marked as coming from a peer. */
class NodeSession extends SyncSession {
  readonly #remote: RemoteFlag;
  constructor(opts: SyncOptions, remote: RemoteFlag) {
    super(opts);
    this.#remote = remote;
  }
  override receive(frame: Uint8Array, now: number) {
    this.#remote.depth++;
    try {
      return super.receive(frame, now);
    } finally {
      this.#remote.depth--;
    }
  }
}

export class BasefsNode {
  readonly name: string;
  readonly replica: Replica;
  readonly swim: SwimRuntime;
  readonly syncPort: number;
  readonly stats: NodeStats = {
    entriesBroadcast: 0, entriesAnnounced: 0, broadcastErrors: 0,
    gossipAccepted: 0, gossipDuplicate: 0, gossipPending: 0, gossipRejected: 0, gossipMalformed: 0, announcesReceived: 0,
    syncsInitiated: 0, syncsServed: 0, syncsFailed: 0, syncsRefused: 0, metaUpdates: 0,
  };
  /** Called after every finished session (tests, logging). */
  onSync: ((o: SyncOutcome) => void) | null = null;

  readonly #server: Server;
  readonly #fsId: Hash;
  readonly #timing: NodeTiming;
  readonly #limits: Partial<SyncLimits>;
  readonly #maxInbound: number;
  readonly #maxOutbound: number;
  readonly #maxUserPayload: number;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #remote: RemoteFlag = { depth: 0 };
  readonly #unsubscribe: () => void;

  #stopped = false;
  #advertisedRoot: Hash;
  readonly #sockets = new Set<Socket>();
  readonly #running = new Set<Promise<unknown>>();
  readonly #outbound = new Set<string>();
  #inbound = 0;
  readonly #wants = new Map<string, WantReason>();
  #general = false;
  readonly #lastSync = new Map<string, number>();
  #pumpTimer: NodeJS.Timeout | null = null;
  #pumpAt = Infinity;
  #periodicTimer: NodeJS.Timeout | null = null;
  #metaTimer: NodeJS.Timeout | null = null;
  /** Files to (re)check for missing blocks, and those known incomplete with their missing blocks. */
  readonly #filesToCheck = new Set<string>();
  readonly #incomplete = new Map<string, Hash[]>();
  #blockRetries = 0;
  #failures = 0;

  private constructor(opts: BasefsNodeOptions, swim: SwimRuntime, server: Server, syncPort: number, root: Hash, gate: GossipGate) {
    this.name = opts.name;
    this.replica = opts.replica;
    this.swim = swim;
    this.#server = server;
    this.syncPort = syncPort;
    this.#fsId = opts.replica.log.id;
    this.#advertisedRoot = root;
    this.#timing = { ...DEFAULT_TIMING, ...opts.timing };
    this.#limits = opts.limits ?? {};
    this.#maxInbound = opts.maxInboundSessions ?? 4;
    this.#maxOutbound = opts.maxOutboundSessions ?? 2;
    this.#maxUserPayload = makeConfig(opts.profile ?? 'lan', opts.swimConfig ?? {}).maxUserPayload;
    this.#now = opts.now ?? Date.now;
    this.#random = opts.random ?? Math.random;

    this.#unsubscribe = this.replica.log.onAccept((nodes) => this.#accepted(nodes));
    server.on('connection', (s) => this.#serve(s));
    // Gossip is handled inside SWIM's validateUser hook, before SWIM relays it: what this node
    // refuses (garbage, forged or invalid entries) it never passes on.
    gate.check = (payload, from) => this.#gossip(payload, from);
    const seen = (m: MemberInfo) => this.#member(m);
    swim.on('join', seen);
    swim.on('update', seen);
    swim.on('alive', seen);
    const gone = (m: MemberInfo) => this.#wants.delete(m.name);
    swim.on('dead', gone);
    swim.on('leave', gone);

    // Files left incomplete by a previous run.
    for (const n of this.replica.log.tree.nodes.values()) this.#noteFile(n);
    this.#refreshMissing();
    if (this.#incomplete.size > 0) this.#pull(null);
    for (const m of swim.members()) this.#member(m);
    this.#armPeriodic();
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
    const root = replica.log.rootHash();
    const gate: GossipGate = { check: () => false }; // nothing is relayed before the node exists
    let swim: SwimRuntime;
    try {
      swim = await startSwimNode({
        name: opts.name,
        host: opts.host,
        port: opts.port,
        seeds: opts.seeds ?? [],
        meta: encodeNodeMeta({ syncPort, root, fsId: replica.log.id }),
        profile: opts.profile ?? 'lan',
        delegate: { validateUser: (payload, origin) => gate.check(payload, origin) },
        ...(opts.swimConfig ? { config: opts.swimConfig } : {}),
        ...(opts.statePath !== undefined ? { statePath: opts.statePath } : {}),
        ...(opts.leaveLingerMs !== undefined ? { leaveLingerMs: opts.leaveLingerMs } : {}),
      });
    } catch (e) {
      await new Promise<void>((r) => server.close(() => r()));
      throw e;
    }
    return new BasefsNode(opts, swim, server, syncPort, root, gate);
  }

  /** The SWIM "ip:port" of this node (what others use as a seed). */
  get address(): string {
    return this.swim.address;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  rootHash(): Hash {
    return this.replica.log.rootHash();
  }

  /** The SWIM member table (self included); `decodeNodeMeta(m.meta)` gives a member's root and sync port. */
  members(): MemberInfo[] {
    return this.swim.members();
  }

  /** Blocks of current file versions this node still lacks (being fetched). */
  missingBlocks(): Hash[] {
    const seen = new Set<string>();
    const out: Hash[] = [];
    for (const hs of this.#incomplete.values())
      for (const h of hs) {
        const k = toHex(h);
        if (!seen.has(k)) {
          seen.add(k);
          out.push(h);
        }
      }
    return out;
  }

  /** Run one initiator session with `peer` now (or the best candidate); null if none is possible. */
  async syncNow(peer?: string): Promise<SyncOutcome | null> {
    if (this.#stopped) return null;
    const all = this.#candidates();
    const c = peer === undefined ? this.#best(all) : all.find((x) => x.name === peer);
    if (c === undefined || this.#outbound.has(c.name)) return null;
    return this.#syncWith(c);
  }

  /**
   * Graceful by default: leave the SWIM group, close the sync server and every session. The replica
   * stays open (its owner closes it).
   */
  async stop(opts: { leave?: boolean } = {}): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unsubscribe();
    for (const t of [this.#pumpTimer, this.#periodicTimer, this.#metaTimer]) if (t !== null) clearTimeout(t);
    this.#pumpTimer = this.#periodicTimer = this.#metaTimer = null;
    const closed = new Promise<void>((r) => this.#server.close(() => r()));
    for (const s of this.#sockets) s.destroy();
    await Promise.all([this.swim.close({ leave: opts.leave ?? true }), closed, ...this.#running]);
  }

  // ---- dissemination ---------------------------------------------------------------------------

  #accepted(nodes: readonly Node[]): void {
    for (const n of nodes) this.#noteFile(n);
    this.#scheduleMeta();
    if (this.#remote.depth > 0 || this.#stopped) return; // from a peer: SWIM or the session spreads it
    for (const n of nodes) this.#broadcast(n.entry);
  }

  #broadcast(entry: Entry): void {
    // Called from inside the writer's ingest: must never throw (the entry is already durable).
    const key = `e${toHex(entry.hash).slice(0, 24)}`;
    try {
      if (1 + entry.bytes.length <= this.#maxUserPayload) {
        try {
          this.swim.broadcast(key, encodeEntryGossip(entry.bytes));
          this.stats.entriesBroadcast++;
          return;
        } catch {
          // does not fit the packet after framing: announce instead
        }
      }
      this.swim.broadcast(key, encodeAnnounceGossip(entry.hash));
      this.stats.entriesAnnounced++;
    } catch {
      this.stats.broadcastErrors++;
    }
  }

  /** Handle one gossiped payload; true when it is worth relaying (SWIM's validateUser). */
  #gossip(payload: Uint8Array, from: string): boolean {
    if (this.#stopped) return false;
    const g = decodeGossip(payload);
    if (g === null) {
      this.stats.gossipMalformed++;
      return false;
    }
    if (g.type === 'announce') {
      this.stats.announcesReceived++;
      if (!this.replica.log.has(g.hash)) this.#pull(from);
      return true;
    }
    this.#remote.depth++;
    let status: string;
    try {
      status = this.replica.log.ingest(g.bytes).status;
    } catch {
      status = 'rejected'; // an I/O failure storing it: anti-entropy will bring it again
    } finally {
      this.#remote.depth--;
    }
    switch (status) {
      case 'accepted':
        this.stats.gossipAccepted++;
        if (this.#refreshMissing() > 0) this.#pull(from);
        break;
      case 'duplicate':
        this.stats.gossipDuplicate++;
        break;
      case 'pending':
        this.stats.gossipPending++;
        this.#pull(from);
        break;
      default:
        this.stats.gossipRejected++;
        return false;
    }
    return true; // accepted, duplicate or authentic-but-waiting: others may need it
  }

  #noteFile(n: Node): void {
    if (n.entry.action === ACTION.WRITE || n.entry.action === ACTION.LINK) this.#filesToCheck.add(n.path);
  }

  /** Re-reads the block state of noted and incomplete files; returns how many blocks are missing. */
  #refreshMissing(): number {
    const view = this.replica.view;
    const blocks = this.replica.blocks;
    for (const p of this.#incomplete.keys()) this.#filesToCheck.add(p);
    for (const p of this.#filesToCheck) {
      let missing: Hash[] = [];
      try {
        missing = view.blockState(p).blocks.filter((h) => !blocks.has(h));
      } catch {
        // deleted, or not a file any more (or the store failed: never thrown into SWIM's listeners)
      }
      if (missing.length > 0) this.#incomplete.set(p, missing);
      else this.#incomplete.delete(p);
    }
    this.#filesToCheck.clear();
    let n = 0;
    for (const hs of this.#incomplete.values()) n += hs.length;
    return n;
  }

  // ---- advertised root -------------------------------------------------------------------------

  #scheduleMeta(): void {
    if (this.#metaTimer !== null || this.#stopped) return;
    this.#metaTimer = setTimeout(() => {
      this.#metaTimer = null;
      this.#publishMeta();
    }, this.#timing.metaDebounceMs);
    this.#metaTimer.unref();
  }

  #publishMeta(): void {
    if (this.#stopped) return;
    const root = this.rootHash();
    if (bytesEqual(root, this.#advertisedRoot)) return;
    try {
      this.swim.setMeta(encodeNodeMeta({ syncPort: this.syncPort, root, fsId: this.#fsId }));
      this.#advertisedRoot = root;
      this.stats.metaUpdates++;
    } catch {
      // SWIM closed under us: nothing to advertise to
    }
  }

  #member(m: MemberInfo): void {
    if (m.name === this.name || this.#stopped) return;
    const meta = decodeNodeMeta(m.meta);
    if (meta === null || !sameFilesystem(meta, this.#fsId)) return;
    if (!bytesEqual(meta.root, this.rootHash())) {
      if (!this.#wants.has(m.name)) this.#wants.set(m.name, 'root');
      this.#kick(this.#timing.rootDiffDelayMs);
    }
  }

  // ---- scheduling ------------------------------------------------------------------------------

  /** Sync soon with `from` (the origin of what we lack), or with anyone when it is not a peer. */
  #pull(from: string | null): void {
    if (from !== null && from !== this.name) this.#wants.set(from, 'pull');
    else this.#general = true;
    this.#kick(this.#timing.pullDelayMs);
  }

  #armPeriodic(): void {
    if (this.#stopped) return;
    const { antiEntropyMinMs: lo, antiEntropyMaxMs: hi } = this.#timing;
    const delay = lo + this.#random() * Math.max(0, hi - lo);
    this.#periodicTimer = setTimeout(() => {
      this.#periodicTimer = null;
      this.#general = true;
      this.#pump();
      this.#armPeriodic();
    }, delay);
    this.#periodicTimer.unref();
  }

  #kick(delayMs: number): void {
    if (this.#stopped) return;
    const at = performance.now() + delayMs;
    if (this.#pumpTimer !== null) {
      if (this.#pumpAt <= at) return;
      clearTimeout(this.#pumpTimer);
    }
    this.#pumpAt = at;
    this.#pumpTimer = setTimeout(() => {
      this.#pumpTimer = null;
      this.#pumpAt = Infinity;
      this.#pump();
    }, delayMs);
    this.#pumpTimer.unref();
  }

  #pump(): void {
    while (!this.#stopped && this.#outbound.size < this.#maxOutbound) {
      const c = this.#choose();
      if (c === null) return;
      void this.#syncWith(c);
    }
  }

  /** Alive members of our filesystem that advertise a sync port and have no session with us running. */
  #candidates(): Candidate[] {
    const out: Candidate[] = [];
    for (const m of this.swim.members()) {
      if (m.name === this.name || m.status !== 'alive' || this.#outbound.has(m.name)) continue;
      const meta = decodeNodeMeta(m.meta);
      if (meta === null || !sameFilesystem(meta, this.#fsId)) continue;
      let host: string;
      try {
        host = parseAddress(m.address).host;
      } catch {
        continue;
      }
      out.push({ name: m.name, host, meta });
    }
    return out;
  }

  /** A peer whose root differs from ours first, then the least recently synced; ties at random. */
  #best(cs: readonly Candidate[]): Candidate | undefined {
    const root = this.rootHash();
    const score = (c: Candidate) => (bytesEqual(c.meta.root, root) ? 1 : 0);
    const shuffled = cs.map((c) => ({ c, r: this.#random() }));
    shuffled.sort(
      (x, y) =>
        score(x.c) - score(y.c) || (this.#lastSync.get(x.c.name) ?? -Infinity) - (this.#lastSync.get(y.c.name) ?? -Infinity) || x.r - y.r,
    );
    return shuffled[0]?.c;
  }

  #choose(): Candidate | null {
    const cs = this.#candidates();
    const byName = new Map(cs.map((c) => [c.name, c]));
    const root = this.rootHash();
    for (const [name, reason] of this.#wants) {
      if (this.#outbound.has(name)) continue; // after the running session
      const c = byName.get(name);
      this.#wants.delete(name);
      if (c === undefined) {
        if (reason === 'pull') this.#general = true; // the origin is gone: anyone may have it
        continue;
      }
      if (reason === 'root' && bytesEqual(c.meta.root, root)) continue; // caught up meanwhile
      return c;
    }
    if (!this.#general) return null;
    const c = this.#best(cs);
    if (c === undefined) return null;
    this.#general = false;
    return c;
  }

  // ---- sessions --------------------------------------------------------------------------------

  #session(role: Role): NodeSession {
    return new NodeSession(
      {
        log: this.replica.log,
        blocks: this.replica.blocks,
        role,
        now: this.#now(),
        limits: this.#limits,
        missingBlocks: this.missingBlocks(),
      },
      this.#remote,
    );
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {}); // runOverStream reports errors through the session
  }

  /** After runOverStream: the peer should close too; if it does not, the socket goes anyway. */
  #linger(socket: Socket): void {
    if (socket.destroyed) return;
    socket.setTimeout(this.#timing.closeGraceMs, () => socket.destroy());
  }

  #syncWith(c: Candidate): Promise<SyncOutcome> {
    this.#outbound.add(c.name);
    this.stats.syncsInitiated++;
    const started = performance.now();
    const socket = connect({ host: c.host, port: c.meta.syncPort, noDelay: true });
    this.#track(socket);
    const session = this.#session('initiator');
    const run = runOverStream(session, socket, { now: this.#now }).then((result) => {
      this.#linger(socket);
      this.#outbound.delete(c.name);
      this.#lastSync.set(c.name, performance.now());
      const outcome = this.#finished(c.name, 'initiator', result, started);
      if (result.error === undefined) this.#failures = 0;
      else if (!this.#stopped && ++this.#failures <= MAX_QUICK_RETRIES) {
        // It was needed or periodic: try again (with whoever is best then) a little later; after a
        // few failures in a row, wait for the periodic round.
        this.#general = true;
        this.#kick(this.#timing.retryDelayMs);
      }
      if (this.#wants.size > 0) this.#kick(0);
      return outcome;
    });
    return this.#hold(run);
  }

  #serve(socket: Socket): void {
    if (this.#stopped || this.#inbound >= this.#maxInbound) {
      this.stats.syncsRefused++;
      socket.destroy();
      return;
    }
    this.#inbound++;
    this.stats.syncsServed++;
    this.#track(socket);
    socket.setNoDelay(true);
    const started = performance.now();
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    void this.#hold(
      runOverStream(this.#session('responder'), socket, { now: this.#now }).then((result) => {
        this.#linger(socket);
        this.#inbound--;
        return this.#finished(peer, 'responder', result, started);
      }),
    );
  }

  #finished(peer: string, role: Role, result: StreamResult, started: number): SyncOutcome {
    if (result.error !== undefined) this.stats.syncsFailed++;
    const outcome: SyncOutcome = { peer, role, result, ms: performance.now() - started };
    if (result.error !== undefined) outcome.error = result.error;
    if (!this.#stopped) {
      const missing = this.#refreshMissing();
      if (missing > 0 && this.#blockRetries < MAX_QUICK_RETRIES) {
        this.#blockRetries++;
        this.#general = true;
        this.#kick(this.#timing.retryDelayMs);
      } else if (missing === 0) this.#blockRetries = 0;
      this.#publishMeta();
    }
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
