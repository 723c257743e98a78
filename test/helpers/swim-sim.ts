/**
 * Helpers for the SWIM scenario tests: seeds that print and replay (SWIM_SEED), clusters built by
 * real joins in the simulator, and views of who sees whom.
 */
import { makeConfig } from '../../src/swim/config.ts';
import type { SwimConfig } from '../../src/swim/config.ts';
import { Simulator } from '../../src/swim/sim/simulator.ts';
import type { SimOptions } from '../../src/swim/sim/simulator.ts';
import type { MemberStatus } from '../../src/swim/types.ts';
import { SwimError } from '../../src/swim/errors.ts';

interface Commenter {
  comment(...args: unknown[]): void;
}

/** The seed for a simulated test: SWIM_SEED if set, else `fallback`; printed so a failure can be replayed. */
export function testSeed(t: Commenter, fallback: number): number {
  const v = process.env['SWIM_SEED'];
  const seed = v !== undefined && v !== '' && Number.isFinite(Number(v)) ? Number(v) >>> 0 : fallback >>> 0;
  t.comment(`seed ${seed} (replay with SWIM_SEED=${seed})`);
  return seed;
}

export function localSim(seed: number, overrides: Partial<SwimConfig> = {}, net: Partial<SimOptions> = {}): Simulator {
  return new Simulator({ seed, config: makeConfig('local', overrides), latencyMs: 2, jitterMs: 1, ...net });
}

/** Add `n` nodes named prefix0.. and join each through the first, one every `gapMs`. */
export function joinCluster(sim: Simulator, n: number, prefix = 'n', gapMs = 20): string[] {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${prefix}${i}`;
    sim.addNode(name);
    names.push(name);
  }
  sim.join(names[0] as string, []);
  for (let i = 1; i < n; i++) {
    sim.join(names[i] as string, [names[0] as string]);
    sim.runFor(gapMs);
  }
  return names;
}

/** Status of `target` as `observer` sees it, or 'unknown'. */
export function statusAt(sim: Simulator, observer: string, target: string): MemberStatus | 'unknown' {
  return sim.node(observer).member(target)?.status ?? 'unknown';
}

/** Every observer sees every target with `status`. */
export function allSee(sim: Simulator, observers: string[], targets: string[], status: MemberStatus): boolean {
  return observers.every((o) => targets.every((t) => statusAt(sim, o, t) === status));
}

/** Record every event as `${node} ${type} ${member}` with its time. */
export function recordEvents(sim: Simulator): Array<{ at: number; node: string; type: string; member: string }> {
  const log: Array<{ at: number; node: string; type: string; member: string }> = [];
  sim.onEvent = (node, ev, now) => {
    log.push({ at: now, node, type: ev.type, member: ev.type === 'user' ? ev.from : ev.member.name });
  };
  return log;
}

/** Assert that `fn` throws a SwimError with `code` (tests check codes, never messages). */
export function throwsCode(t: { ok(v: unknown, msg: string): unknown; fail(msg: string): unknown }, fn: () => unknown, code: string, msg?: string): void {
  try {
    fn();
  } catch (e) {
    t.ok(e instanceof SwimError && e.code === code, msg ?? `throws SwimError ${code} (got ${String(e)})`);
    return;
  }
  t.fail(msg ?? `expected SwimError ${code}, nothing thrown`);
}

/**
 * Every observer has reported `target` dead (an event, so it counts even after the entry was
 * dropped again at gossip-to-the-dead: "dead at every node" need not hold at one instant).
 */
export function deadEverywhere(log: ReadonlyArray<{ node: string; type: string; member: string }>, observers: string[], target: string): boolean {
  return observers.every((o) => log.some((e) => e.node === o && e.type === 'dead' && e.member === target));
}
