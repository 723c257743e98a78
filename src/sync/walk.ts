/**
 * The Merkle walk of one session: the summaries we send, the ones the peer may send back (only
 * where ours lead: children of a path we listed, sub-buckets of a level we sent as buckets, each at
 * most once), their reassembly from parts, and their comparison into the plan of our next turn.
 */
import { err } from '../core/errors.ts';
import { bytesEqual, toHex, type Hash } from '../core/hash.ts';
import type { Log } from '../core/log.ts';
import { parentPath } from '../core/paths.ts';
import { summaryMessages } from './split.ts';
import { checkListing, compareLevel, LocalLevels, type Listed } from './summary.ts';
import type { Message } from './wire.ts';

/** What the peer asked for or what our comparisons decided, gathered over one incoming turn. */
export class TurnPlan {
  /** Entries to send: answers and pushes (hex → hash). */
  readonly entries = new Map<string, Hash>();
  /** Paths whose whole subtree we send. */
  readonly subtrees = new Set<string>();
  readonly blocks: Hash[] = [];
  /** Levels to send our summary of: [path, bucket prefix]. */
  readonly descend: Array<[string, string]> = [];
  readonly wantEntries = new Map<string, Hash>();
  readonly wantSubtrees = new Set<string>();
  /** Responder: the initiator's root, to answer its HELLO with ours (and "/" if they differ). */
  helloReply: Hash | null = null;
}

export class MerkleWalk {
  private readonly log: Log;
  private readonly levels: LocalLevels;
  private readonly initiator: boolean;
  private readonly maxItems: number;
  /** What our last turn summarized: all the peer may summarize next. */
  private listedPaths = new Set<string>();
  private bucketedLevels = new Set<string>();
  /** Levels the peer has summarized this session. */
  private readonly peerSummarized = new Set<string>();
  private readonly assembling = new Map<string, Listed>();

  constructor(log: Log, role: 'initiator' | 'responder', maxItems: number) {
    this.log = log;
    this.levels = new LocalLevels(log);
    this.initiator = role === 'initiator';
    this.maxItems = maxItems;
  }

  /** A listing is half received: the peer may not end its turn here. */
  get midListing(): boolean {
    return this.assembling.size > 0;
  }

  /** Our summaries of these levels, for our next turn. */
  summaries(levels: ReadonlyArray<[string, string]>): Message[] {
    this.listedPaths = new Set();
    this.bucketedLevels = new Set();
    const out: Message[] = [];
    for (const [path, prefix] of levels) {
      const s = this.levels.summary(path, prefix);
      if ('buckets' in s) {
        this.bucketedLevels.add(levelKey(path, prefix));
        out.push({ type: 'buckets', ...s });
      } else {
        this.listedPaths.add(path);
        out.push(...summaryMessages(s));
      }
    }
    return out;
  }

  /** Reassemble a listing sent in parts; compare it once whole. `received`: never asked again. */
  receiveListingPart(m: Extract<Message, { type: 'summary' }>, plan: TurnPlan, received: ReadonlySet<string>): void {
    const key = levelKey(m.path, m.prefix);
    let s = this.assembling.get(key);
    if (s === undefined) {
      this.expect(m.path, m.prefix);
      this.assembling.set(key, (s = { path: m.path, prefix: m.prefix, hash: m.hash, entries: [], children: [] }));
    }
    if (!bytesEqual(s.hash, m.hash)) throw err('MALFORMED', `${m.path}: summary parts disagree`);
    s.entries.push(...m.entries);
    s.children.push(...m.children);
    if (s.entries.length + s.children.length > this.maxItems) throw err('TOO_LARGE', `${m.path}: summary too large`);
    if (!m.last) return;
    this.assembling.delete(key);
    this.peerSummarized.add(key);
    checkListing(s, (name) => this.levels.keyOf(name));
    const level = compareLevel(this.log, this.levels.listing(s.path, s.prefix), s);
    for (const h of level.wantEntries) if (!received.has(toHex(h))) plan.wantEntries.set(toHex(h), h);
    for (const h of level.pushEntries) plan.entries.set(toHex(h), h);
    for (const p of level.wantSubtrees) plan.wantSubtrees.add(p);
    for (const p of level.pushSubtrees) plan.subtrees.add(p);
    for (const p of level.descend) plan.descend.push([p, '']);
  }

  /** A level too large to list: walk into the sub-buckets whose digests differ from ours. */
  receiveBuckets(m: Extract<Message, { type: 'buckets' }>, plan: TurnPlan): void {
    this.peerSummarized.add(this.expect(m.path, m.prefix));
    const mine = this.levels.listing(m.path, m.prefix);
    if (bytesEqual(mine.hash, m.hash)) return;
    this.levels.subDigests(mine).forEach((digest, i) => {
      if (!bytesEqual(digest, m.buckets[i] as Hash)) plan.descend.push([m.path, m.prefix + i.toString(16)]);
    });
  }

  /** May the peer summarize this level now? Only where our last turn's summaries lead, once. */
  private expect(path: string, prefix: string): string {
    const key = levelKey(path, prefix);
    const allowed =
      prefix !== ''
        ? this.bucketedLevels.has(levelKey(path, prefix.slice(0, -1)))
        : path === '/'
          ? this.initiator
          : this.listedPaths.has(parentPath(path));
    if (!allowed || this.peerSummarized.has(key)) throw err('MALFORMED', `unasked summary of ${path} [${prefix}]`);
    return key;
  }
}

/** Paths never contain NUL (paths.ts), so this key is unambiguous. */
function levelKey(path: string, prefix: string): string {
  return `${path}\0${prefix}`;
}
