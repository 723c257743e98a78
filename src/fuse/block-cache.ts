/**
 * Reads byte ranges of a file version from its manifest, one block at a time, through a small LRU
 * of verified blocks. Blocks are content-addressed, so a cached block can never be stale: nothing
 * here needs invalidating when entries arrive (only which manifest a path shows changes).
 */
import { err } from '../core/errors.ts';
import type { Manifest } from '../core/content.ts';
import { toHex } from '../core/hash.ts';
import type { BlockSource } from '../core/view.ts';

export class BlockCache {
  private readonly source: BlockSource;
  private readonly capacity: number;
  private readonly lru = new Map<string, Uint8Array>();

  constructor(source: BlockSource, capacity = 64) {
    this.source = source;
    this.capacity = capacity;
  }

  /** Copy up to `length` bytes at `offset` of the version into `out`; returns the count copied. */
  read(m: Manifest, offset: number, length: number, out: Uint8Array): number {
    const end = Math.min(m.size, offset + length);
    if (offset >= end) return 0;
    if (m.inline !== undefined) {
      out.set(m.inline.subarray(offset, end));
      return end - offset;
    }
    let pos = offset;
    while (pos < end) {
      const index = Math.floor(pos / m.blockSize);
      const block = this.block(m, index);
      const start = pos - index * m.blockSize;
      const n = Math.min(block.length - start, end - pos);
      if (n <= 0) throw err('MALFORMED', 'block shorter than its manifest says');
      out.set(block.subarray(start, start + n), pos - offset);
      pos += n;
    }
    return end - offset;
  }

  private block(m: Manifest, index: number): Uint8Array {
    const hash = m.blocks[index];
    if (hash === undefined) throw err('MALFORMED', 'offset beyond the block list');
    const key = toHex(hash);
    const hit = this.lru.get(key);
    if (hit !== undefined) {
      this.lru.delete(key);
      this.lru.set(key, hit);
      return hit;
    }
    const bytes = this.source.get(hash);
    if (bytes === null) throw err('INCOMPLETE', `block ${key.slice(0, 12)} is missing`);
    this.lru.set(key, bytes);
    if (this.lru.size > this.capacity) this.lru.delete(this.lru.keys().next().value as string);
    return bytes;
  }
}
