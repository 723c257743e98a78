/**
 * The contract between the SWIM protocol state machine (src/swim/protocol*) and whatever drives it:
 * the in-memory simulator (src/swim/sim) or the real UDP/TCP runtime (src/swim/udp*).
 *
 * The protocol never touches a socket, a timer, Date.now or Math.random. Every call takes `now`
 * (milliseconds on the driver's clock) and returns an Outbox: datagrams to send, reliable stream
 * requests to open, and membership/user events for the application. The driver calls `tick(now)`
 * no later than `nextDeadline()`; calling it earlier is harmless.
 *
 * src/swim imports nothing else of ours: payloads from the application are opaque bytes.
 */

/** "ip:port" of a node's SWIM endpoint (UDP and TCP share the port). */
export type Address = string;

/** Seeded randomness, injected. `next()` returns a float in [0, 1). */
export interface Random {
  next(): number;
}

export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

export interface MemberInfo {
  name: string;
  address: Address;
  status: MemberStatus;
  incarnation: number;
  /** Opaque application metadata (e.g. log root hash and sync port), bounded in size. */
  meta: Uint8Array;
  /** Driver-clock milliseconds of the last status change seen locally. */
  changedAt: number;
}

export type SwimEvent =
  | { type: 'join'; member: MemberInfo }
  | { type: 'update'; member: MemberInfo } // metadata or address changed
  | { type: 'suspect'; member: MemberInfo }
  | { type: 'alive'; member: MemberInfo } // a suspect refuted
  | { type: 'dead'; member: MemberInfo }
  | { type: 'leave'; member: MemberInfo }
  | { type: 'user'; payload: Uint8Array; from: string; key?: string }; // key: the origin's broadcast() key

export interface OutPacket {
  to: Address;
  data: Uint8Array;
}

/** A reliable request/response exchange (TCP in the real runtime): push-pull and TCP fallback pings. */
export interface OutStream {
  /** Chosen by the protocol; echoed back in `receiveStreamReply`. */
  id: number;
  to: Address;
  data: Uint8Array;
  /** The driver gives up (and reports `null`) after this many ms. */
  timeoutMs: number;
}

export interface Outbox {
  packets: OutPacket[];
  streams: OutStream[];
  events: SwimEvent[];
}

/** What a state machine must offer its drivers. */
export interface SwimStateMachine {
  readonly name: string;
  /** Begin probing and try to join these seeds (may be empty for the first node). */
  join(seeds: Address[], now: number): Outbox;
  /** Run every timer that is due. */
  tick(now: number): Outbox;
  /** The earliest driver time at which `tick` has work to do. */
  nextDeadline(): number;
  receivePacket(from: Address, data: Uint8Array, now: number): Outbox;
  /** An incoming reliable request; `reply` (if not null) goes back on the same stream. */
  receiveStream(from: Address, data: Uint8Array, now: number): { reply: Uint8Array | null; out: Outbox };
  /** The answer to one of our OutStreams, or null on failure/timeout. */
  receiveStreamReply(id: number, data: Uint8Array | null, now: number): Outbox;
  /** Queue an application payload for dissemination (piggybacked and pushed at once). */
  broadcast(key: string, payload: Uint8Array, now: number): Outbox;
  /** Replace our metadata; spreads with a new alive message. */
  setMeta(meta: Uint8Array, now: number): Outbox;
  /** Graceful leave: broadcast it, then stop probing. */
  leave(now: number): Outbox;
  /** Declare a failed member left on its behalf (Serf's force-leave); optional for test machines. */
  forceLeave?(name: string, now: number): { out: Outbox; done: boolean };
  members(): MemberInfo[];
  /** State to persist across restarts (the incarnation number). */
  incarnation(): number;
}
