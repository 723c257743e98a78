/**
 * Checksummed frames: the record format of the log file (log-file.ts) and of the mount's journal
 * of parked files (src/fuse/parked-journal.ts).
 *
 *     frame = u32 length ‖ u32 CRC-32C(payload) ‖ payload      (big-endian; 8 + length bytes)
 *
 * 1 ≤ length ≤ the caller's maximum. Empty payloads are not allowed so that a run of zero bytes
 * (which some file systems leave at the end of a file after a crash) never parses as frames.
 */
import { crc32c } from './crc32c.ts';

export const FRAME_HEADER_BYTES = 8;

/** Why a scan stopped before the end of the bytes. */
export type Damage = 'torn' | 'bad-length' | 'checksum';

export interface FrameScan {
  /** Payloads in order, as views into the scanned bytes. */
  records: Uint8Array[];
  /** Offset just past the last good frame. */
  goodEnd: number;
  damage?: Damage;
}

/** The frames of `payloads`, back to back in one buffer (the caller checks their lengths). */
export function encodeFrames(payloads: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const p of payloads) total += FRAME_HEADER_BYTES + p.length;
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const p of payloads) {
    out.writeUInt32BE(p.length, at);
    out.writeUInt32BE(crc32c(p), at + 4);
    out.set(p, at + FRAME_HEADER_BYTES);
    at += FRAME_HEADER_BYTES + p.length;
  }
  return out;
}

/** Frames from `start` up to the end of `bytes` or the first bad one (torn, impossible length, bad CRC). */
export function scanFrames(bytes: Buffer, start: number, maxPayload: number): FrameScan {
  const records: Uint8Array[] = [];
  const end = bytes.length;
  let at = start;
  while (at < end) {
    if (end - at < FRAME_HEADER_BYTES) return { records, goodEnd: at, damage: 'torn' };
    const length = bytes.readUInt32BE(at);
    if (length === 0 || length > maxPayload) return { records, goodEnd: at, damage: 'bad-length' };
    if (end - at - FRAME_HEADER_BYTES < length) return { records, goodEnd: at, damage: 'torn' };
    const payload = new Uint8Array(bytes.buffer, bytes.byteOffset + at + FRAME_HEADER_BYTES, length);
    if (crc32c(payload) !== bytes.readUInt32BE(at + 4)) return { records, goodEnd: at, damage: 'checksum' };
    records.push(payload);
    at += FRAME_HEADER_BYTES + length;
  }
  return { records, goodEnd: at };
}
