/**
 * Length-prefixed frames for the reliable stream exchange (push-pull, TCP fallback ping) of the
 * UDP/TCP runtime: a 4-byte big-endian length, then that many bytes. One request frame goes one
 * way, at most one reply frame comes back; a peer that has no reply closes the stream instead.
 *
 * A request body starts with the opener's advertised SWIM address (one length byte, then ASCII
 * "ip:port"): a TCP connection comes from an ephemeral port, and the state machine and its
 * delegate should see the same `from` as in the simulator, the address the peer is reached at.
 *
 * Pure: no sockets here, so the bounds can be table-tested. Any length over the configured bound
 * is rejected as soon as the 4-byte header is in, before a single body byte is buffered, so a
 * stray client (an HTTP request reads as a ~1 GB length) costs nothing.
 */
import { SwimError } from './errors.ts';

export const FRAME_HEADER_BYTES = 4;

/** The frame for `body`: header and body in one buffer, ready for a single `write`. */
export function encodeFrame(body: Uint8Array, maxBytes: number): Uint8Array {
  if (body.length > maxBytes) {
    throw new SwimError('TOO_LARGE', `stream frame is ${body.length} bytes, max ${maxBytes}`);
  }
  const out = new Uint8Array(FRAME_HEADER_BYTES + body.length);
  new DataView(out.buffer).setUint32(0, body.length, false);
  out.set(body, FRAME_HEADER_BYTES);
  return out;
}

const MAX_ADDRESS_BYTES = 255;

/** The request body: sender address, then the state machine's bytes. */
export function encodeRequest(from: string, body: Uint8Array): Uint8Array {
  const addr = new TextEncoder().encode(from);
  if (addr.length === 0 || addr.length > MAX_ADDRESS_BYTES) {
    throw new SwimError('BAD_ARGUMENT', `sender address must be 1..${MAX_ADDRESS_BYTES} bytes`);
  }
  const out = new Uint8Array(1 + addr.length + body.length);
  out[0] = addr.length;
  out.set(addr, 1);
  out.set(body, 1 + addr.length);
  return out;
}

/** Splits a request body; throws SwimError('MALFORMED') if the address part is cut or not ASCII. */
export function decodeRequest(request: Uint8Array): { from: string; body: Uint8Array } {
  const n = request[0];
  if (n === undefined || n === 0 || request.length < 1 + n) {
    throw new SwimError('MALFORMED', 'stream request without a sender address');
  }
  const addr = request.subarray(1, 1 + n);
  for (const b of addr) if (b < 0x21 || b > 0x7e) throw new SwimError('MALFORMED', 'sender address is not printable ASCII');
  return { from: new TextDecoder().decode(addr), body: request.subarray(1 + n) };
}

/**
 * Collects chunks from a stream until exactly one frame is complete.
 * `push` returns the body once it is whole, `null` while more bytes are needed, and throws a
 * SwimError (`TOO_LARGE` for an oversized length, `MALFORMED` for bytes after the frame).
 */
export class FrameReader {
  readonly #maxBytes: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #expected = -1;
  #done = false;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** True once a whole frame has been returned. */
  get done(): boolean {
    return this.#done;
  }

  push(chunk: Uint8Array): Uint8Array | null {
    if (this.#done) {
      if (chunk.length === 0) return null;
      throw new SwimError('MALFORMED', 'bytes after the end of the stream frame');
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    if (this.#expected < 0) {
      if (this.#buffered < FRAME_HEADER_BYTES) return null;
      const all = this.#flatten();
      const length = new DataView(all.buffer, all.byteOffset, all.length).getUint32(0, false);
      if (length > this.#maxBytes) {
        throw new SwimError('TOO_LARGE', `stream frame announces ${length} bytes, max ${this.#maxBytes}`);
      }
      this.#expected = length;
    }
    const total = FRAME_HEADER_BYTES + this.#expected;
    if (this.#buffered < total) return null;
    if (this.#buffered > total) {
      throw new SwimError('MALFORMED', 'bytes after the end of the stream frame');
    }
    const all = this.#flatten();
    this.#chunks = [];
    this.#done = true;
    return all.subarray(FRAME_HEADER_BYTES, total);
  }

  #flatten(): Uint8Array {
    if (this.#chunks.length === 1) return this.#chunks[0] as Uint8Array;
    const all = new Uint8Array(this.#buffered);
    let at = 0;
    for (const c of this.#chunks) {
      all.set(c, at);
      at += c.length;
    }
    this.#chunks = [all];
    return all;
  }
}
