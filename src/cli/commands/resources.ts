/**
 * `basefs resources [NAME]`: what a running node costs — CPU, memory, context switches, packets and
 * bytes on the wire, log size — sampled over its control socket. The original needed root and
 * iptables LOG rules to count traffic; the node counts its own sockets, so anyone who can reach
 * the control socket (its user) can ask.
 *
 * On a terminal it redraws every interval until interrupted; otherwise it prints one sample (or
 * -n samples). -l prints colon-separated lines (the original's log format), --json one object a
 * sample. Rates (CPU %, bytes/s) are over the interval since the previous sample; the first
 * sample's are since the node started.
 */
import { Command, Option } from 'clipanion';
import { err } from '../../core/errors.ts';
import { AskCommand } from './node.ts';

interface Sample {
  at: number;
  uptimeMs: number;
  cpuMs: number;
  rss: number;
  heap: number;
  ctx: number;
  packetsOut: number;
  bytesOut: number;
  packetsIn: number;
  bytesIn: number;
  streamBytesOut: number;
  streamBytesIn: number;
  entries: number;
  members: number;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function toSample(r: Record<string, unknown>): Sample {
  const p = (r['process'] ?? {}) as Record<string, unknown>;
  const t = (r['transport'] ?? {}) as Record<string, unknown>;
  return {
    at: Date.now(),
    uptimeMs: num(r['uptimeMs']),
    cpuMs: num(p['cpuUserMs']) + num(p['cpuSystemMs']),
    rss: num(p['rssBytes']),
    heap: num(p['heapUsedBytes']),
    ctx: num(p['voluntaryContextSwitches']) + num(p['involuntaryContextSwitches']),
    packetsOut: num(t['packetsSent']),
    bytesOut: num(t['bytesSent']),
    packetsIn: num(t['packetsReceived']),
    bytesIn: num(t['bytesReceived']),
    streamBytesOut: num(t['streamBytesSent']),
    streamBytesIn: num(t['streamBytesReceived']),
    entries: num(r['entries']),
    members: num(r['alive']),
  };
}

/** Figures over the interval from `prev` (or since start) to `s`. */
function rates(s: Sample, prev: Sample | null) {
  const ms = prev === null ? Math.max(1, s.uptimeMs) : Math.max(1, s.at - prev.at);
  const d = (k: keyof Sample) => s[k] - (prev === null ? 0 : prev[k]);
  return {
    cpuPercent: Math.round((d('cpuMs') / ms) * 1000) / 10,
    rssMiB: Math.round(s.rss / 1048576 * 10) / 10,
    heapMiB: Math.round(s.heap / 1048576 * 10) / 10,
    contextSwitchesPerSec: Math.round((d('ctx') * 1000) / ms),
    udpPacketsOutPerSec: Math.round((d('packetsOut') * 1000) / ms),
    udpBytesOutPerSec: Math.round((d('bytesOut') * 1000) / ms),
    udpBytesInPerSec: Math.round((d('bytesIn') * 1000) / ms),
    tcpBytesOutPerSec: Math.round((d('streamBytesOut') * 1000) / ms),
    tcpBytesInPerSec: Math.round((d('streamBytesIn') * 1000) / ms),
    entries: s.entries,
    aliveMembers: s.members,
  };
}

export class ResourcesCommand extends AskCommand {
  static override paths = [['resources']];
  static override usage = Command.Usage({
    category: 'Node',
    description: "show a running node's CPU, memory and network use",
    details: `Samples the node of NAME (started with \`basefs run\` or \`mount\`) every interval: CPU %, resident and heap memory, context switches, UDP (gossip) and TCP (gossip streams) bytes per second in and out, log entries and alive members. On a terminal it redraws until interrupted; otherwise one sample, or -n samples. -l prints colon-separated lines, --json one JSON object per sample.`,
    examples: [
      ['Watch a node', '$0 resources myfs'],
      ['Ten samples, one a second, as JSON', '$0 resources myfs -n 10 --json'],
    ],
  });
  name = Option.String({ name: 'NAME', required: false });
  asJson = Option.Boolean('--json', false, { description: 'one JSON object per sample' });
  asLog = Option.Boolean('-l,--log', false, { description: 'colon-separated lines instead of a table' });
  count = Option.String('-n,--count', { description: 'number of samples (default: until interrupted on a terminal, else 1)' });
  interval = Option.String('-i,--interval', '1000', { description: 'milliseconds between samples' });

  async run(): Promise<number> {
    const { name } = this.target(this.name);
    const every = Number(this.interval);
    if (!Number.isInteger(every) || every < 100 || every > 3_600_000) throw err('USAGE', '--interval must be 100..3600000 ms');
    const tty = (this.context.stdout as { isTTY?: boolean }).isTTY === true;
    let n = this.count === undefined ? (tty && !this.asJson && !this.asLog ? Infinity : 1) : Number(this.count);
    if (!(n >= 1)) throw err('USAGE', '--count must be a positive number');
    let prev: Sample | null = null;
    let first = true;
    while (n-- > 0) {
      const s = toSample(await this.ask(name, { cmd: 'stats' }));
      const r = rates(s, prev);
      prev = s;
      if (this.asJson) this.out(JSON.stringify({ fs: name, at: new Date(s.at).toISOString(), ...r }));
      else if (this.asLog) this.out([new Date(s.at).toISOString(), ...Object.values(r)].join(':'));
      else {
        if (tty && !first) this.context.stdout.write('\x1b[H\x1b[2J');
        this.#table(name, r);
      }
      first = false;
      if (n > 0) await new Promise((res) => setTimeout(res, every));
    }
    return 0;
  }

  #table(name: string, r: ReturnType<typeof rates>): void {
    const rows: Array<[string, string]> = [
      ['cpu', `${r.cpuPercent} %`],
      ['memory', `${r.rssMiB} MiB resident, ${r.heapMiB} MiB heap`],
      ['context switches', `${r.contextSwitchesPerSec}/s`],
      ['udp out / in', `${r.udpBytesOutPerSec} / ${r.udpBytesInPerSec} B/s (${r.udpPacketsOutPerSec} packets/s out)`],
      ['tcp out / in', `${r.tcpBytesOutPerSec} / ${r.tcpBytesInPerSec} B/s`],
      ['log', `${r.entries} entries`],
      ['members', `${r.aliveMembers} alive`],
    ];
    this.out(`${this.style.bold(name)}`);
    for (const [k, v] of rows) this.out(`  ${k.padEnd(17)} ${v}`);
  }
}
