/**
 * What a running node answers on its control socket (control.ts carries the bytes). One command per
 * request:
 *   members             the SWIM table
 *   blocks              per-file block state
 *   status              who and where the node is, its root and counters
 *   stats               status plus SWIM, transport and process figures (`serf stats`, `resources`)
 *   ingest {entries}    entries signed by a CLI command (grant, revoke, revert) while the node holds
 *                       the log: verified like a peer's, stored, and spread as the node's own news
 *   join {addrs}        contact more seeds
 *   force-leave {node}  declare a failed member left (Serf's force-leave)
 *   leave               leave the group and stop the node (Serf's leave)
 *   monitor             a stream of the node's log lines
 *   event {name, payload}  a user event signed with the node's key, spread to every node
 * The socket is the node user's own (mode 0600), so these need no further authentication; entries
 * sent with `ingest` still pass every check a peer's would.
 */
import { ACTION } from '../core/entry.ts';
import { toHex } from '../core/hash.ts';
import type { Replica } from '../core/replica.ts';
import { parseAddress } from '../swim/net-address.ts';
import { membersToJson } from '../swim/table.ts';
import type { TransportStats } from '../swim/transport.ts';
import type { BasefsNode } from '../sync/node.ts';
import type { ControlAnswer, ControlRequest } from './control.ts';

/** The files of a replica and their block state, sorted by path. */
export interface FileBlocks {
  path: string;
  blocks: number;
  missing: number;
}

export function blockReport(replica: Replica): FileBlocks[] {
  const paths = new Set<string>();
  for (const n of replica.log.tree.nodes.values())
    if (n.entry.action === ACTION.WRITE || n.entry.action === ACTION.LINK) paths.add(n.path);
  const out: FileBlocks[] = [];
  for (const path of [...paths].sort()) {
    try {
      const s = replica.view.blockState(path);
      out.push({ path, blocks: s.blocks.length, missing: s.missing });
    } catch {
      // deleted since, or not a file any more
    }
  }
  return out;
}

export type LogFields = Record<string, string | number | boolean | undefined>;
export type LogLine = { at: string; event: string } & LogFields;

export interface ControlContext {
  fsName: string;
  node: BasefsNode;
  startedAt: number;
  /** Stops the node as a signal would (leave, close, exit 0). */
  requestStop(reason: string): void;
  /** Subscribes to the node's log lines; returns the unsubscribe. */
  onLog(fn: (line: LogLine) => void): () => void;
  /** Extra figures to report (the watcher's counters). */
  extra?: () => Record<string, number>;
  /** The node's key, which signs user events; null: the node cannot send any. */
  eventKey: { publicKey: Uint8Array; seed: Uint8Array } | null;
}

const MAX_INGEST = 100_000;
const MAX_ADDRS = 64;

function fail(error: string): ControlAnswer {
  return { ok: false, error };
}

function strings(v: unknown, max: number): string[] | null {
  if (!Array.isArray(v) || v.length === 0 || v.length > max || !v.every((x) => typeof x === 'string')) return null;
  return v as string[];
}

export function answerControl(c: ControlContext, req: ControlRequest): ControlAnswer | Promise<ControlAnswer> {
  const { node } = c;
  switch (req.cmd) {
    case 'members':
      return { ok: true, members: membersToJson(node.members(), { now: node.swim.now(), wallNow: Date.now() }) };
    case 'blocks':
      return { ok: true, files: blockReport(node.replica) };
    case 'status':
      return { ok: true, ...status(c) };
    case 'stats':
      return { ok: true, ...status(c), ...stats(c) };
    case 'ingest':
      return ingest(node, req['entries']);
    case 'join': {
      const addrs = strings(req['addrs'], MAX_ADDRS);
      if (addrs === null) return fail(`join needs 1..${MAX_ADDRS} addresses`);
      try {
        for (const a of addrs) parseAddress(a);
      } catch {
        return fail('join: addresses must be IP:PORT');
      }
      node.swim.join(addrs);
      return { ok: true, contacted: addrs.length };
    }
    case 'force-leave': {
      const name = req['node'];
      if (typeof name !== 'string' || name.length === 0 || name.length > 255) return fail('force-leave needs a node name');
      const m = node.members().find((x) => x.name === name);
      if (m === undefined) return fail(`no member named '${name}'`);
      if (!node.swim.forceLeave(name)) return fail(`'${name}' is ${m.status}: only a failed member can be forced to leave`);
      return { ok: true, node: name };
    }
    case 'leave':
      // Answer first: the stop closes this socket's server.
      setImmediate(() => c.requestStop('leave'));
      return { ok: true };
    case 'event':
      return event(c, req['name'], req['payload']);
    case 'monitor':
      return { ok: true, subscribe: (send) => c.onLog((line) => send(line)) };
    default:
      return fail(`unknown command '${req.cmd.slice(0, 40)}'`);
  }
}

function status(c: ControlContext) {
  const { node } = c;
  const members = node.members();
  return {
    fs: c.fsName,
    node: node.name,
    address: node.address,
    syncPort: node.syncPort,
    pid: process.pid,
    id: toHex(node.replica.log.id),
    root: toHex(node.rootHash()),
    entries: node.replica.log.size,
    alive: members.filter((m) => m.status === 'alive').length,
    members: members.length,
    missingBlocks: node.missingBlocks().length,
    stats: { ...node.stats },
  };
}

/** The figures of `serf stats` and `basefs resources`: protocol, network and process. */
function stats(c: ControlContext) {
  const { node } = c;
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  const ru = process.resourceUsage();
  const transport = (node.swim.transport as { stats?: TransportStats }).stats;
  return {
    uptimeMs: Date.now() - c.startedAt,
    process: {
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      externalBytes: mem.external,
      cpuUserMs: Math.round(cpu.user / 1000),
      cpuSystemMs: Math.round(cpu.system / 1000),
      voluntaryContextSwitches: ru.voluntaryContextSwitches,
      involuntaryContextSwitches: ru.involuntaryContextSwitches,
    },
    transport: transport ? { ...transport } : null,
    swim: { ...(node.swim.machine as { stats?: () => object }).stats?.() },
    runtime: { ...node.swim.counters },
    ...(c.extra ? { extra: c.extra() } : {}),
  };
}

/** Answers once the accepted entries are on disk, so the command that sent them may say they are saved. */
async function ingest(node: BasefsNode, raw: unknown): Promise<ControlAnswer> {
  const list = strings(raw, MAX_INGEST);
  if (list === null) return fail(`ingest needs 1..${MAX_INGEST} entries`);
  const bytes = list.map((b) => new Uint8Array(Buffer.from(b, 'base64')));
  const results = node.replica.log.ingestMany(bytes);
  const refused = results.filter((r) => r.status === 'rejected' || r.status === 'pending');
  if (refused.length > 0)
    return fail(`${refused.length} of ${results.length} entries refused (${refused[0]?.status}: ${refused[0]?.code ?? 'unknown'})`);
  await node.replica.durable();
  return { ok: true, accepted: results.filter((r) => r.status === 'accepted').length, duplicate: results.filter((r) => r.status === 'duplicate').length };
}

function event(c: ControlContext, name: unknown, payload: unknown): ControlAnswer {
  if (typeof name !== 'string' || (payload !== undefined && typeof payload !== 'string')) return fail('event needs a name and a base64 payload');
  if (c.eventKey === null) return fail('this node has no key, and events are signed: run it with -k KEYFILE');
  if (!c.node.mayWrite(c.eventKey.publicKey)) return fail("the node's key may not write in this filesystem, so other nodes would refuse its events");
  try {
    c.node.sendEvent(name, new Uint8Array(Buffer.from(payload ?? '', 'base64')), c.eventKey);
  } catch (e) {
    return fail((e as Error).message);
  }
  return { ok: true, name };
}
