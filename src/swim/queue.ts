/**
 * The transmit-limited broadcast queue (memberlist queue.go). Each queued message is handed out
 * until it has been transmitted retransmitMult × ceil(log10(N+1)) times (at least minRetransmits,
 * a floor for small groups), piggybacked on pings and
 * acks or sent by the gossip loop. Selection order, as in memberlist: fewest transmits first, then
 * the largest message that still fits, then the newest. A message with the same key as a queued one
 * replaces it (an alive at incarnation 2 kills a queued suspect at 1).
 */
import { retransmitLimit } from './config.ts';

interface Item {
  key: string;
  data: Uint8Array;
  transmits: number;
  /** Insertion counter: higher is newer. */
  id: number;
}

export class BroadcastQueue {
  private readonly byKey = new Map<string, Item>();
  private sorted: Item[] = [];
  private dirty = false;
  private nextId = 0;
  private readonly retransmitMult: number;
  private readonly numNodes: () => number;
  private readonly maxDepth: number;
  private readonly minTransmits: number;
  /** Messages dropped by the depth bound (Serf's "queue depth exceeds limit"). */
  dropped = 0;

  constructor(retransmitMult: number, numNodes: () => number, maxDepth = 4096, minTransmits = 0) {
    this.retransmitMult = retransmitMult;
    this.minTransmits = minTransmits;
    this.numNodes = numNodes;
    this.maxDepth = maxDepth;
  }

  get length(): number {
    return this.byKey.size;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** Queue `data` under `key`, replacing any older message with that key. */
  queue(key: string, data: Uint8Array): void {
    const old = this.byKey.get(key);
    if (old) this.remove(old);
    const item: Item = { key, data, transmits: 0, id: this.nextId++ };
    this.byKey.set(key, item);
    this.sorted.push(item);
    this.dirty = true;
    if (this.maxDepth > 0 && this.byKey.size > this.maxDepth) this.prune(this.maxDepth);
  }

  /**
   * Hand out messages for one packet: each costs `overhead` bytes of framing plus its length, and
   * all together at most `limit`. Each handout counts as a transmit; retired messages are removed.
   */
  getBroadcasts(overhead: number, limit: number): Uint8Array[] {
    if (this.byKey.size === 0) return [];
    this.sort();
    const out: Uint8Array[] = [];
    const max = retransmitLimit(this.retransmitMult, this.numNodes(), this.minTransmits);
    let used = 0;
    let retired = false;
    for (const item of this.sorted) {
      const cost = overhead + item.data.length;
      if (used + cost > limit) continue;
      used += cost;
      out.push(item.data);
      item.transmits++;
      if (item.transmits >= max) {
        this.byKey.delete(item.key);
        retired = true;
      }
      if (limit - used < overhead + 1) break;
    }
    if (retired) this.sorted = this.sorted.filter((i) => this.byKey.get(i.key) === i);
    if (out.length > 0) this.dirty = true;
    return out;
  }

  /** Drop everything above `maxRetain`, most transmitted (stalest) first. */
  prune(maxRetain: number): void {
    if (this.byKey.size <= maxRetain) return;
    this.sort();
    while (this.sorted.length > maxRetain) {
      const item = this.sorted.pop() as Item;
      this.byKey.delete(item.key);
      this.dropped++;
    }
  }

  /** Keys in handout order (for tests and diagnostics). */
  keys(): string[] {
    this.sort();
    return this.sorted.map((i) => i.key);
  }

  /** Transmit count of a queued key, or undefined. */
  transmits(key: string): number | undefined {
    return this.byKey.get(key)?.transmits;
  }

  private remove(item: Item): void {
    this.byKey.delete(item.key);
    const i = this.sorted.indexOf(item);
    if (i >= 0) this.sorted.splice(i, 1);
  }

  private sort(): void {
    if (!this.dirty) return;
    this.sorted.sort((a, b) => a.transmits - b.transmits || b.data.length - a.data.length || b.id - a.id);
    this.dirty = false;
  }
}
