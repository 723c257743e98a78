/** Small helpers shared by the benchmarks: order statistics, a seeded PRNG, a text table. */
import type { SwimRuntime } from '../src/swim/runtime.ts';
import type { UdpTransport } from '../src/swim/udp-transport.ts';

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i] as number;
}

export const median = (v: readonly number[]): number => quantile(v, 0.5);

/** mulberry32: deterministic, seeded; for the benchmark drivers only. */
export function seededRandom(seed: number): { next(): number } {
  let a = seed >>> 0;
  return {
    next(): number {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

/** Left-aligned first column, right-aligned numbers, two spaces between columns. */
export function textTable(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [headers.map(String), ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '))
    .join('\n');
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? '-' : 'never';
  if (Number.isInteger(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);
}

export const round2 = (n: number): number | null => (Number.isFinite(n) ? Math.round(n * 100) / 100 : null);

/** Datagram bytes, packets and send errors summed over real-socket SWIM nodes. */
export function sendTotals(nodes: Iterable<SwimRuntime>): { bytes: number; packets: number; errors: number } {
  let bytes = 0;
  let packets = 0;
  let errors = 0;
  for (const rt of nodes) {
    const s = (rt.transport as UdpTransport).stats;
    bytes += s.bytesSent;
    packets += s.packetsSent;
    errors += s.sendErrors;
  }
  return { bytes, packets, errors };
}
