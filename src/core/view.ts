/**
 * The current tree, read from the log without replaying history: a path is found by walking from
 * the root through each directory's current incarnation, and each step reads a cached resolved
 * state (resolve.ts) that is recomputed only when that chain or the permissions changed. So a write
 * never rebuilds the whole view, and reading a file reads its blocks, never its history.
 */
import { err } from './errors.ts';
import { ACTION, actionName, type ActionName } from './entry.ts';
import { decodeManifest, decodeText, type Manifest } from './content.ts';
import { toHex, type Hash } from './hash.ts';
import { fingerprint } from './keys.ts';
import type { Log } from './log.ts';
import { normalizePath, splitPath, joinPath } from './paths.ts';
import type { PathState, StateKind } from './resolve.ts';
import type { Chain, Node } from './tree.ts';

/** What the view needs from a block store. */
export interface BlockSource {
  has(hash: Hash): boolean;
  get(hash: Hash): Uint8Array | null;
}

export interface Stat {
  path: string;
  kind: Exclude<StateKind, 'gone'>;
  size: number;
  mode: number;
  mtime: number;
  ctime: number;
  /** Files: every block of the shown version is present. */
  complete: boolean;
  /**
   * Files: the entry (WRITE or LINK) giving the version shown, as hex; null while no version is
   * complete here. It changes whenever the bytes a reader would get do.
   */
  version: string | null;
  /** The entry that proves this state, and who signed it. */
  head: Hash;
  author: Uint8Array;
}

export interface Revision {
  hash: Hash;
  action: ActionName;
  author: string; // fingerprint
  timestamp: number;
  /** Written by a key that has authority at this path now. */
  valid: boolean;
  /** Part of the current state: on the winning branch, up to the state's head (a valid entry
   * acknowledges the ones before it, e.g. a revoked key's work followed by the revoker's ACK). */
  effective: boolean;
  /** On the winning branch. */
  selected: boolean;
  /** The entry that gives the current state. */
  current: boolean;
}

interface Found {
  chain: Chain;
  state: PathState;
}

export class View {
  private readonly log: Log;
  private readonly blocks: BlockSource | null;

  constructor(log: Log, blocks: BlockSource | null = null) {
    this.log = log;
    this.blocks = blocks;
  }

  /**
   * The chain and live state of a path, or undefined when it does not exist (or is deleted, unless
   * `includeDeleted`: its chain and DELETE state, for undelete by revert).
   */
  find(path: string, includeDeleted = false): Found | undefined {
    const resolver = this.log.resolver;
    let chain = this.log.tree.rootChain;
    let state = resolver.state(chain);
    for (const part of splitPath(normalizePath(path))) {
      if (state === null || state.kind !== 'dir' || state.incarnation === null) return undefined;
      const next = state.incarnation.dirChildren?.get(part);
      if (next === undefined) return undefined;
      chain = next;
      state = resolver.state(chain);
    }
    if (state === null || (state.kind === 'gone' && !includeDeleted)) return undefined;
    return { chain, state };
  }

  exists(path: string): boolean {
    return this.find(path) !== undefined;
  }

  stat(path: string): Stat {
    const found = this.find(path);
    if (found === undefined) throw err('NOT_FOUND', `${path}: no such file or directory`);
    return this.statOf(normalizePath(path), found.state);
  }

  private statOf(path: string, s: PathState): Stat {
    const kind = s.kind as Stat['kind'];
    let size = 0;
    let complete = true;
    let version: string | null = null;
    if (kind === 'file') {
      const shown = this.shownVersion(s);
      complete = shown !== null && shown === s.content;
      size = shown === null ? 0 : (this.manifestOf(shown)?.size ?? 0);
      version = shown === null ? null : shown.key;
    } else if (kind === 'symlink' && s.content !== null) {
      size = s.content.entry.content.length;
    }
    return {
      path,
      kind,
      size,
      mode: s.mode,
      mtime: s.mtime,
      ctime: s.ctime,
      complete,
      version,
      head: s.head.entry.hash,
      author: s.head.entry.author,
    };
  }

  /** Names in a directory, sorted. */
  readdir(path: string): string[] {
    const found = this.find(path);
    if (found === undefined) throw err('NOT_FOUND', `${path}: no such directory`);
    const inc = found.state.incarnation;
    if (found.state.kind !== 'dir' || inc === null) throw err('NOT_DIR', `${path}: not a directory`);
    const names: string[] = [];
    for (const [name, chain] of inc.dirChildren ?? []) {
      const st = this.log.resolver.state(chain);
      if (st !== null && st.kind !== 'gone') names.push(name);
    }
    return names.sort();
  }

  /** A file's bytes: its newest version whose blocks are all present (INCOMPLETE if none is). */
  readFile(path: string): Uint8Array {
    return this.assemble(this.shownManifest(path)) as Uint8Array;
  }

  /**
   * The manifest of the version readers see (the newest complete one), so a reader (the mount)
   * can fetch only the blocks it needs instead of the whole file.
   */
  shownManifest(path: string): Manifest {
    return this.shownContent(path).manifest;
  }

  /** The version readers see (see shownManifest) and the entry that gives it (Stat.version). */
  shownContent(path: string): { version: string; manifest: Manifest } {
    const found = this.find(path);
    if (found === undefined) throw err('NOT_FOUND', `${path}: no such file`);
    if (found.state.kind === 'dir') throw err('IS_DIR', `${path}: is a directory`);
    if (found.state.kind !== 'file') throw err('NOT_FOUND', `${path}: not a regular file`);
    const shown = this.shownVersion(found.state);
    const manifest = shown === null ? undefined : this.manifestOf(shown);
    if (shown === null || manifest === undefined) throw err('INCOMPLETE', `${path}: content not yet received`);
    return { version: shown.key, manifest };
  }

  /**
   * The manifest of a version shown earlier (a Stat.version), whatever has replaced it since, or
   * undefined when that entry or one of its blocks is not here. Lets a reader finish with the
   * version it started on: the mount serves it to a kernel that still holds that version's size.
   */
  manifestOfVersion(version: string): Manifest | undefined {
    const node = this.log.tree.get(version);
    const m = node === undefined ? undefined : this.manifestOf(node);
    return m !== undefined && m.blocks.every((b) => this.hasBlock(b)) ? m : undefined;
  }

  readlink(path: string): string {
    const found = this.find(path);
    if (found === undefined) throw err('NOT_FOUND', `${path}: no such file`);
    if (found.state.kind !== 'symlink' || found.state.content === null)
      throw err('USAGE', `${path}: not a symbolic link`);
    return decodeText(found.state.content.entry.content);
  }

  /** Block hashes of a file's current version and how many are missing here. */
  blockState(path: string): { blocks: Hash[]; missing: number } {
    const found = this.find(path);
    if (found === undefined || found.state.content === null) throw err('NOT_FOUND', `${path}: no such file`);
    const m = this.manifestOf(found.state.content);
    if (m === undefined) return { blocks: [], missing: 1 };
    return { blocks: m.blocks, missing: m.blocks.filter((b) => !this.hasBlock(b)).length };
  }

  /** Every entry of the path's chain (all branches), in chain order, with its standing. */
  revisions(path: string): Revision[] {
    const found = this.find(path);
    if (found === undefined) throw err('NOT_FOUND', `${path}: no such file or directory`);
    const { chain, state } = found;
    const selected = new Set(state.branch);
    const headIndex = state.branch.indexOf(state.head);
    const keys = this.log.resolver.keysFor(chain);
    const out: Revision[] = [];
    // Sibling order is arrival order, which differs between nodes: list siblings by hash instead.
    const byHash = (ns: readonly Node[]) => [...ns].sort((a, b) => Buffer.compare(b.entry.hash, a.entry.hash));
    const stack = byHash(chain.roots);
    while (stack.length > 0) {
      const n = stack.pop() as Node;
      const onBranch = selected.has(n);
      out.push({
        hash: n.entry.hash,
        action: actionName(n.entry.action),
        author: fingerprint(n.entry.author),
        timestamp: n.entry.timestamp,
        valid: keys.has(n.author),
        effective: onBranch && state.branch.indexOf(n) <= headIndex,
        selected: onBranch,
        current: n === state.head,
      });
      stack.push(...byHash(n.children));
    }
    return out;
  }

  /** Depth-first walk of every visible path, parents before children, names sorted. */
  *walk(path = '/'): Generator<Stat> {
    const stack = [normalizePath(path)];
    while (stack.length > 0) {
      const p = stack.pop() as string;
      const found = this.find(p);
      if (found === undefined) continue;
      yield this.statOf(p, found.state);
      if (found.state.kind === 'dir') {
        const names = this.readdir(p);
        for (let i = names.length - 1; i >= 0; i--) stack.push(joinPath(p, names[i] as string));
      }
    }
  }

  /** Newest content version that is complete here (the one readers see), or null. */
  private shownVersion(s: PathState): Node | null {
    for (let i = s.versions.length - 1; i >= 0; i--) {
      const v = s.versions[i] as Node;
      const m = this.manifestOf(v);
      if (m !== undefined && m.blocks.every((b) => this.hasBlock(b))) return v;
    }
    return null;
  }

  /** The manifest a WRITE carries, or that a LINK points at (undefined: target not here yet). */
  private manifestOf(n: Node): Manifest | undefined {
    let e = n.entry;
    if (e.action === ACTION.LINK) {
      const target = this.log.get(e.content);
      if (target === undefined || target.action !== ACTION.WRITE) return undefined;
      e = target;
    }
    return e.action === ACTION.WRITE ? decodeManifest(e.content) : undefined;
  }

  private hasBlock(h: Hash): boolean {
    return this.blocks !== null && this.blocks.has(h);
  }

  private assemble(m: Manifest): Uint8Array | undefined {
    if (m.inline !== undefined) return m.inline;
    const out = new Uint8Array(m.size);
    let off = 0;
    for (const h of m.blocks) {
      const b = this.blocks?.get(h);
      if (b == null) return undefined;
      out.set(b, off);
      off += b.length;
    }
    return out;
  }

  /** Keys with write rights and where they were granted (the genesis key owns "/"). */
  keys(): Array<{ key: Uint8Array; label: string; dir: string; depth: number; grant: Hash | null }> {
    const genesis = this.log.genesis;
    const out: ReturnType<View['keys']> = [
      { key: genesis.entry.author, label: 'root', dir: '/', depth: 0, grant: null },
    ];
    for (const st of this.walk('/')) {
      if (st.kind !== 'dir') continue;
      const found = this.find(st.path);
      const inc = found?.state.incarnation;
      if (!inc) continue;
      const perms = this.log.resolver.permissions(inc);
      for (const [, g] of perms.granted) {
        out.push({
          key: g.entry.content,
          label: g.entry.name,
          dir: st.path,
          depth: perms.keys.get(toHex(g.entry.content)) ?? 0,
          grant: g.entry.hash,
        });
      }
    }
    return out;
  }
}
