/**
 * Anti-entropy over streams (memberlist's push-pull) and partition healing.
 *
 * A push-pull sends our whole member table plus the application's extra state (SwimDelegate) and
 * gets the peer's back; both sides merge (state.ts mergeRemote). The receiver merges before it
 * answers, so its reply already carries any refutation the merge caused.
 *
 * Reconnect (after Serf's reconnect loop, extended to seeds and to members already dropped from the
 * table): with probability candidates / alive, push-pull with one random dead member, recently
 * removed failed member, or seed we do not see alive. The cluster-wide rate then stays about one
 * attempt per failed member per interval, whatever N is, and two halves of a healed partition find
 * each other with no manual join.
 */
import { encodeMessage } from './codec.ts';
import type { PushPullMsg, UserMsg } from './codec.ts';
import type { MembershipCore } from './state.ts';
import type { Address } from './types.ts';

/** Application hooks, called synchronously from inside the state machine. */
export interface SwimDelegate {
  /** Extra opaque state sent in every push-pull (e.g. the sync layer's log heads). */
  localState?(join: boolean): Uint8Array;
  /** The peer's extra state from a push-pull. */
  mergeRemoteState?(state: Uint8Array, join: boolean, from: Address): void;
  /**
   * Vet an application broadcast before it is delivered or relayed (e.g. verify a signed log
   * entry). false: it is dropped here, not passed on, and not remembered, so a forged copy can
   * neither spread through this node nor shadow the genuine message with the same origin and key.
   */
  validateUser?(payload: Uint8Array, origin: string, key: string): boolean;
}

/** Where push-pull takes recent application broadcasts from and hands received ones to. */
export interface UserSource {
  recentMessages(): UserMsg[];
  receive(m: UserMsg): void;
}

type StreamKind = 'push-pull' | 'join' | 'reconnect' | 'reconnect-again';

const EMPTY = new Uint8Array(0);

export class AntiEntropy {
  private readonly core: MembershipCore;
  private readonly delegate: SwimDelegate;
  private readonly nextStreamId: () => number;
  private readonly streams = new Map<number, { kind: StreamKind; to: Address }>();
  /** Join addresses, retried by the reconnect loop while we do not see them alive. */
  readonly seeds: Address[] = [];

  private readonly users: UserSource;

  constructor(core: MembershipCore, delegate: SwimDelegate, users: UserSource, nextStreamId: () => number) {
    this.core = core;
    this.delegate = delegate;
    this.users = users;
    this.nextStreamId = nextStreamId;
  }

  owns(id: number): boolean {
    return this.streams.has(id);
  }

  join(seeds: Address[]): void {
    for (const s of seeds) if (s !== this.core.address && !this.seeds.includes(s)) this.seeds.push(s);
    for (const s of this.seeds) this.open(s, 'join');
  }

  /** The periodic exchange with one random alive member. */
  pushPullRandom(): void {
    const c = this.core;
    const peer = c.table.randomMembers(1, c.random, (m) => m !== c.self && m.status === 'alive')[0];
    if (peer) this.open(peer.address, 'push-pull');
  }

  /** Serve a peer's push-pull: merge, then answer with our state. */
  serve(m: PushPullMsg, from: Address, now: number): Uint8Array {
    this.core.stats.pushPullsServed++;
    this.merge(m, from, now);
    return this.encode(false);
  }

  /** The answer to one of our push-pulls (null: failed or timed out). */
  reply(id: number, m: PushPullMsg | null, now: number): void {
    const s = this.streams.get(id);
    if (!s) return;
    this.streams.delete(id);
    if (!m) return;
    const c = this.core;
    const refutesBefore = c.stats.refutes;
    this.merge(m, s.to, now);
    // Across a healed partition the peer had us dead and we just refuted: send the new
    // incarnation back at once instead of waiting for gossip that does not cross yet.
    if (s.kind === 'reconnect' && c.stats.refutes !== refutesBefore) this.open(s.to, 'reconnect-again');
  }

  reconnect(now: number): void {
    const c = this.core;
    for (const [name, t] of c.tombstones) {
      if (now - t.at > c.config.reconnectTimeoutMs) c.tombstones.delete(name);
    }
    // Dead and left members not yet retired, and failed ones retired (memberlist's tombstones).
    const dead = c.table.numDeadOrLeft - c.table.numRetiredLeft;
    const estimate = dead + c.tombstones.size + this.seeds.length;
    if (estimate === 0) return;
    const alive = Math.max(1, c.table.size - c.table.numDeadOrLeft);
    if (c.random.next() >= estimate / alive) return;
    const candidates: Address[] = [];
    const aliveAddrs = new Set<Address>();
    c.table.forEach((m) => {
      if (m.status === 'dead') candidates.push(m.address);
      else if (m.status !== 'left') aliveAddrs.add(m.address);
    });
    for (const t of c.tombstones.values()) if (!aliveAddrs.has(t.address)) candidates.push(t.address);
    for (const s of this.seeds) if (!aliveAddrs.has(s)) candidates.push(s);
    if (candidates.length === 0) return;
    c.stats.reconnects++;
    this.open(candidates[Math.floor(c.random.next() * candidates.length)] as Address, 'reconnect');
  }

  private open(to: Address, kind: StreamKind): void {
    const c = this.core;
    const id = this.nextStreamId();
    this.streams.set(id, { kind, to });
    c.stats.pushPulls++;
    c.openStream(id, to, this.encode(kind === 'join'), c.config.tcpTimeoutMs);
  }

  private encode(join: boolean): Uint8Array {
    const app = this.delegate.localState?.(join) ?? EMPTY;
    return encodeMessage({ type: 'push-pull', join, nodes: this.core.localRecords(), app, users: this.users.recentMessages() });
  }

  private merge(m: PushPullMsg, from: Address, now: number): void {
    this.core.mergeRemote(m.nodes, now);
    for (const u of m.users) this.users.receive(u);
    this.delegate.mergeRemoteState?.(m.app, m.join, from);
  }
}
