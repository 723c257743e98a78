/**
 * One sync connection over the simulated network: two SyncSessions (the same state machine that
 * runs over TCP in stream.ts) exchanging frames with the link's latency, in order, on the
 * simulator's clock. The faults follow the SWIM simulator's stream model (src/swim/sim):
 *   - a lossy link breaks the connect with the link's loss per attempt (CLOSED after
 *     STREAM_FAIL_MS, as a lost SYN); an established stream is reliable (TCP hides loss);
 *   - a partition, or blockTcp, makes frames vanish from then on: the session's own idle
 *     timeout ends it, as a TCP stream that stalls;
 *   - a crashed or refusing peer: CLOSED after a round trip; a peer that crashes mid-session
 *     resets the connection (CLOSED);
 *   - frames above MAX_FRAME_BYTES end the session (TOO_LARGE), as runOverStream does;
 *   - optionally a node's uplink has a bandwidth: the frames it sends on all its connections leave
 *     one after another, each taking its size over the bandwidth (so a node serving many peers
 *     serves them slower, as a real uplink would); without one, a frame takes only the latency.
 * Sessions are ticked every TICK_MS like runOverStream's timer.
 */
import { err } from '../../core/errors.ts';
import type { Simulator } from '../../swim/sim/simulator.ts';
import { STREAM_FAIL_MS } from '../../swim/sim/simulator.ts';
import type { Role, Step, SyncSession } from '../anti-entropy.ts';
import type { StreamResult } from '../stream.ts';
import { MAX_FRAME_BYTES } from '../wire.ts';

const TICK_MS = 1000;

/** A simulated node as far as its connections are concerned. */
export interface ConnOwner {
  readonly name: string;
  /** Bumped on crash and restart: a connection belongs to one life of its node. */
  readonly life: number;
  readonly up: boolean;
  /** Rewrites every frame this node sends (a lying peer); honest nodes have none. */
  readonly tamper: ((frame: Uint8Array, role: Role) => Uint8Array[]) | null;
  /** Its uplink: bytes per simulated millisecond, and when the frames queued on it are all sent. */
  readonly uplink: Uplink | null;
}

export interface Uplink {
  bytesPerMs: number;
  freeAt: number;
}

/** One side of a connection. */
export class ConnEnd {
  readonly owner: ConnOwner;
  readonly life: number;
  readonly session: SyncSession;
  readonly #sim: Simulator;
  readonly #done: (r: StreamResult) => void;
  peer: ConnEnd | null = null;
  closed = false;
  /** Frames sent before the connection was established (they travel behind the SYN). */
  #queued: Uint8Array[] = [];
  /** This direction lost a frame to a partition: nothing after it arrives either. */
  #broken = false;
  #lastArrival = 0;

  constructor(sim: Simulator, owner: ConnOwner, session: SyncSession, done: (r: StreamResult) => void) {
    this.#sim = sim;
    this.owner = owner;
    this.life = owner.life;
    this.session = session;
    this.#done = done;
  }

  get live(): boolean {
    return this.owner.up && this.owner.life === this.life;
  }

  apply(step: Step): void {
    if (this.closed) return;
    this.#transmit(step.send);
    if (step.done) this.#finish(true);
  }

  /** The peer is established: whatever waited goes now, then this side's frames go directly. */
  connected(peer: ConnEnd): void {
    this.peer = peer;
    const queued = this.#queued;
    this.#queued = [];
    this.#transmit(queued, false);
  }

  receive(frame: Uint8Array): void {
    if (this.closed || !this.live) return;
    const now = this.#sim.now;
    if (frame.length > MAX_FRAME_BYTES) this.apply(this.session.abort(err('TOO_LARGE', `frame of ${frame.length} bytes`)));
    else this.apply(this.session.receive(frame, now));
  }

  /** The connection was refused, reset or broken. */
  abort(why: string): void {
    if (this.closed || !this.live) return;
    this.apply(this.session.abort(err('CLOSED', why)));
  }

  /** The owner crashed: no report (its core is gone), the peer sees a reset. */
  drop(): void {
    this.#finish(false);
  }

  startTicks(): void {
    const tick = () => {
      if (this.closed || !this.live) return;
      this.apply(this.session.tick(this.#sim.now));
      this.#sim.schedule(this.#sim.now + TICK_MS, tick);
    };
    this.#sim.schedule(this.#sim.now + TICK_MS, tick);
  }

  #finish(report: boolean): void {
    if (this.closed) return;
    this.closed = true;
    const peer = this.peer;
    if (peer !== null) this.#after(peer, () => peer.abort('the peer closed the connection'));
    if (report) {
      const result: StreamResult = { stats: this.session.stats };
      if (this.session.failure !== undefined) result.error = this.session.failure;
      this.#done(result);
    }
  }

  #transmit(frames: Uint8Array[], tamper = true): void {
    const t = this.owner.tamper;
    const out = tamper && t !== null ? frames.flatMap((f) => t(f, this.session.role)) : frames;
    const peer = this.peer;
    if (peer === null) {
      this.#queued.push(...out);
      return;
    }
    for (const f of out) this.#after(peer, () => peer.receive(f), f.length);
  }

  /** Run `fn` when `bytes` sent now reach `peer`, in order; never if the path broke. */
  #after(peer: ConnEnd, fn: () => void, bytes = 0): void {
    if (this.#broken) return;
    const d = this.#sim.network.stream(this.#sim.indexOf(this.owner.name), this.#sim.indexOf(peer.owner.name));
    if (d < 0) {
      this.#broken = true;
      return;
    }
    let sent = this.#sim.now;
    const up = this.owner.uplink;
    if (up !== null && bytes > 0) sent = up.freeAt = Math.max(sent, up.freeAt) + bytes / up.bytesPerMs;
    this.#lastArrival = Math.max(sent + d, this.#lastArrival);
    this.#sim.schedule(this.#lastArrival, fn);
  }
}

/**
 * Open a connection from `from` to `to`: the initiator end starts at once; `accept` is asked on
 * the responder's side when the connection arrives (null: refused).
 */
export function openConnection(sim: Simulator, from: ConnEnd, to: ConnOwner | null, accept: () => ConnEnd | null): void {
  const session = from.session;
  from.apply(session.start(sim.now));
  from.startTicks();
  if (to === null || !to.up) {
    const rtt = to === null ? 0 : 2 * Math.max(0, sim.network.stream(sim.indexOf(from.owner.name), sim.indexOf(to.name)));
    sim.schedule(sim.now + rtt, () => from.abort('connection refused'));
    return;
  }
  const a = sim.indexOf(from.owner.name);
  const b = sim.indexOf(to.name);
  const d = sim.network.stream(a, b);
  if (d < 0) return; // unreachable: the initiator's idle timeout ends it
  if (sim.network.streamFails(a, b)) {
    sim.schedule(sim.now + STREAM_FAIL_MS, () => from.abort('connection lost'));
    return;
  }
  const life = to.life;
  sim.schedule(sim.now + d, () => {
    if (!from.live || from.closed) return;
    const back = sim.network.stream(b, a);
    const refused = () => sim.schedule(sim.now + Math.max(0, back), () => from.abort('connection refused'));
    if (!to.up || to.life !== life) return refused();
    const end = accept();
    if (end === null) return refused();
    end.peer = from;
    end.apply(end.session.start(sim.now));
    end.startTicks();
    from.connected(end);
  });
}
