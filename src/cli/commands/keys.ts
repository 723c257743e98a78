import { Command, Option } from 'clipanion';
import { toHex } from '../../core/hash.ts';
import { fingerprint, formatPublicKey } from '../../core/keys.ts';
import { isWithin, pathDepth } from '../../core/paths.ts';
import type { Replica } from '../../core/replica.ts';
import { BasefsCommand } from '../base.ts';
import { json, table } from '../format.ts';

export interface KeyGrant {
  /** "ed25519:<base64url>" */
  key: string;
  fingerprint: string;
  label: string;
  /** The key may write this directory and everything below it. */
  dir: string;
  /** Authority: the depth of `dir` (0 = "/"); smaller wins conflicts. */
  depth: number;
  /** Hash of the GRANT entry; null for the genesis key, which owns "/" by creating the filesystem. */
  grant: string | null;
}

export interface KeysReport {
  name: string;
  id: string;
  /** The path asked about ("/" = all). */
  path: string;
  keys: KeyGrant[];
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Grants in force that matter for `path`: granted at an ancestor of it (may write it) or below it. */
export function keysReport(replica: Replica, path: string): KeysReport {
  const keys = replica.view
    .keys()
    .filter((k) => isWithin(path, k.dir) || isWithin(k.dir, path))
    .map((k) => ({
      key: formatPublicKey(k.key),
      fingerprint: fingerprint(k.key),
      label: k.label,
      dir: k.dir,
      depth: k.depth,
      grant: k.grant === null ? null : toHex(k.grant),
    }))
    .sort((a, b) => cmp(a.dir, b.dir) || Number(a.grant !== null) - Number(b.grant !== null) || cmp(a.label, b.label) || cmp(a.key, b.key));
  return { name: replica.name, id: toHex(replica.log.id), path, keys };
}

export class KeysCommand extends BasefsCommand {
  static override paths = [['keys']];
  static override usage = Command.Usage({
    category: 'Permissions',
    description: 'list the keys that may write, and where',
    details: `
      For each directory with grants, the keys granted there: fingerprint, label and public key. A key may write its directory and everything below it. The key that created the filesystem owns \`/\` and cannot be revoked. With \`NAME:/PATH\`, only the keys that may write PATH (granted at or above it) and the keys granted below it. NAME can be left out when BASEFS_HOME holds a single filesystem.
    `,
    examples: [
      ['All keys of myfs', '$0 keys myfs'],
      ['Who may write /etc/nginx?', '$0 keys myfs:/etc/nginx'],
      ['For scripts', '$0 keys myfs --json'],
    ],
  });

  target_ = Option.String({ required: false, name: 'NAME[:/PATH]' });
  asJson = Option.Boolean('--json', false, { description: 'print JSON' });

  run(): number {
    const t = this.target(this.target_);
    const replica = this.openRead(t.name);
    let report: KeysReport;
    try {
      report = keysReport(replica, t.path);
    } finally {
      replica.close();
    }
    if (this.asJson) {
      this.out(json(report));
      return 0;
    }
    const s = this.style;
    const n = new Set(report.keys.map((k) => k.key)).size;
    this.out(`${s.bold(report.name)}${t.path === '/' ? '' : `:${t.path}`}  ${n} key${n === 1 ? '' : 's'} with write access`);
    const byDir = new Map<string, KeyGrant[]>();
    for (const k of report.keys) byDir.set(k.dir, [...(byDir.get(k.dir) ?? []), k]);
    // Key rows are aligned across the whole listing; each directory's heading goes above its rows.
    const rows: string[][] = [];
    const headings = new Map<number, string>();
    for (const [dir, grants] of byDir) {
      const pad = '  '.repeat(pathDepth(dir));
      headings.set(rows.length, s.bold(`${pad}${dir}`));
      for (const g of grants)
        rows.push([`${pad}  ${g.label}`, g.fingerprint, g.key, g.grant === null ? 'genesis key' : `grant ${g.grant.slice(0, 12)}`]);
    }
    table(rows).forEach((line, i) => {
      const heading = headings.get(i);
      if (heading !== undefined) this.out(heading);
      this.out(line);
    });
    return 0;
  }
}
