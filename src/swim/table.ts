/**
 * The membership table for people and for scripts (`basefs members`, `basefs members --json`).
 *
 * Text: one aligned row per member (name, address, status, incarnation, age of the last status
 * change), sorted by name. Status is coloured only when asked, and the caller asks with
 * `useColor(stream)`, which follows the usual conventions: never when the stream is not a TTY
 * or TERM is "dumb", never with NO_COLOR set, always with FORCE_COLOR set (other than "0").
 * Names and addresses come from the network, so control characters are shown escaped: a peer
 * cannot move the cursor or recolour the operator's terminal.
 */
import type { MemberInfo, MemberStatus } from './types.ts';

export interface TableOptions {
  /** The runtime's clock (SwimRuntime.now()); `changedAt` is on it. */
  now: number;
  color?: boolean;
}

export interface MemberJson {
  name: string;
  address: string;
  status: MemberStatus;
  incarnation: number;
  /** Metadata as lowercase hex. */
  meta: string;
  /** Milliseconds since the last status change seen locally. */
  lastChangeMs: number;
  /** Wall-clock time of that change, when `wallNow` was given. */
  lastChange?: string;
}

const HEADERS = ['NAME', 'ADDRESS', 'STATUS', 'INCARNATION', 'LAST CHANGE'] as const;

const COLORS: Record<MemberStatus, [string, string]> = {
  alive: ['\x1b[32m', '\x1b[39m'],
  suspect: ['\x1b[33m', '\x1b[39m'],
  dead: ['\x1b[31m', '\x1b[39m'],
  left: ['\x1b[2m', '\x1b[22m'],
};

/** Whether to colour output for `stream`, from its TTY state and the environment. */
export function useColor(stream: { isTTY?: boolean }, env: Record<string, string | undefined> = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  return stream.isTTY === true && env.TERM !== 'dumb';
}

/** "12s", "3m05s", "2h14m", "3d04h"; a change in the future (clock skew) shows as "0s". */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${pad2(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${pad2(m % 60)}m`;
  return `${Math.floor(h / 24)}d${pad2(h % 24)}h`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Escapes C0/C1 control characters and DEL so untrusted text is inert in a terminal. */
export function sanitize(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function sorted(members: readonly MemberInfo[]): MemberInfo[] {
  return [...members].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The aligned text table, ending with a newline; just the header line for no members. */
export function formatMembersTable(members: readonly MemberInfo[], opts: TableOptions): string {
  const rows = sorted(members).map((m) => ({
    cells: [sanitize(m.name), sanitize(m.address), m.status, String(m.incarnation), formatAge(opts.now - m.changedAt)],
    status: m.status,
  }));
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((r) => [...(r.cells[i] ?? '')].length)));
  const line = (cells: readonly string[], status?: MemberStatus): string =>
    cells
      .map((c, i) => {
        const width = widths[i] ?? 0;
        const last = i === cells.length - 1;
        // Numbers right-aligned; the last column is not padded (no trailing blanks).
        const padded = i === 3 ? c.padStart(width) : last ? c : c + ' '.repeat(width - [...c].length);
        if (i === 2 && status && opts.color) {
          const [on, off] = COLORS[status];
          return on + c + off + padded.slice(c.length);
        }
        return padded;
      })
      .join('  ');
  return [line(HEADERS), ...rows.map((r) => line(r.cells, r.status))].join('\n') + '\n';
}

/** Plain objects for `--json`, sorted by name. */
export function membersToJson(members: readonly MemberInfo[], opts: { now: number; wallNow?: number }): MemberJson[] {
  return sorted(members).map((m) => {
    const lastChangeMs = Math.max(0, Math.round(opts.now - m.changedAt));
    const out: MemberJson = {
      name: m.name,
      address: m.address,
      status: m.status,
      incarnation: m.incarnation,
      meta: Buffer.from(m.meta.buffer, m.meta.byteOffset, m.meta.byteLength).toString('hex'),
      lastChangeMs,
    };
    if (opts.wallNow !== undefined) out.lastChange = new Date(opts.wallNow - lastChangeMs).toISOString();
    return out;
  });
}

/** `membersToJson` as one JSON document (a pretty array) ending with a newline. */
export function formatMembersJson(members: readonly MemberInfo[], opts: { now: number; wallNow?: number }): string {
  return `${JSON.stringify(membersToJson(members, opts), null, 2)}\n`;
}
