/**
 * The member table: one record per known name, the probe order, and SWIM's precedence rules.
 *
 * Precedence (SWIM §4.2, memberlist state.go): an alive message replaces our view only at a
 * strictly greater incarnation; suspect and dead apply at an equal or greater one; older messages
 * are ignored. The rules are pure functions so they can be tested on their own.
 */
import type { Address, MemberInfo, MemberStatus, Random } from './types.ts';

export class Member {
  name: string;
  address: Address;
  status: MemberStatus;
  incarnation: number;
  meta: Uint8Array;
  /** Driver time of the last status change seen locally. */
  changedAt: number;
  /**
   * Dead or left for longer than gossip-to-the-dead: memberlist would have removed it. It stays
   * in the table only for display (members(), `basefs members`) until its retention ends; the
   * protocol treats it as unknown (not counted in N, not sent in push-pull, no accusations, and
   * an alive for its name is a fresh join).
   */
  retired = false;

  constructor(name: string, address: Address, status: MemberStatus, incarnation: number, meta: Uint8Array, changedAt: number) {
    this.name = name;
    this.address = address;
    this.status = status;
    this.incarnation = incarnation;
    this.meta = meta;
    this.changedAt = changedAt;
  }

  info(): MemberInfo {
    return {
      name: this.name, address: this.address, status: this.status,
      incarnation: this.incarnation, meta: this.meta, changedAt: this.changedAt,
    };
  }
}

/** An alive message wins only with a strictly newer incarnation. */
export function aliveSupersedes(current: number, incoming: number): boolean {
  return incoming > current;
}

/** Suspect and dead messages apply at the same or a newer incarnation. */
export function accusationApplies(current: number, incoming: number): boolean {
  return incoming >= current;
}

export function isDeadOrLeft(s: MemberStatus): boolean {
  return s === 'dead' || s === 'left';
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class MemberTable {
  private readonly byName = new Map<string, Member>();
  /** Probe order; reshuffled at each wrap-around. New members go to a random position. */
  private order: Member[] = [];
  private probeIndex = 0;
  private deadOrLeft = 0;
  private retiredCount = 0;
  private retiredLeftCount = 0;

  get size(): number {
    return this.byName.size;
  }

  /** Members currently dead or left (still in the table). */
  get numDeadOrLeft(): number {
    return this.deadOrLeft;
  }

  /** Members kept only for display (see Member.retired). */
  get numRetired(): number {
    return this.retiredCount;
  }

  /** Retired members that left (not failed). */
  get numRetiredLeft(): number {
    return this.retiredLeftCount;
  }

  get(name: string): Member | undefined {
    return this.byName.get(name);
  }

  all(): Member[] {
    return this.order.slice();
  }

  /** Iterate without copying (callers must not mutate the table meanwhile). */
  forEach(fn: (m: Member) => void): void {
    for (const m of this.order) fn(m);
  }

  /**
   * Add a member at a random position: appending would put newcomers at the end of the probe
   * round and slow their detection on average (memberlist does the same swap).
   */
  add(m: Member, random: Random): void {
    this.byName.set(m.name, m);
    this.order.push(m);
    if (isDeadOrLeft(m.status)) this.deadOrLeft++;
    const n = this.order.length;
    const offset = Math.floor(random.next() * n);
    const last = n - 1;
    const tmp = this.order[offset] as Member;
    this.order[offset] = m;
    this.order[last] = tmp;
  }

  setStatus(m: Member, status: MemberStatus, now: number): void {
    if (m.status === status) return;
    const was = isDeadOrLeft(m.status);
    const is = isDeadOrLeft(status);
    if (was && !is) this.deadOrLeft--;
    if (!was && is) this.deadOrLeft++;
    this.unretire(m);
    m.status = status;
    m.changedAt = now;
  }

  private unretire(m: Member): void {
    if (!m.retired) return;
    m.retired = false;
    this.retiredCount--;
    if (m.status === 'left') this.retiredLeftCount--;
  }

  /**
   * The next member to probe, round-robin, skipping `self` and dead or left members. At each
   * wrap-around the order is reshuffled, members dead or left for longer than `retireAfterMs` are
   * retired (kept for display only), and those past their retention (`keepMs(m)`, never less than
   * `retireAfterMs`) are removed and passed to `onRemove`.
   */
  nextProbeTarget(self: string, random: Random, now: number, retireAfterMs: number, onRemove: (m: Member) => void,
    keepMs: (m: Member) => number = () => retireAfterMs): Member | undefined {
    let checked = 0;
    while (checked < this.order.length) {
      if (this.probeIndex >= this.order.length) {
        this.resetOrder(self, random, now, retireAfterMs, keepMs, onRemove);
        if (this.order.length === 0) return undefined;
        checked = 0;
      }
      const m = this.order[this.probeIndex++] as Member;
      checked++;
      if (m.name === self || isDeadOrLeft(m.status)) continue;
      return m;
    }
    // A full pass found nobody: wrap around next time.
    this.probeIndex = this.order.length;
    return undefined;
  }

  private resetOrder(self: string, random: Random, now: number, retireAfterMs: number, keepMs: (m: Member) => number,
    onRemove: (m: Member) => void): void {
    this.probeIndex = 0;
    const kept: Member[] = [];
    for (const m of this.order) {
      const age = now - m.changedAt;
      if (m.name !== self && isDeadOrLeft(m.status) && age > retireAfterMs) {
        if (age > Math.max(retireAfterMs, keepMs(m))) {
          this.unretire(m);
          this.byName.delete(m.name);
          this.deadOrLeft--;
          onRemove(m);
          continue;
        }
        if (!m.retired) {
          m.retired = true;
          this.retiredCount++;
          if (m.status === 'left') this.retiredLeftCount++;
        }
      }
      kept.push(m);
    }
    for (let i = kept.length - 1; i > 0; i--) {
      const j = Math.floor(random.next() * (i + 1));
      const t = kept[i] as Member;
      kept[i] = kept[j] as Member;
      kept[j] = t;
    }
    this.order = kept;
  }

  /**
   * Up to k distinct random members accepted by `accept`, as memberlist's kRandomNodes: at most
   * 3 × size random draws, so the cost does not depend on how many members are rejected.
   */
  randomMembers(k: number, random: Random, accept: (m: Member) => boolean): Member[] {
    const n = this.order.length;
    const out: Member[] = [];
    for (let i = 0; i < 3 * n && out.length < k; i++) {
      const m = this.order[Math.floor(random.next() * n)] as Member;
      if (!accept(m) || out.includes(m)) continue;
      out.push(m);
    }
    return out;
  }
}
