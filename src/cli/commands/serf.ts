/**
 * `basefs serf NAME CMD [ARGS...]`: the original proxied these to the Serf agent's RPC port; here
 * the node's own SWIM agent answers them over the control socket (node-control.ts). The commands
 * that make sense for BaseFS's agent are served with Serf's output conventions; the rest (queries,
 * tags, keyring, rtt) are refused in one line.
 */
import { Command, Option } from 'clipanion';
import { err } from '../../core/errors.ts';
import { decodeNodeMeta } from '../../sync/node-meta.ts';
import { fromHex, toHex } from '../../core/hash.ts';
import type { MemberJson } from '../../swim/table.ts';
import { streamFromNode, socketPath } from '../control.ts';
import { fsDir } from '../../core/home.ts';
import { nodeAnswers } from '../node-write.ts';
import { AskCommand } from './node.ts';

const SUPPORTED = ['members', 'join', 'leave', 'force-leave', 'stats', 'info', 'monitor', 'event'];

export class SerfCommand extends AskCommand {
  static override paths = [['serf']];
  static override usage = Command.Usage({
    category: 'Node',
    description: "Serf's agent commands, answered by a running node",
    details: `The original BaseFS ran a Serf agent and passed these through to it; BaseFS's own SWIM agent now answers them for node NAME (started with \`basefs run\` or \`basefs mount\`):

- \`members [-status STATUS] [-format json]\`: the member table (name, address, status, the member's log root and filesystem)
- \`join ADDR[:PORT]...\`: contact more members
- \`leave\`: leave the group gracefully and stop the node
- \`force-leave NODE\`: declare a failed member left, so nobody waits for it any more
- \`stats\` (or \`info\`): agent, gossip, sync and process counters (\`-format json\`)
- \`monitor\`: follow the node's log until interrupted
- \`event NAME [PAYLOAD]\`: a user event, signed with the node's key (which must be allowed to write in the filesystem: other nodes refuse events of other keys), delivered once to every node's watcher (BASEFS_EVENT_TYPE=EVENT, BASEFS_EVENT_NAME, the payload on stdin)`,
    examples: [
      ['Members', '$0 serf myfs members'],
      ['Join another node', '$0 serf myfs join 10.0.0.7'],
      ['Follow the log', '$0 serf myfs monitor'],
    ],
  });
  name = Option.String({ name: 'NAME' });
  cmd = Option.String({ name: 'CMD' });
  // Serf's own flags (-format, -status) are single-dash words clipanion would refuse: passed through as they are.
  args = Option.Proxy({ name: 'ARGS' });

  async run(): Promise<number> {
    const cmd = this.cmd;
    const rest = [...this.args];
    if (cmd === '--help' || cmd === '-h' || rest.includes('--help')) {
      this.context.stdout.write(this.cli.usage(this, { detailed: true }));
      return 0;
    }
    const format = takeFlag(rest, '-format');
    const json = format === 'json';
    if (format !== undefined && format !== 'json' && format !== 'text') throw err('USAGE', `-format must be text or json`);
    switch (cmd) {
      case 'members':
        return this.#members(rest, json);
      case 'join': {
        if (rest.length === 0) throw err('USAGE', 'serf join needs at least one ADDR[:PORT]');
        const status = await this.ask(this.name, { cmd: 'status' });
        const own = String(status['address'] ?? '');
        const defPort = own.includes(':') ? own.slice(own.lastIndexOf(':') + 1) : '';
        const addrs = rest.map((a) => (/:\d+$/.test(a) ? a : `${a}:${defPort}`));
        const r = await this.ask(this.name, { cmd: 'join', addrs });
        this.out(`Successfully joined cluster by contacting ${String(r['contacted'])} nodes.`);
        return 0;
      }
      case 'leave': {
        await this.ask(this.name, { cmd: 'leave' });
        await this.#gone();
        this.out('Graceful leave complete');
        return 0;
      }
      case 'force-leave': {
        if (rest.length !== 1) throw err('USAGE', 'serf force-leave needs one NODE name');
        await this.ask(this.name, { cmd: 'force-leave', node: rest[0] });
        return 0;
      }
      case 'stats':
      case 'info': {
        const { ok: _ok, ...r } = await this.ask(this.name, { cmd: 'stats' });
        if (json) this.out(JSON.stringify(r, null, 2));
        else printSections(this, r);
        return 0;
      }
      case 'monitor':
        return this.#monitor();
      case 'event': {
        takeFlag(rest, '-coalesce'); // every BaseFS event is delivered: nothing to coalesce
        if (rest.length < 1 || rest.length > 2) throw err('USAGE', 'serf event needs NAME [PAYLOAD]');
        const [name, payload = ''] = rest as [string, string?];
        await this.ask(this.name, { cmd: 'event', name, payload: Buffer.from(payload, 'utf8').toString('base64') });
        this.out(`Event '${name}' dispatched! Coalescing enabled: false`);
        return 0;
      }
      default:
        throw err('USAGE', `'serf ${cmd.slice(0, 40)}' is not served by BaseFS's agent (it serves ${SUPPORTED.join(', ')})`);
    }
  }

  async #members(rest: string[], json: boolean): Promise<number> {
    const status = takeFlag(rest, '-status');
    if (rest.length > 0) throw err('USAGE', `unexpected argument '${rest[0]}'`);
    const r = await this.ask(this.name, { cmd: 'members' });
    let members = (r['members'] ?? []) as MemberJson[];
    if (status !== undefined) members = members.filter((m) => m.status === status);
    const rows = members.map((m) => {
      // A member without BaseFS metadata (not a BaseFS node) has no tags.
      const meta = decodeNodeMeta(fromHex(m.meta));
      const tags: Record<string, string> =
        meta === null ? {} : { root: toHex(meta.root).slice(0, 16), fs: toHex(meta.fsTag), sync: String(meta.syncPort) };
      return { name: m.name, addr: m.address, status: m.status, tags };
    });
    if (json) {
      this.out(JSON.stringify({ members: rows }, null, 2));
      return 0;
    }
    const w = (k: 'name' | 'addr' | 'status') => Math.max(0, ...rows.map((x) => x[k].length));
    for (const x of rows)
      this.out(`${x.name.padEnd(w('name'))}  ${x.addr.padEnd(w('addr'))}  ${x.status.padEnd(w('status'))}  ${Object.entries(x.tags).map(([k, v]) => `${k}=${v}`).join(',')}`);
    return 0;
  }

  /** Waits for the node to close its control socket (it has left and stopped). */
  async #gone(): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (!(await nodeAnswers(this.home, this.name))) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw err('TIMEOUT', 'the node did not stop within 30 s');
  }

  async #monitor(): Promise<number> {
    const path = socketPath(fsDir(this.home, this.name));
    const s = streamFromNode(path, { cmd: 'monitor' }, (line) => {
      const { at, event, ...fields } = line;
      const rest = Object.entries(fields).map(([k, v]) => `${k}=${String(v)}`).join(' ');
      this.out(`${String(at)} ${String(event)}${rest ? ' ' + rest : ''}`);
    });
    try {
      await s.done;
    } catch (e) {
      throw this.noNodeIfMissing(e, this.name);
    }
    return 0;
  }
}

/** Removes `flag VALUE` (or `flag=VALUE`) from `args` and returns VALUE. */
function takeFlag(args: string[], flag: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === flag || a === `-${flag}`) {
      const v = args[i + 1];
      if (v === undefined) throw err('USAGE', `${flag} needs a value`);
      args.splice(i, 2);
      return v;
    }
    if (a.startsWith(`${flag}=`) || a.startsWith(`-${flag}=`)) {
      args.splice(i, 1);
      return a.slice(a.indexOf('=') + 1);
    }
  }
  return undefined;
}

/** Serf's `info` layout: "section:" then indented "key = value" lines. */
function printSections(cmd: { out(t: string): void }, r: Record<string, unknown>): void {
  const flat: Record<string, unknown> = {};
  const sections: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of Object.entries(r)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) sections[k] = v as Record<string, unknown>;
    else flat[k] = v;
  }
  cmd.out('agent:');
  for (const [k, v] of Object.entries(flat)) cmd.out(`\t${k} = ${String(v)}`);
  for (const [name, s] of Object.entries(sections)) {
    cmd.out(`${name}:`);
    for (const [k, v] of Object.entries(s)) cmd.out(`\t${k} = ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  }
}
