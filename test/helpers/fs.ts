/** Helpers for core tests: deterministic keys, a bootstrapped in-memory log, a writer per key, temp dirs. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyPairFromSeed, type KeyPair } from '../../src/core/keys.ts';
import { Log } from '../../src/core/log.ts';
import { bootstrapEntries } from '../../src/core/replica.ts';
import { View, type BlockSource } from '../../src/core/view.ts';
import { Writer } from '../../src/core/writer.ts';
import { blockHash, toHex, type Hash } from '../../src/core/hash.ts';

export function key(n: number): KeyPair {
  const seed = new Uint8Array(32);
  seed[0] = n;
  seed[31] = 0xa5;
  return keyPairFromSeed(seed);
}

export class MemoryBlocks implements BlockSource {
  readonly map = new Map<string, Uint8Array>();
  has(h: Hash): boolean {
    return this.map.has(toHex(h));
  }
  get(h: Hash): Uint8Array | null {
    return this.map.get(toHex(h)) ?? null;
  }
  put(bytes: Uint8Array): Hash {
    const h = blockHash(bytes);
    this.map.set(toHex(h), bytes);
    return h;
  }
}

export interface TestFs {
  log: Log;
  view: View;
  blocks: MemoryBlocks;
  writer(k: KeyPair): Writer;
}

/** A fresh filesystem owned by `root` (default key(1)), in memory. */
export function memoryFs(root: KeyPair = key(1), clock = { t: 1_700_000_000_000 }): TestFs {
  const log = new Log(null);
  for (const e of bootstrapEntries('test', [root], ['127.0.0.1:7946'], clock.t)) {
    const r = log.ingest(e.bytes);
    if (r.status !== 'accepted') throw new Error(`bootstrap entry ${r.status} ${r.code}`);
  }
  const blocks = new MemoryBlocks();
  const view = new View(log, blocks);
  return {
    log,
    view,
    blocks,
    writer: (k) => new Writer({ log, view, key: k, blocks, now: () => ++clock.t }),
  };
}

/** A second replica that receives the same entries (in the given order). */
export function replicaOf(src: Log, order?: (entries: Uint8Array[]) => Uint8Array[]): Log {
  const all = [...src.entriesInOrder()].map((e) => e.bytes);
  const log = new Log(null);
  for (const b of order ? order(all) : all) log.ingest(b);
  return log;
}

/** A new directory under the system temp directory, removed when the test ends. */
export function makeTempDir(t: { teardown(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
