/**
 * Checksummed frames: the record format of the log file (log-file.ts) and of the mount's journal
 * of parked files (src/fuse/parked-journal.ts).
 *
 *     frame = u32 length ‖ u32 CRC-32C(payload) ‖ payload      (big-endian; 8 + length bytes)
 *
 * 1 ≤ length ≤ the caller's maximum. Empty payloads are not allowed so that a run of zero bytes
 * (which some file systems leave at the end of a file after a crash) never parses as frames.
 *
 * Both files start with a header naming what they are:
 *
 *     header = magic (ASCII, up to 12 bytes) ‖ zero bytes to offset 12 ‖ u32 version      16 bytes
 */
import { crc32c } from './crc32c.ts';

export const FRAME_HEADER_BYTES = 8;
export const FILE_HEADER_BYTES = 16;

/** The header of a file of frames: `magic` (at most 12 ASCII bytes) and `version`. */
export function fileHeader(magic: string, version: number): Buffer {
  const h = Buffer.alloc(FILE_HEADER_BYTES);
  h.write(magic, 0, 12, 'latin1');
  h.writeUInt32BE(version, 12);
  return h;
}

/** Whether `bytes` start with exactly `header` (fileHeader). */
export function hasFileHeader(bytes: Buffer, header: Buffer): boolean {
  return bytes.length >= header.length && bytes.subarray(0, header.length).equals(header);
}

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
