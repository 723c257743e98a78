/**
 * Real-socket measurement for bench/dissemination.ts: N SwimRuntime nodes in this process, each
 * on its own UDP socket and TCP server on 127.0.0.11..20 (round robin, ephemeral ports), real
 * clock, the default LAN profile. One broadcast at a time; the time until every other node has
 * emitted it as a 'user' event.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { SwimRuntime } from '../src/swim/runtime.ts';
import { startSwimNode, type ProfileName } from '../src/swim/udp.ts';
import { median, quantile, sendTotals } from './stats.ts';

export const BENCH_HOSTS = Array.from({ length: 10 }, (_, i) => `127.0.0.${11 + i}`);

export interface RealSocketResult {
  n: number;
  profile: ProfileName;
  /** Wall ms until every node saw all N alive after the joins started. */
  convergeMs: number;
  broadcasts: number;
  /** Wall ms from broadcast() until the last other node emitted the payload. */
  allMedianMs: number;
  allMaxMs: number;
  /** Same, to half of the other nodes. */
  halfMedianMs: number;
  /** Broadcasts that did not reach everybody within the budget. */
  incomplete: number;
  /** Datagram bytes and packets sent per node per second over a quiet window. */
  steadyBytesPerNodeSec: number;
  steadyPacketsPerNodeSec: number;
  /** Event-loop delay of this process while all nodes ran, ms. */
  loopDelayP99Ms: number;
  sendErrors: number;
}

async function until(cond: () => boolean, budgetMs: number): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > budgetMs) return Infinity;
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - t0;
}

export async function realSockets(n: number, broadcasts: number, profile: ProfileName = 'lan', steadyMs = 10_000): Promise<RealSocketResult> {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const nodes: SwimRuntime[] = [];
  const inbox = new Map<string, Set<string>>();
  try {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const name = `real${i}`;
      const seeds = i === 0 ? [] : [(nodes[0] as SwimRuntime).address];
      const rt = await startSwimNode({ name, host: BENCH_HOSTS[i % BENCH_HOSTS.length] as string, port: 0, seeds, profile });
      const got = new Set<string>();
      inbox.set(name, got);
      rt.on('user', (payload) => got.add(new TextDecoder().decode(payload)));
      nodes.push(rt);
    }
    const convergeMs = await until(
      () => nodes.every((rt) => rt.members().filter((m) => m.status === 'alive').length === n),
      120_000,
    );
    const converge = performance.now() - t0;
    const all: number[] = [];
    const half: number[] = [];
    let incomplete = 0;
    for (let b = 0; b < broadcasts; b++) {
      const origin = nodes[(b * 7) % n] as SwimRuntime;
      const tag = `bench-${b}`;
      const others = nodes.filter((x) => x !== origin).map((x) => inbox.get(x.name) as Set<string>);
      const start = performance.now();
      origin.broadcast(`bench-${b % 4}`, new TextEncoder().encode(tag));
      const halfMs = await until(() => others.filter((s) => s.has(tag)).length >= Math.ceil(others.length / 2), 10_000);
      const allMs = await until(() => others.every((s) => s.has(tag)), 10_000 - (performance.now() - start));
      half.push(halfMs);
      if (Number.isFinite(allMs)) all.push(performance.now() - start);
      else {
        incomplete++;
        all.push(Infinity);
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    const stats = (): [number, number, number] => {
      const t = sendTotals(nodes);
      return [t.bytes, t.packets, t.errors];
    };
    // Let the broadcasts' retransmits drain before measuring the quiet load.
    await new Promise((r) => setTimeout(r, 3000));
    const [b0, p0] = stats();
    const s0 = performance.now();
    await new Promise((r) => setTimeout(r, steadyMs));
    const [b1, p1, errors] = stats();
    const secs = (performance.now() - s0) / 1000;
    return {
      n,
      profile,
      convergeMs: Number.isFinite(convergeMs) ? converge : Infinity,
      broadcasts,
      allMedianMs: median(all),
      allMaxMs: quantile(all, 1),
      halfMedianMs: median(half),
      incomplete,
      steadyBytesPerNodeSec: (b1 - b0) / n / secs,
      steadyPacketsPerNodeSec: (p1 - p0) / n / secs,
      loopDelayP99Ms: loop.percentile(99) / 1e6,
      sendErrors: errors,
    };
  } finally {
    loop.disable();
    await Promise.all(nodes.map((rt) => rt.close()));
  }
}
