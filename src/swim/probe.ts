/**
 * Failure detection (memberlist state.go probeNode), as timers on the membership core:
 *
 *   t0            ping the target (with a suspect notice if it is suspect: Lifeguard's buddy rule)
 *   t0+timeout    no ack: ask k random alive members to ping it (they nack if they hear nothing),
 *                 and ping it over a stream (TCP fallback) with the end of the interval as deadline
 *   t0+interval   still no ack: suspect it; health gets worse by the number of missing nacks
 *
 * Any ack before the end of the interval is a success. A stream-only success does not suspect
 * (memberlist logs "network may be misconfigured"; we count it in stats.tcpFallbackSuccesses).
 * This module also answers pings and relays indirect pings for others.
 */
import { encodeMessage } from './codec.ts';
import type { AckMsg, IndirectPingMsg, NackMsg, PingMsg } from './codec.ts';
import type { Member } from './members.ts';
import type { MembershipCore, TimerHandle } from './state.ts';
import type { Address } from './types.ts';

interface Probe {
  seq: number;
  target: Member;
  deadline: number;
  done: boolean;
  expectedNacks: number;
  nacks: number;
  timeoutTimer: TimerHandle | null;
  deadlineTimer: TimerHandle | null;
}

interface Relay {
  origSeq: number;
  replyTo: Address;
}

export class Prober {
  private readonly core: MembershipCore;
  private seq = 0;
  private current: Probe | null = null;
  private readonly relays = new Map<number, Relay>();
  /** Stream id → probe, for TCP fallback pings in flight. */
  private readonly tcpPings = new Map<number, Probe>();
  private readonly nextStreamId: () => number;

  constructor(core: MembershipCore, nextStreamId: () => number) {
    this.core = core;
    this.nextStreamId = nextStreamId;
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  /** One protocol period: pick the next target round-robin and ping it. */
  probe(now: number): void {
    const c = this.core;
    if (this.current && !this.current.done) this.decide(this.current, now);
    const cfg = c.config;
    const target = c.table.nextProbeTarget(c.name, c.random, now, cfg.gossipToTheDeadMs, (m) => {
      // Failed members stay reconnect candidates (partition healing); members that left do not.
      if (m.status === 'dead') c.tombstones.set(m.name, { address: m.address, at: m.changedAt });
    }, (m) => (m.status === 'left' ? cfg.leftRetentionMs : cfg.deadRetentionMs));
    if (!target) return;
    this.probeNode(target, now);
  }

  probeNode(target: Member, now: number): void {
    const c = this.core;
    const cfg = c.config;
    const interval = c.awareness.scaleTimeout(cfg.probeIntervalMs);
    const p: Probe = {
      seq: this.nextSeq(), target, deadline: now + interval, done: false,
      expectedNacks: 0, nacks: 0, timeoutTimer: null, deadlineTimer: null,
    };
    this.current = p;
    c.stats.probes++;
    const msgs = [encodeMessage(this.ping(p.seq, target.name))];
    if (target.status === 'suspect' && cfg.lifeguard) {
      // Buddy rule: tell the suspect directly, so it can refute at once.
      msgs.push(encodeMessage({ type: 'suspect', incarnation: target.incarnation, node: target.name, from: c.name }));
    }
    c.send(target.address, msgs);
    p.timeoutTimer = c.schedule(now + cfg.probeTimeoutMs, (t) => this.onProbeTimeout(p, t));
    p.deadlineTimer = c.schedule(p.deadline, (t) => this.decide(p, t));
  }

  private ping(seq: number, node: string): PingMsg {
    return { type: 'ping', seq, node, from: this.core.name, fromAddr: this.core.address };
  }

  private onProbeTimeout(p: Probe, now: number): void {
    if (p.done) return;
    const c = this.core;
    const cfg = c.config;
    const helpers = c.table.randomMembers(cfg.indirectChecks, c.random, (m) =>
      m !== c.self && m !== p.target && m.status === 'alive');
    const wantNack = cfg.lifeguard;
    for (const h of helpers) {
      const req: IndirectPingMsg = {
        type: 'indirect-ping', seq: p.seq, target: p.target.name, targetAddr: p.target.address, nack: wantNack,
        from: c.name, fromAddr: c.address,
      };
      c.send(h.address, [encodeMessage(req)]);
      c.stats.indirectPingsSent++;
      if (wantNack) p.expectedNacks++;
    }
    if (!cfg.disableTcpPings && p.deadline > now) {
      const id = this.nextStreamId();
      this.tcpPings.set(id, p);
      c.openStream(id, p.target.address, encodeMessage(this.ping(p.seq, p.target.name)), p.deadline - now);
    }
  }

  /** End of the protocol period without an ack: suspect the target. */
  private decide(p: Probe, now: number): void {
    if (p.done) return;
    this.finish(p);
    const c = this.core;
    c.stats.probeFailures++;
    // Lifeguard: if helpers could not even send nacks, the problem is probably us.
    c.awareness.applyDelta(p.expectedNacks > 0 ? p.expectedNacks - p.nacks : 1);
    const t = p.target;
    if (t.status === 'alive' || t.status === 'suspect') {
      c.handleSuspect({ type: 'suspect', incarnation: t.incarnation, node: t.name, from: c.name }, now);
    }
  }

  private finish(p: Probe): void {
    p.done = true;
    if (p.timeoutTimer) p.timeoutTimer.live = false;
    if (p.deadlineTimer) p.deadlineTimer.live = false;
    if (this.current === p) this.current = null;
  }

  private succeed(p: Probe): void {
    if (p.done) return;
    this.finish(p);
    this.core.stats.probeSuccesses++;
    this.core.awareness.applyDelta(-1);
  }

  handlePing(m: PingMsg): void {
    const c = this.core;
    // A ping meant for another name (a restarted process at this address) goes unanswered.
    if (m.node !== c.name) return;
    c.send(m.fromAddr, [encodeMessage({ type: 'ack', seq: m.seq })]);
  }

  /** The reply to a stream ping: the same ack, without piggyback. */
  streamPingReply(m: PingMsg): Uint8Array | null {
    if (m.node !== this.core.name) return null;
    return encodeMessage({ type: 'ack', seq: m.seq });
  }

  handleIndirectPing(m: IndirectPingMsg, now: number): void {
    const c = this.core;
    const seq = this.nextSeq();
    this.relays.set(seq, { origSeq: m.seq, replyTo: m.fromAddr });
    c.send(m.targetAddr, [encodeMessage(this.ping(seq, m.target))]);
    if (m.nack) {
      c.schedule(now + c.config.probeTimeoutMs, () => {
        if (!this.relays.has(seq)) return;
        c.stats.nacksSent++;
        c.send(m.fromAddr, [encodeMessage({ type: 'nack', seq: m.seq })]);
      });
    }
    c.schedule(now + c.config.probeIntervalMs, () => this.relays.delete(seq));
  }

  handleAck(m: AckMsg): void {
    const p = this.current;
    if (p && p.seq === m.seq) {
      this.succeed(p);
      return;
    }
    const r = this.relays.get(m.seq);
    if (r) {
      this.relays.delete(m.seq);
      this.core.send(r.replyTo, [encodeMessage({ type: 'ack', seq: r.origSeq })]);
    }
  }

  handleNack(m: NackMsg): void {
    const p = this.current;
    if (p && p.seq === m.seq && !p.done) {
      p.nacks++;
      this.core.stats.nacksReceived++;
    }
  }

  /** Whether a stream id belongs to a fallback ping. */
  ownsStream(id: number): boolean {
    return this.tcpPings.has(id);
  }

  /** The outcome of a fallback ping: an ack (decoded by the caller) or null on failure. */
  tcpPingResult(id: number, ack: AckMsg | null): void {
    const p = this.tcpPings.get(id);
    this.tcpPings.delete(id);
    if (!p || !ack || ack.seq !== p.seq || p.done) return;
    this.core.stats.tcpFallbackSuccesses++;
    this.succeed(p);
  }
}
