/**
 * The real-socket run across a few child processes (bench/real-worker.ts), so N = 64 nodes use
 * both cores instead of sharing one event loop: node i lives in process i mod P and binds
 * 127.0.0.(11 + i mod 10) with an ephemeral port; node 0 is everyone's seed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProfileName } from '../src/swim/udp.ts';
import { BENCH_HOSTS } from './real-bench.ts';
import { median, quantile } from './stats.ts';
import type { WorkerReply, WorkerRequest } from './real-worker.ts';

export interface MultiProcResult {
  n: number;
  processes: number;
  convergeMs: number;
  broadcasts: number;
  allMedianMs: number;
  allMaxMs: number;
  incomplete: number;
  steadyBytesPerNodeSec: number;
  steadyPacketsPerNodeSec: number;
  sendErrors: number;
}

/** A forked benchmark child answering one IPC request at a time, in order (also bench/sync-group.ts). */
export class ProcWorker<Req, Reply> {
  readonly child: ChildProcess;
  #waiting: Array<{ resolve: (r: Reply) => void; reject: (e: Error) => void }> = [];
  #exited: Error | null = null;
  constructor(script: string, execArgv: string[] = []) {
    this.child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
    this.child.on('message', (m: Reply) => this.#waiting.shift()?.resolve(m));
    // A child that dies (a crash, a failed import) fails its pending questions instead of hanging the bench.
    this.child.on('exit', (code, signal) => {
      this.#exited = new Error(`${script} exited (${signal ?? code})`);
      for (const w of this.#waiting.splice(0)) w.reject(this.#exited);
    });
  }
  ask(req: Req): Promise<Reply> {
    return new Promise((resolve, reject) => {
      if (this.#exited !== null) return reject(this.#exited);
      this.#waiting.push({ resolve, reject });
      this.child.send(req as object);
    });
  }
}

/**
 * The child's side of a ProcWorker: answers each request in arrival order (one at a time, so the
 * replies keep the order the parent waits in); after the reply to `stop` it lets go of the parent;
 * a failure, or losing the parent, ends the process.
 */
export function answerParent<Req, Reply extends { cmd: string }>(who: string, handle: (req: Req) => Promise<Reply>): void {
  // Without its parent (it stopped us, or died) nothing is left to do; sockets would keep us alive.
  process.on('disconnect', () => setTimeout(() => process.exit(0), 1000).unref());
  let queue: Promise<void> = Promise.resolve();
  process.on('message', (req: Req) => {
    queue = queue.then(() =>
      handle(req).then(
        (reply) => {
          process.send?.(reply);
          if (reply.cmd === 'stop') process.disconnect();
        },
        (e: unknown) => {
          process.stderr.write(`${who}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
          process.exit(1);
        },
      ),
    );
  });
}

type Worker = ProcWorker<WorkerRequest, WorkerReply>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function realSocketsMultiProcess(n: number, processes: number, broadcasts: number, profile: ProfileName = 'lan', steadyMs = 10_000): Promise<MultiProcResult> {
  const script = fileURLToPath(new URL('./real-worker.js', import.meta.url));
  const workers: Worker[] = Array.from({ length: processes }, () => new ProcWorker<WorkerRequest, WorkerReply>(script));
  const names = Array.from({ length: n }, (_, i) => `proc${i}`);
  const nodeOf = (i: number): { name: string; host: string } => ({ name: names[i] as string, host: BENCH_HOSTS[i % BENCH_HOSTS.length] as string });
  try {
    const t0 = performance.now();
    // Node 0 first (the seed), then everybody else joins through it.
    const first = (await (workers[0] as Worker).ask({ cmd: 'start', nodes: [nodeOf(0)], seeds: [], profile })) as { addresses: string[] };
    const seed = first.addresses[0] as string;
    await Promise.all(
      workers.map((w, p) => {
        const mine = names.map((_, i) => i).filter((i) => i !== 0 && i % processes === p);
        return w.ask({ cmd: 'start', nodes: mine.map(nodeOf), seeds: [seed], profile });
      }),
    );
    let convergeMs = Infinity;
    while (performance.now() - t0 < 120_000) {
      const alive = await Promise.all(workers.map((w) => w.ask({ cmd: 'alive' })));
      if (alive.every((a) => (a as { minAlive: number }).minAlive === n)) {
        convergeMs = performance.now() - t0;
        break;
      }
      await sleep(20);
    }
    const all: number[] = [];
    let incomplete = 0;
    for (let b = 0; b < broadcasts; b++) {
      const origin = (b * 7) % n;
      const tag = `mp-${b}`;
      const { at } = (await (workers[origin % processes] as Worker).ask({ cmd: 'broadcast', name: names[origin] as string, tag })) as { at: number };
      let done = Infinity;
      const start = performance.now();
      while (performance.now() - start < 10_000) {
        const got = await Promise.all(workers.map((w) => w.ask({ cmd: 'received', tag })));
        const times = got.flatMap((g) => (g as { times: number[] }).times);
        if (times.length >= n - 1) {
          done = Math.max(...times) - at;
          break;
        }
        await sleep(10);
      }
      if (!Number.isFinite(done)) incomplete++;
      all.push(done);
      await sleep(300);
    }
    const stats = async (): Promise<[number, number, number]> => {
      const s = (await Promise.all(workers.map((w) => w.ask({ cmd: 'stats' })))) as Array<{ bytes: number; packets: number; errors: number }>;
      return [s.reduce((a, x) => a + x.bytes, 0), s.reduce((a, x) => a + x.packets, 0), s.reduce((a, x) => a + x.errors, 0)];
    };
    await sleep(3000);
    const [b0, p0] = await stats();
    const s0 = performance.now();
    await sleep(steadyMs);
    const [b1, p1, errors] = await stats();
    const secs = (performance.now() - s0) / 1000;
    return {
      n,
      processes,
      convergeMs,
      broadcasts,
      allMedianMs: median(all),
      allMaxMs: quantile(all, 1),
      incomplete,
      steadyBytesPerNodeSec: (b1 - b0) / n / secs,
      steadyPacketsPerNodeSec: (p1 - p0) / n / secs,
      sendErrors: errors,
    };
  } finally {
    await Promise.all(workers.map((w) => (w.child.connected ? w.ask({ cmd: 'stop' }) : Promise.resolve())));
  }
}
