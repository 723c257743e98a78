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

/**
 * Datagram bytes, packets and send errors summed over real-socket SWIM nodes; `streamBytes` is
 * what they sent on SWIM's TCP streams (push-pull, fallback probes).
 */
export function sendTotals(nodes: Iterable<SwimRuntime>): { bytes: number; packets: number; errors: number; streamBytes: number } {
  let bytes = 0;
  let packets = 0;
  let errors = 0;
  let streamBytes = 0;
  for (const rt of nodes) {
    const s = (rt.transport as UdpTransport).stats;
    bytes += s.bytesSent;
    packets += s.packetsSent;
    errors += s.sendErrors;
    streamBytes += s.streamBytesSent;
  }
  return { bytes, packets, errors, streamBytes };
}

/** One target's verdict; `met` null when it could not be judged (e.g. nothing to compare with). */
export interface Verdict {
  target: string;
  measured: string;
  met: boolean | null;
}

/**
 * The end every benchmark shares: the targets table and the wall time after `out`, all of it on
 * stdout, then the JSON record as the very last line (numbers to two decimals, non-finite as null).
 */
export function printReport(out: string[], targets: Record<string, Verdict>, wall0: number, record: (wallSeconds: number) => Record<string, unknown>): void {
  out.push('');
  out.push('Targets');
  out.push(
    textTable(
      ['target', 'wanted', 'measured', 'met'],
      Object.entries(targets).map(([k, v]) => [k, v.target, v.measured, v.met === null ? '-' : v.met ? 'yes' : 'NO']),
    ),
  );
  const wallSeconds = (performance.now() - wall0) / 1000;
  out.push('');
  out.push(`total wall time ${fmt(wallSeconds)} s`);
  process.stdout.write(`${out.join('\n')}\n`);
  const clean = (v: unknown): unknown =>
    JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' ? (Number.isFinite(x) ? round2(x) : null) : x)));
  process.stdout.write(`${JSON.stringify(clean(record(wallSeconds)))}\n`);
}
