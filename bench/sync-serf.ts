/**
 * The same measurements for HashiCorp Serf (the system BaseFS's original used), when a `serf`
 * binary is on PATH (Debian package `serf`); the bench never installs it.
 *
 * N agents, one process each, `-profile=lan`, bound to 127.0.0.100.. on fixed ports (Serf cannot
 * advertise an ephemeral port), agent 0 the seed. The parent holds one RPC connection per agent
 * (Serf's msgpack RPC, the protocol `serf event` and `serf members` use):
 *   - latency: `event` (Coalesce false: the agent would otherwise hold user events for its 3 s
 *     coalescing window) on one agent; every agent's `stream` of `user:bench` events is read by the
 *     parent, which timestamps each record on arrival. That adds one loopback TCP hop and the
 *     parent's decoding to Serf's figure (well under a millisecond), against ours, stamped inside
 *     each node at acceptance; the payload is a few bytes, against our ~250-byte signed entry.
 *   - idle bytes: Serf's own counters. Every agent gets `statsd_addr` pointing at a UDP socket of
 *     the parent; memberlist counts `memberlist.udp.sent` (each datagram's payload, after
 *     compounding/compression) and `memberlist.tcp.sent` (each stream message: push-pull, fallback
 *     probes) exactly where our transport counts bytesSent / streamBytesSent, so both sides count
 *     payload bytes handed to the kernel, without IP/UDP/TCP headers. No per-port kernel counter is
 *     available here (no nftables/iptables), and a qdisc on `lo` would slow every other test on
 *     the machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { accessSync, constants, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { delimiter, join } from 'node:path';
import { Packr, UnpackrStream } from 'msgpackr';
import { epochNow, groupHost, MAX_GROUP, scenario, sleep, type Members, type ScenarioOptions, type ScenarioResult } from './sync-group.ts';
import { median } from './stats.ts';

const SERF_PORT = 27946;
const RPC_PORT = 27373;
const EVENT = 'bench';

/** The `serf` executable on PATH, or null. */
export function findSerf(): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, 'serf');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

interface Pending {
  body: boolean;
  resolve: (r: { error: string; body: Record<string, unknown> | null }) => void;
}

/** Just enough of Serf's RPC (handshake, stream, members, event) over one connection. */
class SerfRpc {
  readonly #socket: Socket;
  readonly #packr = new Packr({ useRecords: false });
  #seq = 0;
  readonly #pending = new Map<number, Pending>();
  /** Header seen, its body is next. */
  #bodyFor: ((body: Record<string, unknown>) => void) | null = null;
  #streamSeq = -1;
  #streamAcked = false;
  /** Arrival time (epoch ms) of each user event, by payload. */
  readonly events = new Map<string, number>();

  private constructor(socket: Socket) {
    this.#socket = socket;
    const decoder = new UnpackrStream({ mapsAsObjects: true });
    socket.pipe(decoder);
    decoder.on('data', (o: Record<string, unknown>) => this.#object(o, epochNow()));
    decoder.on('error', () => socket.destroy());
  }

  static async connect(host: string, port: number, budgetMs: number): Promise<SerfRpc> {
    const t0 = performance.now();
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect({ host, port, noDelay: true });
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        socket.on('error', () => {});
        const rpc = new SerfRpc(socket);
        const h = await rpc.request('handshake', { Version: 1 });
        if (h.error !== '') throw new Error(`serf handshake: ${h.error}`);
        return rpc;
      } catch (e) {
        if (performance.now() - t0 > budgetMs) throw e;
        await sleep(50);
      }
    }
  }

  #object(o: Record<string, unknown>, at: number): void {
    if (this.#bodyFor !== null) {
      const f = this.#bodyFor;
      this.#bodyFor = null;
      f(o);
      return;
    }
    const seq = Number(o.Seq);
    const error = typeof o.Error === 'string' ? o.Error : '';
    if (seq === this.#streamSeq && this.#streamAcked) {
      this.#bodyFor = (body) => {
        const payload = body.Payload instanceof Uint8Array ? Buffer.from(body.Payload).toString() : String(body.Payload);
        if (!this.events.has(payload)) this.events.set(payload, at);
      };
      return;
    }
    if (seq === this.#streamSeq) this.#streamAcked = true;
    const p = this.#pending.get(seq);
    if (p === undefined) return;
    this.#pending.delete(seq);
    if (p.body && error === '') this.#bodyFor = (body) => p.resolve({ error, body });
    else p.resolve({ error, body: null });
  }

  request(command: string, body: Record<string, unknown> | null, expectBody = false): Promise<{ error: string; body: Record<string, unknown> | null }> {
    const seq = this.#seq++;
    if (command === 'stream') this.#streamSeq = seq;
    return new Promise((resolve) => {
      this.#pending.set(seq, { body: expectBody, resolve });
      const parts = [this.#packr.pack({ Command: command, Seq: seq })];
      if (body !== null) parts.push(this.#packr.pack(body));
      this.#socket.write(Buffer.concat(parts));
    });
  }

  async alive(): Promise<number> {
    const r = await this.request('members', null, true);
    const members = (r.body?.Members ?? []) as Array<{ Status?: string }>;
    return members.filter((m) => m.Status === 'alive').length;
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** Sums memberlist's sent-bytes counters from every agent's statsd lines. */
class StatsdSink {
  readonly #socket: UdpSocket;
  udpSent = 0;
  tcpSent = 0;
  lines = 0;
  private constructor(socket: UdpSocket) {
    this.#socket = socket;
    socket.on('message', (m) => {
      for (const line of m.toString().split('\n')) {
        const match = /^[\w.-]*memberlist\.(udp|tcp)\.sent:([\d.]+)\|c/.exec(line);
        if (match === null) continue;
        this.lines++;
        if (match[1] === 'udp') this.udpSent += Number(match[2]);
        else this.tcpSent += Number(match[2]);
      }
    });
  }
  static async open(): Promise<StatsdSink> {
    const socket = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    return new StatsdSink(socket);
  }
  get port(): number {
    return this.#socket.address().port;
  }
  /** Datagrams the kernel dropped on this socket (a full buffer would undercount Serf's bytes). */
  drops(): number {
    const hexPort = this.port.toString(16).toUpperCase().padStart(4, '0');
    try {
      for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f[1]?.endsWith(`:${hexPort}`)) return Number(f.at(-1));
      }
    } catch {
      // not Linux: unknown
    }
    return NaN;
  }
  close(): void {
    this.#socket.close();
  }
}

export interface SerfResult extends ScenarioResult {
  version: string;
  rssMedianMb: number;
  /** statsd datagrams lost in the kernel (should be 0: the idle figures would be too low). */
  statsdDrops: number;
}

export interface SerfOptions extends Omit<ScenarioOptions, 'label'> {
  serf: string;
  n: number;
  work: string;
}

function rssMb(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export function serfVersion(serf: string): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn(serf, ['version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', () => resolve(out.split('\n')[0]?.trim() ?? '?'));
    p.on('error', () => resolve('?'));
  });
}

export async function runSerfGroup(opts: SerfOptions): Promise<SerfResult> {
  const { n, progress } = opts;
  if (n > MAX_GROUP) throw new Error(`at most ${MAX_GROUP} agents`);
  const statsd = await StatsdSink.open();
  const config = join(opts.work, 'serf.json');
  writeFileSync(config, JSON.stringify({ statsd_addr: `127.0.0.1:${statsd.port}` }));
  const agents: ChildProcess[] = [];
  const rpcs: SerfRpc[] = [];
  try {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const host = groupHost(i);
      const log = openSync(join(opts.work, `serf-n${n}-${i}.log`), 'w');
      const args = ['agent', `-node=serf${i}`, `-bind=${host}:${SERF_PORT}`, `-rpc-addr=${host}:${RPC_PORT}`, '-profile=lan', '-log-level=warn', `-config-file=${config}`];
      if (i > 0) args.push(`-join=${groupHost(0)}:${SERF_PORT}`);
      agents.push(spawn(opts.serf, args, { stdio: ['ignore', log, log] }));
      closeSync(log);
      // Staggered like ours: the next agent starts once this one answers RPC (and so has joined).
      const rpc = await SerfRpc.connect(host, RPC_PORT, 10_000);
      rpcs.push(rpc);
      const s = await rpc.request('stream', { Type: `user:${EVENT}` });
      if (s.error !== '') throw new Error(`serf stream: ${s.error}`);
      if (i % 16 === 15) progress(`  ${i + 1}/${n} serf agents started`);
    }
    const startMs = performance.now() - t0;
    const members: Members = {
      n,
      converged: async () => (await Promise.all(rpcs.map((r) => r.alive()))).every((a) => a === n),
      send: async (origin, tag) => {
        const at = epochNow();
        const r = await (rpcs[origin] as SerfRpc).request('event', { Name: EVENT, Payload: Buffer.from(tag), Coalesce: false });
        if (r.error !== '') throw new Error(`serf event: ${r.error}`);
        return at;
      },
      delivered: async (origin, tag) => rpcs.flatMap((r, i) => (i === origin || !r.events.has(tag) ? [] : [r.events.get(tag) as number])),
      counters: async () => {
        // go-metrics' statsd sink flushes every 100 ms: let the lines up to now arrive.
        await sleep(300);
        return { memberlistUdp: statsd.udpSent, memberlistTcp: statsd.tcpSent };
      },
    };
    const result = await scenario(members, startMs, { ...opts, label: 'Serf' });
    if (opts.idleMs > 0 && statsd.lines === 0) throw new Error('no statsd counters from the serf agents');
    return { ...result, version: await serfVersion(opts.serf), rssMedianMb: median(agents.map((a) => rssMb(a.pid))), statsdDrops: statsd.drops() };
  } finally {
    for (const r of rpcs) r.close();
    // SIGTERM: shut down without a graceful leave (quick; the group is discarded anyway).
    await Promise.all(
      agents.map(async (a) => {
        if (a.exitCode !== null || a.signalCode !== null) return;
        const exited = new Promise<void>((r) => a.once('exit', () => r()));
        a.kill('SIGTERM');
        await Promise.race([exited, sleep(5_000)]);
        if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
      }),
    );
    statsd.close();
  }
}
