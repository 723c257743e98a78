/**
 * Lifeguard's suspicion timer (memberlist suspicion.go). A suspicion starts at `max` and shrinks
 * toward `min` as independent confirmations arrive, so a lone (possibly slow) accuser waits long,
 * while a suspicion that many members share fires quickly. The remaining-time formula is a pure
 * function so it can be table-tested without a clock.
 */

/**
 * Remaining time of a suspicion after `elapsedMs`, given `n` confirmations of `k` expected:
 * max − (max − min) × log(n + 1) / log(k + 1), floored to whole milliseconds, never below min,
 * minus the time already waited. May be negative (meaning: already due).
 */
export function remainingSuspicionTime(n: number, k: number, elapsedMs: number, minMs: number, maxMs: number): number {
  const frac = k > 0 ? Math.log(n + 1) / Math.log(k + 1) : 1;
  const raw = maxMs - frac * (maxMs - minMs);
  const timeout = Math.max(minMs, Math.floor(raw));
  return timeout - elapsedMs;
}

export class Suspicion {
  /** Confirmations so far (the original accuser does not count). */
  n = 0;
  /** Confirmations expected; 0 means "run for min" (cluster too small for K+2 members). */
  readonly k: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly start: number;
  /** Driver time when the suspicion expires. */
  deadline: number;
  /** Incarnation that was suspected; a refutation must exceed it. */
  readonly incarnation: number;
  private readonly from = new Set<string>();

  constructor(from: string, incarnation: number, k: number, minMs: number, maxMs: number, now: number) {
    this.k = k;
    this.minMs = minMs;
    this.maxMs = maxMs;
    this.start = now;
    this.incarnation = incarnation;
    this.from.add(from);
    this.deadline = now + (k < 1 ? minMs : maxMs);
  }

  /**
   * Count an independent confirmation. Returns true if it was new (the caller then re-gossips it),
   * and moves the deadline earlier.
   */
  confirm(from: string, now: number): boolean {
    if (this.n >= this.k) return false;
    if (this.from.has(from)) return false;
    this.from.add(from);
    this.n++;
    this.deadline = now + remainingSuspicionTime(this.n, this.k, now - this.start, this.minMs, this.maxMs);
    return true;
  }
}
