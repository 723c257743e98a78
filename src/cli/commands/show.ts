import { Command, Option } from 'clipanion';
import { err } from '../../core/errors.ts';
import { ACTION, actionName, isGenesis, type ActionName } from '../../core/entry.ts';
import { decodeManifest, decodeText } from '../../core/content.ts';
import { toHex } from '../../core/hash.ts';
import { fingerprint, formatPublicKey } from '../../core/keys.ts';
import type { Log } from '../../core/log.ts';
import type { Replica } from '../../core/replica.ts';
import type { Chain, Node } from '../../core/tree.ts';
import { BasefsCommand } from '../base.ts';
import { formatBytes, formatTime, json, shortHash, type Style } from '../format.ts';

export interface ShownEntry {
  hash: string;
  action: ActionName;
  /** Fingerprint and full public key of the signer. */
  author: string;
  authorKey: string;
  timestamp: number;
  /** This entry gives the path's current state. */
  current: boolean;
  /** On the winning branch of the path's chain. */
  selected: boolean;
  /** Signed by a key that has authority over the path now. */
  valid: boolean;
  /**
   * Part of the current state: on the winning branch, up to the current entry. An entry whose key
   * lost its authority stays effective when a later valid entry (e.g. the ACK of a revoke) follows it.
   */
  effective: boolean;
  /** REVERT: the entry restored; LINK: the WRITE shared; SLINK: the link target. */
  target?: string;
  /** WRITE: the file size. */
  size?: number;
}

export interface ShownPermission {
  hash: string;
  action: 'GRANT' | 'REVOKE';
  label: string;
  /** The key granted or revoked. */
  key: string;
  keyFingerprint: string;
  author: string;
  timestamp: number;
  /** GRANT: this grant is in force now. */
  active: boolean;
}

export interface ShownPath {
  path: string;
  /** What the path is now; "gone" when deleted, or hidden because its directory was re-created. */
  kind: 'dir' | 'file' | 'symlink' | 'gone';
  depth: number;
  size?: number;
  entries: ShownEntry[];
  permissions: ShownPermission[];
}

export interface ShownLog {
  name: string;
  id: string;
  rootHash: string;
  entries: number;
  path: string;
  paths: ShownPath[];
}

/** Entries of a chain in chain order (depth first, earliest branch first), like View.revisions. */
function chainOrder(roots: readonly Node[]): Node[] {
  const out: Node[] = [];
  const stack = [...roots].reverse();
  while (stack.length > 0) {
    const n = stack.pop() as Node;
    out.push(n);
    for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i] as Node);
  }
  return out;
}

function describeEntry(log: Log, n: Node, state: ReturnType<Log['resolver']['state']>, keys: ReadonlyMap<string, number>): ShownEntry {
  const e = n.entry;
  const branch = state?.branch ?? [];
  const idx = branch.indexOf(n);
  const headIdx = state === null ? -1 : branch.indexOf(state.head);
  const out: ShownEntry = {
    hash: n.key,
    action: actionName(e.action),
    author: fingerprint(e.author),
    authorKey: formatPublicKey(e.author),
    timestamp: e.timestamp,
    current: state !== null && state.head === n,
    selected: idx >= 0,
    valid: keys.has(n.author),
    effective: idx >= 0 && idx <= headIdx,
  };
  if (e.action === ACTION.REVERT || e.action === ACTION.LINK) out.target = toHex(e.content);
  if (e.action === ACTION.SLINK) out.target = decodeText(e.content);
  if (e.action === ACTION.WRITE) out.size = decodeManifest(e.content).size;
  if (e.action === ACTION.LINK) {
    const t = log.get(e.content);
    if (t !== undefined && t.action === ACTION.WRITE) out.size = decodeManifest(t.content).size;
  }
  return out;
}

/** The log under `path` as a list of paths (parents first), each with all its entries. */
export function showLog(replica: Replica, path: string): ShownLog {
  const { log, view } = replica;
  let start: Chain;
  if (path === '/') start = log.tree.rootChain;
  else {
    const found = view.find(path, true);
    if (found === undefined) throw err('NOT_FOUND', `${replica.name}:${path}: no such file or directory`);
    start = found.chain;
  }
  const paths: ShownPath[] = [];
  const baseDepth = path === '/' ? 0 : path.split('/').length - 1;
  const visit = (chain: Chain, depth: number) => {
    const state = log.resolver.state(chain);
    const keys = log.resolver.keysFor(chain);
    const visible = view.find(chain.path)?.chain === chain;
    const nodes = chainOrder(chain.roots);
    const shown: ShownPath = {
      path: chain.path,
      kind: visible && state !== null ? state.kind : 'gone',
      depth: depth - baseDepth,
      entries: nodes.map((n) => describeEntry(log, n, state, keys)),
      permissions: [],
    };
    if (shown.kind === 'file') shown.size = view.stat(chain.path).size;
    paths.push(shown);
    const children: Array<[string, Chain]> = [];
    for (const n of nodes) {
      if (n.entry.action !== ACTION.MKDIR) continue;
      if (n.permChain !== undefined) {
        const perms = log.resolver.permissions(n);
        for (const p of chainOrder(n.permChain.roots)) {
          const key = p.entry.content;
          shown.permissions.push({
            hash: p.key,
            action: p.entry.action === ACTION.GRANT ? 'GRANT' : 'REVOKE',
            label: p.entry.name,
            key: formatPublicKey(key),
            keyFingerprint: fingerprint(key),
            author: fingerprint(p.entry.author),
            timestamp: p.entry.timestamp,
            active: p.entry.action === ACTION.GRANT && perms.granted.get(toHex(key)) === p,
          });
        }
      }
      for (const [name, child] of [...(n.dirChildren ?? new Map<string, Chain>())].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)))
        children.push([name, child]);
    }
    for (const [, child] of children) visit(child, depth + 1);
  };
  visit(start, baseDepth);
  return {
    name: replica.name,
    id: toHex(log.id),
    rootHash: toHex(log.rootHash()),
    entries: log.size,
    path,
    paths,
  };
}

function marker(e: ShownEntry): string {
  if (e.current) return '*';
  if (!e.selected) return '~';
  if (!e.effective) return '!';
  return ' ';
}

const UNICODE = { tee: '├── ', last: '└── ', bar: '│   ', none: '    ' };
const ASCII = { tee: '|-- ', last: '`-- ', bar: '|   ', none: '    ' };

/** The text form of showLog: a tree of paths, each with its entries (see the legend it prints). */
export function renderLog(shown: ShownLog, s: Style, genesisHash: string, ascii = false): string[] {
  const g = ascii ? ASCII : UNICODE;
  const lines: string[] = [];
  lines.push(
    `${s.bold(shown.name)}  id ${shortHash(shown.id)}  root ${shortHash(shown.rootHash)}  ${shown.entries} entries` +
      (shown.path === '/' ? '' : `  (showing ${shown.path})`),
  );
  const paths = shown.paths;
  const laterSibling = (i: number): boolean => {
    const d = (paths[i] as ShownPath).depth;
    for (let j = i + 1; j < paths.length; j++) {
      const dj = (paths[j] as ShownPath).depth;
      if (dj < d) return false;
      if (dj === d) return true;
    }
    return false;
  };
  const open: boolean[] = []; // open[k]: the path shown at depth k has a later sibling
  paths.forEach((p, i) => {
    const d = p.depth;
    open[d] = laterSibling(i);
    let ancestors = '';
    for (let k = 1; k < d; k++) ancestors += open[k] ? g.bar : g.none;
    const head = d === 0 ? '' : ancestors + (open[d] ? g.tee : g.last);
    const body = (d === 0 ? '' : ancestors + (open[d] ? g.bar : g.none)) + (paths[i + 1]?.depth === d + 1 ? g.bar : g.none);
    const name = d === 0 ? p.path : (p.path.split('/').pop() ?? p.path);
    const label = p.kind === 'dir' && name !== '/' ? `${name}/` : name;
    const what = p.kind === 'file' ? `file, ${formatBytes(p.size ?? 0)}` : p.kind === 'gone' ? 'deleted' : p.kind;
    lines.push(`${s.dim(head)}${p.kind === 'gone' ? s.dim(label) : s.bold(label)}  ${s.dim(what)}`);
    for (const e of p.entries) {
      const m = marker(e);
      let extra = '';
      if (e.hash === genesisHash) extra = `filesystem ${shown.name}`;
      else if (e.action === 'REVERT' && e.target) extra = `to ${shortHash(e.target)}`;
      else if (e.action === 'LINK' && e.target) extra = `shares ${shortHash(e.target)}`;
      else if (e.action === 'SLINK' && e.target) extra = `-> ${e.target}`;
      else if (e.action === 'WRITE' && e.size !== undefined) extra = formatBytes(e.size);
      if (e.effective && !e.valid) extra += `${extra ? '  ' : ''}(key no longer valid; acknowledged)`;
      const line = `${m} ${shortHash(e.hash)}  ${e.action.padEnd(6)}  ${e.author}  ${formatTime(e.timestamp)}${extra ? '  ' + extra : ''}`;
      lines.push(s.dim(body) + (m === '*' ? s.green(line) : m === '!' ? s.red(line) : m === '~' ? s.dim(line) : line));
    }
    for (const pe of p.permissions) {
      const m = pe.action === 'GRANT' ? (pe.active ? '+' : '-') : ' ';
      const line = `${m} ${shortHash(pe.hash)}  ${pe.action.padEnd(6)}  ${pe.author}  ${formatTime(pe.timestamp)}  ${pe.label} ${pe.action === 'GRANT' ? 'may write' : 'no longer writes'} ${p.path} (${pe.keyFingerprint})`;
      lines.push(s.dim(body) + (pe.active ? s.cyan(line) : line));
    }
  });
  lines.push(s.dim('* current state   ! ignored (no authority)   ~ losing branch   + grant in force   - grant no longer in force'));
  return lines;
}

export class ShowCommand extends BasefsCommand {
  static override paths = [['show']];
  static override usage = Command.Usage({
    category: 'Filesystems',
    description: 'print the log as a tree: every path with all its entries',
    details: `
      Every path (also deleted ones) with each entry of its history: short hash, action, the author's key fingerprint and the author's timestamp. \`*\` marks the entry that gives the path's current state, \`!\` an entry ignored because its key had no authority, \`~\` an entry on a losing branch of a conflict. Directories also list their GRANT and REVOKE entries (\`+\` a grant in force).

      NAME can be left out when BASEFS_HOME holds a single filesystem; \`NAME:/PATH\` shows only that subtree. Reads a snapshot without locking, so it works beside a running node. \`--json\` prints full hashes and keys.
    `,
    examples: [
      ['The whole log', '$0 show myfs'],
      ['One subtree', '$0 show myfs:/etc'],
      ['For scripts', '$0 show myfs --json'],
    ],
  });

  target_ = Option.String({ required: false, name: 'NAME[:/PATH]' });
  asJson = Option.Boolean('--json', false, { description: 'print JSON' });
  ascii = Option.Boolean('-a,--ascii', false, { description: 'draw the tree with ASCII characters only' });

  run(): number {
    const t = this.target(this.target_);
    const replica = this.openRead(t.name);
    try {
      const shown = showLog(replica, t.path);
      if (this.asJson) this.out(json(shown));
      else {
        const genesis = replica.log.genesis;
        for (const line of renderLog(shown, this.style, isGenesis(genesis.entry) ? genesis.key : '', this.ascii)) this.out(line);
      }
      return 0;
    } finally {
      replica.close();
    }
  }
}
