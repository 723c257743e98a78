/**
 * Shared by the simulated node tests (test/sync/sim-*.test.ts): the seed (fixed by default,
 * SYNC_SEED=<n> replays a run, SYNC_SEED=random explores and prints the seed on failure), the
 * filesystem every simulated node starts with, and a cluster of N nodes on it.
 */
import type { Test } from 'tap';
import { keyPairFromSeed, type KeyPair } from '../../src/core/keys.ts';
import { bootstrapEntries } from '../../src/core/replica.ts';
import type { NodeStats } from '../../src/sync/node-core.ts';
import { SyncSim, type SimNode, type SyncSimOptions } from '../../src/sync/sim/index.ts';

/** The filesystem's root key (it may write everywhere). */
export const ROOT_KEY: KeyPair = keyPairFromSeed(Uint8Array.from({ length: 32 }, (_, i) => i + 1));
/** A second key, granted below / by the tests that need one. */
export const OTHER_KEY: KeyPair = keyPairFromSeed(Uint8Array.from({ length: 32 }, (_, i) => 200 - i));

export const EPOCH_MS = 1_700_000_000_000;

/** The seed of a test: SYNC_SEED, a fresh one for SYNC_SEED=random, else `fallback`; printed on failure. */
export function syncSeed(t: Test, fallback: number): number {
  const v = process.env['SYNC_SEED'];
  let seed = fallback >>> 0;
  if (v === 'random') seed = (Math.random() * 0x1_0000_0000) >>> 0;
  else if (v !== undefined && v !== '' && Number.isFinite(Number(v))) seed = Number(v) >>> 0;
  t.comment(`seed ${seed} (replay with SYNC_SEED=${seed})`);
  t.teardown(() => {
    if (!t.passing()) console.error(`# ${t.name}: failed with seed ${seed}; replay with SYNC_SEED=${seed}`);
  });
  return seed;
}

/** The first entries of the simulated filesystem (genesis, root grant, /.cluster). */
export function simEntries(): Uint8Array[] {
  return bootstrapEntries('sim', [ROOT_KEY], ['10.0.0.1:7946'], EPOCH_MS).map((e) => e.bytes);
}

/** N nodes that already know `view` random peers each, SWIM's LAN profile, 2±1 ms links. */
export function simCluster(seed: number, nodes: number, o: Partial<SyncSimOptions> = {}): SyncSim {
  return new SyncSim({ seed, nodes, entries: simEntries(), view: 40, epochMs: EPOCH_MS, ...o });
}

/** `path` on node `n` as text, or null (absent, not a file, incomplete). */
export function readText(n: SimNode, path: string): string | null {
  try {
    return new TextDecoder().decode(n.view.readFile(path));
  } catch {
    return null;
  }
}

/** `path` on node `n` is a file with all its blocks. */
export function isComplete(n: SimNode, path: string): boolean {
  try {
    return n.view.stat(path).complete;
  } catch {
    return false;
  }
}

/** A counter summed over `nodes` (default: the live ones). */
export function sumStats(net: SyncSim, f: (s: NodeStats) => number, nodes: readonly SimNode[] = net.live()): number {
  let k = 0;
  for (const n of nodes) if (n.core !== null) k += f(n.core.stats);
  return k;
}
