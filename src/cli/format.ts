/**
 * Terminal output helpers: colour only on a TTY without NO_COLOR, short hashes, sizes, times,
 * and aligned columns. Everything takes the command's context; nothing touches `process`.
 */
import type { Writable } from 'node:stream';
import { toHex } from '../core/hash.ts';

export interface Style {
  enabled: boolean;
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

/** Colour when stdout is a TTY, NO_COLOR is unset or empty, and TERM is not "dumb". */
export function wantsColor(stdout: Writable, env: Record<string, string | undefined>): boolean {
  const noColor = env['NO_COLOR'];
  if (noColor !== undefined && noColor !== '') return false;
  if (env['TERM'] === 'dumb') return false;
  return (stdout as { isTTY?: boolean }).isTTY === true;
}

export function style(enabled: boolean): Style {
  const wrap = (open: number, close: number) => (s: string) => (enabled ? `\u001b[${open}m${s}\u001b[${close}m` : s);
  return {
    enabled,
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    green: wrap(32, 39),
    red: wrap(31, 39),
    yellow: wrap(33, 39),
    cyan: wrap(36, 39),
  };
}

export const SHORT_HASH = 12;

export function shortHash(hash: Uint8Array | string): string {
  return (typeof hash === 'string' ? hash : toHex(hash)).slice(0, SHORT_HASH);
}

/** "2026-11-25 16:50:01Z" (UTC, seconds); "-" for 0. */
export function formatTime(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '-';
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(rows: readonly (readonly string[])[], visibleLength: (s: string) => number = plainLength): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleLength(c))));
  return rows.map((row) =>
    row
      .map((c, i) => (i === row.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - visibleLength(c))))
      .join('  ')
      .trimEnd(),
  );
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

export function plainLength(s: string): number {
  return s.replace(ANSI, '').length;
}

/** Stable JSON for scripts: two-space indent, one trailing newline. */
export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}
