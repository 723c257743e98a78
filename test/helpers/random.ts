/** Seeded randomness for tests: the simulator's PRNG plus pick/shuffle. */
import { SeededRandom } from '../../src/swim/sim/random.ts';

export class Rng extends SeededRandom {
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [xs[i], xs[j]] = [xs[j] as T, xs[i] as T];
    }
    return xs;
  }
}

/**
 * The seed for a test: from `env` if set (to replay a failure, or `random` to explore new seeds),
 * else the fixed default, so CI runs are reproducible and never flaky.
 */
export function seedFrom(env: string, fallback: number): number {
  const v = process.env[env];
  if (v === 'random') return (Date.now() ^ (process.pid << 16)) >>> 0;
  return v !== undefined ? Number(v) >>> 0 : fallback >>> 0;
}
