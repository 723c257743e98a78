import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'clipanion';
import { fsConfig, fsDir, listFilesystems, readConfig } from '../../core/home.ts';
import { toHex } from '../../core/hash.ts';
import { Replica } from '../../core/replica.ts';
import { BasefsCommand } from '../base.ts';
import { describeError } from '../errors.ts';
import { formatBytes, formatTime, json, shortHash, table } from '../format.ts';

export interface FsSummary {
  name: string;
  /** Hex SHA-256 of the genesis entry: the filesystem's identity. */
  id: string;
  entries: number;
  rootHash: string;
  port: number;
  seeds: string[];
  /** Bytes on disk: log file plus blocks. */
  sizeBytes: number;
  /** When this node last appended to the log (the log file's mtime), ISO 8601. */
  lastUpdate: string;
  dir: string;
  /** Present when the filesystem could not be read (the other fields are then placeholders). */
  error?: string;
}

/** Total size of the regular files under `dir`. */
function diskUsage(dir: string): number {
  let total = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop() as string;
    let items;
    try {
      items = readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const it of items) {
      const p = join(d, it.name);
      if (it.isDirectory()) stack.push(p);
      else if (it.isFile()) total += statSync(p, { throwIfNoEntry: false })?.size ?? 0;
    }
  }
  return total;
}

export function summarize(home: string, name: string): FsSummary {
  const dir = fsDir(home, name);
  const replica = Replica.open(dir, { writable: false });
  try {
    const cfg = fsConfig(readConfig(home), name);
    const mtime = statSync(join(dir, 'log')).mtimeMs;
    return {
      name,
      id: toHex(replica.log.id),
      entries: replica.log.size,
      rootHash: toHex(replica.log.rootHash()),
      port: cfg.port,
      seeds: cfg.seeds,
      sizeBytes: diskUsage(dir),
      lastUpdate: new Date(mtime).toISOString(),
      dir,
    };
  } finally {
    replica.close();
  }
}

export class ListCommand extends BasefsCommand {
  static override paths = [['list']];
  static override usage = Command.Usage({
    category: 'Filesystems',
    description: 'list the filesystems in BASEFS_HOME',
    details: `
      One line per filesystem: name, id (the hash of its first entry, shortened), number of entries, root hash (two nodes with the same root hash hold the same log), port, size on disk and the time this node last added to it. \`--json\` prints full hashes.
    `,
    examples: [
      ['List filesystems', '$0 list'],
      ['For scripts', '$0 list --json'],
    ],
  });

  asJson = Option.Boolean('--json', false, { description: 'print a JSON array' });

  run(): number {
    const summaries = listFilesystems(this.home).map((n) => {
      try {
        return summarize(this.home, n);
      } catch (e) {
        // One unreadable filesystem must not hide the others.
        const cfg = fsConfig(readConfig(this.home), n);
        return { name: n, id: '', entries: 0, rootHash: '', port: cfg.port, seeds: cfg.seeds, sizeBytes: 0, lastUpdate: '', dir: fsDir(this.home, n), error: describeError(e).message };
      }
    });
    if (this.asJson) {
      this.out(json(summaries));
      return 0;
    }
    if (summaries.length === 0) {
      this.out(`no filesystems in ${this.home} (create one with 'basefs bootstrap')`);
      return 0;
    }
    const s = this.style;
    const rows = [
      ['NAME', 'ID', 'ENTRIES', 'ROOT', 'PORT', 'SIZE', 'LAST UPDATE'].map((h) => s.bold(h)),
      ...summaries.map((x) => x.error !== undefined ? [x.name, s.red(`unreadable: ${x.error}`)] : [
        x.name,
        shortHash(x.id),
        String(x.entries),
        shortHash(x.rootHash),
        String(x.port),
        formatBytes(x.sizeBytes),
        formatTime(Date.parse(x.lastUpdate)),
      ]),
    ];
    for (const line of table(rows)) this.out(line);
    return 0;
  }
}
