/**
 * Local changes: turns "mkdir /etc/x" into a signed entry hung at the right place, after checking
 * with the same rules every other node will apply (resolve.ts) that this key may make it. A change
 * the network would ignore is refused here with NOT_AUTHORIZED instead of being written.
 *
 * New entries hang off the *head* of a path (its last valid entry), never off an invalid tail, so a
 * local change never acknowledges an entry that a revoked or unauthorized key appended.
 */
import { err } from './errors.ts';
import { ACTION, createEntry, type Action, type Entry } from './entry.ts';
import { chunkFile, encodeMode, type Chunked } from './content.ts';
import { bytesEqual, toHex, type Hash } from './hash.ts';
import type { KeyPair } from './keys.ts';
import type { Log } from './log.ts';
import { baseName, isWithin, normalizePath, parentPath } from './paths.ts';
import type { PathState } from './resolve.ts';
import type { Node } from './tree.ts';
import type { View } from './view.ts';

export interface BlockSink {
  put(bytes: Uint8Array): Hash;
}

export interface WriterOptions {
  log: Log;
  view: View;
  key: KeyPair;
  blocks?: BlockSink | null;
  /** Injected clock (ms since the epoch); timestamps are informational only. */
  now?: () => number;
}

const encoder = new TextEncoder();
/** A new directory's mode without a MODE entry (resolve.ts); copying it needs no entry. */
const DEFAULT_DIR_MODE = 0o755;

export class Writer {
  private readonly log: Log;
  private readonly view: View;
  private readonly key: KeyPair;
  private readonly me: string;
  private readonly blocks: BlockSink | null;
  private readonly now: () => number;

  constructor(opts: WriterOptions) {
    this.log = opts.log;
    this.view = opts.view;
    this.key = opts.key;
    this.me = toHex(opts.key.publicKey);
    this.blocks = opts.blocks ?? null;
    this.now = opts.now ?? Date.now;
  }

  mkdir(path: string): Entry {
    return this.create(path, ACTION.MKDIR, new Uint8Array(0));
  }

  /**
   * Create or replace a file. Its blocks are stored before the entry, so it is complete at once.
   * `mtime` (ms) becomes the entry's timestamp, which is what every node shows as the file's mtime
   * (tar and rsync restore times); the default is now.
   */
  writeFile(path: string, data: Uint8Array, opts: { mtime?: number } = {}): Entry {
    const p = normalizePath(path);
    return this.storeFile(p, this.view.find(p), chunkFile(data), opts.mtime);
  }

  /**
   * writeFile, unless the file already has exactly this content and mtime: then nothing is written
   * and null is returned. A program that rewrites files unchanged (`cp -a` over an existing tree,
   * a configuration tool re-rendering its templates) thus adds nothing to the log or the network.
   */
  writeFileIfChanged(path: string, data: Uint8Array, opts: { mtime: number }): Entry | null {
    return this.writeChunkedIfChanged(path, chunkFile(data), opts);
  }

  /**
   * writeFileIfChanged for content already cut into blocks (chunkFile): the caller stored the
   * blocks before, or passes them here. The mount parks a new file this way (src/fuse/parking.ts).
   */
  writeChunkedIfChanged(path: string, chunked: Chunked, opts: { mtime: number }): Entry | null {
    const p = normalizePath(path);
    const found = this.view.find(p);
    const s = found?.state;
    if (
      s?.kind === 'file' &&
      s.content?.entry.action === ACTION.WRITE &&
      s.mtime === Math.floor(opts.mtime) &&
      bytesEqual(s.content.entry.content, chunked.manifest)
    ) {
      for (const b of chunked.blocks) this.blocks?.put(b.bytes); // idempotent; fills in any still missing here
      return null;
    }
    return this.storeFile(p, found, chunked, opts.mtime);
  }

  /**
   * Set a file's mtime: the same content again (no new blocks) in an entry stamped `mtime`, since
   * the mtime shown is the timestamp of the entry that defines the content; a directory's: a MODE
   * of its mode, stamped `mtime`. Null when there is nothing to change (already that mtime, or a
   * symlink).
   */
  touch(path: string, mtime: number): Entry | null {
    const p = normalizePath(path);
    const s = this.mustFind(p);
    if (s.mtime === Math.floor(mtime)) return null;
    // A directory's mtime is its newest MODE's timestamp (resolve.ts): the same mode, dated.
    if (s.kind === 'dir') return this.next(s.head, ACTION.MODE, encodeMode(s.mode), mtime);
    if (s.kind !== 'file' || s.content === null) return null;
    return this.next(s.head, s.content.entry.action, s.content.entry.content, mtime);
  }

  /**
   * Move a file, symlink or directory, as POSIX rename(2) does: an existing destination file or
   * symlink is replaced, an existing empty directory is replaced by a directory; a non-empty one is
   * NOT_EMPTY, a directory onto a file NOT_DIR, a file onto a directory IS_DIR, a directory into
   * itself USAGE. The log has no move, so the destination is written first (a directory: its whole
   * subtree re-created with the same contents, modes and mtimes) and the source deleted last, in
   * one recursive DELETE: a crash in between leaves both, never neither. Grants stay with their
   * path (moving a directory does not move who may write it). Authority is checked at both ends
   * before anything is written, so a refused rename writes nothing.
   */
  rename(from: string, to: string): Entry[] {
    const src = normalizePath(from);
    const dst = normalizePath(to);
    if (src === '/' || dst === '/') throw err('USAGE', 'the root cannot be renamed or replaced');
    const s = this.mustFind(src);
    if (src === dst) return [];
    if (s.kind === 'dir' && isWithin(dst, src)) throw err('USAGE', `${src}: cannot move a directory into itself`);
    const dir = this.view.find(parentPath(dst));
    if (dir === undefined) throw err('NOT_FOUND', `${parentPath(dst)}: no such directory`);
    if (dir.state.kind !== 'dir' || dir.state.incarnation === null) throw err('NOT_DIR', `${parentPath(dst)}: not a directory`);
    const d = this.view.find(dst)?.state;
    if (d !== undefined) {
      if (s.kind === 'dir' && d.kind !== 'dir') throw err('NOT_DIR', `${dst}: not a directory`);
      if (s.kind !== 'dir' && d.kind === 'dir') throw err('IS_DIR', `${dst}: is a directory`);
      if (d.kind === 'dir' && this.view.readdir(dst).length > 0) throw err('NOT_EMPTY', `${dst}: directory not empty`);
    }
    const source = this.view.find(src);
    if (source === undefined) throw err('NOT_FOUND', `${src}: no such file or directory`);
    // Keys only grow downwards, so authority over both chains covers every entry of the move.
    if (!this.log.resolver.keysFor(source.chain).has(this.me)) throw err('NOT_AUTHORIZED', `this key may not write ${src}`);
    if (!this.log.resolver.keysBelow(dir.state.incarnation).has(this.me))
      throw err('NOT_AUTHORIZED', `this key may not write ${dst}`);

    const out: Entry[] = [];
    if (d !== undefined && d.kind === 'dir') out.push(this.next(d.head, ACTION.DELETE, new Uint8Array(0)));
    if (s.kind === 'dir') this.copyTree(src, dst, out);
    else out.push(...this.copyLeaf(s, dst));
    out.push(this.next(s.head, ACTION.DELETE, new Uint8Array(0)));
    return out;
  }

  symlink(path: string, target: string): Entry {
    const p = normalizePath(path);
    if (this.view.exists(p)) throw err('EXISTS', `${p}: already exists`);
    return this.create(p, ACTION.SLINK, encoder.encode(target));
  }

  /** A hard link: `path` shares the current content of the file at `target`. */
  link(path: string, target: string): Entry {
    const t = this.view.find(target);
    if (t === undefined) throw err('NOT_FOUND', `${target}: no such file`);
    const content = t.state.content;
    if (t.state.kind !== 'file' || content === null) throw err('USAGE', `${target}: only files can be hard-linked`);
    const writeHash = content.entry.action === ACTION.LINK ? content.entry.content : content.entry.hash;
    const p = normalizePath(path);
    const found = this.view.find(p);
    if (found?.state.kind === 'dir') throw err('IS_DIR', `${p}: is a directory`);
    if (found !== undefined) return this.next(found.state.head, ACTION.LINK, writeHash);
    return this.create(p, ACTION.LINK, writeHash);
  }

  /** Delete a file, symlink or empty directory (`recursive` for a whole subtree, as one entry). */
  delete(path: string, opts: { recursive?: boolean } = {}): Entry {
    const p = normalizePath(path);
    if (p === '/') throw err('USAGE', 'the root cannot be deleted');
    const found = this.mustFind(p);
    if (found.kind === 'dir' && !opts.recursive && this.view.readdir(p).length > 0)
      throw err('NOT_EMPTY', `${p}: directory not empty`);
    return this.next(found.head, ACTION.DELETE, new Uint8Array(0));
  }

  /**
   * `at` (ms): the entry's timestamp, which becomes the path's ctime, and a directory's mtime too
   * (resolve.ts); default now.
   */
  chmod(path: string, mode: number, opts: { at?: number } = {}): Entry {
    return this.next(this.mustFind(normalizePath(path)).head, ACTION.MODE, encodeMode(mode), opts.at);
  }

  /** Restore the state a path had at an earlier entry (full hash or unique hex prefix). */
  revert(path: string, target: string): Entry {
    const p = normalizePath(path);
    const found = this.view.find(p, true);
    if (found === undefined) throw err('NOT_FOUND', `${p}: no such file`);
    const { state } = found;
    if (state.kind === 'dir') throw err('USAGE', 'directories are not reverted; delete and re-create');
    const upToHead = state.branch.slice(0, state.branch.indexOf(state.head) + 1);
    const matches = upToHead.filter((n) => n.key.startsWith(target.toLowerCase()));
    if (matches.length === 0) throw err('NOT_FOUND', `${p}: no earlier revision ${target}`);
    if (matches.length > 1) throw err('USAGE', `revision prefix ${target} is ambiguous`);
    return this.next(state.head, ACTION.REVERT, (matches[0] as Node).entry.hash);
  }

  /** Acknowledge the current state of a path (keeps a revoked key's work valid). */
  ack(path: string): Entry {
    return this.next(this.mustFind(normalizePath(path)).head, ACTION.ACK, new Uint8Array(0));
  }

  /** Give `publicKey` write rights on directory `dir` and everything below it. */
  grant(dir: string, publicKey: Uint8Array, label: string): Entry {
    return this.permission(dir, ACTION.GRANT, publicKey, label);
  }

  /**
   * Withdraw `publicKey`'s grants on `dir` and on every directory below it, after acknowledging the
   * current state of every path that key wrote there, so its past work stays (the original's
   * semantics); anything it writes afterwards is ignored by every node.
   */
  revoke(dir: string, publicKey: Uint8Array, label = ''): Entry[] {
    const root = normalizePath(dir);
    const target = toHex(publicKey);
    const out: Entry[] = [];
    for (const st of [...this.view.walk(root)]) {
      const found = this.view.find(st.path);
      if (found === undefined) continue;
      if (found.state.head.author === target && st.path !== '/') out.push(this.ack(st.path));
    }
    for (const st of [...this.view.walk(root)]) {
      if (st.kind !== 'dir') continue;
      const inc = this.view.find(st.path)?.state.incarnation;
      if (!inc) continue;
      // A REVOKE withdraws the grants above it, so hang one under every live grant of the key.
      const live = this.log.resolver.permissions(inc).live.filter((g) => toHex(g.entry.content) === target);
      for (const g of live) out.push(this.commit(g, ACTION.REVOKE, label, publicKey));
    }
    if (!out.some((e) => e.action === ACTION.REVOKE))
      throw err('NOT_FOUND', `that key has no grant on ${root} or below`);
    return out;
  }

  /**
   * Whether this key may change `path` (an existing path: its chain; a new one: its directory),
   * by the rules commit() applies, so a caller can refuse before buffering any data.
   */
  mayWrite(path: string): boolean {
    const p = normalizePath(path);
    const found = this.view.find(p);
    if (found !== undefined) return this.log.resolver.keysFor(found.chain).has(this.me);
    const dir = this.view.find(parentPath(p))?.state.incarnation;
    return dir !== undefined && dir !== null && this.log.resolver.keysBelow(dir).has(this.me);
  }

  // -------------------------------------------------------------------------------------------

  /** A file's blocks, then its WRITE entry (a new version of `found`, or a new path). */
  private storeFile(p: string, found: ReturnType<View['find']>, chunked: Chunked, mtime?: number): Entry {
    const { manifest, blocks } = chunked;
    if (blocks.length > 0) {
      if (this.blocks === null) throw err('NOT_SUPPORTED', 'this replica has no block store');
      for (const b of blocks) this.blocks.put(b.bytes);
    }
    if (found?.state.kind === 'dir') throw err('IS_DIR', `${p}: is a directory`);
    if (found !== undefined) return this.next(found.state.head, ACTION.WRITE, manifest, mtime);
    return this.create(p, ACTION.WRITE, manifest, mtime);
  }

  /** Re-create directory `src` and everything below it at `dst` (parents before children). */
  private copyTree(src: string, dst: string, out: Entry[]): void {
    for (const st of [...this.view.walk(src)]) {
      const target = dst + st.path.slice(src.length);
      const s = this.mustFind(st.path);
      if (s.kind === 'dir') {
        out.push(this.create(target, ACTION.MKDIR, new Uint8Array(0), s.mtime));
        // Dated at the mtime: a directory's newest MODE gives its mtime (resolve.ts).
        if (s.mode !== DEFAULT_DIR_MODE) out.push(this.chmod(target, s.mode, { at: s.mtime }));
      } else out.push(...this.copyLeaf(s, target));
    }
  }

  /** Write a file's or symlink's content (same manifest or LINK: no new blocks), mode and mtime. */
  private copyLeaf(s: PathState, dst: string): Entry[] {
    if (s.content === null) throw err('NOT_FOUND', `${dst}: source has no content`);
    const { action, content } = s.content.entry;
    const existing = this.view.find(dst);
    const entry = existing !== undefined
      ? this.next(existing.state.head, action, content, s.mtime)
      : this.create(dst, action, content, s.mtime);
    // A replaced file keeps its old mode, a new one gets the default: chmod only when they differ.
    return this.mustFind(dst).mode === s.mode ? [entry] : [entry, this.chmod(dst, s.mode)];
  }

  private mustFind(p: string) {
    const found = this.view.find(p);
    if (found === undefined) throw err('NOT_FOUND', `${p}: no such file or directory`);
    return found.state;
  }

  /** A new path (or a re-creation after DELETE) in an existing directory. */
  private create(path: string, action: Action, content: Uint8Array, timestamp?: number): Entry {
    const p = normalizePath(path);
    if (p === '/') throw err('EXISTS', '/ already exists');
    if (this.view.exists(p)) throw err('EXISTS', `${p}: already exists`);
    const dir = this.view.find(parentPath(p));
    if (dir === undefined) throw err('NOT_FOUND', `${parentPath(p)}: no such directory`);
    if (dir.state.kind !== 'dir' || dir.state.incarnation === null)
      throw err('NOT_DIR', `${parentPath(p)}: not a directory`);
    // A path that existed and was deleted is continued after its DELETE, so its history stays one chain.
    const chain = dir.state.incarnation.dirChildren?.get(baseName(p));
    const old = chain ? this.log.resolver.state(chain) : null;
    if (old !== null && old.kind === 'gone') return this.next(old.head, action, content, timestamp);
    return this.commit(dir.state.incarnation, action, baseName(p), content, timestamp);
  }

  private next(head: Node, action: Action, content: Uint8Array, timestamp?: number): Entry {
    return this.commit(head, action, head.entry.name, content, timestamp);
  }

  private permission(dir: string, action: Action, key: Uint8Array, label: string): Entry {
    const p = normalizePath(dir);
    const found = this.view.find(p);
    if (found === undefined || found.state.kind !== 'dir' || found.state.incarnation === null)
      throw err('NOT_DIR', `${p}: not a directory`);
    const inc = found.state.incarnation;
    const perms = this.log.resolver.permissions(inc);
    // A key granted here (not inherited) signs below its own grant, where it is valid.
    const inherited = inc.chain.dir === null ? this.log.resolver.rootKeys() : this.log.resolver.keysBelow(inc.chain.dir);
    const own = inherited.has(this.me) ? undefined : perms.granted.get(this.me);
    return this.commit(own ?? perms.head ?? inc, action, label, key);
  }

  /** Sign, check authority as every peer will, and store durably. */
  private commit(parent: Node, action: Action, name: string, content: Uint8Array, timestamp?: number): Entry {
    const entry = createEntry(
      { parent: parent.entry.hash, timestamp: Math.max(0, Math.floor(timestamp ?? this.now())), action, name, content },
      this.key.publicKey,
      this.key.seed,
    );
    const placement = this.log.tree.place(entry);
    const keys =
      placement.chain.kind === 'perm'
        ? this.log.resolver.keysBelow(placement.chain.dir as Node)
        : this.log.resolver.keysFor(placement.chain);
    if (!keys.has(this.me)) throw err('NOT_AUTHORIZED', `this key may not write ${placement.path}`);
    const result = this.log.ingestOwn(entry);
    if (result.status !== 'accepted') throw err(result.code ?? 'IO', `entry not accepted (${result.status})`);
    return entry;
  }
}

