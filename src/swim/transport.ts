/**
 * What the SWIM runtime (runtime.ts) needs from a network, after memberlist's transport.go:
 * best-effort packets to an "ip:port", reliable one-shot request/reply streams with a deadline,
 * and a way to hear about both plus transient problems. UdpTransport (udp-transport.ts) is the
 * real one; the simulator (sim/) drives state machines directly and needs none.
 */
import type { Address } from './types.ts';

/** memberlist's maxPushStateBytes: the largest request or reply a stream may carry. */
export const DEFAULT_MAX_STREAM_BYTES = 20 * 1024 * 1024;
/** memberlist serves at most 128 push-pulls at once (a Consul test held 7 GB with 3,000). */
export const DEFAULT_MAX_INBOUND_STREAMS = 128;
/** memberlist's LAN TCPTimeout. */
export const DEFAULT_INBOUND_STREAM_TIMEOUT_MS = 10_000;
/** Largest datagram we hand to the kernel; the protocol keeps its own to 1,400 bytes. */
export const MAX_DATAGRAM_BYTES = 65_507;

export type TransportWarningKind =
  | 'send' // a datagram could not be sent
  | 'socket' // the UDP socket or TCP server reported an error after binding
  | 'stream-out' // a stream we opened failed (refused, reset, timed out, bad reply)
  | 'stream-in' // a stream we accepted failed or was refused (limit, bad frame, timeout)
  | 'receive'; // an input was dropped (empty datagram, or the state machine rejected it)

export interface TransportWarning {
  kind: TransportWarningKind;
  /** A Node error code (ECONNREFUSED, ...) or a SwimError code (TOO_LARGE, TIMEOUT, ...). */
  code: string;
  message: string;
  peer?: Address;
}

export interface TransportHandlers {
  packet(from: Address, data: Uint8Array): void;
  /**
   * An inbound stream request. `from` is the address the opener advertises (sent at the start of
   * the request, frame.ts), not the TCP connection's ephemeral source port. Like every address
   * in an unencrypted SWIM message it is the peer's claim, not verified.
   * Call `respond` exactly once: with bytes to reply, or null to close without a reply.
   */
  stream(from: Address, data: Uint8Array, respond: (reply: Uint8Array | null) => void): void;
  warning(w: TransportWarning): void;
}

export interface UdpTransportOptions {
  /** IP address to bind both sockets to, e.g. "127.0.0.11" or "0.0.0.0". */
  host: string;
  /**
   * The IP peers should send to (memberlist's AdvertiseAddr); default `host`. Required when
   * `host` is unspecified (0.0.0.0 or ::), which no peer can reach.
   */
  advertiseHost?: string;
  /** Port for both UDP and TCP; 0 picks a free one (read it back from `port`). */
  port: number;
  maxStreamBytes?: number;
  maxInboundStreams?: number;
  /** Deadline for an accepted stream, from accept to reply sent. */
  inboundStreamTimeoutMs?: number;
}

export interface TransportStats {
  packetsSent: number;
  bytesSent: number;
  packetsReceived: number;
  bytesReceived: number;
  sendErrors: number;
  streamsOpened: number;
  streamsFailed: number;
  streamsAccepted: number;
  streamsRejected: number;
  streamBytesSent: number;
  streamBytesReceived: number;
}

/** What the runtime needs from a network; UdpTransport is the real one. */
export interface SwimTransport {
  readonly address: Address;
  attach(handlers: TransportHandlers): void;
  sendPacket(to: Address, data: Uint8Array): void;
  /** `done` is called exactly once: with the reply, or null on any failure or after `timeoutMs`. */
  openStream(to: Address, data: Uint8Array, timeoutMs: number, done: (reply: Uint8Array | null) => void): void;
  close(): Promise<void>;
}
