/**
 * A block store in memory for simulated nodes: BlockStore's contract (has, get, put, and the
 * verified putExpected that sync uses) without files, so a thousand nodes fit in one process.
 */
import { err } from '../../core/errors.ts';
import { blockHash, bytesEqual, toHex, type Hash } from '../../core/hash.ts';
import type { SyncBlocks } from '../block-wants.ts';

export class MemoryBlockStore implements SyncBlocks {
  readonly #map = new Map<string, Uint8Array>();

  get size(): number {
    return this.#map.size;
  }

  has(hash: Hash): boolean {
    return this.#map.has(toHex(hash));
  }

  get(hash: Hash): Uint8Array | null {
    return this.#map.get(toHex(hash)) ?? null;
  }

  put(bytes: Uint8Array): Hash {
    const h = blockHash(bytes);
    this.#map.set(toHex(h), bytes);
    return h;
  }

  /** Store bytes received as `hash`; BAD_HASH (storing nothing) if they are not. */
  putExpected(hash: Hash, bytes: Uint8Array): void {
    if (!bytesEqual(blockHash(bytes), hash)) throw err('BAD_HASH', 'block does not hash to its name');
    this.#map.set(toHex(hash), bytes);
  }
}
