/**
 * Senders cut long lists over several frames so that every frame stays within the receiver's
 * bounds (wire.ts): counts per frame, and bytes per frame for entries and blocks.
 */
import type { Hash } from '../core/hash.ts';
import type { Listed } from './summary.ts';
import { MAX_BLOCKS, MAX_CHILDREN, MAX_ENTRIES, MAX_FRAME_BYTES, MAX_HASHES, MAX_PATHS, type Message } from './wire.ts';

/** Room left in a frame for per-item msgpack headers and the type byte. */
const BYTE_BUDGET = MAX_FRAME_BYTES - 64 * 1024;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Entry bytes, in the given (verifiable) order, packed by count and by bytes. */
export function entryMessages(entries: readonly Uint8Array[]): Message[] {
  const out: Message[] = [];
  let batch: Uint8Array[] = [];
  let size = 0;
  for (const e of entries) {
    if (batch.length > 0 && (batch.length === MAX_ENTRIES || size + e.length > BYTE_BUDGET)) {
      out.push({ type: 'entries', entries: batch });
      batch = [];
      size = 0;
    }
    batch.push(e);
    size += e.length + 5;
  }
  if (batch.length > 0) out.push({ type: 'entries', entries: batch });
  return out;
}

export function blockMessages(blocks: ReadonlyArray<{ hash: Hash; bytes: Uint8Array }>): Message[] {
  const out: Message[] = [];
  let batch: Array<{ hash: Hash; bytes: Uint8Array }> = [];
  let size = 0;
  for (const b of blocks) {
    if (batch.length > 0 && (batch.length === MAX_BLOCKS || size + b.bytes.length > BYTE_BUDGET)) {
      out.push({ type: 'blocks', blocks: batch });
      batch = [];
      size = 0;
    }
    batch.push(b);
    size += b.bytes.length + 40;
  }
  if (batch.length > 0) out.push({ type: 'blocks', blocks: batch });
  return out;
}

export function wantMessages(type: 'want-entries' | 'want-blocks', hashes: readonly Hash[]): Message[] {
  return chunks(hashes, MAX_HASHES).map((h) => ({ type, hashes: h }));
}

export function subtreeMessages(paths: readonly string[]): Message[] {
  return chunks(paths, MAX_PATHS).map((p) => ({ type: 'want-subtrees' as const, paths: p }));
}

/** One summary as one or more parts; the receiver reassembles them before comparing. */
export function summaryMessages(s: Listed): Message[] {
  const entryParts = chunks(s.entries, MAX_HASHES);
  const childParts = chunks(s.children, MAX_CHILDREN);
  const parts = Math.max(1, entryParts.length, childParts.length);
  const out: Message[] = [];
  for (let i = 0; i < parts; i++) {
    out.push({
      type: 'summary',
      path: s.path,
      prefix: s.prefix,
      hash: s.hash,
      entries: entryParts[i] ?? [],
      children: childParts[i] ?? [],
      last: i === parts - 1,
    });
  }
  return out;
}
