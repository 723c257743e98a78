/**
 * The SWIM runtime: the only place where the protocol meets a clock, timers and a network.
 *
 * It owns one SwimStateMachine (types.ts) and one SwimTransport (udp-transport.ts, or any other).
 * Received datagrams and stream requests go into the machine with the current time; everything
 * the machine returns is executed at once: packets are sent, streams opened (their replies, or
 * null on failure or timeout, fed back with `receiveStreamReply`), the incarnation saved if it
 * changed, the single timer re-armed for `nextDeadline()`, and events emitted, in that order, so
 * a listener that calls back into the runtime always sees a consistent state.
 *
 * Input from the network that the machine rejects (it throws on malformed bytes) is dropped and
 * reported as a 'warning'; it never reaches the application as an exception.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { SwimError } from './errors.ts';
import type { IncarnationStore } from './incarnation-store.ts';
import type { Address, MemberInfo, Outbox, SwimEvent, SwimStateMachine } from './types.ts';
import type { SwimTransport, TransportWarning } from './transport.ts';

/** Events of a running node. Listeners must not throw. */
export interface SwimRuntimeEvents {
  join: [member: MemberInfo];
  update: [member: MemberInfo];
  suspect: [member: MemberInfo];
  alive: [member: MemberInfo];
  dead: [member: MemberInfo];
  leave: [member: MemberInfo];
  /** An application payload broadcast by `from` (a node name). */
  user: [payload: Uint8Array, from: string];
  /** Every SwimEvent above, in order, as the machine reported it. */
  event: [event: SwimEvent];
  /** A transient problem: a send failed, a stream failed, an input was dropped, a save failed. */
  warning: [warning: RuntimeWarning];
}

export type RuntimeWarning = TransportWarning | { kind: 'persist'; code: string; message: string };

export interface SwimRuntimeOptions<M extends SwimStateMachine = SwimStateMachine> {
  machine: M;
  transport: SwimTransport;
  /** Milliseconds on a monotonic clock; default `performance.now`. Injected here and only here. */
  clock?: () => number;
  /** Where the incarnation is saved whenever it changes; none by default. */
  store?: IncarnationStore | null;
  /** The incarnation already in `store`, so an unchanged one is not rewritten. */
  storedIncarnation?: number | null;
  /** How long `close({ leave: true })` keeps gossiping after the leave before closing sockets. */
  leaveLingerMs?: number;
}

export interface RuntimeCounters {
  /** Inputs the machine rejected (malformed or hostile bytes). */
  inputsDropped: number;
  /** Warnings not emitted because more than WARNINGS_PER_SECOND came in one second. */
  warningsSuppressed: number;
  ticks: number;
  saves: number;
  saveErrors: number;
}

const MAX_TIMER_MS = 0x7fff_ffff;
const SAVE_RETRY_MS = 1000;
/** A peer spraying garbage must not turn into a log flood: warnings beyond this are only counted. */
export const WARNINGS_PER_SECOND = 20;

export class SwimRuntime<M extends SwimStateMachine = SwimStateMachine> extends EventEmitter<SwimRuntimeEvents> {
  readonly machine: M;
  readonly transport: SwimTransport;
  readonly counters: RuntimeCounters = { inputsDropped: 0, warningsSuppressed: 0, ticks: 0, saves: 0, saveErrors: 0 };
  #warnWindowStart = -Infinity;
  #warnsInWindow = 0;
  readonly #clock: () => number;
  readonly #store: IncarnationStore | null;
  readonly #leaveLingerMs: number;
  #saved: number | null;
  #lastSaveFailure = -Infinity;
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Infinity;
  #closed = false;
  #left = false;
  #closing: Promise<void> | null = null;

  constructor(opts: SwimRuntimeOptions<M>) {
    super();
    this.machine = opts.machine;
    this.transport = opts.transport;
    this.#clock = opts.clock ?? (() => performance.now());
    this.#store = opts.store ?? null;
    this.#saved = opts.storedIncarnation ?? null;
    this.#leaveLingerMs = opts.leaveLingerMs ?? 1000;
    this.transport.attach({
      packet: (from, data) => this.#input((now) => this.machine.receivePacket(from, data, now), from),
      stream: (from, data, respond) => this.#inboundStream(from, data, respond),
      warning: (w) => this.#warn(w),
    });
  }

  get name(): string {
    return this.machine.name;
  }

  /** Our own "ip:port". */
  get address(): Address {
    return this.transport.address;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The runtime's clock; `MemberInfo.changedAt` is on this clock. */
  now(): number {
    return this.#clock();
  }

  /** Starts probing and contacts the seeds (none for the first node). */
  join(seeds: Address[] = []): void {
    this.#api((now) => this.machine.join(seeds, now));
  }

  /** Spreads `payload` to every member; a newer payload under the same key replaces a queued one. */
  broadcast(key: string, payload: Uint8Array): void {
    this.#api((now) => this.machine.broadcast(key, payload, now));
  }

  /** Replaces our metadata (spread with a new alive message at a higher incarnation). */
  setMeta(meta: Uint8Array): void {
    this.#api((now) => this.machine.setMeta(meta, now));
  }

  members(): MemberInfo[] {
    return this.machine.members();
  }

  /** Serf's force-leave of a failed member; false if it is unknown, alive or not supported. */
  forceLeave(name: string): boolean {
    const fl = this.machine.forceLeave?.bind(this.machine);
    if (fl === undefined || this.#closing !== null) return false;
    let done = false;
    this.#api((now) => {
      const r = fl(name, now);
      done = r.done;
      return r.out;
    });
    return done;
  }

  /** Graceful leave: broadcast it and stop probing; sockets stay open until `close`. */
  leave(): void {
    if (this.#left) return;
    this.#left = true;
    this.#api((now) => this.machine.leave(now));
  }

  /**
   * Stops the node. With `leave: true`, leaves first and keeps running for `leaveLingerMs` so the
   * leave spreads and probes are still answered meanwhile. Idempotent.
   */
  close(opts: { leave?: boolean } = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    // Leave before marking ourselves closing: leave() goes through #api, which refuses once closing.
    const linger = opts.leave === true && !this.#left && !this.#closed;
    if (linger) this.leave();
    this.#closing = (async () => {
      if (linger) await new Promise((resolve) => setTimeout(resolve, this.#leaveLingerMs));
      this.#closed = true;
      this.#clearTimer();
      await this.transport.close();
    })();
    return this.#closing;
  }

  /** A call from the application: errors (bad arguments, payload too large) go to the caller. */
  #api(call: (now: number) => Outbox): void {
    if (this.#closed || this.#closing) throw new SwimError('LEFT', 'the SWIM node is closed');
    this.#dispatch(call(this.#clock()));
  }

  /** An input from the network: a rejected one is dropped and reported, never thrown. */
  #input(call: (now: number) => Outbox, from: Address | null): void {
    if (this.#closed) return;
    let out: Outbox;
    try {
      out = call(this.#clock());
    } catch (e) {
      this.#dropped(e, from);
      this.#schedule(false);
      return;
    }
    this.#dispatch(out);
  }

  #inboundStream(from: Address, data: Uint8Array, respond: (reply: Uint8Array | null) => void): void {
    if (this.#closed) {
      respond(null);
      return;
    }
    let result: { reply: Uint8Array | null; out: Outbox };
    try {
      result = this.machine.receiveStream(from, data, this.#clock());
    } catch (e) {
      respond(null);
      this.#dropped(e, from);
      this.#schedule(false);
      return;
    }
    // Save a changed incarnation before the reply can carry it.
    this.#persist();
    respond(result.reply);
    this.#dispatch(result.out);
  }

  #tick(): void {
    this.#timer = null;
    this.#timerAt = Infinity;
    if (this.#closed) return;
    this.counters.ticks++;
    let out: Outbox;
    try {
      out = this.machine.tick(this.#clock());
    } catch (e) {
      // A bug in the machine; keep the node alive and try again later.
      this.#dropped(e, null);
      this.#schedule(true);
      return;
    }
    this.#dispatch(out, true);
  }

  #dispatch(out: Outbox, afterTick = false): void {
    if (this.#closed) return;
    this.#persist();
    for (const p of out.packets) this.transport.sendPacket(p.to, p.data);
    for (const s of out.streams) {
      const id = s.id;
      this.transport.openStream(s.to, s.data, s.timeoutMs, (reply) => {
        this.#input((now) => this.machine.receiveStreamReply(id, reply, now), null);
      });
    }
    this.#schedule(afterTick);
    for (const ev of out.events) {
      if (this.#closed) return;
      if (ev.type === 'user') this.emit('user', ev.payload, ev.from);
      else this.emit(ev.type, ev.member);
      this.emit('event', ev);
    }
  }

  #persist(): void {
    if (!this.#store) return;
    const inc = this.machine.incarnation();
    if (inc === this.#saved) return;
    const now = this.#clock();
    if (now - this.#lastSaveFailure < SAVE_RETRY_MS) return;
    try {
      this.#store.save(inc);
      this.#saved = inc;
      this.counters.saves++;
    } catch (e) {
      this.#lastSaveFailure = now;
      this.counters.saveErrors++;
      const code = e instanceof SwimError ? e.code : ((e as NodeJS.ErrnoException).code ?? 'IO');
      this.#warn({ kind: 'persist', code, message: (e as Error).message });
    }
  }

  #schedule(afterTick: boolean): void {
    if (this.#closed) return;
    const deadline = this.machine.nextDeadline();
    if (!Number.isFinite(deadline)) {
      this.#clearTimer();
      return;
    }
    if (this.#timer && this.#timerAt === deadline) return;
    this.#clearTimer();
    let delay = Math.ceil(deadline - this.#clock());
    // A machine still due right after a tick would spin; give the event loop a turn.
    if (delay <= 0) delay = afterTick ? 1 : 0;
    this.#timerAt = deadline;
    this.#timer = setTimeout(() => this.#tick(), Math.min(delay, MAX_TIMER_MS));
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Infinity;
  }

  #dropped(e: unknown, from: Address | null): void {
    this.counters.inputsDropped++;
    const code = e instanceof SwimError ? e.code : 'INTERNAL';
    const message = e instanceof Error ? e.message : String(e);
    this.#warn(from === null ? { kind: 'receive', code, message } : { kind: 'receive', code, message, peer: from });
  }

  #warn(w: RuntimeWarning): void {
    if (this.listenerCount('warning') === 0) return;
    const now = this.#clock();
    if (now - this.#warnWindowStart >= 1000) {
      this.#warnWindowStart = now;
      this.#warnsInWindow = 0;
    }
    if (++this.#warnsInWindow > WARNINGS_PER_SECOND) {
      this.counters.warningsSuppressed++;
      return;
    }
    try {
      this.emit('warning', w);
    } catch {
      // see SwimRuntimeEvents: a warning listener must not throw; never let it crash the loop
    }
  }
}
