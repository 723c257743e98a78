/**
 * BlockPull on its own: which source a block pull picks (a random complete holder of our entries,
 * else the origin, else a peer that does not say), the backoff of sources that brought nothing,
 * and the bounded, jittered retries.
 */
import t from 'tap';
import { SeededRandom } from '../../src/swim/sim/random.ts';
import { BlockPull } from '../../src/sync/block-pull.ts';
import type { Candidate } from '../../src/sync/node-types.ts';

const ROOT = new Uint8Array(32).fill(1);
const OLD = new Uint8Array(32).fill(2);
const ours = { root: ROOT, entries: 10 };
const BLOCK = new Uint8Array(32).fill(9);

function cand(name: string, root: Uint8Array, entries: number | null, complete: boolean | null): Candidate {
  return { name, host: '10.0.0.1', meta: { syncPort: 7947, root, fsTag: new Uint8Array(8), entries, complete } };
}

function setup(has = () => false) {
  const rng = new SeededRandom(3);
  return new BlockPull({ random: () => rng.next(), has, pullDelayMs: 100, blockRetryMs: 400, blockBackoffMs: 5_000 });
}

t.test('a random complete holder of our entries; the origin, then peers that do not say, only without one', async (t) => {
  const p = setup();
  const cs = [cand('lacking', ROOT, 10, false), cand('old', OLD, 9, true), cand('origin', OLD, 9, true), cand('unknown', ROOT, 10, null)];
  p.need('origin', 0);
  t.equal(p.deadline, 100, 'after pullDelayMs');
  t.equal(p.choose(cs, ours, [BLOCK], 50), null, 'nothing before the deadline');
  p.fire(100);
  t.equal(p.choose(cs, ours, [BLOCK], 100)?.name, 'origin', 'no holder: the origin');
  t.ok(p.isPull('origin'));
  p.finished('origin', 1, 110);
  t.ok(p.deadline >= 310 && p.deadline <= 710, `brought nothing: a retry after blockRetryMs ±50% (${p.deadline})`);
  p.fire(p.deadline);
  t.equal(p.choose(cs, ours, [BLOCK], 800)?.name, 'unknown', 'the origin is backed off: a peer that does not say');
  p.finished('unknown', 1, 810);

  const holders = ['h0', 'h1', 'h2', 'h3'].map((n, i) => cand(n, i < 2 ? ROOT : OLD, i < 2 ? 10 : 11, true));
  const picks = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    const rng = new SeededRandom(100 + i);
    const r = new BlockPull({ random: () => rng.next(), has: () => false, pullDelayMs: 100, blockRetryMs: 400, blockBackoffMs: 5_000 });
    r.need('origin', 0);
    r.fire(100);
    const c = r.choose([...cs, ...holders], ours, [BLOCK], 100);
    if (c !== null) picks.set(c.name, (picks.get(c.name) ?? 0) + 1);
  }
  t.same([...picks.keys()].sort(), ['h0', 'h1', 'h2', 'h3'], 'only holders (same root, or more entries) once any is known');
  t.ok([...picks.values()].every((k) => k >= 60), `about uniformly (${JSON.stringify([...picks])})`);
});

t.test('bounded retries with doubling delays; a pull that helped starts over; a new source wakes a waiting pull', async (t) => {
  let got = false;
  const p = setup(() => got);
  p.need(null, 0);
  const delays: number[] = [];
  let now = 0;
  for (let i = 0; i < 20 && p.deadline !== Infinity; i++) {
    delays.push(p.deadline - now);
    now = p.deadline;
    p.fire(now);
    t.equal(p.choose([], ours, [BLOCK], now), null, 'no source at all');
  }
  t.equal(delays.length, 8, `gives up after 8 attempts in a row (${delays.map(Math.round).join(', ')} ms)`);
  t.ok((delays[7] as number) >= 400 * 16 * 0.5, 'the delay doubled, capped at 16 × blockRetryMs');
  p.stillMissing(now + 1);
  t.equal(p.deadline, Infinity, 'a session that leaves blocks missing does not restart it');
  p.sourceAppeared(now + 2);
  t.equal(p.deadline, now + 2, 'a holder appearing does, at once');
  p.fire(now + 2);
  t.equal(p.choose([cand('h', ROOT, 10, true)], ours, [BLOCK], now + 2)?.name, 'h');
  p.sourceAppeared(now + 3);
  t.equal(p.deadline, Infinity, 'not while a pull runs');
  got = true;
  p.finished('h', 2, now + 10);
  t.equal(p.deadline, now + 110, 'it helped and blocks remain: again after pullDelayMs');
  p.stillMissing(now + 20, true);
  t.equal(p.deadline, now + 110, 'a planned pull keeps its time');
  p.satisfied();
  t.equal(p.deadline, Infinity, 'nothing missing: nothing planned');
});
