/**
 * SwimNode: the SWIM state machine (types.ts SwimStateMachine) with Lifeguard, piggybacked and
 * gossiped dissemination, push-pull anti-entropy, application broadcasts and partition healing.
 *
 *   const node = new SwimNode({ name: 'a', address: '10.0.0.1:7946', random, config: makeConfig('lan') });
 *   let out = node.join(['10.0.0.2:7946'], now);      // then deliver out.packets / out.streams
 *   out = node.tick(now);                              // at or after node.nextDeadline()
 *   out = node.receivePacket(from, bytes, now);        // throws SwimError on malformed input
 *
 * Loops (each first fires after a random fraction of its interval, so nodes do not fall in step):
 * probe every probeInterval × (health + 1) (probe.ts); gossip every gossipInterval to gossipNodes
 * random members, dead ones included for gossipToTheDead; push-pull every pushPullScale(interval, N)
 * with one random alive member; reconnect every reconnectInterval to a dead member, a recently
 * removed one or an unseen seed, with probability (candidates / alive) as Serf, so partitions heal
 * without a manual join. Locally created news (refutation, own suspicion, death, metadata, leave,
 * user broadcast) is also pushed at once instead of waiting for the next gossip tick; a leave is
 * moreover sent once directly to every member believed alive.
 *
 * Incarnation: pass `persistedIncarnation` (the last value of incarnation()) on restart; the node
 * starts one above it, so its join outbids every record others hold about its previous run.
 */
import { MAX_NAME_LENGTH, decodePacket, decodeStream, encodeCompound, encodeMessage } from './codec.ts';
import type { PacketMsg } from './codec.ts';
import { makeConfig, pushPullScale } from './config.ts';
import type { SwimConfig } from './config.ts';
import { SwimError } from './errors.ts';
import { Prober } from './probe.ts';
import { AntiEntropy } from './push-pull.ts';
import type { SwimDelegate } from './push-pull.ts';
import { MembershipCore } from './state.ts';
import type { SwimStats } from './state.ts';
import { UserBroadcasts } from './user-broadcasts.ts';
import type { Address, MemberInfo, Outbox, Random, SwimStateMachine } from './types.ts';

export type { SwimDelegate } from './push-pull.ts';

export interface SwimNodeOptions {
  name: string;
  /** Our advertised "ip:port"; peers send here. */
  address: Address;
  random: Random;
  /** A full config (see makeConfig) or overrides of the LAN profile. */
  config?: SwimConfig | Partial<SwimConfig>;
  /** The last incarnation() of a previous run under this name; we start one above it. */
  persistedIncarnation?: number;
  meta?: Uint8Array;
  delegate?: SwimDelegate;
  /**
   * Members known without a join (simulator bootstrap of large clusters): added silently as alive.
   * With a partial view, set clusterSizeHint to the real N so retransmits and timeouts scale right.
   */
  initialMembers?: ReadonlyArray<{ name: string; address: Address; incarnation?: number; meta?: Uint8Array }>;
  clusterSizeHint?: number;
}

const EMPTY = new Uint8Array(0);

export class SwimNode implements SwimStateMachine {
  readonly name: string;
  readonly address: Address;
  readonly config: SwimConfig;
  private readonly core: MembershipCore;
  private readonly prober: Prober;
  private readonly antiEntropy: AntiEntropy;
  private readonly users: UserBroadcasts;
  private started = false;
  private streamId = 0;

  constructor(o: SwimNodeOptions) {
    if (typeof o.name !== 'string' || o.name.length === 0 || o.name.length > MAX_NAME_LENGTH) {
      throw new SwimError('BAD_ARGUMENT', `node name must be 1..${MAX_NAME_LENGTH} characters`);
    }
    // A full config overrides every LAN value; a partial one only what it names. Either is checked.
    const config = makeConfig('lan', o.config ?? {});
    const meta = o.meta ?? EMPTY;
    if (meta.length > config.maxMetaSize) throw new SwimError('TOO_LARGE', `meta of ${meta.length} bytes`);
    const persisted = o.persistedIncarnation ?? 0;
    if (!Number.isInteger(persisted) || persisted < 0 || persisted >= 0xffffffff) {
      throw new SwimError('BAD_ARGUMENT', 'persistedIncarnation must be an unsigned 32-bit integer');
    }
    this.name = o.name;
    this.address = o.address;
    this.config = config;
    this.core = new MembershipCore({
      name: o.name, address: o.address, config, random: o.random, incarnation: persisted + 1, meta,
      clusterSizeHint: o.clusterSizeHint ?? 0,
    });
    this.prober = new Prober(this.core, () => this.nextStreamId());
    this.users = new UserBroadcasts(this.core, o.delegate ?? {});
    this.antiEntropy = new AntiEntropy(this.core, o.delegate ?? {}, this.users, () => this.nextStreamId());
    for (const m of o.initialMembers ?? []) {
      this.core.addQuietly(m.name, m.address, m.incarnation ?? 1, m.meta ?? EMPTY, 0);
    }
  }

  // ---- SwimStateMachine ----------------------------------------------------------------------

  join(seeds: Address[], now: number): Outbox {
    const c = this.core;
    c.begin(now);
    this.ensureLive();
    this.start(now);
    if (seeds.some((s) => s !== this.address)) {
      // Announce ourselves by gossip too (memberlist's setAlive), not only through the seed's
      // push-pull: a restarted node's new incarnation then reaches everyone in a few rounds.
      c.enqueue(this.name, encodeMessage(c.aliveOf(c.self)));
      c.pushPending = true;
    }
    this.antiEntropy.join(seeds);
    return this.end();
  }

  tick(now: number): Outbox {
    this.core.begin(now);
    this.core.runTimers(now);
    return this.end();
  }

  nextDeadline(): number {
    return this.core.nextDeadline();
  }

  receivePacket(from: Address, data: Uint8Array, now: number): Outbox {
    // Decode everything first: a malformed packet throws here and changes nothing.
    const msgs = decodePacket(data, this.config.udpBufferSize);
    this.core.begin(now);
    for (const m of msgs) this.dispatch(m, from, now);
    return this.end();
  }

  receiveStream(from: Address, data: Uint8Array, now: number): { reply: Uint8Array | null; out: Outbox } {
    const m = decodeStream(data, this.config.maxStreamBytes);
    const c = this.core;
    c.begin(now);
    let reply: Uint8Array | null = null;
    if (m.type === 'ping') {
      reply = this.prober.streamPingReply(m);
    } else if (m.type === 'push-pull') {
      reply = this.antiEntropy.serve(m, from, now);
    } else {
      throw new SwimError('MALFORMED', 'an ack is not a stream request');
    }
    return { reply, out: this.end() };
  }

  receiveStreamReply(id: number, data: Uint8Array | null, now: number): Outbox {
    const msg = data === null ? null : decodeStream(data, this.config.maxStreamBytes);
    const c = this.core;
    c.begin(now);
    if (this.prober.ownsStream(id)) {
      this.prober.tcpPingResult(id, msg && msg.type === 'ack' ? msg : null);
      return this.end();
    }
    this.antiEntropy.reply(id, msg && msg.type === 'push-pull' ? msg : null, now);
    return this.end();
  }

  broadcast(key: string, payload: Uint8Array, now: number): Outbox {
    this.ensureLive();
    this.core.begin(now);
    this.users.create(key, payload);
    return this.end();
  }

  setMeta(meta: Uint8Array, now: number): Outbox {
    const c = this.core;
    this.ensureLive();
    if (meta.length > this.config.maxMetaSize) throw new SwimError('TOO_LARGE', `meta of ${meta.length} bytes`);
    c.begin(now);
    c.self.meta = new Uint8Array(meta);
    c.self.incarnation++;
    c.self.changedAt = now;
    c.enqueue(this.name, encodeMessage(c.aliveOf(c.self)));
    c.pushPending = true;
    return this.end();
  }

  leave(now: number): Outbox {
    const c = this.core;
    c.begin(now);
    if (c.leaving) return this.end();
    c.leaving = true;
    const msg = { type: 'dead', incarnation: c.self.incarnation, node: this.name, from: this.name } as const;
    c.handleDead(msg, now);
    // Besides the broadcast queue (retransmit-limited, a few random targets per tick), tell every
    // member we believe alive once, directly: a peer that misses the leave under loss would see
    // us go silent and declare us dead instead of left. One small datagram per member, once.
    const direct = encodeCompound([encodeMessage(msg)]);
    c.table.forEach((m) => {
      if (m !== c.self && (m.status === 'alive' || m.status === 'suspect')) c.sendRaw(m.address, direct);
    });
    c.pushPending = true;
    return this.end();
  }

  /**
   * Serf's force-leave: a member we hold failed (dead or suspect) is declared to have left, on its
   * behalf, so every node stops trying to reconnect to it and drops it after the retention period.
   * An alive member is refused (it would refute at once): the caller is told with `false`.
   */
  forceLeave(name: string, now: number): { out: Outbox; done: boolean } {
    const c = this.core;
    c.begin(now);
    const m = c.table.get(name);
    if (m === undefined || m === c.self || m.status === 'alive') return { out: this.end(), done: false };
    if (m.status !== 'left') c.handleDead({ type: 'dead', incarnation: m.incarnation, node: m.name, from: m.name }, now);
    c.tombstones.delete(name);
    c.pushPending = true;
    return { out: this.end(), done: true };
  }

  members(): MemberInfo[] {
    return this.core.table.all().map((m) => m.info());
  }

  incarnation(): number {
    return this.core.self.incarnation;
  }

  // ---- extras for drivers, tests and benchmarks -----------------------------------------------

  /** One member's view, or undefined. */
  member(name: string): MemberInfo | undefined {
    return this.core.table.get(name)?.info();
  }

  stats(): Readonly<SwimStats> {
    return this.core.stats;
  }

  /** Lifeguard's local health score (0 = healthy). */
  healthScore(): number {
    return this.core.awareness.getHealthScore();
  }

  /** Broadcasts waiting in the queue. */
  queueLength(): number {
    return this.core.queue.length;
  }

  hasLeft(): boolean {
    return this.core.leaving;
  }

  /** Update the size hint used for scaling with partial views (simulator). */
  setClusterSizeHint(n: number): void {
    this.core.clusterSizeHint = n;
  }

  // ---- internals -----------------------------------------------------------------------------

  private ensureLive(): void {
    if (this.core.leaving) throw new SwimError('LEFT', 'this node has left');
  }

  private nextStreamId(): number {
    this.streamId = (this.streamId + 1) % Number.MAX_SAFE_INTEGER;
    return this.streamId;
  }

  private end(): Outbox {
    const c = this.core;
    if (c.pushPending) {
      c.pushPending = false;
      c.gossipOnce(c.now, Math.max(c.config.gossipNodes, c.pushFanout));
      c.pushFanout = 0;
    }
    return c.finish();
  }

  private start(now: number): void {
    if (this.started) return;
    this.started = true;
    const c = this.core;
    c.self.changedAt = now;
    const cfg = this.config;
    const r = () => c.random.next();
    const probeLoop = (t: number): void => {
      if (c.leaving) return;
      this.prober.probe(t);
      c.schedule(t + c.awareness.scaleTimeout(cfg.probeIntervalMs), probeLoop);
    };
    // The gossip loop sleeps while the queue is empty (most of the time in a quiet cluster, and
    // half of all timer events otherwise); queueing wakes it at its next slot of its own phase,
    // so timing is the same as a loop that never stopped.
    const gossipPhase = now + Math.floor(r() * cfg.gossipIntervalMs);
    let gossipArmed = false;
    const armGossip = (): void => {
      if (gossipArmed) return;
      gossipArmed = true;
      const slots = c.now < gossipPhase ? 0 : Math.floor((c.now - gossipPhase) / cfg.gossipIntervalMs) + 1;
      c.schedule(gossipPhase + slots * cfg.gossipIntervalMs, gossipLoop);
    };
    const gossipLoop = (t: number): void => {
      gossipArmed = false;
      c.gossipOnce(t);
      if (c.queue.length > 0) armGossip();
    };
    c.onEnqueue = armGossip;
    const pushPullLoop = (t: number): void => {
      if (c.leaving) return;
      this.antiEntropy.pushPullRandom();
      c.schedule(t + pushPullScale(cfg.pushPullIntervalMs, c.numNodes()), pushPullLoop);
    };
    const reconnectLoop = (t: number): void => {
      if (c.leaving) return;
      this.antiEntropy.reconnect(t);
      c.schedule(t + cfg.reconnectIntervalMs, reconnectLoop);
    };
    c.schedule(now + Math.floor(r() * cfg.probeIntervalMs), probeLoop);
    if (c.queue.length > 0) armGossip();
    if (cfg.pushPullIntervalMs > 0) {
      c.schedule(now + Math.floor(r() * pushPullScale(cfg.pushPullIntervalMs, c.numNodes())), pushPullLoop);
    }
    c.schedule(now + Math.floor(r() * cfg.reconnectIntervalMs), reconnectLoop);
  }

  private dispatch(m: PacketMsg, from: Address, now: number): void {
    const c = this.core;
    switch (m.type) {
      case 'ping': this.prober.handlePing(m); break;
      case 'indirect-ping': this.prober.handleIndirectPing(m, now); break;
      case 'ack': this.prober.handleAck(m); break;
      case 'nack': this.prober.handleNack(m); break;
      case 'alive': c.handleAlive(m, now); break;
      case 'suspect': c.handleSuspect(m, now, from); break;
      case 'dead': c.handleDead(m, now, from); break;
      case 'user': this.users.receive(m); break;
    }
  }
}
