/**
 * Child process for bench/sync.ts: one BasefsNode on its own replica, driven by the parent over IPC
 * (bench/sync-group.ts). One node per process, as `basefs run` runs it, so its RSS and its event
 * loop are its own. Times are epoch milliseconds with sub-millisecond precision
 * (performance.timeOrigin + performance.now()): one machine, one clock, comparable across processes.
 */
import { Replica } from '../src/core/replica.ts';
import type { ProfileName } from '../src/swim/udp.ts';
import { BasefsNode } from '../src/sync/node.ts';
import { benchKey } from './sync-log.ts';
import { answerParent } from './real-procs.ts';
import { sendTotals } from './stats.ts';

export type NodeRequest =
  | { cmd: 'start'; dir: string; name: string; host: string; seeds: string[]; profile: ProfileName }
  | { cmd: 'alive' }
  | { cmd: 'write'; path: string }
  | { cmd: 'accepted'; path: string }
  | { cmd: 'stats' }
  | { cmd: 'stop' };

export type NodeReply =
  | { cmd: 'start'; address: string; entries: number; openMs: number; rssOpened: number; rssStarted: number }
  | { cmd: 'alive'; alive: number }
  | { cmd: 'write'; at: number }
  | { cmd: 'accepted'; at: number | null }
  | {
      cmd: 'stats';
      /** SWIM datagram bytes sent, SWIM TCP stream bytes sent, sync session bytes sent (with prefixes). */
      udpBytes: number;
      swimStreamBytes: number;
      syncBytes: number;
      syncSessions: number;
      rss: number;
      heapUsed: number;
    }
  | { cmd: 'stop' };

const epochNow = (): number => performance.timeOrigin + performance.now();
const enc = new TextEncoder();

/** Only the benchmark's own writes are timed (paths under /bench/). */
const BENCH_DIR = '/bench';

let node: BasefsNode | null = null;
let replica: Replica | null = null;
const acceptedAt = new Map<string, number>();
let syncBytes = 0;
let syncSessions = 0;

async function handle(req: NodeRequest): Promise<NodeReply> {
  switch (req.cmd) {
    case 'start': {
      const t0 = performance.now();
      // The root key, so any node can be the writer; the default durability (fsync per append).
      replica = Replica.open(req.dir, { key: benchKey(1) });
      const openMs = performance.now() - t0;
      const rssOpened = process.memoryUsage().rss;
      replica.log.onAccept((nodes) => {
        const at = epochNow();
        for (const n of nodes) if (n.path.startsWith(`${BENCH_DIR}/`) && !acceptedAt.has(n.path)) acceptedAt.set(n.path, at);
      });
      node = await BasefsNode.start({ replica, name: req.name, host: req.host, port: 0, seeds: req.seeds, profile: req.profile });
      // Both roles: an idle node also answers its peers' periodic sessions. Frame bytes plus the
      // 4-byte length prefix stream.ts puts before each frame, as they go on the wire.
      node.onSync = (o) => {
        syncBytes += o.result.stats.bytesSent + 4 * o.result.stats.framesSent;
        syncSessions++;
      };
      return { cmd: 'start', address: node.address, entries: replica.log.size, openMs, rssOpened, rssStarted: process.memoryUsage().rss };
    }
    case 'alive':
      return { cmd: 'alive', alive: node?.members().filter((m) => m.status === 'alive').length ?? 0 };
    case 'write': {
      const w = replica?.writer;
      if (w === null || w === undefined) throw new Error('no writer');
      if (!replica?.view.exists(BENCH_DIR)) w.mkdir(BENCH_DIR);
      const at = epochNow();
      w.writeFile(req.path, enc.encode(`# written by bench:sync\nvalue=${at}\n`));
      return { cmd: 'write', at };
    }
    case 'accepted':
      return { cmd: 'accepted', at: acceptedAt.get(req.path) ?? null };
    case 'stats': {
      const t = node === null ? { bytes: 0, streamBytes: 0 } : sendTotals([node.swim]);
      const m = process.memoryUsage();
      return { cmd: 'stats', udpBytes: t.bytes, swimStreamBytes: t.streamBytes, syncBytes, syncSessions, rss: m.rss, heapUsed: m.heapUsed };
    }
    case 'stop':
      await node?.stop({ leave: false });
      replica?.close();
      return { cmd: 'stop' };
  }
}

answerParent('sync-node', handle);
