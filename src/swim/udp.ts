/**
 * Start a SWIM node on real sockets: the entry point for the node daemon.
 *
 *   const node = await startSwimNode({ name: 'n1', host: '127.0.0.11', port: 7946, seeds, statePath });
 *   node.on('user', (payload, from) => ...);      // application broadcasts from other nodes
 *   node.on('join' | 'dead' | 'leave' | ..., (member) => ...);
 *   node.broadcast('log-head', bytes);            // spread our own payload
 *   node.setMeta(bytes);                          // e.g. log root hash and sync port
 *   formatMembersTable(node.members(), { now: node.now() });
 *   await node.close({ leave: true });
 *
 * Order at start: load the saved incarnation (a corrupt state file stops us before any socket
 * is opened), bind UDP and TCP (port 0 = ephemeral; `node.address` has the real one), build the
 * state machine with that address, then join the seeds.
 */
import { randomFillSync } from 'node:crypto';
import { makeConfig, type ProfileName, type SwimConfig } from './config.ts';
import { FileIncarnationStore, type IncarnationStore } from './incarnation-store.ts';
import { SwimNode, type SwimDelegate } from './protocol.ts';
import { SwimRuntime } from './runtime.ts';
import type { Address, Random, SwimStateMachine } from './types.ts';
import { UdpTransport } from './udp-transport.ts';

export { SwimRuntime } from './runtime.ts';
export type { RuntimeWarning, SwimRuntimeEvents } from './runtime.ts';
export { UdpTransport } from './udp-transport.ts';
export type { TransportStats, TransportWarning } from './udp-transport.ts';
export { FileIncarnationStore, MemoryIncarnationStore } from './incarnation-store.ts';
export { formatMembersJson, formatMembersTable, membersToJson, useColor } from './table.ts';
export { makeConfig } from './config.ts';
export type { ProfileName, SwimConfig } from './config.ts';
export type { SwimDelegate } from './protocol.ts';
export type { IncarnationStore } from './incarnation-store.ts';

/** Everything a state machine needs to be built for a bound node. */
export interface MachineContext {
  name: string;
  /** The bound "ip:port" (the real port when 0 was asked for). */
  address: Address;
  /** The incarnation saved by the previous run (start above it), or null with no saved state. */
  persistedIncarnation: number | null;
  meta: Uint8Array;
  random: Random;
  now: number;
}

export type MachineFactory = (ctx: MachineContext) => SwimStateMachine;

export interface SwimNodeOptions {
  /** Unique node name. */
  name: string;
  /** IP address to bind UDP and TCP to. */
  host: string;
  /** IP address peers reach us at; default `host`, required when `host` is 0.0.0.0 or ::. */
  advertiseHost?: string;
  /** Port for UDP and TCP; 0 = pick a free one. Default 7946. */
  port?: number;
  /** Addresses to join through; empty or absent for the first node. */
  seeds?: Address[];
  meta?: Uint8Array;
  /** File that keeps the incarnation across restarts (written durably whenever it changes). */
  statePath?: string;
  /** Or any other store (tests); ignored when statePath is given. */
  store?: IncarnationStore;
  /** Timer profile: 'lan' (default), 'wan' or 'local' (loopback and tests), memberlist's values. */
  profile?: ProfileName;
  /** Overrides of the profile's values. */
  config?: Partial<SwimConfig>;
  /** Application hooks for push-pull state. */
  delegate?: SwimDelegate;
  /** Builds the state machine; default: the real protocol (SwimNode) with `profile` and `config`. */
  createMachine?: MachineFactory;
  clock?: () => number;
  random?: Random;
  leaveLingerMs?: number;
  maxStreamBytes?: number;
  maxInboundStreams?: number;
  inboundStreamTimeoutMs?: number;
}

export const DEFAULT_PORT = 7946;

/**
 * Binds, builds the state machine and joins. Rejects with SwimError('MALFORMED') for a corrupt
 * state file, the Node error for an address that cannot be bound, SwimError('BAD_ARGUMENT') for
 * bad options; nothing is left open after a rejection.
 */
export async function startSwimNode(opts: SwimNodeOptions & { createMachine?: undefined }): Promise<SwimRuntime<SwimNode>>;
export async function startSwimNode(opts: SwimNodeOptions): Promise<SwimRuntime>;
export async function startSwimNode(opts: SwimNodeOptions): Promise<SwimRuntime> {
  const config = makeConfig(opts.profile ?? 'lan', opts.config ?? {});
  const createMachine: MachineFactory =
    opts.createMachine ??
    ((ctx) =>
      new SwimNode({
        name: ctx.name,
        address: ctx.address,
        random: ctx.random,
        config,
        meta: ctx.meta,
        ...(ctx.persistedIncarnation !== null ? { persistedIncarnation: ctx.persistedIncarnation } : {}),
        ...(opts.delegate ? { delegate: opts.delegate } : {}),
      }));
  const store = opts.statePath !== undefined ? new FileIncarnationStore(opts.statePath) : (opts.store ?? null);
  const saved = store ? store.load() : null;
  const transport = await UdpTransport.bind({
    host: opts.host,
    ...(opts.advertiseHost !== undefined ? { advertiseHost: opts.advertiseHost } : {}),
    port: opts.port ?? DEFAULT_PORT,
    maxStreamBytes: opts.maxStreamBytes ?? config.maxStreamBytes,
    inboundStreamTimeoutMs: opts.inboundStreamTimeoutMs ?? config.tcpTimeoutMs,
    ...(opts.maxInboundStreams !== undefined ? { maxInboundStreams: opts.maxInboundStreams } : {}),
  });
  try {
    const clock = opts.clock ?? (() => performance.now());
    const machine = createMachine({
      name: opts.name,
      address: transport.address,
      persistedIncarnation: saved,
      meta: opts.meta ?? new Uint8Array(0),
      random: opts.random ?? cryptoRandom(),
      now: clock(),
    });
    const runtime = new SwimRuntime({
      machine,
      transport,
      clock,
      store,
      storedIncarnation: saved,
      ...(opts.leaveLingerMs !== undefined ? { leaveLingerMs: opts.leaveLingerMs } : {}),
    });
    runtime.join(opts.seeds ?? []);
    return runtime;
  } catch (e) {
    await transport.close();
    throw e;
  }
}

/** Randomness for real nodes: the OS CSPRNG, drawn 256 words at a time. */
export function cryptoRandom(): Random {
  const words = new Uint32Array(256);
  let at = words.length;
  return {
    next(): number {
      if (at === words.length) {
        randomFillSync(words);
        at = 0;
      }
      return (words[at++] as number) / 0x1_0000_0000;
    },
  };
}
