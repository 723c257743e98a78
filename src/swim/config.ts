/**
 * Tunables of the SWIM layer, with memberlist's three profiles (config.go) and the pure scaling
 * functions of its util.go. Every interval is in milliseconds of the driver's clock.
 */
import { MAX_META_BYTES } from './codec.ts';
import { SwimError } from './errors.ts';

export interface SwimConfig {
  /** Time between two failure-detection probes; stretched by local health (awareness). */
  probeIntervalMs: number;
  /** How long to wait for a direct UDP ack before asking k others. Deliberately not stretched. */
  probeTimeoutMs: number;
  /** k: members asked to ping a target indirectly after a missed ack. */
  indirectChecks: number;
  /** Suspicion minimum = suspicionMult × max(1, log10 N) × probeInterval. */
  suspicionMult: number;
  /** Suspicion maximum = suspicionMaxTimeoutMult × minimum. */
  suspicionMaxTimeoutMult: number;
  /** A broadcast retires after retransmitMult × ceil(log10(N+1)) transmits... */
  retransmitMult: number;
  /**
   * ...but never before this many (a floor for small groups: with the Local profile's multiplier
   * of 2, 2 transmits at N < 10, gossip alone missed a node in 75 of 300 broadcasts at N = 5).
   * 4 only raises the Local profile below N = 10; LAN and WAN already give 4 there, so their
   * limits stay memberlist's. 0 disables the floor.
   */
  minRetransmits: number;
  gossipIntervalMs: number;
  /** Fanout of each gossip tick. */
  gossipNodes: number;
  /**
   * Dead members still receive gossip for this long, so a wrongly killed node can refute. After
   * it the protocol forgets them as memberlist does (they no longer count in N, travel in
   * push-pull or block a rejoin), but they stay listed in members() for their retention.
   */
  gossipToTheDeadMs: number;
  /**
   * How long a failed member stays listed in members() (as "dead") after its death, so
   * `basefs members` shows it and slow observers agree; Serf reaps failed members after 24 h
   * (its reconnect timeout). Never shorter than gossipToTheDeadMs.
   */
  deadRetentionMs: number;
  /** The same for a member that left gracefully (it went away on purpose): reaped sooner. */
  leftRetentionMs: number;
  /** Base push-pull interval, scaled up with log2 N past 32 members (pushPullScale). 0 disables. */
  pushPullIntervalMs: number;
  /** Deadline for stream exchanges (push-pull, join). */
  tcpTimeoutMs: number;
  /** Local health ceiling: intervals are multiplied by (score + 1), score < this. */
  awarenessMaxMultiplier: number;
  /** Largest datagram we send or accept. */
  udpBufferSize: number;
  /** A dead member's name may move to a new address after this long; 0 = never (memberlist). */
  deadNodeReclaimMs: number;
  /** Ping a target over a stream when UDP probes fail (memberlist's TCP fallback). */
  disableTcpPings: boolean;
  /**
   * Lifeguard on (default): awareness stretches the probe interval, suspicion starts at the maximum
   * and shrinks with confirmations, suspects are told in the next ping (buddy), relays send nacks.
   * Off: classic SWIM with a fixed suspicion timeout (the minimum), for comparison tests.
   */
  lifeguard: boolean;
  /** How often to try a push-pull with a dead member or a seed we cannot see (partition healing). */
  reconnectIntervalMs: number;
  /** Dead members stay reconnect candidates this long after they leave the member list. */
  reconnectTimeoutMs: number;
  /** Largest application payload accepted by broadcast(). */
  maxUserPayload: number;
  /** Largest per-node metadata (memberlist: 512). */
  maxMetaSize: number;
  /** Largest push-pull message we accept (memberlist: 20 MB). */
  maxStreamBytes: number;
  /** Queued broadcasts above this are dropped from the stale end (Serf's MaxQueueDepth). */
  maxQueueDepth: number;
  /** How many (origin, key) user-broadcast versions to remember for de-duplication. */
  userSeenCapacity: number;
  /** Bytes of recent user broadcasts (newest per origin and key) carried in every push-pull. */
  pushPullUserBytes: number;
  /**
   * A node that receives a user broadcast it did not have pushes it on at once (one gossip round
   * to twice gossipNodes, out of the same retransmit budget) instead of waiting for its next gossip
   * tick: every hop then costs a network delay rather than up to a gossip interval. memberlist
   * waits.
   */
  eagerUserRelay: boolean;
}

const SECOND = 1000;

/** memberlist's DefaultLANConfig. */
export function lanConfig(): SwimConfig {
  return {
    probeIntervalMs: 1 * SECOND,
    probeTimeoutMs: 500,
    indirectChecks: 3,
    suspicionMult: 4,
    suspicionMaxTimeoutMult: 6,
    retransmitMult: 4,
    minRetransmits: 4,
    gossipIntervalMs: 200,
    gossipNodes: 3,
    gossipToTheDeadMs: 30 * SECOND,
    deadRetentionMs: 24 * 3600 * SECOND,
    leftRetentionMs: 3600 * SECOND,
    pushPullIntervalMs: 30 * SECOND,
    tcpTimeoutMs: 10 * SECOND,
    awarenessMaxMultiplier: 8,
    udpBufferSize: 1400,
    deadNodeReclaimMs: 0,
    disableTcpPings: false,
    lifeguard: true,
    reconnectIntervalMs: 30 * SECOND,
    reconnectTimeoutMs: 24 * 3600 * SECOND,
    maxUserPayload: 1024,
    maxMetaSize: 512,
    maxStreamBytes: 20 * 1024 * 1024,
    maxQueueDepth: 4096,
    userSeenCapacity: 8192,
    pushPullUserBytes: 64 * 1024,
    eagerUserRelay: true,
  };
}

/** memberlist's DefaultWANConfig: slower, more tolerant timers. */
export function wanConfig(): SwimConfig {
  return {
    ...lanConfig(),
    probeIntervalMs: 5 * SECOND,
    probeTimeoutMs: 3 * SECOND,
    suspicionMult: 6,
    gossipIntervalMs: 500,
    gossipNodes: 4,
    gossipToTheDeadMs: 60 * SECOND,
    pushPullIntervalMs: 60 * SECOND,
    tcpTimeoutMs: 30 * SECOND,
    reconnectIntervalMs: 60 * SECOND,
  };
}

/** memberlist's DefaultLocalConfig: loopback and tests. */
export function localConfig(): SwimConfig {
  return {
    ...lanConfig(),
    probeIntervalMs: 1 * SECOND,
    probeTimeoutMs: 200,
    indirectChecks: 1,
    suspicionMult: 3,
    retransmitMult: 2,
    gossipIntervalMs: 100,
    gossipToTheDeadMs: 15 * SECOND,
    pushPullIntervalMs: 15 * SECOND,
    tcpTimeoutMs: 1 * SECOND,
    reconnectIntervalMs: 15 * SECOND,
  };
}

export type ProfileName = 'lan' | 'wan' | 'local';

/** A profile with overrides applied, checked for values that would break the timers. */
export function makeConfig(profile: ProfileName = 'lan', overrides: Partial<SwimConfig> = {}): SwimConfig {
  const base = profile === 'wan' ? wanConfig() : profile === 'local' ? localConfig() : lanConfig();
  const c: SwimConfig = { ...base, ...overrides };
  const positive: (keyof SwimConfig)[] = [
    'probeIntervalMs', 'probeTimeoutMs', 'gossipIntervalMs', 'tcpTimeoutMs', 'awarenessMaxMultiplier',
    'suspicionMult', 'suspicionMaxTimeoutMult', 'retransmitMult', 'udpBufferSize', 'reconnectIntervalMs',
  ];
  for (const k of positive) {
    const v = c[k];
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
      throw new SwimError('BAD_ARGUMENT', `config.${k} must be a positive number, got ${String(v)}`);
    }
  }
  for (const k of ['deadRetentionMs', 'leftRetentionMs'] as const) {
    if (!(c[k] >= 0)) throw new SwimError('BAD_ARGUMENT', `config.${k} must be a non-negative number`);
  }
  if (!(Number.isInteger(c.minRetransmits) && c.minRetransmits >= 0)) {
    throw new SwimError('BAD_ARGUMENT', 'config.minRetransmits must be a non-negative integer');
  }
  if (c.probeTimeoutMs >= c.probeIntervalMs) {
    throw new SwimError('BAD_ARGUMENT', 'config.probeTimeoutMs must be shorter than probeIntervalMs');
  }
  if (c.udpBufferSize < 512 || c.udpBufferSize > 65507) {
    throw new SwimError('BAD_ARGUMENT', 'config.udpBufferSize must be within 512..65507');
  }
  if (!(c.maxMetaSize >= 0 && c.maxMetaSize <= MAX_META_BYTES)) {
    throw new SwimError('BAD_ARGUMENT', `config.maxMetaSize must be within 0..${MAX_META_BYTES}`);
  }
  // A user message must fit one datagram next to its framing (origin name, key, counters).
  if (!(c.maxUserPayload >= 0 && c.maxUserPayload <= c.udpBufferSize - 64)) {
    throw new SwimError('BAD_ARGUMENT', 'config.maxUserPayload must leave room for framing in udpBufferSize');
  }
  return c;
}

/**
 * memberlist util.go retransmitLimit, mult × ceil(log10(n + 1)), raised to `floor` where it is
 * lower (small groups; see SwimConfig.minRetransmits).
 */
export function retransmitLimit(retransmitMult: number, n: number, floor = 0): number {
  const nodeScale = Math.ceil(Math.log10(Math.max(0, n) + 1));
  return Math.max(retransmitMult * nodeScale, floor);
}

/**
 * memberlist util.go suspicionTimeout: the suspicion *minimum*,
 * suspicionMult × max(1, log10(max(1, n))) × interval, rounded down to whole milliseconds.
 */
export function suspicionTimeout(suspicionMult: number, n: number, intervalMs: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor(suspicionMult * nodeScale * intervalMs);
}

/** memberlist util.go pushPullScale: ×1 up to 32 nodes, then × (ceil(log2 n − 5) + 1). */
export function pushPullScale(intervalMs: number, n: number): number {
  const threshold = 32;
  if (n <= threshold) return intervalMs;
  const multiplier = Math.ceil(Math.log2(n) - Math.log2(threshold)) + 1;
  return intervalMs * multiplier;
}
