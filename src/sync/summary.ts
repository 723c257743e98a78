/**
 * One step of the Merkle walk. A step is about a *level*: a path, and a bucket prefix within it.
 *
 * A directory with a few entries and children is summarized by listing them (their hashes). A wide
 * one (thousands of files, or one file rewritten thousands of times) would make that listing cost
 * as much as the directory, so past LIST_MAX items a level is summarized instead by the digests of
 * 16 buckets: entries by the hex digits of their hash, children by those of their name's hash
 * (`nameKey`, so a child falls in the same bucket on both sides whatever it holds). Buckets split
 * again while they are large. The cost of finding one difference is then ~log16(width) small steps,
 * whatever the width, and a whole walk costs in proportion to k × depth, not to the log.
 *
 * Comparing a listed level decides, in one step, what moves both ways there:
 *   - entries the peer lacks are pushed, entries we lack are asked for;
 *   - a child only the peer has is asked for whole, a child only we have is pushed whole;
 *   - a child both have with different hashes is descended into (we send our summary of it).
 */
import { err } from '../core/errors.ts';
import { bytesEqual, compareBytes, taggedHash, toHex, type Hash } from '../core/hash.ts';
import type { Log } from '../core/log.ts';
import type { MerkleNode } from '../core/merkle.ts';
import { joinPath } from '../core/paths.ts';
import { BUCKETS, DIGEST_BYTES, MAX_PREFIX, type Child } from './wire.ts';

/** Items a level may list; more are summarized by bucket digests (16 × 17 bytes ≈ 6 listed children). */
export const LIST_MAX = 16;

const encoder = new TextEncoder();

export interface Listed {
  path: string;
  prefix: string;
  hash: Hash;
  entries: Hash[];
  children: Child[];
}

export interface Bucketed {
  path: string;
  prefix: string;
  hash: Hash;
  buckets: Hash[];
}

function levelHash(tag: string, entries: readonly Hash[], children: readonly Child[]): Hash {
  const parts: Uint8Array[] = [];
  const count = new Uint8Array(4);
  new DataView(count.buffer).setUint32(0, entries.length);
  parts.push(count, ...entries);
  for (const c of children) {
    const name = encoder.encode(c.name);
    parts.push(Uint8Array.of(name.length), name, c.hash);
  }
  return taggedHash(tag, ...parts);
}

/**
 * The Merkle node hash, recomputed from a listing exactly as src/core/merkle.ts defines it
 * ("basefs/merkle/v1", u32 count, sorted entry hashes, then u8 nameLength || name || hash per child
 * in byte order of name). wire.test.ts checks this copy against the core's tree.
 */
export function summaryHash(entries: readonly Hash[], children: readonly Child[]): Hash {
  return levelHash('basefs/merkle/v1', entries, children);
}

/** The digest of a bucket (same layout, its own tag: a bucket is never mistaken for a node). */
export function bucketDigest(entries: readonly Hash[], children: readonly Child[]): Hash {
  return levelHash('basefs/sync-bucket/v1', entries, children);
}

/** Our side of the walk: listings and bucket digests of our Merkle tree, name keys cached. */
export class LocalLevels {
  private readonly log: Log;
  private readonly nameKeys = new Map<string, string>();

  constructor(log: Log) {
    this.log = log;
  }

  keyOf(name: string): string {
    let k = this.nameKeys.get(name);
    if (k === undefined) this.nameKeys.set(name, (k = nameKey(name)));
    return k;
  }

  /** What we hold at (path, prefix), listed; the hash is the node's (prefix "") or the bucket's. */
  listing(path: string, prefix: string): Listed {
    const s = this.log.merkle.summary(path);
    if (s === undefined) return { path, prefix, hash: bucketDigest([], []), entries: [], children: [] };
    if (prefix === '') return { path, prefix, hash: s.hash, entries: s.entries, children: s.children };
    const entries = s.entries.filter((h) => toHex(h).startsWith(prefix));
    const children = s.children.filter((c) => this.keyOf(c.name).startsWith(prefix));
    return { path, prefix, hash: bucketDigest(entries, children), entries, children };
  }

  /** Our summary of a level: listed when small (or at the deepest prefix), else bucket digests. */
  summary(path: string, prefix: string): Listed | Bucketed {
    const l = this.listing(path, prefix);
    if (l.entries.length + l.children.length <= LIST_MAX || prefix.length >= MAX_PREFIX) return l;
    return { path, prefix, hash: l.hash, buckets: this.subDigests(l) };
  }

  /** The (truncated) digests of the 16 sub-buckets of a listing, by the next hex digit of each item's key. */
  subDigests(l: Listed): Hash[] {
    const at = l.prefix.length;
    const entries: Hash[][] = Array.from({ length: BUCKETS }, () => []);
    const children: Child[][] = Array.from({ length: BUCKETS }, () => []);
    for (const h of l.entries) entries[parseInt(toHex(h)[at] as string, 16)]?.push(h);
    for (const c of l.children) children[parseInt(this.keyOf(c.name)[at] as string, 16)]?.push(c);
    return entries.map((e, i) => bucketDigest(e, children[i] as Child[]).subarray(0, DIGEST_BYTES));
  }
}

/** Where a child falls among buckets: the hash of its name, the same on both sides. */
export function nameKey(name: string): string {
  return toHex(taggedHash('basefs/sync-name/v1', encoder.encode(name)));
}

/**
 * A listing from a peer must be in canonical order, without repeats, inside its bucket, and hash
 * to what it claims: otherwise the peer is lying about its tree (BAD_HASH) or broken (MALFORMED).
 */
export function checkListing(s: Listed, keyOf: (name: string) => string = nameKey): void {
  for (let i = 1; i < s.entries.length; i++)
    if (compareBytes(s.entries[i - 1] as Hash, s.entries[i] as Hash) >= 0) throw err('MALFORMED', `${s.path}: entries not sorted`);
  let prev: Uint8Array | null = null;
  for (const c of s.children) {
    const name = encoder.encode(c.name);
    if (prev !== null && compareBytes(prev, name) >= 0) throw err('MALFORMED', `${s.path}: children not sorted`);
    prev = name;
  }
  if (s.prefix !== '') {
    if (!s.entries.every((h) => toHex(h).startsWith(s.prefix)) || !s.children.every((c) => keyOf(c.name).startsWith(s.prefix)))
      throw err('MALFORMED', `${s.path}: items outside bucket ${s.prefix}`);
  }
  const hash = s.prefix === '' ? summaryHash(s.entries, s.children) : bucketDigest(s.entries, s.children);
  if (!bytesEqual(hash, s.hash)) throw err('BAD_HASH', `${s.path}: summary does not hash to the hash it claims`);
}

/** A whole node's listing (prefix ""), as MerkleTree.summary gives it. */
export function checkSummary(s: Omit<Listed, 'prefix'>): void {
  checkListing({ ...s, prefix: '' });
}

export interface LevelPlan {
  wantEntries: Hash[];
  pushEntries: Hash[];
  wantSubtrees: string[];
  pushSubtrees: string[];
  /** Children whose hashes differ: walk into them (their whole node, prefix ""). */
  descend: string[];
}

/** What to do at one listed level, given our listing of the same level and the peer's. */
export function compareLevel(log: Log, mine: Listed, theirs: Listed): LevelPlan {
  const plan: LevelPlan = { wantEntries: [], pushEntries: [], wantSubtrees: [], pushSubtrees: [], descend: [] };
  if (bytesEqual(mine.hash, theirs.hash)) return plan;
  const theirEntries = new Set(theirs.entries.map(toHex));
  for (const h of theirs.entries) if (!log.has(h)) plan.wantEntries.push(h);
  for (const h of mine.entries) if (!theirEntries.has(toHex(h))) plan.pushEntries.push(h);

  const myChildren = new Map(mine.children.map((c) => [c.name, c.hash]));
  const theirChildren = new Set<string>();
  for (const c of theirs.children) {
    theirChildren.add(c.name);
    const path = joinPath(theirs.path, c.name);
    const h = myChildren.get(c.name);
    if (h === undefined) plan.wantSubtrees.push(path);
    else if (!bytesEqual(h, c.hash)) plan.descend.push(path);
  }
  for (const name of myChildren.keys()) if (!theirChildren.has(name)) plan.pushSubtrees.push(joinPath(theirs.path, name));
  return plan;
}

/** Every entry hash stored at or below a Merkle node. */
export function subtreeEntries(node: MerkleNode | undefined): Hash[] {
  const out: Hash[] = [];
  const stack = node === undefined ? [] : [node];
  while (stack.length > 0) {
    const n = stack.pop() as MerkleNode;
    out.push(...n.entries);
    for (const c of n.children.values()) stack.push(c);
  }
  return out;
}
