/**
 * Application broadcasts: opaque payloads that spread through the same transmit-limited queue as
 * membership news. Each carries (origin, key, epoch, version); a receiver delivers a version once,
 * re-queues it so it spreads epidemically, and drops anything not newer than what it has for that
 * (origin, key). The epoch is the origin's incarnation, so a restarted origin whose counter began
 * again is still newer. Under one key, a newer message replaces the older one in every queue.
 */
import { MAX_KEY_LENGTH, encodeMessage } from './codec.ts';
import type { UserMsg } from './codec.ts';
import { SwimError } from './errors.ts';
import type { SwimDelegate } from './push-pull.ts';
import type { MembershipCore } from './state.ts';

export class UserBroadcasts {
  private readonly core: MembershipCore;
  private readonly delegate: SwimDelegate;
  private version = 0;
  /** "origin\0key" → epoch × 2³² + version, least recently updated first (bounded). */
  private readonly seen = new Map<string, number>();
  /** The newest message per "origin\0key", oldest first, for push-pull (bounded in bytes). */
  private readonly recent = new Map<string, UserMsg>();
  private recentBytes = 0;

  constructor(core: MembershipCore, delegate: SwimDelegate = {}) {
    this.core = core;
    this.delegate = delegate;
  }

  /** Queue our own payload; throws SwimError (BAD_ARGUMENT, TOO_LARGE) before changing anything. */
  create(key: string, payload: Uint8Array): void {
    const c = this.core;
    const cfg = c.config;
    if (typeof key !== 'string' || key.length > MAX_KEY_LENGTH) throw new SwimError('BAD_ARGUMENT', 'broadcast key too long');
    if (!(payload instanceof Uint8Array)) throw new SwimError('BAD_ARGUMENT', 'payload must be bytes');
    if (payload.length > cfg.maxUserPayload) {
      throw new SwimError('TOO_LARGE', `payload of ${payload.length} bytes, max ${cfg.maxUserPayload}`);
    }
    const msg: UserMsg = {
      type: 'user', origin: c.name, key, epoch: c.self.incarnation, version: this.version + 1, payload: new Uint8Array(payload),
    };
    const data = encodeMessage(msg);
    // Compound framing: 2 bytes of header and 2 of length.
    if (data.length + 4 > cfg.udpBufferSize) throw new SwimError('TOO_LARGE', 'broadcast does not fit a packet');
    this.version++;
    this.remember(msg);
    this.keepRecent(msg);
    c.enqueue(queueKey(c.name, key), data);
    this.pushNow();
  }

  /** A user message from the network: deliver and re-gossip it if it is news. */
  receive(m: UserMsg): void {
    const c = this.core;
    if (m.origin === c.name || !this.isNews(m)) return;
    if (this.delegate.validateUser && !this.delegate.validateUser(m.payload, m.origin, m.key)) {
      c.stats.userRejected++;
      return;
    }
    this.remember(m);
    this.keepRecent(m);
    c.stats.userDelivered++;
    c.enqueue(queueKey(m.origin, m.key), encodeMessage(m));
    if (c.config.eagerUserRelay) this.pushNow();
    c.emit({ type: 'user', payload: m.payload, from: m.origin, key: m.key });
  }

  /**
   * One gossip round at the end of this call, to twice the usual fanout: a node that each node
   * reaches once misses the burst with probability about e^-fanout, and waits for a gossip tick.
   */
  private pushNow(): void {
    const c = this.core;
    c.pushPending = true;
    if (c.config.eagerUserRelay) c.pushFanout = Math.max(c.pushFanout, 2 * c.config.gossipNodes);
  }

  /** Recent messages for a push-pull, newest last. */
  recentMessages(): UserMsg[] {
    return [...this.recent.values()];
  }

  private keepRecent(m: UserMsg): void {
    const id = `${m.origin}\0${m.key}`;
    const old = this.recent.get(id);
    if (old) {
      this.recent.delete(id);
      this.recentBytes -= old.payload.length;
    }
    this.recent.set(id, m);
    this.recentBytes += m.payload.length;
    for (const [k, v] of this.recent) {
      if (this.recentBytes <= this.core.config.pushPullUserBytes) break;
      this.recent.delete(k);
      this.recentBytes -= v.payload.length;
    }
  }

  /** Newer than what we hold for its (origin, key)? */
  private isNews(m: UserMsg): boolean {
    const prev = this.seen.get(`${m.origin}\0${m.key}`);
    return prev === undefined || prev < m.epoch * 0x100000000 + m.version;
  }

  /** Record (origin, key) at (epoch, version); false if we already have that or newer. */
  private remember(m: UserMsg): boolean {
    if (!this.isNews(m)) return false;
    const id = `${m.origin}\0${m.key}`;
    this.seen.delete(id);
    this.seen.set(id, m.epoch * 0x100000000 + m.version);
    if (this.seen.size > this.core.config.userSeenCapacity) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return true;
  }
}

/** Queue keys of user messages cannot collide with member names (which key membership news). */
function queueKey(origin: string, key: string): string {
  return `u\0${origin}\0${key}`;
}
