/**
 * The real network under the SWIM runtime: one `dgram` socket for best-effort packets and one
 * `net` server for reliable streams, both on the same bind address and port (memberlist's
 * NetTransport shape: TCP is bound first, so port 0 picks one ephemeral port for both).
 *
 * A stream is one exchange: the opener writes one length-prefixed request frame (frame.ts), the
 * acceptor answers with one frame or closes without one. Every exchange has a deadline, frames
 * are bounded before they are buffered, and at most `maxInboundStreams` are served at once.
 *
 * Error classification (memberlist, multicast-dns): failing to bind is fatal and rejects `bind`.
 * Everything after that (a send that fails, a peer that resets, garbage on a socket, an accept
 * error) is transient: it is counted, reported through `warning`, and never thrown or left as an
 * unhandled 'error' event, so the network can never crash the process.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { SwimError } from './errors.ts';
import { decodeRequest, encodeFrame, encodeRequest, FrameReader } from './frame.ts';
import { formatAddress, parseAddress } from './net-address.ts';
import {
  DEFAULT_INBOUND_STREAM_TIMEOUT_MS,
  DEFAULT_MAX_INBOUND_STREAMS,
  DEFAULT_MAX_STREAM_BYTES,
  MAX_DATAGRAM_BYTES,
  type SwimTransport,
  type TransportHandlers,
  type TransportStats,
  type TransportWarning,
  type TransportWarningKind,
  type UdpTransportOptions,
} from './transport.ts';
import type { Address } from './types.ts';

export type { SwimTransport, TransportHandlers, TransportStats, TransportWarning, UdpTransportOptions } from './transport.ts';

const UDP_RECV_BUFFER_BYTES = 2 * 1024 * 1024;
const EPHEMERAL_BIND_ATTEMPTS = 8;

const noHandlers: TransportHandlers = {
  packet() {},
  stream(_from, _data, respond) {
    respond(null);
  },
  warning() {},
};

export class UdpTransport implements SwimTransport {
  readonly host: string;
  readonly port: number;
  readonly address: Address;
  readonly stats: TransportStats = {
    packetsSent: 0,
    bytesSent: 0,
    packetsReceived: 0,
    bytesReceived: 0,
    sendErrors: 0,
    streamsOpened: 0,
    streamsFailed: 0,
    streamsAccepted: 0,
    streamsRejected: 0,
    streamBytesSent: 0,
    streamBytesReceived: 0,
  };
  readonly #udp: dgram.Socket;
  readonly #tcp: net.Server;
  readonly #maxStreamBytes: number;
  readonly #maxInbound: number;
  readonly #inboundTimeoutMs: number;
  readonly #sockets = new Set<net.Socket>();
  #inbound = 0;
  #handlers: TransportHandlers = noHandlers;
  #closed = false;
  #closing: Promise<void> | null = null;

  private constructor(opts: UdpTransportOptions, udp: dgram.Socket, tcp: net.Server, port: number) {
    this.host = opts.host;
    this.port = port;
    this.address = formatAddress(opts.advertiseHost ?? opts.host, port);
    this.#udp = udp;
    this.#tcp = tcp;
    this.#maxStreamBytes = opts.maxStreamBytes ?? DEFAULT_MAX_STREAM_BYTES;
    this.#maxInbound = opts.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS;
    this.#inboundTimeoutMs = opts.inboundStreamTimeoutMs ?? DEFAULT_INBOUND_STREAM_TIMEOUT_MS;
    udp.on('message', (msg, rinfo) => this.#onDatagram(msg, rinfo));
    udp.on('error', (e) => this.#warn('socket', e));
    tcp.on('connection', (sock) => this.#onConnection(sock));
    tcp.on('error', (e) => this.#warn('socket', e));
  }

  /**
   * Binds TCP then UDP on `host:port`. Rejects with the Node error (EADDRINUSE, EACCES,
   * EADDRNOTAVAIL, ...) when either cannot be bound, and with SwimError('BAD_ARGUMENT') for a
   * host that is not an IP address; with port 0, a UDP clash on the port TCP picked is retried on
   * a fresh port a few times.
   */
  static async bind(opts: UdpTransportOptions): Promise<UdpTransport> {
    const family = net.isIP(opts.host);
    if (family === 0) throw new SwimError('BAD_ARGUMENT', `bind host must be an IP address, got ${JSON.stringify(opts.host)}`);
    if (opts.advertiseHost !== undefined && net.isIP(opts.advertiseHost) === 0) {
      throw new SwimError('BAD_ARGUMENT', `advertise host must be an IP address, got ${JSON.stringify(opts.advertiseHost)}`);
    }
    if (opts.advertiseHost === undefined && (opts.host === '0.0.0.0' || opts.host === '::')) {
      throw new SwimError('BAD_ARGUMENT', `bound to ${opts.host}: give an advertise address peers can reach`);
    }
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
      throw new SwimError('BAD_ARGUMENT', `bind port must be 0..65535, got ${opts.port}`);
    }
    let lastError: unknown;
    const attempts = opts.port === 0 ? EPHEMERAL_BIND_ATTEMPTS : 1;
    for (let i = 0; i < attempts; i++) {
      const tcp = net.createServer({ allowHalfOpen: true, pauseOnConnect: false });
      await listen(tcp, opts.host, opts.port);
      const port = (tcp.address() as net.AddressInfo).port;
      const udp = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
      try {
        await bindUdp(udp, opts.host, port);
      } catch (e) {
        lastError = e;
        udp.close();
        await new Promise<void>((resolve) => tcp.close(() => resolve()));
        if (opts.port === 0 && (e as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
        break;
      }
      setRecvBuffer(udp);
      return new UdpTransport(opts, udp, tcp, port);
    }
    throw lastError;
  }

  attach(handlers: TransportHandlers): void {
    this.#handlers = handlers;
  }

  sendPacket(to: Address, data: Uint8Array): void {
    if (this.#closed) return;
    if (data.length === 0 || data.length > MAX_DATAGRAM_BYTES) {
      this.stats.sendErrors++;
      this.#warnCode('send', 'TOO_LARGE', `datagram of ${data.length} bytes not sent`, to);
      return;
    }
    let hp;
    try {
      hp = parseAddress(to);
    } catch (e) {
      this.stats.sendErrors++;
      this.#warn('send', e, to);
      return;
    }
    try {
      this.#udp.send(data, hp.port, hp.host, (e) => {
        if (e) {
          this.stats.sendErrors++;
          if (!this.#closed) this.#warn('send', e, to);
        }
      });
      this.stats.packetsSent++;
      this.stats.bytesSent += data.length;
    } catch (e) {
      // Synchronous throws: socket already closed, invalid argument.
      this.stats.sendErrors++;
      this.#warn('send', e, to);
    }
  }

  openStream(to: Address, data: Uint8Array, timeoutMs: number, done: (reply: Uint8Array | null) => void): void {
    let finished = false;
    let sock: net.Socket | null = null;
    let timer: NodeJS.Timeout | null = null;
    const finish = (reply: Uint8Array | null, problem?: { code: string; message: string } | unknown): void => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      if (sock) {
        sock.destroy();
        this.#sockets.delete(sock);
      }
      if (reply === null) {
        this.stats.streamsFailed++;
        if (problem !== undefined && !this.#closed) this.#warn('stream-out', problem, to);
      } else {
        this.stats.streamBytesReceived += reply.length;
      }
      // Always asynchronous, so a caller never sees `done` before openStream returns.
      queueMicrotask(() => done(reply));
    };
    if (this.#closed) {
      finish(null);
      return;
    }
    let frame: Uint8Array;
    let hp;
    try {
      frame = encodeFrame(encodeRequest(this.address, data), this.#maxStreamBytes);
      hp = parseAddress(to);
    } catch (e) {
      finish(null, e);
      return;
    }
    this.stats.streamsOpened++;
    const reader = new FrameReader(this.#maxStreamBytes);
    timer = setTimeout(() => finish(null, { code: 'TIMEOUT', message: `no reply within ${timeoutMs} ms` }), Math.max(1, timeoutMs));
    const s = net.connect({ host: hp.host, port: hp.port, allowHalfOpen: true });
    sock = s;
    this.#sockets.add(s);
    s.setNoDelay(true);
    s.on('connect', () => {
      this.stats.streamBytesSent += frame.length;
      s.write(frame);
    });
    s.on('data', (chunk: Buffer) => {
      try {
        const body = reader.push(chunk);
        if (body) finish(body);
      } catch (e) {
        finish(null, e);
      }
    });
    s.on('end', () => finish(null)); // closed without a (whole) reply: the peer had none
    s.on('error', (e) => finish(null, e));
    s.on('close', () => finish(null));
  }

  #onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#closed) return;
    const from = formatAddress(rinfo.address, rinfo.port);
    if (msg.length === 0) {
      this.#warnCode('receive', 'MALFORMED', 'empty datagram dropped', from);
      return;
    }
    this.stats.packetsReceived++;
    this.stats.bytesReceived += msg.length;
    this.#handlers.packet(from, msg);
  }

  #onConnection(sock: net.Socket): void {
    const from = formatAddress(sock.remoteAddress ?? '0.0.0.0', sock.remotePort ?? 0);
    if (this.#closed || this.#inbound >= this.#maxInbound) {
      this.stats.streamsRejected++;
      sock.on('error', () => {});
      sock.destroy();
      if (!this.#closed) this.#warnCode('stream-in', 'BUSY', `${this.#maxInbound} streams in progress, refused one`, from);
      return;
    }
    this.#inbound++;
    this.#sockets.add(sock);
    this.stats.streamsAccepted++;
    sock.setNoDelay(true);
    const reader = new FrameReader(this.#maxStreamBytes);
    let state: 'reading' | 'handling' | 'done' = 'reading';
    const end = (problem?: unknown): void => {
      if (state === 'done') return;
      state = 'done';
      clearTimeout(timer);
      this.#inbound--;
      this.#sockets.delete(sock);
      if (problem !== undefined && !this.#closed) this.#warn('stream-in', problem, from);
    };
    const timer = setTimeout(() => {
      end({ code: 'TIMEOUT', message: `stream not finished within ${this.#inboundTimeoutMs} ms` });
      sock.destroy();
    }, this.#inboundTimeoutMs);
    sock.on('data', (chunk: Buffer) => {
      if (state !== 'reading') return;
      let body: Uint8Array | null;
      try {
        body = reader.push(chunk);
      } catch (e) {
        end(e);
        sock.destroy();
        return;
      }
      if (!body) return;
      state = 'handling';
      this.stats.streamBytesReceived += body.length + 4;
      let request: { from: Address; body: Uint8Array };
      try {
        request = decodeRequest(body);
        parseAddress(request.from);
      } catch (e) {
        end(e);
        sock.destroy();
        return;
      }
      let responded = false;
      this.#handlers.stream(request.from, request.body, (reply) => {
        if (responded) return;
        responded = true;
        if (state !== 'handling' || this.#closed) return;
        if (reply === null) {
          sock.end();
          end();
          return;
        }
        let frame: Uint8Array;
        try {
          frame = encodeFrame(reply, this.#maxStreamBytes);
        } catch (e) {
          sock.destroy();
          end(e);
          return;
        }
        this.stats.streamBytesSent += frame.length;
        sock.end(frame);
        end();
      });
    });
    sock.on('end', () => {
      // The opener half-closed before a whole request arrived: nothing to answer.
      if (state === 'reading') {
        end({ code: 'MALFORMED', message: 'stream ended before a whole request frame' });
        sock.destroy();
      }
    });
    sock.on('error', (e) => {
      end(e);
      sock.destroy();
    });
    sock.on('close', () => {
      end();
      this.#sockets.delete(sock);
    });
  }

  #warn(kind: TransportWarningKind, e: unknown, peer?: Address): void {
    const code = errorCode(e);
    this.#warnCode(kind, code, describe(e), peer);
  }

  #warnCode(kind: TransportWarningKind, code: string, message: string, peer?: Address): void {
    const w: TransportWarning = peer === undefined ? { kind, code, message } : { kind, code, message, peer };
    try {
      this.#handlers.warning(w);
    } catch {
      // A throwing warning listener must not turn a transient network error into a crash.
    }
  }

  /** Closes both sockets and destroys every open stream; idempotent. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    const udpClosed = new Promise<void>((resolve) => {
      try {
        this.#udp.close(() => resolve());
      } catch {
        resolve();
      }
    });
    const tcpClosed = new Promise<void>((resolve) => this.#tcp.close(() => resolve()));
    this.#closing = Promise.all([udpClosed, tcpClosed]).then(() => undefined);
    return this.#closing;
  }
}

function listen(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function bindUdp(sock: dgram.Socket, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    sock.once('error', onError);
    sock.bind({ address: host, port, exclusive: true }, () => {
      sock.off('error', onError);
      resolve();
    });
  });
}

/** memberlist's setUDPRecvBuf: ask for 2 MiB, halve until the kernel agrees. */
function setRecvBuffer(sock: dgram.Socket): void {
  for (let size = UDP_RECV_BUFFER_BYTES; size >= 64 * 1024; size /= 2) {
    try {
      sock.setRecvBufferSize(size);
      return;
    } catch {
      // try smaller
    }
  }
}

function errorCode(e: unknown): string {
  if (e && typeof e === 'object' && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    return (e as { code: string }).code;
  }
  return 'ERROR';
}

function describe(e: unknown): string {
  if (e && typeof e === 'object' && 'message' in e) return String((e as { message: unknown }).message);
  return String(e);
}
