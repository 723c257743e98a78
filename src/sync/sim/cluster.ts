/**
 * BaseFS nodes on the in-memory simulator: N NodeCores (the policy BasefsNode runs on real
 * sockets) over the SWIM simulator (src/swim/sim), each with an in-memory Log and block store,
 * syncing with the real SyncSession over simulated connections (connection.ts). Seeded and
 * deterministic: the same seed and script give the same run.
 *
 *   const net = new SyncSim({ seed: 1, nodes: 1000, view: 40 });   // bootstrapped, same log everywhere
 *   net.runFor(2000);
 *   net.writer('n0', rootKey).mkdir('/etc');                         // a local write, broadcast
 *   net.waitFor(() => net.converged(), 60_000);                      // simulated milliseconds
 *   net.crash('n5'); net.restart('n5'); net.join('late', 'n0', { genesisOnly: true });
 *   net.sim.partition([...]); net.sim.loss = 0.1;                     // faults: the SWIM simulator's
 *   new SyncSim({ ..., uplinkBytesPerMs: 1250 })                      // 10 Mbit/s uplinks for sessions
 *
 * Every node's clock is the simulator's; a node's writer stamps entries with epochMs + now.
 */
import { toHex, type Hash } from '../../core/hash.ts';
import type { KeyPair } from '../../core/keys.ts';
import { encodeRecord, Log } from '../../core/log.ts';
import { View } from '../../core/view.ts';
import { Writer } from '../../core/writer.ts';
import type { SwimDelegate } from '../../swim/protocol.ts';
import { bootstrapCluster } from '../../swim/sim/bootstrap.ts';
import { SeededRandom } from '../../swim/sim/random.ts';
import { Simulator } from '../../swim/sim/simulator.ts';
import type { SwimConfig } from '../../swim/config.ts';
import type { Role } from '../anti-entropy.ts';
import type { SyncLimits } from '../anti-entropy.ts';
import { NodeCore, type NodeAction, type NodePort, type NodeTiming } from '../node-core.ts';
import { scanFiles } from '../node-files.ts';
import { encodeNodeMeta } from '../node-meta.ts';
import type { StreamResult } from '../stream.ts';
import { MemoryBlockStore } from './blocks.ts';
import { ConnEnd, openConnection, type ConnOwner, type Uplink } from './connection.ts';

/** The sync port every simulated node advertises (connections are by name). */
const SIM_SYNC_PORT = 7947;

export interface SyncSimOptions {
  seed: number;
  /** Nodes named prefix0.. bootstrapped with `entries` (bootstrapCluster: they know each other). */
  nodes: number;
  /** The filesystem's first entries (genesis first), trusted: every node starts with them. */
  entries: readonly Uint8Array[];
  /** Peers each node knows at start (bootstrapCluster's view); default 'full'. */
  view?: number | 'full';
  prefix?: string;
  swimConfig?: Partial<SwimConfig>;
  latencyMs?: number;
  jitterMs?: number;
  loss?: number;
  /** Each node's uplink for sync sessions, bytes per simulated ms (default: unlimited). */
  uplinkBytesPerMs?: number;
  timing?: Partial<NodeTiming>;
  limits?: Partial<SyncLimits>;
  /** Ms since the epoch at simulated time 0 (writers' timestamps). */
  epochMs?: number;
}

export interface SessionRecord {
  at: number;
  node: string;
  peer: string;
  role: Role;
  result: StreamResult;
}

/** One simulated BaseFS node; its log and blocks survive crashes (they are durable). */
export class SimNode implements ConnOwner {
  readonly name: string;
  readonly log: Log;
  readonly blocks = new MemoryBlockStore();
  readonly view: View;
  core: NodeCore | null = null;
  life = 0;
  up = false;
  tamper: ((frame: Uint8Array, role: Role) => Uint8Array[]) | null = null;
  /** Advertised instead of the core's metadata (a lying peer); honest nodes have none. */
  advertise: Uint8Array | null = null;
  /** The time a wake-up is scheduled for (Infinity: none). */
  wakeAt = Infinity;
  unsubscribe: () => void = () => {};
  readonly conns = new Set<ConnEnd>();
  readonly uplink: Uplink | null;

  constructor(name: string, records: readonly Uint8Array[], uplinkBytesPerMs?: number) {
    this.name = name;
    this.uplink = uplinkBytesPerMs === undefined ? null : { bytesPerMs: uplinkBytesPerMs, freeAt: 0 };
    this.log = new Log(null);
    this.log.loadTrusted(records);
    this.view = new View(this.log, this.blocks);
  }

  get root(): string {
    return toHex(this.log.rootHash());
  }
}

export class SyncSim {
  readonly sim: Simulator;
  readonly nodes = new Map<string, SimNode>();
  /** Every finished session, both sides (a test's evidence; cleared at will). */
  readonly sessions: SessionRecord[] = [];
  readonly epochMs: number;
  readonly #records: Uint8Array[];
  readonly #opts: SyncSimOptions;
  readonly #seed: number;

  constructor(o: SyncSimOptions) {
    this.#opts = o;
    this.#seed = o.seed >>> 0;
    this.epochMs = o.epochMs ?? 1_700_000_000_000;
    this.sim = new Simulator({
      seed: o.seed,
      ...(o.swimConfig ? { config: o.swimConfig } : {}),
      latencyMs: o.latencyMs ?? 2,
      jitterMs: o.jitterMs ?? 1,
      loss: o.loss ?? 0,
    });
    // Entries are verified once here; every node then loads them as its own durable log.
    const log = new Log(null);
    for (const b of o.entries) {
      const r = log.ingest(b);
      if (r.status !== 'accepted') throw new Error(`bootstrap entry ${r.status} ${r.code ?? ''}`);
    }
    this.#records = [...log.entriesInOrder()].map(encodeRecord);
    this.sim.onEvent = (name, ev, now) => {
      const core = this.nodes.get(name)?.core;
      if (core === undefined || core === null || ev.type === 'user' || ev.type === 'suspect') return;
      const n = this.nodes.get(name) as SimNode;
      if (ev.type === 'dead' || ev.type === 'leave') core.memberGone(ev.member.name);
      else this.#drive(n, () => (core.member(ev.member, now), []));
    };
    const prefix = o.prefix ?? 'n';
    const first = new SimNode(`${prefix}0`, this.#records, o.uplinkBytesPerMs);
    const meta = this.#meta(first);
    const names = bootstrapCluster(this.sim, o.nodes, {
      prefix,
      ...(o.view !== undefined ? { view: o.view } : {}),
      node: { meta },
      perNode: (name) => ({ delegate: this.#delegate(name) }),
    });
    for (const name of names) {
      const n = name === first.name ? first : new SimNode(name, this.#records, o.uplinkBytesPerMs);
      this.nodes.set(name, n);
      this.#boot(n);
    }
  }

  get now(): number {
    return this.sim.now;
  }

  node(name: string): SimNode {
    const n = this.nodes.get(name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }

  /** Nodes that are up. */
  live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up);
  }

  /** A writer on `name`'s log: its entries are this node's own, so they are broadcast. */
  writer(name: string, key: KeyPair): Writer {
    const n = this.node(name);
    return new Writer({ log: n.log, view: n.view, key, blocks: n.blocks, now: () => this.epochMs + this.sim.now });
  }

  /** Every node in `among` (default: every live node) has the same root hash. */
  converged(among: readonly SimNode[] = this.live()): boolean {
    const first = among[0];
    if (first === undefined) return true;
    const root = first.root;
    return among.every((n) => n.root === root);
  }

  /** How many of `among` hold the entry `hash`. */
  holding(hash: Hash, among: readonly SimNode[] = this.live()): number {
    return among.reduce((k, n) => k + (n.log.has(hash) ? 1 : 0), 0);
  }

  runFor(ms: number): void {
    this.sim.runFor(ms);
  }

  /** Run until `cond` holds (checked every `stepMs`); the simulated time it held, or -1 after maxMs. */
  waitFor(cond: () => boolean, maxMs: number, stepMs = 100): number {
    return this.sim.waitFor(cond, maxMs, stepMs);
  }

  /** The process dies: SWIM state, sessions and the core are gone; the log and blocks stay. */
  crash(name: string): void {
    const n = this.node(name);
    if (!n.up) return;
    this.sim.crash(name);
    n.up = false;
    n.life++;
    n.core?.stop();
    n.core = null;
    n.unsubscribe();
    n.wakeAt = Infinity;
    for (const c of n.conns) c.drop();
    n.conns.clear();
  }

  /** Start a crashed node again on its log, rejoining through `seeds` (names). */
  restart(name: string, seeds: string[]): void {
    const n = this.node(name);
    const incarnation = this.sim.node(name).incarnation();
    this.crash(name);
    this.sim.restart(name, { persistedIncarnation: incarnation, meta: this.#meta(n), seeds });
    n.life++;
    this.#boot(n);
  }

  /**
   * A new node joins through `seed`: with the same first entries as everyone (default), or only
   * the genesis entry (`genesisOnly`), as a node made by `basefs get` that has fetched nothing yet.
   */
  join(name: string, seed: string, o: { genesisOnly?: boolean } = {}): SimNode {
    const n = new SimNode(name, o.genesisOnly ? this.#records.slice(0, 1) : this.#records, this.#opts.uplinkBytesPerMs);
    this.nodes.set(name, n);
    this.sim.addNode(name, { meta: this.#meta(n), delegate: this.#delegate(name), clusterSizeHint: this.nodes.size });
    this.sim.join(name, [seed]);
    this.#boot(n);
    return n;
  }

  /**
   * Make `name` a liar: `tamper` rewrites every sync frame it sends, `advertise` replaces the
   * metadata it spreads (e.g. a made-up root that draws sessions to it). Its core stays honest.
   */
  liar(name: string, o: { tamper?: (frame: Uint8Array, role: Role) => Uint8Array[]; advertise?: Uint8Array }): void {
    const n = this.node(name);
    if (o.tamper !== undefined) n.tamper = o.tamper;
    if (o.advertise !== undefined) {
      n.advertise = o.advertise;
      this.sim.setMeta(name, o.advertise);
    }
  }

  /** The metadata an honest node `name` would advertise now (for liars to twist). */
  honestMeta(name: string): Uint8Array {
    return this.#meta(this.node(name));
  }

  // ---- driving cores ---------------------------------------------------------------------------

  #coreOptions(n: SimNode) {
    const o = this.#opts;
    return {
      name: n.name,
      log: n.log,
      view: n.view,
      blocks: n.blocks,
      syncPort: SIM_SYNC_PORT,
      members: () => this.sim.node(n.name).members(),
      random: rngFunction(SeededRandom.derive(this.#seed ^ 0x5ca1ab1e, hashName(n.name) + n.life)),
      now: this.sim.now,
      maxUserPayload: this.sim.config.maxUserPayload,
      ...(o.timing !== undefined ? { timing: o.timing } : {}),
      ...(o.limits !== undefined ? { limits: o.limits } : {}),
    };
  }

  #meta(n: SimNode): Uint8Array {
    const complete = scanFiles(n.log, n.view, n.blocks).missing === 0;
    return encodeNodeMeta({ syncPort: SIM_SYNC_PORT, root: n.log.rootHash(), fsId: n.log.id, entries: n.log.size, complete });
  }

  #boot(n: SimNode): void {
    n.up = true;
    n.wakeAt = Infinity;
    const core = new NodeCore(this.#coreOptions(n));
    n.core = core;
    n.unsubscribe = n.log.onAccept((nodes) => this.#drive(n, () => core.accepted(nodes, this.sim.now)));
    this.#rearm(n);
  }

  /** SWIM's validateUser for node `name`: the gossip goes through its current core. */
  #delegate(name: string): SwimDelegate {
    return {
      validateUser: (payload, origin) => {
        const n = this.nodes.get(name);
        const core = n?.core;
        if (n === undefined || core === null || core === undefined) return false;
        const relay = core.gossip(payload, origin, this.sim.now);
        this.#rearm(n);
        return relay;
      },
    };
  }

  #port(n: SimNode): NodePort {
    return {
      broadcast: (key, payload) => this.sim.broadcast(n.name, key, payload),
      setMeta: (meta) => this.sim.setMeta(n.name, n.advertise ?? meta),
      sync: (c) => this.#connect(n, c.name),
    };
  }

  #drive(n: SimNode, input: () => readonly NodeAction[]): void {
    const core = n.core;
    if (core === null || !n.up) return;
    core.apply(input(), this.#port(n));
    this.#rearm(n);
  }

  #rearm(n: SimNode): void {
    const at = n.core?.nextDeadline() ?? Infinity;
    if (!Number.isFinite(at) || at >= n.wakeAt) return;
    n.wakeAt = at;
    const life = n.life;
    this.sim.schedule(at, () => {
      if (n.life !== life || n.wakeAt !== at) return; // another life, or superseded by an earlier wake
      n.wakeAt = Infinity;
      const core = n.core;
      if (core !== null) this.#drive(n, () => core.tick(this.sim.now));
    });
  }

  // ---- sessions --------------------------------------------------------------------------------

  #end(n: SimNode, core: NodeCore, peer: string, role: Role): ConnEnd {
    const end: ConnEnd = new ConnEnd(this.sim, n, core.session(role, this.sim.now), (result) => {
      n.conns.delete(end);
      this.sessions.push({ at: this.sim.now, node: n.name, peer, role, result });
      this.#drive(n, () => core.finished(peer, role, result.error, this.sim.now));
    });
    n.conns.add(end);
    return end;
  }

  #connect(n: SimNode, peer: string): void {
    const core = n.core;
    if (core === null) return;
    const target = this.nodes.get(peer) ?? null;
    openConnection(this.sim, this.#end(n, core, peer, 'initiator'), target, () => {
      const tc = target?.core;
      if (target === null || tc === null || tc === undefined) return null;
      const ok = tc.acceptInbound();
      this.#rearm(target);
      return ok ? this.#end(target, tc, n.name, 'responder') : null;
    });
  }
}

function rngFunction(r: SeededRandom): () => number {
  return () => r.next();
}

/** A stable number per node name (its own random stream). */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
