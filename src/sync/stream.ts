/**
 * Drive a SyncSession over any duplex byte stream (a TCP socket, a pair of PassThroughs): frames are
 * length-prefixed (u32 big-endian), a length above MAX_FRAME_BYTES ends the session before anything
 * is buffered, a silent peer is dropped by the session's own deadline (ticked here), and the stream
 * is closed when the session ends, whichever way. This is the only sync code that owns a clock.
 */
import type { Duplex } from 'node:stream';
import { err } from '../core/errors.ts';
import type { SessionError, Step, SyncSession } from './anti-entropy.ts';
import type { SyncStats } from './stats.ts';
import { MAX_FRAME_BYTES } from './wire.ts';

export interface StreamOptions {
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** How often the session's deadlines are checked. */
  tickMs?: number;
}

export interface StreamResult {
  error?: SessionError;
  stats: SyncStats;
}

const PREFIX = 4;

export function lengthPrefixed(frame: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(PREFIX + frame.length);
  out.writeUInt32BE(frame.length, 0);
  out.set(frame, PREFIX);
  return out;
}

/** Run `session` (not yet started) over `stream` until it ends; never rejects. */
export function runOverStream(session: SyncSession, stream: Duplex, opts: StreamOptions = {}): Promise<StreamResult> {
  const now = opts.now ?? Date.now;
  return new Promise((resolve) => {
    let buffered: Buffer = Buffer.alloc(0);
    let finished = false;

    const finish = () => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      stream.off('data', onData);
      stream.off('close', onClose);
      stream.off('end', onClose);
      stream.off('error', onError);
      stream.on('error', () => {}); // a late EPIPE after we are done is nobody's concern
      stream.end();
      const result: StreamResult = { stats: session.stats };
      if (session.failure !== undefined) result.error = session.failure;
      resolve(result);
    };

    const apply = (step: Step) => {
      for (const f of step.send) if (stream.writable) stream.write(lengthPrefixed(f));
      if (step.done) finish();
    };

    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (!finished && buffered.length >= PREFIX) {
        const length = buffered.readUInt32BE(0);
        if (length > MAX_FRAME_BYTES) return apply(session.abort(err('TOO_LARGE', `frame of ${length} bytes announced`)));
        if (buffered.length < PREFIX + length) return;
        const frame = buffered.subarray(PREFIX, PREFIX + length);
        buffered = buffered.subarray(PREFIX + length);
        apply(session.receive(frame, now()));
      }
    };
    const onClose = () => apply(session.abort(err('CLOSED', 'the peer closed the connection')));
    const onError = (e: Error) => apply(session.abort(err('IO', e.message, e)));

    stream.on('data', onData);
    stream.on('end', onClose);
    stream.on('close', onClose);
    stream.on('error', onError);
    const timer = setInterval(() => apply(session.tick(now())), opts.tickMs ?? 1000);
    apply(session.start(now()));
  });
}
