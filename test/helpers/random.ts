/** Seeded PRNG for tests (sfc32). Print the seed; replay with the env var the test names. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
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
