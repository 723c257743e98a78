/**
 * The simulator's network model: per-link (one-way) loss, latency, jitter and UDP/TCP blocking,
 * defaults for every other link, and partitions as groups of nodes that only reach their own
 * group. Nodes are numbered by the simulator; all randomness comes from the seeded generator.
 */
import type { SeededRandom } from './random.ts';

export interface LinkOptions {
  loss?: number;
  latencyMs?: number;
  jitterMs?: number;
  blockUdp?: boolean;
  blockTcp?: boolean;
}

export class Network {
  latencyMs: number;
  jitterMs: number;
  /** Default loss probability for every datagram. */
  loss: number;
  private readonly rng: SeededRandom;
  private readonly links = new Map<string, LinkOptions>();
  /** Partition group per node index; traffic flows only within a group. */
  private readonly groups: number[] = [];

  constructor(rng: SeededRandom, latencyMs: number, jitterMs: number, loss: number) {
    this.rng = rng;
    this.latencyMs = latencyMs;
    this.jitterMs = jitterMs;
    this.loss = loss;
  }

  setLink(from: number, to: number, o: LinkOptions): void {
    const key = `${from}>${to}`;
    this.links.set(key, { ...this.links.get(key), ...o });
  }

  clearLinks(): void {
    this.links.clear();
  }

  /** Each listed group becomes its own island; unlisted nodes form group 0. */
  partition(groups: number[][]): void {
    this.groups.fill(0);
    groups.forEach((g, i) => {
      for (const idx of g) this.groups[idx] = i + 1;
    });
  }

  heal(): void {
    this.groups.fill(0);
  }

  /** Delivery delay of a datagram from → to, or -1 if it is lost or blocked. */
  datagram(from: number, to: number): number {
    if (!this.sameGroup(from, to)) return -1;
    const link = this.link(from, to);
    if (link?.blockUdp) return -1;
    const loss = link?.loss ?? this.loss;
    if (loss > 0 && this.rng.next() < loss) return -1;
    return this.delay(link);
  }

  /** One-way delay on a stream from → to, or -1 if a connection cannot be made (it times out). */
  stream(from: number, to: number): number {
    if (!this.sameGroup(from, to)) return -1;
    const link = this.link(from, to);
    if (link?.blockTcp) return -1;
    return this.delay(link);
  }

  /**
   * Whether a stream connection attempt from → to fails on a lossy link: with probability equal to
   * the link's datagram loss, per attempt (a lossy path loses SYNs and segments too; TCP's own
   * retransmission hides some of that, but a connect that sees loss waits out its ~1 s SYN
   * timeout, which is as long as a probe's fallback deadline). No draw on a lossless link, so
   * runs without loss keep their random sequence.
   */
  streamFails(from: number, to: number): boolean {
    const loss = this.link(from, to)?.loss ?? this.loss;
    return loss > 0 && this.rng.next() < loss;
  }

  private sameGroup(a: number, b: number): boolean {
    return (this.groups[a] ?? 0) === (this.groups[b] ?? 0);
  }

  private link(from: number, to: number): LinkOptions | undefined {
    if (this.links.size === 0) return undefined;
    return this.links.get(`${from}>${to}`);
  }

  private delay(link: LinkOptions | undefined): number {
    const lat = link?.latencyMs ?? this.latencyMs;
    const jit = link?.jitterMs ?? this.jitterMs;
    return jit > 0 ? lat + this.rng.next() * jit : lat;
  }
}
