/**
 * The verified log: every entry this node has accepted, the structural tree they form, the Merkle
 * tree over them, and the pipeline that lets an untrusted entry in.
 *
 * Ingest, in order of cost (cheap checks first, the signature last, so junk is dropped cheaply):
 *   1. decode with bounds (MALFORMED / TOO_LARGE), recompute the hash (BAD_HASH if it was asked for
 *      by another hash), and check the content's layout for its action;
 *   2. DUPLICATE if already stored or waiting;
 *   3. verify the signature (BAD_SIGNATURE) and any key it grants (BAD_KEY);
 *   4. ORPHAN → wait for the parent; place it in the tree (BAD_PARENT / BAD_NAME / SECOND_ROOT);
 *   5. admission (UNKNOWN_KEY / NOT_AUTHORIZED → wait for a grant, see admission.ts);
 *   6. store: tree, Merkle tree, grant index, then release whatever was waiting on it.
 * A rejected entry changes nothing. Accepted entries of one call are appended to disk together
 * with one fsync before the call returns: when ingest returns "accepted", the entry is durable.
 */
import { err, isBasefsError, type ErrorCode } from './errors.ts';
import { ACTION, decodeEntry, decodeTrustedEntry, isGenesis, signatureInput, verifyEntry, type Entry } from './entry.ts';
import { checkContent } from './content.ts';
import { GrantIndex, PendingPool } from './admission.ts';
import { HASH_BYTES, toHex, type Hash } from './hash.ts';
import { MerkleTree } from './merkle.ts';
import { Resolver } from './resolve.ts';
import { Tree, type Node } from './tree.ts';
import { checkPublicKey } from './verify.ts';
import type { VerifyPool } from './verify-pool.ts';

export type IngestStatus = 'accepted' | 'duplicate' | 'pending' | 'rejected';

export interface IngestResult {
  status: IngestStatus;
  /** Why it is not accepted (pending: what it waits for). */
  code?: ErrorCode;
  hash?: Hash;
}

/** Where accepted entries go to be durable. A log with no sink lives in memory (tests, simulator). */
export interface EntrySink {
  append(records: readonly Uint8Array[]): void;
}

export type AcceptListener = (nodes: readonly Node[]) => void;

/** On-disk record: the entry's hash (saves rehashing at open) followed by its bytes. */
export function encodeRecord(e: Entry): Uint8Array {
  const r = new Uint8Array(HASH_BYTES + e.bytes.length);
  r.set(e.hash, 0);
  r.set(e.bytes, HASH_BYTES);
  return r;
}

export class Log {
  readonly tree = new Tree();
  readonly merkle = new MerkleTree();
  readonly resolver: Resolver;
  readonly grants = new GrantIndex();
  private readonly orphans = new PendingPool();
  private readonly unauthorized = new PendingPool();
  private readonly sink: EntrySink | null;
  private readonly listeners = new Set<AcceptListener>();

  constructor(sink: EntrySink | null = null) {
    this.sink = sink;
    this.resolver = new Resolver(this.tree);
  }

  get genesis(): Node {
    const g = this.tree.genesis;
    if (g === null) throw err('NOT_FOUND', 'the log has no genesis entry');
    return g;
  }

  /** The filesystem's identity: the hash of its genesis entry. */
  get id(): Hash {
    return this.genesis.entry.hash;
  }

  get size(): number {
    return this.tree.nodes.size;
  }

  get pending(): number {
    return this.orphans.size + this.unauthorized.size;
  }

  has(hash: Hash): boolean {
    return this.tree.nodes.has(toHex(hash));
  }

  get(hash: Hash): Entry | undefined {
    return this.tree.nodes.get(toHex(hash))?.entry;
  }

  /**
   * Stored entries among `hashes`, in an order a receiver can verify: each after its parent and
   * after the grants that admitted it (this log's insertion order guarantees both).
   */
  inVerifiableOrder(hashes: Iterable<Hash>): Entry[] {
    const nodes: Node[] = [];
    for (const h of hashes) {
      const n = this.tree.nodes.get(toHex(h));
      if (n !== undefined) nodes.push(n);
    }
    return nodes.sort((a, b) => a.seq - b.seq).map((n) => n.entry);
  }

  rootHash(): Hash {
    return this.merkle.rootHash();
  }

  onAccept(fn: AcceptListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Load records this node stored itself (LogFile.open). They were verified when first accepted and
   * the file's checksums protect them since, so signatures are not checked again: that is what makes
   * opening a large log fast. Records whose parent is missing (a damaged file) are skipped.
   */
  loadTrusted(records: readonly Uint8Array[]): { loaded: number; skipped: number } {
    let skipped = 0;
    for (const r of records) {
      try {
        const e = decodeTrustedEntry(r.subarray(HASH_BYTES), r.subarray(0, HASH_BYTES));
        this.store(e, this.tree.place(e));
      } catch (e) {
        if (!isBasefsError(e)) throw e;
        skipped++;
      }
    }
    return { loaded: this.size, skipped };
  }

  /** Verify and store one entry from anywhere (a peer, a file, this node's own writer). */
  ingest(bytes: Uint8Array, expectedHash?: Hash): IngestResult {
    return this.ingestMany([bytes], expectedHash === undefined ? undefined : [expectedHash])[0] as IngestResult;
  }

  /** Ingest a batch; accepted entries are persisted with one fsync. Results match the input order. */
  ingestMany(batch: readonly Uint8Array[], expectedHashes?: readonly Hash[]): IngestResult[] {
    const decoded = this.decodeBatch(batch, expectedHashes);
    const accepted: Node[] = [];
    const results = decoded.map((d) => ('status' in d ? d : this.admit(d, accepted)));
    this.persist(accepted);
    return results;
  }

  /**
   * Store an entry this process has just signed (the Writer): its bytes were built here rather
   * than parsed, and signed here with the writer's own key, so decoding and verifying them again
   * could only find a fault in the signer, at ~90 us per entry on the mount's write path. Every
   * other check (content, placement, authority) runs as for a peer's entry, and peers verify it.
   */
  ingestOwn(entry: Entry): IngestResult {
    try {
      checkContent(entry.action, entry.content, isGenesis(entry));
    } catch (e) {
      if (isBasefsError(e)) return { status: 'rejected', code: e.code, hash: entry.hash };
      throw e;
    }
    const accepted: Node[] = [];
    const result = this.admit(entry, accepted, true);
    this.persist(accepted);
    return result;
  }

  /**
   * The same as ingestMany, with the signature checks of the batch spread over a VerifyPool's
   * threads first (what a node catching up on a large log from a peer uses).
   */
  async ingestManyParallel(pool: VerifyPool, batch: readonly Uint8Array[], expectedHashes?: readonly Hash[]): Promise<IngestResult[]> {
    const decoded = this.decodeBatch(batch, expectedHashes);
    const fresh = decoded.filter((d): d is Entry => !('status' in d) && !this.holds(toHex(d.hash)));
    const ok = await pool.verifyMany(
      fresh.map((e) => ({ publicKey: e.author, message: signatureInput(e.hash), signature: e.signature })),
    );
    const verdicts = new Map<Entry, boolean>(fresh.map((e, i) => [e, ok[i] === true]));
    const accepted: Node[] = [];
    const results = decoded.map((d) => ('status' in d ? d : this.admit(d, accepted, verdicts.get(d))));
    this.persist(accepted);
    return results;
  }

  private decodeBatch(batch: readonly Uint8Array[], expectedHashes?: readonly Hash[]): Array<Entry | IngestResult> {
    return batch.map((bytes, i) => {
      try {
        const entry = decodeEntry(bytes, expectedHashes?.[i]);
        checkContent(entry.action, entry.content, isGenesis(entry));
        return entry;
      } catch (e) {
        if (isBasefsError(e)) return { status: 'rejected' as const, code: e.code };
        throw e;
      }
    });
  }

  /** Stored, or waiting in a pool. */
  private holds(key: string): boolean {
    return this.tree.nodes.has(key) || this.orphans.has(key) || this.unauthorized.has(key);
  }

  /** `signatureOk`: a verdict computed elsewhere (VerifyPool) for this very entry, if any. */
  private admit(entry: Entry, accepted: Node[], signatureOk?: boolean): IngestResult {
    const hash = entry.hash;
    if (this.holds(toHex(hash))) return { status: 'duplicate', code: 'DUPLICATE', hash };
    try {
      if (signatureOk === false) throw err('BAD_SIGNATURE', 'entry signature does not verify');
      if (signatureOk === undefined) verifyEntry(entry);
      if (entry.action === ACTION.GRANT || entry.action === ACTION.REVOKE) checkPublicKey(entry.content);
    } catch (e) {
      if (isBasefsError(e)) return { status: 'rejected', code: e.code, hash };
      throw e;
    }
    const outcome = this.tryStore(entry, accepted);
    if (outcome === null) return { status: 'accepted', hash };
    if (outcome === 'ORPHAN' || outcome === 'UNKNOWN_KEY' || outcome === 'NOT_AUTHORIZED')
      return { status: 'pending', code: outcome, hash };
    return { status: 'rejected', code: outcome, hash };
  }

  /** Place, admit and store `entry` and then everything that was waiting on it; null = stored. */
  private tryStore(first: Entry, accepted: Node[]): ErrorCode | null {
    let result: ErrorCode | null = null;
    const work: Entry[] = [first];
    while (work.length > 0) {
      const entry = work.pop() as Entry;
      const code = this.tryStoreOne(entry, accepted, work);
      if (entry === first) result = code;
    }
    return result;
  }

  private tryStoreOne(entry: Entry, accepted: Node[], work: Entry[]): ErrorCode | null {
    if (this.tree.nodes.has(toHex(entry.hash))) return 'DUPLICATE';
    if (!isGenesis(entry) && !this.tree.nodes.has(toHex(entry.parent))) {
      this.orphans.add(entry, toHex(entry.parent));
      return 'ORPHAN';
    }
    let placement;
    try {
      placement = this.tree.place(entry);
    } catch (e) {
      if (isBasefsError(e)) return e.code;
      throw e;
    }
    // The root directory's own chain: genesis author only. A permission chain of D: keys granted at
    // or above D. Any other entry: keys granted at or above its directory.
    const chain = placement.chain;
    const scope = chain.kind === 'perm' ? chain.path : chain.dir === null ? null : chain.dir.path;
    const author = toHex(entry.author);
    if (!isGenesis(entry)) {
      const denied = this.grants.check(author, scope);
      if (denied !== null) {
        this.unauthorized.add(entry, author);
        return denied;
      }
    }
    const node = this.store(entry, placement);
    accepted.push(node);
    for (const e of this.orphans.release(node.key)) work.push(e);
    if (entry.action === ACTION.GRANT) for (const e of this.unauthorized.release(toHex(entry.content))) work.push(e);
    return null;
  }

  private store(entry: Entry, placement: ReturnType<Tree['place']>): Node {
    const node = this.tree.insert(entry, placement);
    const chain = node.chain;
    chain.merkle ??= this.merkle.nodeFor(node.path);
    this.merkle.addAt(chain.merkle, entry.hash);
    if (node.kind === 'perm') {
      this.resolver.permVersion++;
      if (entry.action === ACTION.GRANT) this.grants.addGrant(toHex(entry.content), node.path);
    }
    if (isGenesis(entry)) this.grants.setGenesisAuthor(node.author);
    return node;
  }

  private persist(accepted: Node[]): void {
    if (accepted.length === 0) return;
    this.sink?.append(accepted.map((n) => encodeRecord(n.entry)));
    for (const fn of this.listeners) fn(accepted);
  }

  /** Every stored entry in an order a receiver can verify: each after its parent and its grants. */
  *entriesInOrder(): Generator<Entry> {
    // Insertion order already satisfies both (that is how they were admitted).
    for (const n of this.tree.nodes.values()) yield n.entry;
  }
}
