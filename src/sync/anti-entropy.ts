/**
 * Push-pull anti-entropy between two replicas of one filesystem, as a deterministic state machine:
 * frames in, frames out, `now` passed in. No sockets, no timers (stream.ts drives it over a stream).
 *
 * The two sides take turns; a turn is any number of frames closed by END_TURN (or DONE).
 *   1. The initiator sends HELLO (version, filesystem id, root hash).
 *   2. The responder answers HELLO, then DONE if the roots are equal (one round trip), else its
 *      summary of "/".
 *   3. Whoever receives a summary of path P compares it with its own (summary.ts) and, in its next
 *      turn, pushes the entries the peer lacks at P, asks for the ones it lacks, asks for children
 *      it lacks whole, pushes children the peer lacks whole, and sends its own summaries of the
 *      children whose hashes differ, all of one level batched in the one turn. The peer does the
 *      same one level down, so both directions move in every exchange and a walk costs about one
 *      turn per level of the differing paths. A level with more than 16 entries and children is
 *      summarized by 16 bucket digests instead of a listing, and the walk goes on into the buckets
 *      that differ (walk.ts): the cost of a difference is ~log16 of the width, not the width.
 *   4. Entries asked for are answered in the next turn. Everything one turn sends is in verifiable
 *      order (log.inVerifiableOrder), so the receiver's log.ingestMany finds parents and grants
 *      first. Entries go before blocks, and blocks are only asked once a side has nothing left to
 *      ask about entries; at most `maxBlocksInFlight` per turn, each verified by putExpected.
 *   5. A side whose reply would be empty sends DONE instead, and the session ends on both sides.
 * Equal roots do not mean equal blocks: a node that knows it has incomplete files passes their
 * missing blocks (block-wants.ts missingBlocks) and asks for them in its first turn.
 *
 * A peer that sends something invalid (garbage frames, forged entries, wrong blocks, summaries that
 * do not hash to what they claim, entries it advertised but does not send, a summary nobody asked
 * for) ends the session with a typed error; whatever valid entries came before stay, nothing else.
 */
import { err, isBasefsError, type BasefsError, type ErrorCode } from '../core/errors.ts';
import { ZERO_HASH } from '../core/entry.ts';
import { bytesEqual, toHex, type Hash } from '../core/hash.ts';
import type { Log } from '../core/log.ts';
import type { Node } from '../core/tree.ts';
import { View } from '../core/view.ts';
import { BlockWants, type SyncBlocks } from './block-wants.ts';
import { blockMessages, entryMessages, subtreeMessages, wantMessages } from './split.ts';
import { subtreeEntries } from './summary.ts';
import { MerkleWalk, TurnPlan } from './walk.ts';
import { SyncStats } from './stats.ts';
import { decodeMessage, encodeMessage, PROTOCOL_VERSION, type Message } from './wire.ts';

export type Role = 'initiator' | 'responder';

export interface SyncLimits {
  /** A peer silent for this long mid-session is dropped (TIMEOUT). */
  idleTimeoutMs: number;
  /** No session lasts longer than this, however chatty the peer. */
  sessionTimeoutMs: number;
  /** Blocks asked per turn. */
  maxBlocksInFlight: number;
  /** Turns per session; the walk needs about one per path level, blocks a few more. */
  maxTurns: number;
  /** Summary entries plus children one path may have (a guard on reassembling split summaries). */
  maxSummaryItems: number;
}

export const DEFAULT_LIMITS: SyncLimits = {
  idleTimeoutMs: 30_000,
  sessionTimeoutMs: 10 * 60_000,
  maxBlocksInFlight: 16,
  maxTurns: 4096,
  maxSummaryItems: 65_536,
};

export interface SyncOptions {
  log: Log;
  /** null: entries only (blocks are neither asked nor served). */
  blocks: SyncBlocks | null;
  role: Role;
  now: number;
  limits?: Partial<SyncLimits>;
  /** Blocks the caller already knows it lacks (files that were incomplete before this session). */
  missingBlocks?: Iterable<Hash>;
  /**
   * The filesystem to fetch into a log that has no genesis entry yet (`basefs get`): the only
   * genesis accepted from the peer is the one that hashes to it. Defaults to the log's own id.
   * 'first-use' (an empty log only): take the filesystem the peer holds, whatever it is — its id
   * is then `session.filesystemId` and its genesis must hash to it (trust on first use).
   */
  fsId?: Hash | 'first-use';
}

export interface SessionError {
  code: ErrorCode;
  message: string;
  /** The peer reported it (its ERROR frame); otherwise we detected it. */
  remote: boolean;
}

export interface Step {
  send: Uint8Array[];
  done: boolean;
  error?: SessionError;
}

type Phase = 'new' | 'running' | 'finished' | 'failed';

export class SyncSession {
  readonly role: Role;
  readonly stats = new SyncStats();
  private readonly log: Log;
  private readonly blocks: SyncBlocks | null;
  private readonly limits: SyncLimits;
  private readonly blockWants: BlockWants | null;
  private phase: Phase = 'new';
  private error: SessionError | undefined;
  private startedAt: number;
  private lastHeardAt: number;
  private peerHello = false;
  private plan = new TurnPlan();
  private readonly walk: MerkleWalk;
  private fsId: Hash;
  /** Sent in our hello by a first-use fetch: "any filesystem"; adopted from the peer's hello. */
  private firstUse = false;
  /** Entries we asked for in our last turn and must receive in the peer's next one. */
  private wanted = new Map<string, Hash>();
  private blocksInFlight = new Map<string, Hash>();
  /** Sent at most once per session: bounds what a peer that keeps asking can make us send. */
  private readonly sentEntries = new Set<string>();
  private readonly sentBlocks = new Set<string>();
  /** Entries the peer sent this session (hex), stored or pending: never asked for again. */
  private readonly received = new Set<string>();

  constructor(opts: SyncOptions) {
    this.log = opts.log;
    this.blocks = opts.blocks;
    this.role = opts.role;
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    if (opts.fsId === undefined && opts.log.size === 0) throw err('USAGE', 'an empty log needs the fsId to fetch');
    if (opts.fsId === 'first-use' && (opts.log.size > 0 || opts.role !== 'initiator'))
      throw err('USAGE', 'first-use fetch is only for an initiator with an empty log');
    this.firstUse = opts.fsId === 'first-use';
    this.fsId = opts.fsId === 'first-use' ? ZERO_HASH : (opts.fsId ?? opts.log.id);
    if (opts.log.size > 0 && !bytesEqual(this.fsId, opts.log.id)) throw err('USAGE', 'fsId is not this log\'s filesystem');
    this.walk = new MerkleWalk(opts.log, opts.role, this.limits.maxSummaryItems);
    this.startedAt = this.lastHeardAt = opts.now;
    this.blockWants = opts.blocks === null ? null : new BlockWants(new View(opts.log, opts.blocks), opts.blocks, opts.missingBlocks ?? []);
  }

  get done(): boolean {
    return this.phase === 'finished' || this.phase === 'failed';
  }

  get failure(): SessionError | undefined {
    return this.error;
  }

  /** The initiator's opening turn; the responder sends nothing until HELLO arrives. */
  start(now: number): Step {
    if (this.phase !== 'new') throw err('USAGE', 'session already started');
    this.phase = 'running';
    this.startedAt = this.lastHeardAt = now;
    if (this.role === 'responder') return this.step([]);
    const out: Message[] = [this.hello()];
    // Blocks we already know we lack can be asked at once: they do not depend on the walk.
    const blocks = this.blockWants?.next(this.limits.maxBlocksInFlight) ?? [];
    for (const h of blocks) this.blocksInFlight.set(toHex(h), h);
    out.push(...wantMessages('want-blocks', blocks), { type: 'end-turn' });
    return this.send(out);
  }

  receive(frame: Uint8Array, now: number): Step {
    if (this.done) return this.step([]);
    if (this.phase === 'new') return this.fail(err('USAGE', 'receive before start'));
    this.lastHeardAt = now;
    this.stats.framesReceived++;
    this.stats.bytesReceived += frame.length;
    try {
      const m = decodeMessage(frame);
      if (!this.peerHello && m.type !== 'hello' && m.type !== 'error') throw err('MALFORMED', `${m.type} before hello`);
      return this.handle(m);
    } catch (e) {
      if (isBasefsError(e)) return this.fail(e);
      // A bug reached by a peer's input must not take the node down: end this session, keep the cause.
      return this.fail(err('IO', `internal error handling a frame: ${String(e)}`, e));
    }
  }

  /** Time passes: a peer that went silent, or a session that runs too long, is dropped. */
  tick(now: number): Step {
    if (this.phase !== 'running') return this.step([]);
    if (now - this.lastHeardAt >= this.limits.idleTimeoutMs)
      return this.fail(err('TIMEOUT', `peer silent for ${now - this.lastHeardAt} ms`));
    if (now - this.startedAt >= this.limits.sessionTimeoutMs) return this.fail(err('TIMEOUT', 'session too long'));
    return this.step([]);
  }

  /**
   * End the session from outside (the transport closed, a frame was too large to read): returns the
   * ERROR frame to send if the stream can still carry it.
   */
  abort(e: BasefsError): Step {
    if (this.done) return this.step([]);
    return this.fail(e);
  }

  private handle(m: Message): Step {
    switch (m.type) {
      case 'hello':
        this.onHello(m);
        return this.step([]);
      case 'summary':
        if (m.last) this.stats.summariesReceived++;
        this.walk.receiveListingPart(m, this.plan, this.received);
        return this.step([]);
      case 'buckets':
        this.stats.summariesReceived++;
        this.walk.receiveBuckets(m, this.plan);
        return this.step([]);
      case 'entries':
        this.onEntries(m.entries);
        return this.step([]);
      case 'want-entries':
        for (const h of m.hashes) if (this.log.has(h)) this.plan.entries.set(toHex(h), h);
        return this.step([]);
      case 'want-subtrees':
        // Only paths we have, once each: what a peer can make us hold is bounded by our tree.
        for (const p of m.paths) if (this.log.merkle.find(p) !== undefined) this.plan.subtrees.add(p);
        return this.step([]);
      case 'want-blocks':
        for (const h of m.hashes)
          if (this.plan.blocks.length < this.limits.maxBlocksInFlight) this.plan.blocks.push(h);
        return this.step([]);
      case 'blocks':
        this.onBlocks(m.blocks);
        return this.step([]);
      case 'end-turn':
        return this.endOfPeerTurn();
      case 'done':
        this.endOfPeerTurnChecks();
        this.phase = 'finished';
        return this.step([]);
      case 'error':
        this.phase = 'failed';
        this.error = { code: 'CLOSED', message: `peer: ${m.code} ${m.message}`, remote: true };
        return this.step([]);
    }
  }

  private onHello(m: Extract<Message, { type: 'hello' }>): void {
    if (this.peerHello) throw err('MALFORMED', 'second hello');
    if (m.version !== PROTOCOL_VERSION) throw err('NOT_SUPPORTED', `protocol version ${m.version}`);
    if (this.firstUse) {
      if (bytesEqual(m.fsId, ZERO_HASH)) throw err('MALFORMED', 'the peer names no filesystem');
      this.fsId = m.fsId;
      this.firstUse = false;
    } else if (this.role === 'responder' && bytesEqual(m.fsId, ZERO_HASH)) {
      // A first-use fetch (`basefs get` without --id) asks for whatever we hold: our hello names it,
      // and the fetcher checks the genesis against that. Entries are not secret from peers.
    } else if (!bytesEqual(m.fsId, this.fsId)) throw err('NOT_FOUND', 'the peer holds another filesystem');
    this.peerHello = true;
    if (this.role === 'responder') this.plan.helloReply = m.root;
  }

  private onEntries(batch: Uint8Array[]): void {
    const accepted: Node[] = [];
    const stop = this.log.onAccept((nodes) => accepted.push(...nodes));
    let results;
    try {
      // A genesis entry (zero parent) is only ever the one named by the filesystem id: a peer cannot
      // plant another root in a log that does not have one yet (decodeEntry checks, BAD_HASH).
      const expected = batch.map((b) => (isGenesisBytes(b) ? this.fsId : ANY_HASH));
      results = this.log.ingestMany(batch, expected.includes(this.fsId) ? expected : undefined);
    } finally {
      stop();
    }
    this.blockWants?.noteAccepted(accepted);
    this.stats.entriesReceived += batch.length;
    this.stats.entriesAccepted += accepted.length;
    let rejected: { code?: ErrorCode } | undefined;
    for (const r of results) {
      if (r.hash !== undefined) {
        const k = toHex(r.hash);
        this.wanted.delete(k);
        this.received.add(k);
      }
      if (r.status === 'duplicate') this.stats.entriesDuplicate++;
      else if (r.status === 'pending') this.stats.entriesPending++;
      else if (r.status === 'rejected') {
        this.stats.entriesRejected++;
        rejected ??= r;
      }
    }
    // The valid ones are in (they verified on their own); an honest peer never sends an invalid one.
    if (rejected !== undefined) throw err(rejected.code ?? 'MALFORMED', 'peer sent an invalid entry');
  }

  private onBlocks(blocks: Array<{ hash: Hash; bytes: Uint8Array }>): void {
    for (const b of blocks) {
      const k = toHex(b.hash);
      // Unasked or repeated blocks are dropped unstored: harmless, and never trusted.
      if (this.blocks === null || !this.blocksInFlight.delete(k)) {
        this.stats.blocksIgnored++;
        continue;
      }
      this.blocks.putExpected(b.hash, b.bytes); // BAD_HASH: the peer sent the wrong bytes
      this.stats.blocksReceived++;
      this.stats.blockBytesReceived += b.bytes.length;
    }
  }

  /** What the peer owed us in this turn: the entries it advertised and we asked for. */
  private endOfPeerTurnChecks(): void {
    this.stats.turnsReceived++;
    if (this.walk.midListing) throw err('MALFORMED', 'turn ended inside a split summary');
    for (const [k, h] of this.wanted) if (this.log.has(h)) this.wanted.delete(k);
    if (this.wanted.size > 0) throw err('NOT_FOUND', `peer did not send ${this.wanted.size} entries it advertised`);
    this.stats.blocksUnavailable += this.blocksInFlight.size;
    this.blocksInFlight.clear();
  }

  private endOfPeerTurn(): Step {
    this.endOfPeerTurnChecks();
    if (this.stats.turnsReceived + this.stats.turnsSent >= this.limits.maxTurns) throw err('TOO_LARGE', 'too many turns');
    const plan = this.plan;
    this.plan = new TurnPlan();
    const out: Message[] = [];
    if (plan.helloReply !== null) {
      out.push(this.hello());
      if (!bytesEqual(plan.helloReply, this.log.rootHash())) plan.descend.push(['/', '']);
    }
    // 1. Entries: answers, pushes and whole subtrees, one verifiable order over all of them.
    const send = plan.entries;
    for (const p of plan.subtrees) for (const h of subtreeEntries(this.log.merkle.find(p))) send.set(toHex(h), h);
    for (const k of send.keys()) if (this.sentEntries.has(k)) send.delete(k);
    const ordered = this.log.inVerifiableOrder(send.values());
    for (const e of ordered) this.sentEntries.add(toHex(e.hash));
    this.stats.entriesSent += ordered.length;
    out.push(...entryMessages(ordered.map((e) => e.bytes)));
    // 2. Blocks asked of us, after the entries.
    out.push(...blockMessages(this.blocksToServe(plan.blocks)));
    // 3. Our asks: the next level of the walk, missing entries and subtrees, then blocks.
    this.stats.summariesSent += plan.descend.length;
    out.push(...this.walk.summaries(plan.descend));
    this.wanted = plan.wantEntries;
    out.push(...wantMessages('want-entries', [...plan.wantEntries.values()]), ...subtreeMessages([...plan.wantSubtrees]));
    const askingEntries = plan.descend.length + plan.wantEntries.size + plan.wantSubtrees.size > 0;
    if (!askingEntries && this.blockWants !== null) {
      const blocks = this.blockWants.next(this.limits.maxBlocksInFlight);
      for (const h of blocks) this.blocksInFlight.set(toHex(h), h);
      out.push(...wantMessages('want-blocks', blocks));
    }
    if (out.length === (plan.helloReply !== null ? 1 : 0)) {
      this.phase = 'finished';
      return this.send([...out, { type: 'done' }]);
    }
    out.push({ type: 'end-turn' });
    return this.send(out);
  }

  private blocksToServe(hashes: Hash[]): Array<{ hash: Hash; bytes: Uint8Array }> {
    const out: Array<{ hash: Hash; bytes: Uint8Array }> = [];
    if (this.blocks === null) return out;
    for (const h of hashes.slice(0, this.limits.maxBlocksInFlight)) {
      const k = toHex(h);
      if (this.sentBlocks.has(k)) continue;
      const bytes = this.blocks.get(h);
      if (bytes === null) continue; // we lack it too: the peer will ask someone else
      this.sentBlocks.add(k);
      out.push({ hash: h, bytes });
      this.stats.blocksSent++;
      this.stats.blockBytesSent += bytes.length;
    }
    return out;
  }

  /** The filesystem this session syncs (after a first-use fetch, the one the peer named). */
  get filesystemId(): Hash {
    return this.fsId;
  }

  private hello(): Message {
    return { type: 'hello', version: PROTOCOL_VERSION, fsId: this.fsId, root: this.log.rootHash() };
  }

  private send(messages: Message[]): Step {
    const frames = messages.map(encodeMessage);
    this.stats.turnsSent++;
    for (const f of frames) {
      this.stats.framesSent++;
      this.stats.bytesSent += f.length;
    }
    return this.step(frames);
  }

  private fail(e: BasefsError): Step {
    this.phase = 'failed';
    this.error = { code: e.code, message: e.message, remote: false };
    const frame = encodeMessage({ type: 'error', code: e.code, message: e.message.slice(0, 200) });
    this.stats.framesSent++;
    this.stats.bytesSent += frame.length;
    return this.step([frame]);
  }

  private step(send: Uint8Array[]): Step {
    const step: Step = { send, done: this.done };
    if (this.error !== undefined) step.error = this.error;
    return step;
  }
}

/** Placeholder for "no expectation" in ingestMany's per-entry expected hashes. */
const ANY_HASH = undefined as unknown as Hash;

/** The parent field (entry.ts layout: bytes 1..33) is all zero only for a genesis entry. */
function isGenesisBytes(b: Uint8Array): boolean {
  if (b.length < 33) return false;
  for (let i = 1; i < 33; i++) if (b[i] !== 0) return false;
  return true;
}
