/**
 * One level of the Merkle walk: check that a peer's summary is self-consistent, and compare it with
 * ours to decide, in one step, what goes in both directions at that path:
 *   - entries the peer lacks are pushed, entries we lack are asked for;
 *   - a child only the peer has is asked for whole, a child only we have is pushed whole;
 *   - a child both have with different hashes is descended into (we send our summary of it).
 */
import { err } from '../core/errors.ts';
import { bytesEqual, compareBytes, taggedHash, type Hash } from '../core/hash.ts';
import type { Log } from '../core/log.ts';
import type { MerkleNode, MerkleSummary } from '../core/merkle.ts';
import { joinPath } from '../core/paths.ts';
import type { Child } from './wire.ts';

const encoder = new TextEncoder();

/**
 * The Merkle node hash, recomputed from a summary exactly as src/core/merkle.ts defines it
 * ("basefs/merkle/v1", u32 count, sorted entry hashes, then u8 nameLength || name || hash per child
 * in byte order of name). summary.test.ts checks this copy against the core's tree.
 */
export function summaryHash(entries: readonly Hash[], children: readonly Child[]): Hash {
  const parts: Uint8Array[] = [];
  const count = new Uint8Array(4);
  new DataView(count.buffer).setUint32(0, entries.length);
  parts.push(count, ...entries);
  for (const c of children) {
    const name = encoder.encode(c.name);
    parts.push(Uint8Array.of(name.length), name, c.hash);
  }
  return taggedHash('basefs/merkle/v1', ...parts);
}

/**
 * A summary from a peer must list its entries and children in canonical order, without repeats, and
 * hash to what it claims: otherwise the peer is lying about its tree (BAD_HASH) or broken (MALFORMED).
 */
export function checkSummary(s: MerkleSummary): void {
  for (let i = 1; i < s.entries.length; i++)
    if (compareBytes(s.entries[i - 1] as Hash, s.entries[i] as Hash) >= 0) throw err('MALFORMED', `${s.path}: entries not sorted`);
  let prev: Uint8Array | null = null;
  for (const c of s.children) {
    const name = encoder.encode(c.name);
    if (prev !== null && compareBytes(prev, name) >= 0) throw err('MALFORMED', `${s.path}: children not sorted`);
    prev = name;
  }
  if (!bytesEqual(summaryHash(s.entries, s.children), s.hash))
    throw err('BAD_HASH', `${s.path}: summary does not hash to the hash it claims`);
}

export interface LevelPlan {
  wantEntries: Hash[];
  pushEntries: Hash[];
  wantSubtrees: string[];
  pushSubtrees: string[];
  descend: string[];
}

/** What to do at one path, given our summary (undefined: we have nothing there) and the peer's. */
export function compareLevel(log: Log, mine: MerkleSummary | undefined, theirs: MerkleSummary): LevelPlan {
  const plan: LevelPlan = { wantEntries: [], pushEntries: [], wantSubtrees: [], pushSubtrees: [], descend: [] };
  if (mine !== undefined && bytesEqual(mine.hash, theirs.hash)) return plan;
  const theirEntries = new Set(theirs.entries.map(hex));
  for (const h of theirs.entries) if (!log.has(h)) plan.wantEntries.push(h);
  for (const h of mine?.entries ?? []) if (!theirEntries.has(hex(h))) plan.pushEntries.push(h);

  const myChildren = new Map((mine?.children ?? []).map((c) => [c.name, c.hash]));
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

function hex(h: Hash): string {
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('hex');
}
