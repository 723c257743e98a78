/**
 * A BaseFS node's policy as a deterministic state machine: what to do with gossip, when to run
 * anti-entropy and with whom, when to pull, which blocks are missing, when to re-advertise the
 * root. No sockets, no timers, no Date.now or Math.random: every call takes `now` (the driver's
 * monotonic clock, milliseconds) and returns actions for the driver to carry out (`apply`), and
 * `nextDeadline()` says when `tick` has work. node.ts drives it on real UDP/TCP; sim/ drives
 * thousands of them on the in-memory network, the same code either way.
 *
 * Inputs: entries accepted by the log (`accepted`: from this process's writer they are broadcast),
 * SWIM user payloads (`gossip`, SWIM's validateUser hook: true = worth relaying), member events
 * (`member`, `memberGone`), finished sessions (`finished`), inbound connections (`acceptInbound`)
 * and time (`tick`). Sessions themselves are SyncSessions (`session`) the driver runs over a stream.
 *
 * Policy (see node.ts for the overview):
 *   - a received ENTRY is ingested (verified) before SWIM relays it; pending entries and ANNOUNCEs
 *     of entries we lack make us pull from the origin soon;
 *   - files with missing blocks make us pull their blocks soon from a random peer that advertises
 *     holding every block and our entries, the origin only when none is known (block-pull.ts), one
 *     block pull at a time, after the entry pulls;
 *   - anti-entropy periodically (jittered) with the best candidate (a differing advertised root
 *     first, then the least recently synced, ties at random), soon after a member advertises a root
 *     different from ours unless it advertises fewer entries (#behind), and again after failures
 *     (a few quick retries in a row);
 *   - at most maxOutbound initiator sessions, never two with one peer; at most maxInbound served;
 *     a peer caught lying in a session we started is not a candidate for misbehaviourBanMs;
 *   - our advertised root (with the entry count and whether we hold every block) follows the log,
 *     debounced, and at once after every session.
 * The simulator found the two exceptions above: without them, 1,000 nodes all pushed to every
 * restarted or new node (tens of thousands of refused or empty sessions), and liars drew a share
 * of every periodic round.
 */
import type { Entry } from '../core/entry.ts';
import { bytesEqual, toHex, type Hash } from '../core/hash.ts';
import type { Log } from '../core/log.ts';
import type { Node } from '../core/tree.ts';
import type { View } from '../core/view.ts';
import { parseAddress } from '../swim/net-address.ts';
import type { MemberInfo } from '../swim/types.ts';
import { type Role, type SessionError, type SyncLimits, SyncSession, type SyncOptions } from './anti-entropy.ts';
import { BlockPull, holdsOurs } from './block-pull.ts';
import type { SyncBlocks } from './block-wants.ts';
import { NodeEvents } from './node-events.ts';
import { scanFiles, type FileScan, type IncompleteFiles } from './node-files.ts';
import { decodeGossip, encodeAnnounceGossip, encodeEntryGossip } from './node-gossip.ts';
import { decodeNodeMeta, encodeNodeMeta, sameFilesystem, type NodeMeta } from './node-meta.ts';
import { DEFAULT_TIMING, type Candidate, type NodeAction, type NodePort, type NodeStats, type NodeTiming } from './node-types.ts';

export { DEFAULT_TIMING } from './node-types.ts';
export type { Candidate, NodeAction, NodePort, NodeStats, NodeTiming } from './node-types.ts';

/** Quick retries after failed initiator sessions in a row (block pulls have their own: block-pull.ts). */
const MAX_QUICK_RETRIES = 3;

export interface NodeCoreOptions {
  name: string;
  log: Log;
  /** The log's materialized view over `blocks`: which blocks a file's current version needs. */
  view: View;
  blocks: SyncBlocks;
  /** Advertised to peers in our metadata. */
  syncPort: number;
  /** The SWIM member table, self included (a query: the core never calls SWIM). */
  members: () => MemberInfo[];
  /** Uniform in [0, 1): jitter and peer choice. */
  random: () => number;
  /** The driver's clock at creation. */
  now: number;
  /** The largest SWIM user payload (an entry gossiped whole must fit with its type byte). */
  maxUserPayload: number;
  timing?: Partial<NodeTiming>;
  limits?: Partial<SyncLimits>;
  maxInboundSessions?: number;
  maxOutboundSessions?: number;
  /** The driver's start-up `scanFiles` over this log and store, if it made one. */
  files?: FileScan;
  /** Wall clock (ms since the epoch) for user events' freshness; without it events are refused. */
  wallClock?: () => number;
}

type WantReason = 'root' | 'pull';

/** Counts nesting of ingests fed by peers, so `accepted` can tell them from this process's writes. */
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

export class NodeCore {
  readonly name: string;
  /** Signed user events (node-events.ts): gossip type EVENT is theirs. */
  readonly events: NodeEvents;
  readonly timing: NodeTiming;
  readonly stats: NodeStats = {
    entriesBroadcast: 0, entriesAnnounced: 0, broadcastErrors: 0,
    gossipAccepted: 0, gossipDuplicate: 0, gossipPending: 0, gossipRejected: 0, gossipMalformed: 0, announcesReceived: 0,
    syncsInitiated: 0, syncsServed: 0, syncsFailed: 0, syncsRefused: 0, metaUpdates: 0,
  };
  readonly #log: Log;
  readonly #blocks: SyncBlocks;
  readonly #fsId: Hash;
  readonly #syncPort: number;
  readonly #members: () => MemberInfo[];
  readonly #random: () => number;
  readonly #limits: Partial<SyncLimits>;
  readonly #maxInbound: number;
  readonly #maxOutbound: number;
  readonly #maxUserPayload: number;
  readonly #remote: RemoteFlag = { depth: 0 };

  #stopped = false;
  #advertisedRoot: Hash;
  /** What our advertised metadata says about blocks (the drivers start with scanFiles). */
  #advertisedComplete: boolean;
  /** Blocks missing at the last refresh of #files. */
  #missing = 0;
  readonly #blockPull: BlockPull;
  readonly #outbound = new Set<string>();
  #inbound = 0;
  readonly #wants = new Map<string, WantReason>();
  #general = false;
  readonly #lastSync = new Map<string, number>();
  /** Deadlines on the driver's clock (Infinity: not armed). */
  #pumpAt = Infinity;
  #periodicAt = Infinity;
  #metaAt = Infinity;
  readonly #files: IncompleteFiles;
  #failures = 0;
  /** Peers that lied to us in a session → until when they are not candidates. */
  readonly #banned = new Map<string, number>();
  #now: number;

  constructor(o: NodeCoreOptions) {
    this.name = o.name;
    this.#log = o.log;
    this.#blocks = o.blocks;
    this.#fsId = o.log.id;
    this.#syncPort = o.syncPort;
    this.#members = o.members;
    this.#random = o.random;
    this.timing = { ...DEFAULT_TIMING, ...o.timing };
    this.#limits = o.limits ?? {};
    this.#maxInbound = o.maxInboundSessions ?? 4;
    this.#maxOutbound = o.maxOutboundSessions ?? 2;
    this.#maxUserPayload = o.maxUserPayload;
    this.#advertisedRoot = o.log.rootHash();
    this.#now = o.now;
    this.events = new NodeEvents({ log: o.log, view: o.view, wallClock: o.wallClock ?? null, random: o.random });

    // Files left incomplete by a previous run: the driver's start-up scan when it made one, plus
    // whatever the log accepted since.
    const scan = o.files ?? scanFiles(o.log, o.view, o.blocks);
    this.#files = scan.files;
    for (const n of o.log.tree.nodes.values()) if (n.seq >= scan.size) this.#files.note([n]);
    const t = this.timing;
    this.#blockPull = new BlockPull({
      random: o.random, has: (h) => o.blocks.has(h),
      pullDelayMs: t.pullDelayMs, blockRetryMs: t.blockRetryMs, blockBackoffMs: t.blockBackoffMs,
    });
    this.#advertisedComplete = this.#refresh() === 0;
    if (!this.#advertisedComplete) this.#blockPull.need(null, o.now);
    for (const m of o.members()) this.member(m, o.now);
    this.#armPeriodic(o.now);
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** No more sessions, timers or broadcasts; running sessions may still report `finished`. */
  stop(): void {
    this.#stopped = true;
    this.#pumpAt = this.#periodicAt = this.#metaAt = Infinity;
    this.#blockPull.satisfied();
  }

  nextDeadline(): number {
    if (this.#stopped) return Infinity;
    return Math.min(this.#pumpAt, this.#periodicAt, this.#metaAt, this.#blockPull.deadline);
  }

  /** Run whatever is due. */
  tick(now: number): NodeAction[] {
    const out: NodeAction[] = [];
    this.#now = Math.max(this.#now, now);
    if (this.#stopped) return out;
    if (this.#metaAt <= now) {
      this.#metaAt = Infinity;
      this.#publishMeta(out);
    }
    if (this.#periodicAt <= now) {
      this.#periodicAt = Infinity;
      this.#general = true;
      if (this.#refresh() > 0) this.#blockPull.stillMissing(now, true); // after MAX_ATTEMPTS, once a round
      this.#pump(out);
      this.#armPeriodic(now);
    }
    if (this.#blockPull.deadline <= now) {
      this.#blockPull.fire(now);
      this.#pump(out);
    }
    if (this.#pumpAt <= now) {
      this.#pumpAt = Infinity;
      this.#pump(out);
    }
    return out;
  }

  /** Carry out actions through the driver, counting what SWIM refused. Never throws. */
  apply(actions: readonly NodeAction[], port: NodePort): void {
    for (const a of actions) {
      if (a.type === 'sync') port.sync(a.peer);
      else if (a.type === 'broadcast') this.#broadcast(a.key, a.entry, port);
      else {
        try {
          port.setMeta(a.meta);
          this.#advertisedRoot = a.root;
          this.#advertisedComplete = a.complete;
          this.stats.metaUpdates++;
        } catch {
          // SWIM closed under us: nothing to advertise to
        }
      }
    }
  }

  // ---- dissemination ---------------------------------------------------------------------------

  /** The log accepted `nodes` (log.onAccept): ours are broadcast, everyone's are checked for blocks. */
  accepted(nodes: readonly Node[], now: number): NodeAction[] {
    this.#files.note(nodes);
    this.#scheduleMeta(now);
    if (this.#remote.depth > 0 || this.#stopped) return []; // from a peer: SWIM or the session spreads it
    return nodes.map((n) => ({ type: 'broadcast', key: `e${toHex(n.entry.hash).slice(0, 24)}`, entry: n.entry }));
  }

  #broadcast(key: string, entry: Entry, port: NodePort): void {
    // Called from inside the writer's ingest: must never throw (the entry is already durable).
    try {
      if (1 + entry.bytes.length <= this.#maxUserPayload) {
        try {
          port.broadcast(key, encodeEntryGossip(entry.bytes));
          this.stats.entriesBroadcast++;
          return;
        } catch {
          // does not fit the packet after framing: announce instead
        }
      }
      port.broadcast(key, encodeAnnounceGossip(entry.hash));
      this.stats.entriesAnnounced++;
    } catch {
      this.stats.broadcastErrors++;
    }
  }

  /** Handle one gossiped payload; true when it is worth relaying (SWIM's validateUser). */
  gossip(payload: Uint8Array, from: string, now: number): boolean {
    if (this.#stopped) return false;
    const g = decodeGossip(payload);
    if (g === null) {
      this.stats.gossipMalformed++;
      return false;
    }
    if (g.type === 'event') return this.events.receive(g.bytes);
    if (g.type === 'announce') {
      this.stats.announcesReceived++;
      if (!this.#log.has(g.hash)) this.#pull(from, now);
      return true;
    }
    this.#remote.depth++;
    let status: string;
    try {
      status = this.#log.ingest(g.bytes).status;
    } catch {
      status = 'rejected'; // an I/O failure storing it: anti-entropy will bring it again
    } finally {
      this.#remote.depth--;
    }
    switch (status) {
      case 'accepted':
        this.stats.gossipAccepted++;
        if (this.#refresh() > 0) this.#blockPull.need(from, now);
        break;
      case 'duplicate':
        this.stats.gossipDuplicate++;
        break;
      case 'pending':
        this.stats.gossipPending++;
        this.#pull(from, now);
        break;
      default:
        this.stats.gossipRejected++;
        return false;
    }
    return true; // accepted, duplicate or authentic-but-waiting: others may need it
  }

  /** A member joined, changed its metadata or came back: sync soon if its root differs from ours. */
  member(m: MemberInfo, now: number): void {
    if (m.name === this.name || this.#stopped) return;
    const meta = decodeNodeMeta(m.meta);
    if (meta === null || !sameFilesystem(meta, this.#fsId)) return;
    if (!bytesEqual(meta.root, this.#log.rootHash()) && !this.#behind(meta)) {
      if (!this.#wants.has(m.name)) this.#wants.set(m.name, 'root');
      this.#kick(this.timing.rootDiffDelayMs, now);
    }
    if (this.#missing > 0 && meta.complete === true && holdsOurs(meta, this.#ours())) this.#blockPull.sourceAppeared(now);
  }

  #ours(): { root: Hash; entries: number } {
    return { root: this.#log.rootHash(), entries: this.#log.size };
  }

  /** Re-reads the incomplete files; returns (and keeps) how many blocks are missing. */
  #refresh(): number {
    this.#missing = this.#files.refresh();
    return this.#missing;
  }

  /** A member died or left. */
  memberGone(name: string): void {
    this.#wants.delete(name);
  }

  /**
   * The member advertises fewer entries than we hold. A session reconciles both ways, so one side
   * initiating is enough, and on a root difference the side with fewer entries does: a node that
   * restarts or joins with an old log pulls, instead of every node that notices its old root pushing
   * to it at once (they would only queue up at its inbound limit). Periodic rounds may still pick it.
   */
  #behind(meta: NodeMeta): boolean {
    return meta.entries !== null && meta.entries < this.#log.size;
  }

  /** Blocks of current file versions this node still lacks (being fetched). */
  missingBlocks(): Hash[] {
    return this.#files.missingBlocks();
  }

  // ---- advertised root -------------------------------------------------------------------------

  #scheduleMeta(now: number): void {
    if (this.#metaAt !== Infinity || this.#stopped) return;
    this.#metaAt = now + this.timing.metaDebounceMs;
  }

  #publishMeta(out: NodeAction[]): void {
    if (this.#stopped) return;
    const root = this.#log.rootHash();
    const complete = this.#refresh() === 0;
    if (bytesEqual(root, this.#advertisedRoot) && complete === this.#advertisedComplete) return;
    const meta = encodeNodeMeta({ syncPort: this.#syncPort, root, fsId: this.#fsId, entries: this.#log.size, complete });
    out.push({ type: 'meta', root, complete, meta });
  }

  // ---- scheduling ------------------------------------------------------------------------------

  /** Sync soon with `from` (the origin of what we lack), or with anyone when it is not a peer. */
  #pull(from: string | null, now: number): void {
    if (from !== null && from !== this.name) this.#wants.set(from, 'pull');
    else this.#general = true;
    this.#kick(this.timing.pullDelayMs, now);
  }

  #armPeriodic(now: number): void {
    if (this.#stopped) return;
    const { antiEntropyMinMs: lo, antiEntropyMaxMs: hi } = this.timing;
    this.#periodicAt = now + lo + this.#random() * Math.max(0, hi - lo);
  }

  #kick(delayMs: number, now: number): void {
    if (this.#stopped) return;
    this.#pumpAt = Math.min(this.#pumpAt, now + delayMs);
  }

  #pump(out: NodeAction[]): void {
    while (!this.#stopped && this.#outbound.size < this.#maxOutbound) {
      const c = this.#choose();
      if (c === null) return;
      out.push({ type: 'sync', peer: this.#begin(c) });
    }
  }

  #begin(c: Candidate): Candidate {
    this.#outbound.add(c.name);
    this.stats.syncsInitiated++;
    return c;
  }

  /**
   * Alive members of our filesystem that advertise a sync port and have no session with us running
   * (nor lied to us lately, unless `banned` is asked for).
   */
  #candidates(banned = false): Candidate[] {
    const out: Candidate[] = [];
    for (const m of this.#members()) {
      if (m.name === this.name || m.status !== 'alive' || this.#outbound.has(m.name)) continue;
      if (!banned && this.#isBanned(m.name)) continue;
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
    const root = this.#log.rootHash();
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
    const root = this.#log.rootHash();
    for (const [name, reason] of this.#wants) {
      if (this.#outbound.has(name)) continue; // after the running session
      const c = byName.get(name);
      this.#wants.delete(name);
      if (c === undefined) {
        if (reason === 'pull') this.#general = true; // the origin is gone: anyone may have it
        continue;
      }
      if (reason === 'root' && (bytesEqual(c.meta.root, root) || this.#behind(c.meta))) continue; // caught up meanwhile
      return c;
    }
    if (this.#blockPull.due) {
      const c = this.#blockPull.choose(cs, this.#ours(), this.missingBlocks(), this.#now);
      if (c !== null) return c;
    }
    if (!this.#general) return null;
    const c = this.#best(cs);
    if (c === undefined) return null;
    this.#general = false;
    return c;
  }

  #isBanned(name: string): boolean {
    const until = this.#banned.get(name);
    if (until === undefined) return false;
    if (until > this.#now) return true;
    this.#banned.delete(name);
    return false;
  }

  // ---- sessions --------------------------------------------------------------------------------

  /** An initiator session now with `peer` (or the best candidate), outside the schedule; null if none. */
  requestSync(peer?: string): Candidate | null {
    if (this.#stopped) return null;
    const all = this.#candidates(peer !== undefined);
    const c = peer === undefined ? this.#best(all) : all.find((x) => x.name === peer);
    if (c === undefined || this.#outbound.has(c.name)) return null;
    return this.#begin(c);
  }

  /** An inbound connection: true if it is to be served (then `finished` follows), false to close it. */
  acceptInbound(): boolean {
    if (this.#stopped || this.#inbound >= this.#maxInbound) {
      this.stats.syncsRefused++;
      return false;
    }
    this.#inbound++;
    this.stats.syncsServed++;
    return true;
  }

  /** A session to run over a stream; `sessionNow` is on the sessions' clock (deadlines). */
  session(role: Role, sessionNow: number): SyncSession {
    return new NodeSession(
      { log: this.#log, blocks: this.#blocks, role, now: sessionNow, limits: this.#limits, missingBlocks: this.missingBlocks() },
      this.#remote,
    );
  }

  /** A session ended (`peer` is the candidate's name for initiators, anything for responders). */
  finished(peer: string, role: Role, error: SessionError | undefined, now: number): NodeAction[] {
    const out: NodeAction[] = [];
    this.#now = Math.max(this.#now, now);
    const blockPull = role === 'initiator' && this.#blockPull.isPull(peer);
    if (role === 'initiator') {
      this.#outbound.delete(peer);
      this.#lastSync.set(peer, now);
      // Its name is the one SWIM vouches for (a responder's peer is only an address).
      if (error !== undefined && lied(error)) this.#banned.set(peer, now + this.timing.misbehaviourBanMs);
    } else this.#inbound--;
    if (error !== undefined) this.stats.syncsFailed++;
    if (!this.#stopped) {
      const missing = this.#refresh();
      if (blockPull) this.#blockPull.finished(peer, missing, now);
      else if (missing > 0) this.#blockPull.stillMissing(now);
      if (missing === 0) this.#blockPull.satisfied();
      this.#publishMeta(out);
    }
    if (role === 'initiator' && !blockPull) {
      // A block pull that failed is retried by BlockPull, with another source.
      if (error === undefined) this.#failures = 0;
      else if (!this.#stopped && ++this.#failures <= MAX_QUICK_RETRIES) {
        // It was needed or periodic: try again (with whoever is best then) a little later; after a
        // few failures in a row, wait for the periodic round.
        this.#general = true;
        this.#kick(this.timing.retryDelayMs, now);
      }
    }
    // A slot is free: entry pulls waiting for it, or a block pull that found none when due.
    if (role === 'initiator' && (this.#wants.size > 0 || this.#blockPull.due)) this.#kick(0, now);
    return out;
  }
}

/**
 * The peer sent something invalid (we detected it: a forged or malformed entry, a wrong block, a
 * summary that does not hash, entries it advertised and withheld), as opposed to a connection that
 * failed, timed out, or a peer that reported an error of its own.
 */
function lied(e: SessionError): boolean {
  return !e.remote && e.code !== 'CLOSED' && e.code !== 'TIMEOUT' && e.code !== 'IO' && e.code !== 'USAGE';
}
