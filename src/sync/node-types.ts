/**
 * The vocabulary between a node's policy (node-core.ts) and its drivers (node.ts on real sockets,
 * sim/ on the simulator): timers, counters, candidates, and the actions the core returns.
 */
import type { Entry } from '../core/entry.ts';
import type { Hash } from '../core/hash.ts';
import type { NodeMeta } from './node-meta.ts';

export interface NodeTiming {
  /** Periodic anti-entropy: a uniformly random delay in [min, max] between two rounds. */
  antiEntropyMinMs: number;
  antiEntropyMaxMs: number;
  /** After a member advertises a root different from ours. */
  rootDiffDelayMs: number;
  /** After an orphan, an announcement or a file with missing blocks arrived from a peer. */
  pullDelayMs: number;
  /** After a failed session that was needed (pull). */
  retryDelayMs: number;
  /**
   * After a block pull that brought none of the blocks asked (refused, failed, or the source lacked
   * them): the first retry, doubled on each further one, jittered ±50% (block-pull.ts).
   */
  blockRetryMs: number;
  /** A source that brought none of the blocks asked is not chosen for blocks again for this long. */
  blockBackoffMs: number;
  /** Our advertised root is updated at most this often. */
  metaDebounceMs: number;
  /** A finished sync socket that the peer has not closed is destroyed after this. */
  closeGraceMs: number;
  /** A peer caught sending something invalid in a session we started is not chosen for this long. */
  misbehaviourBanMs: number;
}

export const DEFAULT_TIMING: NodeTiming = {
  antiEntropyMinMs: 10_000,
  antiEntropyMaxMs: 30_000,
  rootDiffDelayMs: 1_000,
  pullDelayMs: 100,
  retryDelayMs: 2_000,
  blockRetryMs: 400,
  blockBackoffMs: 5_000,
  metaDebounceMs: 500,
  closeGraceMs: 5_000,
  misbehaviourBanMs: 10 * 60_000,
};

export interface NodeStats {
  /** Own entries broadcast whole / announced by hash. */
  entriesBroadcast: number;
  entriesAnnounced: number;
  broadcastErrors: number;
  /** Received user payloads: accepted, duplicates, pending (triggered a pull), rejected, undecodable. */
  gossipAccepted: number;
  gossipDuplicate: number;
  gossipPending: number;
  gossipRejected: number;
  gossipMalformed: number;
  announcesReceived: number;
  syncsInitiated: number;
  syncsServed: number;
  syncsFailed: number;
  /** Inbound connections closed because `maxInboundSessions` were running. */
  syncsRefused: number;
  metaUpdates: number;
}

/** A member we may sync with: its name, the host its sync port is on, and what it advertises. */
export interface Candidate {
  name: string;
  host: string;
  meta: NodeMeta;
}

export type NodeAction =
  /** Open a connection to the peer's sync port and run `session('initiator')` over it. */
  | { type: 'sync'; peer: Candidate }
  /** Spread one of our own entries through SWIM under `key` (whole, or announced by hash). */
  | { type: 'broadcast'; key: string; entry: Entry }
  /** Advertise new metadata (our root, whether we hold every block) in SWIM. */
  | { type: 'meta'; root: Hash; complete: boolean; meta: Uint8Array };

/** What `apply` needs from the driver; broadcast and setMeta throw when SWIM refuses. */
export interface NodePort {
  broadcast(key: string, payload: Uint8Array): void;
  setMeta(meta: Uint8Array): void;
  sync(peer: Candidate): void;
}
