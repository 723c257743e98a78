/**
 * The in-memory simulator: many SwimNode state machines in one process, a virtual clock, and a
 * seeded network. Deterministic: the same seed and script give the same run, event for event.
 *
 * API
 *   const sim = new Simulator({ seed: 42, config: makeConfig('local'), latencyMs: 2, jitterMs: 1, loss: 0 });
 *   sim.addNode('a');                        // address 10.0.0.1:7946, its own PRNG derived from the seed
 *   sim.addNode('b', { meta, persistedIncarnation, config, delegate, initialMembers, clusterSizeHint });
 *   sim.join('b', ['a']);                    // seeds by name or address; [] just starts the node
 *   sim.runFor(5000);  sim.runUntil(t);  sim.waitFor(() => cond, maxMs)  // virtual time, milliseconds
 *   sim.broadcast('a', 'key', bytes);  sim.setMeta('a', bytes);  sim.leave('a');  sim.call('a', (n, now) => n.x(now))
 *   sim.onEvent = (node, event, now) => ...  // every SwimEvent any node emits
 *   sim.onPacket = (from, toAddress, bytes, now) => ...  // every datagram sent (before loss)
 *   sim.node('a')                            // the SwimNode, for members(), member(name), stats(), healthScore()
 *   sim.counters('a')                        // packets/bytes sent and received, streams, malformed input
 *
 * Faults
 *   sim.setLink('a', 'b', { loss, latencyMs, jitterMs, blockUdp, blockTcp })   // one direction a → b
 *   sim.setLinkBoth('a', 'b', {...});  sim.loss = 0.1 (default for every link; sim.network also
 *                                       // holds the default latencyMs and jitterMs)
 *   sim.partition([['a', 'b'], ['c']]) // nodes in different groups cannot reach each other; unlisted
 *   sim.heal()                          // nodes form group 0
 *   sim.stall('a', durationMs, atMs?)   // its event loop stops: inbound traffic waits, timers fire late;
 *                                       // at the end timers run first, then the backlog (as Node would)
 *   sim.setInboundDelay('a', ms)        // a slow receive path: inbound processed ms late, timers on time
 *   sim.crash('a');  sim.restart('a', { persistedIncarnation, address, seeds })
 *
 * Layers above SWIM (the BaseFS node's timers and sync streams, src/sync/sim) run on the same clock
 * and in the same deterministic order with sim.schedule(at, fn); sim.indexOf(name) is a node's
 * index in sim.network (loss, latency and partitions for their own traffic).
 *
 * Streams (push-pull, TCP fallback pings): a stream opened across a link with loss p fails with
 * probability p per attempt (the requester gets receiveStreamReply(id, null) after
 * min(timeout, STREAM_FAIL_MS = 1 s), as a TCP connect that lost its SYN); otherwise it is
 * reliable. A partition or `blockTcp` makes it time out, and a crashed target refuses it after one
 * round trip.
 * For large N, bootstrapCluster() (bootstrap.ts) builds nodes that already know each other.
 *
 * Cost (2-core machine, LAN profile): about 150,000 to 200,000 events per wall-clock second; 10,000
 * nodes with 100-peer views bootstrap in about 1 s, idle at about 5 simulated seconds per wall
 * second, and spread one broadcast to everyone in about 2 s of wall time.
 */
import { MinHeap } from '../heap.ts';
import { SwimNode } from '../protocol.ts';
import type { SwimNodeOptions } from '../protocol.ts';
import { makeConfig } from '../config.ts';
import type { SwimConfig } from '../config.ts';
import { isSwimError } from '../errors.ts';
import type { Address, Outbox, SwimEvent } from '../types.ts';
import { Network } from './network.ts';
import type { LinkOptions } from './network.ts';
import { SeededRandom } from './random.ts';

export type { LinkOptions } from './network.ts';

export interface SimOptions {
  seed: number;
  /** Default node config (a full config or overrides of LAN). */
  config?: SwimConfig | Partial<SwimConfig>;
  latencyMs?: number;
  jitterMs?: number;
  /** Default loss probability for every datagram. */
  loss?: number;
}

export interface NodeCounters {
  packetsSent: number;
  bytesSent: number;
  packetsReceived: number;
  bytesReceived: number;
  /** Datagrams lost on the way (loss, partition, crashed or unknown target). */
  packetsDropped: number;
  streamsOpened: number;
  /** Streams this node opened that a lossy link broke (see Network.streamFails). */
  streamsFailed: number;
  streamBytesSent: number;
  streamBytesReceived: number;
  /** Input the node rejected with a SwimError. */
  malformed: number;
  /** Largest datagram this node sent. */
  maxPacketBytes: number;
}

export type AddNodeOptions = Partial<Omit<SwimNodeOptions, 'name' | 'random'>>;

interface SimNode {
  idx: number;
  name: string;
  address: Address;
  node: SwimNode;
  crashed: boolean;
  /** Incremented on crash/restart: events addressed to an older life are dropped. */
  life: number;
  stalledUntil: number;
  /** Extra time before inbound traffic is processed (an overloaded receive path); timers unaffected. */
  inboundDelayMs: number;
  backlog: Array<() => void>;
  tickAt: number;
  counters: NodeCounters;
  /** Stream ids still waiting for a reply or a timeout. */
  pendingStreams: Set<number>;
  options: AddNodeOptions;
}

const TICK = 0;
const PACKET = 1;
const STREAM_REQUEST = 2;
const STREAM_REPLY = 3;
const STALL_START = 4;
const STALL_END = 5;
const TIMER = 6;
/** How long a connection broken by loss takes to fail (a TCP SYN retransmission timeout). */
export const STREAM_FAIL_MS = 1000;

interface SimEvent {
  at: number;
  seq: number;
  kind: number;
  to: SimNode;
  life: number;
  from: Address;
  data: Uint8Array | null;
  streamId: number;
  /** For stream requests: the requesting node. */
  requester: SimNode | null;
  requesterLife: number;
  duration: number;
  /** Already held back by the target's inbound delay. */
  delayed: boolean;
  /** TIMER events: what to run. */
  fn: (() => void) | null;
}

function zeroCounters(): NodeCounters {
  return {
    packetsSent: 0, bytesSent: 0, packetsReceived: 0, bytesReceived: 0, packetsDropped: 0, streamsOpened: 0, streamsFailed: 0,
    streamBytesSent: 0, streamBytesReceived: 0, malformed: 0, maxPacketBytes: 0,
  };
}

export class Simulator {
  now = 0;
  readonly seed: number;
  readonly config: SwimConfig;
  /** Links, loss, latency and partitions. */
  readonly network: Network;
  /** Called for every event any node emits. */
  onEvent: ((node: string, event: SwimEvent, now: number) => void) | null = null;
  /** Called for every datagram a node sends (before loss is applied), with the target's address. */
  onPacket: ((from: string, to: Address, data: Uint8Array, now: number) => void) | null = null;
  /** Events processed so far (simulator cost). */
  eventsProcessed = 0;
  private readonly rng: SeededRandom;
  private readonly heap = new MinHeap<SimEvent>();
  private seq = 0;
  private readonly nodes: SimNode[] = [];
  private readonly byName = new Map<string, SimNode>();
  private readonly byAddress = new Map<Address, SimNode>();

  constructor(o: SimOptions) {
    this.seed = o.seed >>> 0;
    this.rng = new SeededRandom(this.seed);
    this.config = makeConfig('lan', o.config ?? {});
    this.network = new Network(this.rng, o.latencyMs ?? 1, o.jitterMs ?? 0, o.loss ?? 0);
  }

  // ---- nodes -------------------------------------------------------------------------------

  addNode(name: string, o: AddNodeOptions = {}): SwimNode {
    if (this.byName.has(name)) throw new Error(`node ${name} exists`);
    const idx = this.nodes.length;
    const address = o.address ?? defaultAddress(idx);
    const st: SimNode = {
      idx, name, address, node: null as unknown as SwimNode, crashed: false, life: 0, stalledUntil: -Infinity, inboundDelayMs: 0,
      backlog: [], tickAt: Infinity, counters: zeroCounters(), pendingStreams: new Set(), options: o,
    };
    st.node = this.makeNode(st, o, 0);
    this.nodes.push(st);
    this.byName.set(name, st);
    this.byAddress.set(address, st);
    return st.node;
  }

  private makeNode(st: SimNode, o: AddNodeOptions, life: number): SwimNode {
    return new SwimNode({
      ...o,
      name: st.name,
      address: st.address,
      config: o.config ?? this.config,
      random: SeededRandom.derive(this.seed, st.idx * 1000 + life),
    });
  }

  node(name: string): SwimNode {
    return this.get(name).node;
  }

  names(): string[] {
    return this.nodes.map((n) => n.name);
  }

  /** Names of nodes not crashed. */
  liveNames(): string[] {
    return this.nodes.filter((n) => !n.crashed).map((n) => n.name);
  }

  addressOf(name: string): Address {
    return this.get(name).address;
  }

  counters(name: string): NodeCounters {
    return this.get(name).counters;
  }

  /** The node's index in `network` (its links and partition group). */
  indexOf(name: string): number {
    return this.get(name).idx;
  }

  isCrashed(name: string): boolean {
    return this.get(name).crashed;
  }

  private get(name: string): SimNode {
    const st = this.byName.get(name);
    if (!st) throw new Error(`no node ${name}`);
    return st;
  }

  // ---- driving nodes -------------------------------------------------------------------------

  join(name: string, seeds: string[]): void {
    const addrs = seeds.map((s) => this.byName.get(s)?.address ?? s);
    this.call(name, (n, now) => n.join(addrs, now));
  }

  broadcast(name: string, key: string, payload: Uint8Array): void {
    this.call(name, (n, now) => n.broadcast(key, payload, now));
  }

  setMeta(name: string, meta: Uint8Array): void {
    this.call(name, (n, now) => n.setMeta(meta, now));
  }

  leave(name: string): void {
    this.call(name, (n, now) => n.leave(now));
  }

  /** Run any API call on a node now and deliver its output. */
  call(name: string, fn: (node: SwimNode, now: number) => Outbox): void {
    const st = this.get(name);
    if (st.crashed) throw new Error(`node ${name} is crashed`);
    this.handleOut(st, fn(st.node, this.now));
  }

  crash(name: string): void {
    const st = this.get(name);
    st.crashed = true;
    st.life++;
    st.backlog = [];
    st.pendingStreams.clear();
    st.tickAt = Infinity;
    st.stalledUntil = -Infinity;
  }

  /**
   * Start a crashed node again under the same name: a fresh state machine (as a new process).
   * Pass persistedIncarnation to model a persisted incarnation, address to move it.
   */
  restart(name: string, o: AddNodeOptions & { seeds?: string[] } = {}): SwimNode {
    const st = this.get(name);
    if (!st.crashed) this.crash(name);
    if (o.address && o.address !== st.address) {
      this.byAddress.delete(st.address);
      st.address = o.address;
      this.byAddress.set(st.address, st);
    }
    const { seeds, ...rest } = o;
    st.options = { ...st.options, ...rest };
    delete st.options.address;
    st.crashed = false;
    st.life++;
    st.node = this.makeNode(st, st.options, st.life);
    if (seeds) this.join(name, seeds);
    return st.node;
  }

  // ---- faults --------------------------------------------------------------------------------

  /** Default loss for every link without its own setting. */
  get loss(): number {
    return this.network.loss;
  }

  set loss(p: number) {
    this.network.loss = p;
  }

  setLink(from: string, to: string, o: LinkOptions): void {
    this.network.setLink(this.get(from).idx, this.get(to).idx, o);
  }

  setLinkBoth(a: string, b: string, o: LinkOptions): void {
    this.setLink(a, b, o);
    this.setLink(b, a, o);
  }

  clearLinks(): void {
    this.network.clearLinks();
  }

  partition(groups: string[][]): void {
    this.network.partition(groups.map((g) => g.map((name) => this.get(name).idx)));
  }

  heal(): void {
    this.network.heal();
  }

  stall(name: string, durationMs: number, atMs = this.now): void {
    const st = this.get(name);
    this.push(STALL_START, Math.max(atMs, this.now), st, st.life, '', null, 0, null, 0, durationMs);
  }

  /**
   * A slow node (Lifeguard's model): everything it receives is processed `ms` late, as behind an
   * overloaded receive queue, while its own timers still fire on time. 0 restores it.
   */
  setInboundDelay(name: string, ms: number): void {
    this.get(name).inboundDelayMs = ms;
  }

  // ---- running -------------------------------------------------------------------------------

  runFor(ms: number): void {
    this.runUntil(this.now + ms);
  }

  runUntil(t: number): void {
    for (;;) {
      const e = this.heap.peek();
      if (!e || e.at > t) break;
      this.heap.pop();
      this.now = e.at;
      this.eventsProcessed++;
      if (e.fn !== null) e.fn();
      else this.process(e);
    }
    this.now = Math.max(this.now, t);
  }

  /** Run in steps of `stepMs` until `cond()` holds; returns the time it held, or -1 after maxMs. */
  waitFor(cond: () => boolean, maxMs: number, stepMs = 50): number {
    const end = this.now + maxMs;
    while (this.now < end) {
      if (cond()) return this.now;
      this.runUntil(Math.min(end, this.now + stepMs));
    }
    return cond() ? this.now : -1;
  }

  private push(kind: number, at: number, to: SimNode, life: number, from: Address, data: Uint8Array | null,
    streamId: number, requester: SimNode | null, requesterLife: number, duration = 0): void {
    this.heap.push({ at, seq: this.seq++, kind, to, life, from, data, streamId, requester, requesterLife, duration, delayed: false, fn: null });
  }

  /** Run `fn` at virtual time `at` (not before now), in order with every other event. */
  schedule(at: number, fn: () => void): void {
    const e = { at: Math.max(at, this.now), seq: this.seq++, kind: TIMER, to: null as unknown as SimNode, life: 0, from: '', data: null,
      streamId: 0, requester: null, requesterLife: 0, duration: 0, delayed: false, fn };
    this.heap.push(e);
  }

  private process(e: SimEvent): void {
    const st = e.to;
    if (st.crashed || e.life !== st.life) return;
    if (e.kind === STALL_START) {
      const until = this.now + e.duration;
      if (until > st.stalledUntil) {
        st.stalledUntil = until;
        this.push(STALL_END, until, st, st.life, '', null, 0, null, 0);
      }
      return;
    }
    if (e.kind === STALL_END) {
      if (this.now < st.stalledUntil) return;
      // Node's event loop: the timers phase runs before the poll phase that reads the sockets.
      st.tickAt = Infinity;
      this.deliver(st, st.node.tick(this.now));
      const backlog = st.backlog;
      st.backlog = [];
      for (const f of backlog) if (!st.crashed) f();
      return;
    }
    if (e.kind !== TICK && st.inboundDelayMs > 0 && !e.delayed) {
      e.delayed = true;
      e.at = this.now + st.inboundDelayMs;
      e.seq = this.seq++;
      this.heap.push(e);
      return;
    }
    if (this.now < st.stalledUntil) {
      if (e.kind !== TICK) st.backlog.push(() => this.processNow(e));
      return;
    }
    this.processNow(e);
  }

  private processNow(e: SimEvent): void {
    const st = e.to;
    if (st.crashed) return;
    const n = st.node;
    switch (e.kind) {
      case TICK:
        if (e.at !== st.tickAt) return; // superseded by an earlier tick
        st.tickAt = Infinity;
        this.deliver(st, n.tick(this.now));
        return;
      case PACKET: {
        const data = e.data as Uint8Array;
        st.counters.packetsReceived++;
        st.counters.bytesReceived += data.length;
        let out: Outbox;
        try {
          out = n.receivePacket(e.from, data, this.now);
        } catch (err) {
          if (!isSwimError(err)) throw err;
          st.counters.malformed++;
          this.reschedule(st);
          return;
        }
        this.deliver(st, out);
        return;
      }
      case STREAM_REQUEST: {
        const data = e.data as Uint8Array;
        const req = e.requester as SimNode;
        st.counters.streamBytesReceived += data.length;
        let res: { reply: Uint8Array | null; out: Outbox };
        try {
          res = n.receiveStream(e.from, data, this.now);
        } catch (err) {
          if (!isSwimError(err)) throw err;
          st.counters.malformed++;
          res = { reply: null, out: { packets: [], streams: [], events: [] } };
        }
        if (res.reply) st.counters.streamBytesSent += res.reply.length;
        // A partition since the request broke the connection: the requester's timeout reports it.
        const back = this.network.stream(st.idx, req.idx);
        if (back >= 0) this.push(STREAM_REPLY, this.now + back, req, e.requesterLife, st.address, res.reply, e.streamId, null, 0);
        this.deliver(st, res.out);
        return;
      }
      case STREAM_REPLY: {
        if (!st.pendingStreams.delete(e.streamId)) return; // timed out already
        if (e.data) st.counters.streamBytesReceived += e.data.length;
        let out: Outbox;
        try {
          out = n.receiveStreamReply(e.streamId, e.data, this.now);
        } catch (err) {
          if (!isSwimError(err)) throw err;
          st.counters.malformed++;
          out = n.receiveStreamReply(e.streamId, null, this.now);
        }
        this.deliver(st, out);
        return;
      }
    }
  }

  private handleOut(st: SimNode, out: Outbox): void {
    this.deliver(st, out);
  }

  /** Send a node's output into the network, report its events, and schedule its next tick. */
  private deliver(st: SimNode, out: Outbox): void {
    const c = st.counters;
    const tap = this.onPacket;
    for (let i = 0; i < out.packets.length; i++) {
      const p = out.packets[i] as { to: Address; data: Uint8Array };
      if (tap) tap(st.name, p.to, p.data, this.now);
      c.packetsSent++;
      c.bytesSent += p.data.length;
      if (p.data.length > c.maxPacketBytes) c.maxPacketBytes = p.data.length;
      const dst = this.byAddress.get(p.to);
      if (!dst || dst.crashed) {
        c.packetsDropped++;
        continue;
      }
      const delay = this.network.datagram(st.idx, dst.idx);
      if (delay < 0) {
        c.packetsDropped++;
        continue;
      }
      this.push(PACKET, this.now + delay, dst, dst.life, st.address, p.data, 0, null, 0);
    }
    for (const s of out.streams) {
      c.streamsOpened++;
      c.streamBytesSent += s.data.length;
      st.pendingStreams.add(s.id);
      const dst = this.byAddress.get(s.to);
      const delay = dst ? this.network.stream(st.idx, dst.idx) : -1;
      const timeoutAt = this.now + s.timeoutMs;
      if (dst && delay >= 0 && !dst.crashed && this.network.streamFails(st.idx, dst.idx)) {
        // A lossy link broke the connection: the requester sees a failure after a TCP-connect-like
        // delay, or at its own deadline if that comes first.
        c.streamsFailed++;
        this.push(STREAM_REPLY, this.now + Math.min(s.timeoutMs, STREAM_FAIL_MS), st, st.life, s.to, null, s.id, null, 0);
      } else if (dst && delay >= 0 && !dst.crashed) {
        this.push(STREAM_REQUEST, this.now + delay, dst, dst.life, st.address, s.data, s.id, st, st.life);
      } else if (dst && delay >= 0) {
        // A crashed process: connection refused after one round trip.
        this.push(STREAM_REPLY, this.now + 2 * delay, st, st.life, s.to, null, s.id, null, 0);
      }
      this.push(STREAM_REPLY, timeoutAt, st, st.life, s.to, null, s.id, null, 0);
    }
    const cb = this.onEvent;
    if (cb) for (const ev of out.events) cb(st.name, ev, this.now);
    this.reschedule(st);
  }

  private reschedule(st: SimNode): void {
    const d = st.node.nextDeadline();
    if (d < st.tickAt) {
      st.tickAt = Math.max(d, this.now);
      this.push(TICK, st.tickAt, st, st.life, '', null, 0, null, 0);
    }
  }
}

/** 10.x.y.z:7946 for node index i (1-based host part). */
export function defaultAddress(i: number): Address {
  const h = i + 1;
  return `10.${(h >> 16) & 255}.${(h >> 8) & 255}.${h & 255}:7946`;
}
