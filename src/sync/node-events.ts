/**
 * A node's side of signed user events (user-event.ts): checking and delivering the ones that
 * arrive by gossip, and making our own. Delivery is once per event per node; only events signed by
 * a key that may write somewhere in this filesystem (the genesis key or a key with a live grant)
 * are delivered and relayed, so joining the group is not enough to make other nodes' watchers run.
 */
import { bytesEqual, type Hash } from '../core/hash.ts';
import type { Log } from '../core/log.ts';
import type { View } from '../core/view.ts';
import { encodeEventGossip } from './node-gossip.ts';
import { decodeUserEvent, encodeUserEvent, EventGate, type UserEvent } from './user-event.ts';

export interface EventStats {
  eventsSent: number;
  eventsDelivered: number;
  eventsRefused: number;
}

export class NodeEvents {
  readonly stats: EventStats = { eventsSent: 0, eventsDelivered: 0, eventsRefused: 0 };
  /** Called once for every event delivered here (ours included). */
  onEvent: ((e: UserEvent) => void) | null = null;
  readonly #gate = new EventGate();
  readonly #log: Log;
  readonly #view: View;
  readonly #fsId: Hash;
  /** Wall clock (ms since the epoch) for the freshness window; null: events are refused. */
  readonly #wall: (() => number) | null;
  readonly #random: () => number;

  constructor(o: { log: Log; view: View; wallClock: (() => number) | null; random: () => number }) {
    this.#log = o.log;
    this.#view = o.view;
    this.#fsId = o.log.id;
    this.#wall = o.wallClock;
    this.#random = o.random;
  }

  /** The key may write somewhere in this filesystem (so its events are delivered). */
  mayWrite(author: Uint8Array): boolean {
    if (bytesEqual(author, this.#log.genesis.entry.author)) return true;
    return this.#view.keys().some((k) => bytesEqual(k.key, author));
  }

  /** A gossiped event's body: true when delivered or already seen (worth relaying), false when refused. */
  receive(body: Uint8Array): boolean {
    if (this.#wall === null) return false;
    let e: UserEvent;
    try {
      e = decodeUserEvent(body, this.#fsId);
    } catch {
      this.stats.eventsRefused++;
      return false;
    }
    const why = this.#gate.admit(e, this.#wall(), (a) => this.mayWrite(a));
    if (why === 'duplicate') return true;
    if (why !== null) {
      this.stats.eventsRefused++;
      return false;
    }
    this.stats.eventsDelivered++;
    this.onEvent?.(e);
    return true;
  }

  /**
   * Signs a new event with `key` and delivers it here; returns the SWIM broadcast key and payload.
   * NOT_AUTHORIZED-like refusals are the caller's to make: a key without authority makes an event
   * every other node refuses.
   */
  create(name: string, payload: Uint8Array, key: { publicKey: Uint8Array; seed: Uint8Array }): { key: string; payload: Uint8Array } {
    if (this.#wall === null) throw new Error('this node has no wall clock for events');
    const nonce = new Uint8Array(8);
    for (let i = 0; i < 8; i++) nonce[i] = Math.floor(this.#random() * 256);
    const bytes = encodeUserEvent({ fsId: this.#fsId, timestamp: this.#wall(), nonce, name, payload }, key);
    const e = decodeUserEvent(bytes, this.#fsId);
    this.#gate.admit(e, this.#wall(), () => true);
    this.stats.eventsSent++;
    this.stats.eventsDelivered++;
    this.onEvent?.(e);
    return { key: `v${e.id.slice(0, 24)}`, payload: encodeEventGossip(bytes) };
  }
}
