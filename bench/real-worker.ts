/**
 * Child process for the multi-process real-socket run (bench/real-procs.ts): hosts some SWIM
 * nodes on 127.0.0.x and answers the parent over IPC. Times are epoch milliseconds with
 * sub-millisecond precision (performance.timeOrigin + performance.now()), comparable across
 * processes on one machine.
 */
import type { SwimRuntime } from '../src/swim/runtime.ts';
import { startSwimNode, type ProfileName } from '../src/swim/udp.ts';
import { answerParent } from './real-procs.ts';
import { sendTotals } from './stats.ts';

export type WorkerRequest =
  | { cmd: 'start'; nodes: Array<{ name: string; host: string }>; seeds: string[]; profile: ProfileName }
  | { cmd: 'alive' }
  | { cmd: 'broadcast'; name: string; tag: string }
  | { cmd: 'received'; tag: string }
  | { cmd: 'stats' }
  | { cmd: 'stop' };

export type WorkerReply =
  | { cmd: 'start'; addresses: string[] }
  | { cmd: 'alive'; minAlive: number }
  | { cmd: 'broadcast'; at: number }
  | { cmd: 'received'; times: number[] }
  | { cmd: 'stats'; bytes: number; packets: number; errors: number }
  | { cmd: 'stop' };

const epochNow = (): number => performance.timeOrigin + performance.now();

const nodes: SwimRuntime[] = [];
const received = new Map<string, number[]>();

async function handle(req: WorkerRequest): Promise<WorkerReply> {
  switch (req.cmd) {
    case 'start': {
      for (const n of req.nodes) {
        const rt = await startSwimNode({ name: n.name, host: n.host, port: 0, seeds: req.seeds, profile: req.profile });
        rt.on('user', (payload) => {
          const tag = new TextDecoder().decode(payload);
          const list = received.get(tag) ?? [];
          list.push(epochNow());
          received.set(tag, list);
        });
        nodes.push(rt);
      }
      return { cmd: 'start', addresses: nodes.map((n) => n.address) };
    }
    case 'alive':
      return { cmd: 'alive', minAlive: Math.min(...nodes.map((n) => n.members().filter((m) => m.status === 'alive').length)) };
    case 'broadcast': {
      const rt = nodes.find((n) => n.name === req.name);
      const at = epochNow();
      rt?.broadcast('bench', new TextEncoder().encode(req.tag));
      return { cmd: 'broadcast', at };
    }
    case 'received':
      return { cmd: 'received', times: received.get(req.tag) ?? [] };
    case 'stats':
      return { cmd: 'stats', ...sendTotals(nodes) };
    case 'stop':
      await Promise.all(nodes.map((n) => n.close()));
      return { cmd: 'stop' };
  }
}

answerParent('worker', handle);
