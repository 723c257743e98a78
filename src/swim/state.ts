/**
 * The membership core shared by the probe logic (probe.ts) and the node (protocol.ts): the member
 * table, the broadcast queue, suspicion timers, local health, the timer heap, and the outbox being
 * filled by the current call. It applies alive/suspect/dead news with SWIM's precedence rules,
 * refutes accusations about ourselves, and merges push-pull state.
 *
 * Nothing here reads a clock or a global random source: `now` is passed in, randomness is injected.
 */
import { Awareness } from './awareness.ts';
import { COMPOUND_HEADER, COMPOUND_PER_PART, encodeCompound, encodeMessage } from './codec.ts';
import type { AliveMsg, DeadMsg, NodeRecord, SuspectMsg } from './codec.ts';
import { retransmitLimit, suspicionTimeout } from './config.ts';
import type { SwimConfig } from './config.ts';
import { MinHeap } from './heap.ts';
import { Member, MemberTable, accusationApplies, aliveSupersedes, isDeadOrLeft, sameBytes } from './members.ts';
import { BroadcastQueue } from './queue.ts';
import { Suspicion } from './suspicion.ts';
import type { Address, Outbox, Random, SwimEvent } from './types.ts';

/** Counters for tests, benchmarks and operators. */
export interface SwimStats {
  probes: number;
  probeSuccesses: number;
  /** Probes that reached the target only over the stream fallback ("UDP may be misconfigured"). */
  tcpFallbackSuccesses: number;
  probeFailures: number;
  indirectPingsSent: number;
  nacksSent: number;
  nacksReceived: number;
  suspicionsRaised: number;
  confirmations: number;
  deathsDeclared: number;
  refutes: number;
  /** Accusations about us older than our incarnation, answered with our current alive. */
  staleAccusationsAnswered: number;
  /** Alive messages for a known name from another address, rejected (memberlist's conflict). */
  conflicts: number;
  pushPulls: number;
  pushPullsServed: number;
  reconnects: number;
  userDelivered: number;
  /** Application broadcasts the delegate refused (validateUser). */
  userRejected: number;
  packetsSent: number;
  bytesSent: number;
}

export function emptyStats(): SwimStats {
  return {
    probes: 0, probeSuccesses: 0, tcpFallbackSuccesses: 0, probeFailures: 0, indirectPingsSent: 0, nacksSent: 0,
    nacksReceived: 0, suspicionsRaised: 0, confirmations: 0, deathsDeclared: 0, refutes: 0, staleAccusationsAnswered: 0, conflicts: 0,
    pushPulls: 0, pushPullsServed: 0, reconnects: 0, userDelivered: 0, userRejected: 0, packetsSent: 0, bytesSent: 0,
  };
}

interface Timer {
  at: number;
  seq: number;
  fn: (now: number) => void;
  live: boolean;
}

export interface TimerHandle {
  readonly at: number;
  live: boolean;
}

/** The accuser recorded for a suspicion learned from push-pull (no node can have this name). */
const MERGED_ACCUSER = '';

export interface CoreOptions {
  name: string;
  address: Address;
  config: SwimConfig;
  random: Random;
  incarnation: number;
  meta: Uint8Array;
  /** When larger than the table, used as N in every scaling formula (partial views in big simulations). */
  clusterSizeHint: number;
}

export class MembershipCore {
  readonly name: string;
  readonly address: Address;
  readonly config: SwimConfig;
  readonly random: Random;
  readonly table = new MemberTable();
  readonly queue: BroadcastQueue;
  readonly awareness: Awareness;
  readonly stats: SwimStats = emptyStats();
  readonly self: Member;
  readonly suspicions = new Map<string, Suspicion>();
  /** Set by leave(): we no longer refute, probe or push-pull. */
  leaving = false;
  /** A locally created broadcast waits to be pushed at once, at the end of the current call. */
  pushPending = false;
  /** Targets of that push when more than gossipNodes (user news relayed eagerly). */
  pushFanout = 0;
  /** Dead members that left the table, kept as reconnect candidates: name → [address, time]. */
  readonly tombstones = new Map<string, { address: Address; at: number }>();
  clusterSizeHint: number;
  private timers = new MinHeap<Timer>();
  private timerSeq = 0;
  private out: Outbox = { packets: [], streams: [], events: [] };

  constructor(o: CoreOptions) {
    this.name = o.name;
    this.address = o.address;
    this.config = o.config;
    this.random = o.random;
    this.clusterSizeHint = o.clusterSizeHint;
    this.awareness = new Awareness(o.config.awarenessMaxMultiplier, o.config.lifeguard);
    this.queue = new BroadcastQueue(o.config.retransmitMult, () => this.numNodes(), o.config.maxQueueDepth, o.config.minRetransmits);
    this.self = new Member(o.name, o.address, 'alive', o.incarnation, o.meta, 0);
    this.table.add(this.self, o.random);
  }

  /**
   * N for every scaling formula: the members we know (dead ones included until gossip-to-the-dead
   * ends, as memberlist; retired rows kept only for display do not count).
   */
  numNodes(): number {
    return Math.max(this.table.size - this.table.numRetired, this.clusterSizeHint);
  }

  // ---- outbox and timers -------------------------------------------------------------------

  /** Driver time of the current call. */
  now = 0;

  /** Start collecting output for one API call. */
  begin(now: number): void {
    this.now = now;
    this.out = { packets: [], streams: [], events: [] };
  }

  /** Hand the collected output to the driver. */
  finish(): Outbox {
    // The next call's begin() starts a fresh outbox; this one now belongs to the driver.
    return this.out;
  }

  emit(e: SwimEvent): void {
    this.out.events.push(e);
  }

  openStream(id: number, to: Address, data: Uint8Array, timeoutMs: number): void {
    this.out.streams.push({ id, to, data, timeoutMs });
  }

  schedule(at: number, fn: (now: number) => void): TimerHandle {
    const t: Timer = { at, seq: this.timerSeq++, fn, live: true };
    this.timers.push(t);
    return t;
  }

  nextDeadline(): number {
    let top = this.timers.peek();
    while (top && !top.live) {
      this.timers.pop();
      top = this.timers.peek();
    }
    return top ? top.at : Infinity;
  }

  runTimers(now: number): void {
    for (;;) {
      const top = this.timers.peek();
      if (!top || top.at > now) return;
      this.timers.pop();
      if (!top.live) continue;
      top.live = false;
      top.fn(now);
    }
  }

  /** Called whenever a broadcast is queued (the node wakes its idle gossip loop). */
  onEnqueue: (() => void) | null = null;

  enqueue(key: string, data: Uint8Array): void {
    this.queue.queue(key, data);
    this.onEnqueue?.();
  }

  // ---- sending -------------------------------------------------------------------------------

  /** Send `msgs` (encoded) to `to` in one datagram, filling spare room with queued broadcasts. */
  send(to: Address, msgs: Uint8Array[]): void {
    let used = COMPOUND_HEADER;
    for (const m of msgs) used += COMPOUND_PER_PART + m.length;
    const room = this.config.udpBufferSize - used;
    const extra = room > COMPOUND_PER_PART ? this.queue.getBroadcasts(COMPOUND_PER_PART, room) : [];
    const parts = extra.length > 0 ? msgs.concat(extra) : msgs;
    this.sendRaw(to, encodeCompound(parts));
  }

  sendRaw(to: Address, data: Uint8Array): void {
    this.stats.packetsSent++;
    this.stats.bytesSent += data.length;
    this.out.packets.push({ to, data });
  }

  /** Send one packet's worth of queued broadcasts to each of up to gossipNodes random members. */
  gossipOnce(now: number, fanout = this.config.gossipNodes): void {
    if (this.queue.length === 0) return;
    const c = this.config;
    const targets = this.table.randomMembers(fanout, this.random, (m) =>
      m !== this.self &&
      (m.status === 'alive' || m.status === 'suspect' || (m.status === 'dead' && now - m.changedAt <= c.gossipToTheDeadMs)));
    for (const t of targets) {
      const msgs = this.queue.getBroadcasts(COMPOUND_PER_PART, c.udpBufferSize - COMPOUND_HEADER);
      if (msgs.length === 0) return;
      this.sendRaw(t.address, encodeCompound(msgs));
    }
  }

  // ---- applying news -------------------------------------------------------------------------

  aliveOf(m: Member): AliveMsg {
    return { type: 'alive', incarnation: m.incarnation, node: m.name, address: m.address, meta: m.meta };
  }

  /** Add a member learned out of band (simulator bootstrap): no broadcast, no event. */
  addQuietly(name: string, address: Address, incarnation: number, meta: Uint8Array, now: number): void {
    if (name === this.name || this.table.get(name)) return;
    this.table.add(new Member(name, address, 'alive', incarnation, meta, now), this.random);
  }

  handleAlive(a: AliveMsg, now: number): void {
    if (a.node === this.name) {
      this.aliveAboutSelf(a, now);
      return;
    }
    const m = this.table.get(a.node);
    if (!m) {
      const fresh = new Member(a.node, a.address, 'alive', a.incarnation, a.meta, now);
      this.table.add(fresh, this.random);
      this.tombstones.delete(a.node);
      this.enqueue(a.node, encodeMessage(a));
      this.emit({ type: 'join', member: fresh.info() });
      return;
    }
    if (m.retired) {
      // memberlist would have forgotten it: whatever its incarnation or address, a fresh join.
      this.suspicions.delete(m.name);
      m.incarnation = a.incarnation;
      m.meta = a.meta;
      m.address = a.address;
      this.table.setStatus(m, 'alive', now);
      this.tombstones.delete(a.node);
      this.enqueue(a.node, encodeMessage(a));
      this.emit({ type: 'join', member: m.info() });
      return;
    }
    let reclaim = false;
    if (m.address !== a.address) {
      const c = this.config;
      const canReclaim = c.deadNodeReclaimMs > 0 && now - m.changedAt >= c.deadNodeReclaimMs;
      if (m.status === 'left' || (m.status === 'dead' && canReclaim)) {
        reclaim = true;
      } else {
        this.stats.conflicts++;
        return;
      }
    }
    // A reclaimed name may restart its incarnations: the new address is the news.
    if (!reclaim && !aliveSupersedes(m.incarnation, a.incarnation)) return;
    this.suspicions.delete(m.name);
    const was = m.status;
    const changed = !sameBytes(m.meta, a.meta) || m.address !== a.address;
    m.incarnation = a.incarnation;
    m.meta = a.meta;
    m.address = a.address;
    this.table.setStatus(m, 'alive', now);
    this.enqueue(a.node, encodeMessage(a));
    if (isDeadOrLeft(was)) this.emit({ type: 'join', member: m.info() });
    else if (was === 'suspect') this.emit({ type: 'alive', member: m.info() });
    if (changed && !isDeadOrLeft(was)) this.emit({ type: 'update', member: m.info() });
  }

  private aliveAboutSelf(a: AliveMsg, now: number): void {
    if (this.leaving) return;
    const s = this.self;
    if (a.incarnation < s.incarnation) return;
    // Our own news coming back to us. A restarted node refutes a same-incarnation record that
    // carries other metadata or another address (restarted with new settings).
    if (a.incarnation === s.incarnation && sameBytes(a.meta, s.meta) && a.address === s.address) return;
    this.refute(a.incarnation, now);
  }

  /**
   * `source` is the address the message came from, when it came in a datagram: a stale accusation
   * about ourselves is answered there (see staleAccusation).
   */
  handleSuspect(msg: SuspectMsg, now: number, source?: Address, merged = false): void {
    const m = this.table.get(msg.node);
    if (!m || m.retired) return;
    if (!accusationApplies(m.incarnation, msg.incarnation)) {
      if (m === this.self && source !== undefined) this.staleAccusation(source);
      return;
    }
    if (m.status === 'suspect') {
      // A suspicion merged from a peer's table is hearsay, not an independent confirmation
      // (memberlist counts it as one from ourselves, which lets one slow accuser's suspicion,
      // relayed through push-pull, shrink our timer to the minimum).
      if (merged) return;
      const s = this.suspicions.get(m.name);
      if (s && s.confirm(msg.from, now)) {
        this.stats.confirmations++;
        this.armSuspicion(m, s);
        this.enqueue(m.name, encodeMessage(msg));
      }
      return;
    }
    if (m.status !== 'alive') return;
    if (m === this.self) {
      if (!this.leaving) this.refute(msg.incarnation, now);
      return;
    }
    // We gossip a merged suspicion under our own name (the wire has no "hearsay" accuser).
    this.enqueue(m.name, encodeMessage(merged ? { ...msg, from: this.name } : msg));
    m.incarnation = msg.incarnation;
    this.table.setStatus(m, 'suspect', now);
    this.emit({ type: 'suspect', member: m.info() });
    const c = this.config;
    const n = this.numNodes();
    // Expect K = SuspicionMult − 2 independent confirmations, unless the cluster is too small to
    // provide them; without Lifeguard the timeout is fixed at the minimum.
    let k = c.lifeguard ? c.suspicionMult - 2 : 0;
    if (n - 2 < k) k = 0;
    const min = suspicionTimeout(c.suspicionMult, n, c.probeIntervalMs);
    const max = c.lifeguard ? c.suspicionMaxTimeoutMult * min : min;
    const s = new Suspicion(msg.from, msg.incarnation, k, min, max, now);
    this.suspicions.set(m.name, s);
    this.armSuspicion(m, s);
    if (msg.from === this.name || merged) {
      // Our own accusation (a failed probe), or news from a push-pull (after a partition heals the
      // suspected must hear it to refute): push it at once, as any locally created news.
      if (!merged) this.stats.suspicionsRaised++;
      this.pushPending = true;
    }
  }

  private armSuspicion(m: Member, s: Suspicion): void {
    this.schedule(s.deadline, (now) => {
      // Stale timers (re-armed after a confirmation, or a refuted suspicion) do nothing.
      if (this.suspicions.get(m.name) !== s || now < s.deadline) return;
      if (m.status !== 'suspect' || m.incarnation !== s.incarnation) return;
      this.stats.deathsDeclared++;
      this.handleDead({ type: 'dead', incarnation: m.incarnation, node: m.name, from: this.name }, now);
      this.pushPending = true;
    });
  }

  handleDead(d: DeadMsg, now: number, source?: Address): void {
    const m = this.table.get(d.node);
    if (!m || m.retired) return;
    if (!accusationApplies(m.incarnation, d.incarnation)) {
      if (m === this.self && source !== undefined) this.staleAccusation(source);
      return;
    }
    this.suspicions.delete(m.name);
    // A node that declares itself dead has left gracefully.
    const left = d.node === d.from;
    if (isDeadOrLeft(m.status)) {
      // Its own word that it left corrects our verdict that it failed (Serf turns a failed member
      // into a left one on a leave intent; memberlist keeps "dead"): a peer that missed the leave
      // and declared the silent node dead learns the truth from gossip or the next push-pull.
      if (left && m.status === 'dead' && m !== this.self) {
        this.enqueue(m.name, encodeMessage(d));
        m.incarnation = d.incarnation;
        this.table.setStatus(m, 'left', now);
        this.emit({ type: 'leave', member: m.info() });
      }
      return;
    }
    if (m === this.self && !this.leaving) {
      this.refute(d.incarnation, now);
      return;
    }
    this.enqueue(m.name, encodeMessage(d));
    m.incarnation = d.incarnation;
    this.table.setStatus(m, left ? 'left' : 'dead', now);
    if (m !== this.self) this.emit({ type: left ? 'leave' : 'dead', member: m.info() });
  }

  /**
   * Someone sent us an accusation older than our incarnation: it missed our refutation (gossip is
   * retransmit-limited) and would otherwise keep its suspicion until the timer kills us in its
   * view, or until a push-pull. memberlist ignores it; we answer the sender directly with our
   * current alive. One small datagram, and only to a node that holds stale news about us.
   */
  private staleAccusation(source: Address): void {
    if (this.leaving || source === this.address) return;
    this.stats.staleAccusationsAnswered++;
    this.send(source, [encodeMessage(this.aliveOf(this.self))]);
  }

  /** Someone thinks we are not alive: outbid their incarnation and say so at once. */
  refute(accused: number, now: number): void {
    const s = this.self;
    s.incarnation = Math.max(s.incarnation + 1, accused + 1);
    s.changedAt = now;
    this.stats.refutes++;
    this.awareness.applyDelta(1);
    this.enqueue(s.name, encodeMessage(this.aliveOf(s)));
    this.pushPending = true;
  }

  /**
   * Merge a push-pull peer's table. A remote "dead" is softened to suspect (one stale view must
   * not kill a node at once); a remote "left" is applied as left.
   */
  mergeRemote(nodes: NodeRecord[], now: number): void {
    for (const r of nodes) {
      switch (r.status) {
        case 'alive':
          this.handleAlive({ type: 'alive', incarnation: r.incarnation, node: r.name, address: r.address, meta: r.meta }, now);
          break;
        case 'left':
          this.handleDead({ type: 'dead', incarnation: r.incarnation, node: r.name, from: r.name }, now);
          break;
        case 'dead':
        case 'suspect':
          this.handleSuspect({ type: 'suspect', incarnation: r.incarnation, node: r.name, from: MERGED_ACCUSER }, now, undefined, true);
          break;
      }
    }
  }

  localRecords(): NodeRecord[] {
    const out: NodeRecord[] = [];
    this.table.forEach((m) => {
      if (m.retired) return;
      out.push({ name: m.name, address: m.address, status: m.status, incarnation: m.incarnation, meta: m.meta });
    });
    return out;
  }

  retransmitLimit(): number {
    return retransmitLimit(this.config.retransmitMult, this.numNodes(), this.config.minRetransmits);
  }
}
