import { isIP } from 'node:net';
import { Command, Option } from 'clipanion';
import { err, isBasefsError } from '../../core/errors.ts';
import { checkFsName, defaultPort, fsDir, readConfig, writeConfig } from '../../core/home.ts';
import { fingerprint, type KeyPair } from '../../core/keys.ts';
import { bootstrapEntries, Replica } from '../../core/replica.ts';
import { toHex } from '../../core/hash.ts';
import { BasefsCommand } from '../base.ts';
import { json, shortHash } from '../format.ts';

/** "ip", "ip:port", "[v6]" or "[v6]:port" → "ip:port" / "[v6]:port". */
export function parseSeed(text: string, port: number): string {
  const t = text.trim();
  let host = t;
  let p: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (v6) {
    host = v6[1] as string;
    p = v6[2];
  } else if (isIP(t) === 6) {
    host = t;
  } else {
    const i = t.lastIndexOf(':');
    if (i >= 0) {
      host = t.slice(0, i);
      p = t.slice(i + 1);
    }
  }
  const family = isIP(host);
  if (family === 0) throw err('USAGE', `'${text}' is not an IP address (ip or ip:port)`);
  const n = p === undefined ? port : Number(p);
  if (p !== undefined && !/^\d{1,5}$/.test(p)) throw err('USAGE', `'${text}': bad port`);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw err('USAGE', `'${text}': port must be 1..65535`);
  return family === 6 ? `[${host}]:${n}` : `${host}:${n}`;
}

export class BootstrapCommand extends BasefsCommand {
  static override paths = [['bootstrap']];
  static override usage = Command.Usage({
    category: 'Filesystems',
    description: 'create a new filesystem (its first log entries) in BASEFS_HOME',
    details: `
      Creates the log of filesystem NAME under \`$BASEFS_HOME/fs/NAME\`: the root directory, signed by the first root key (the root of trust), a grant on \`/\` for each further root key, and \`/.cluster\` listing the seed addresses other nodes join. Also records the port and seeds in \`$BASEFS_HOME/config.json\`.

      Seeds are \`ip\` or \`ip:port\`; the port defaults to the filesystem's port (\`-p\`, default derived from the name). Root keys default to \`$BASEFS_HOME/id_ed25519\`. \`-f\` replaces an existing filesystem of that name (its log is discarded).
    `,
    examples: [
      ['Create "myfs" with three seed nodes', '$0 bootstrap myfs -i 10.0.0.1,10.0.0.2,10.0.0.3'],
      ['Use an explicit port and two root keys', '$0 bootstrap myfs -i 10.0.0.1 -p 17000 -k ~/.basefs/id_ed25519,./second-root.key'],
    ],
  });

  name = Option.String({ name: 'NAME' });
  ips = Option.String('-i,--ips', { required: true, description: 'seed addresses, comma-separated: IP[:PORT][,IP[:PORT]...]' });
  port = Option.String('-p,--port', { description: 'base port of the filesystem (default: derived from the name)' });
  keys = Option.String('-k,--keys', { description: 'root private key files, comma-separated (default: $BASEFS_HOME/id_ed25519)' });
  force = Option.Boolean('-f,--force', false, { description: 'replace an existing filesystem of the same name' });
  asJson = Option.Boolean('--json', false, { description: 'print the result as JSON' });

  run(): number {
    checkFsName(this.name);
    let port = defaultPort(this.name);
    if (this.port !== undefined) {
      if (!/^\d{1,5}$/.test(this.port) || Number(this.port) < 1 || Number(this.port) > 65535)
        throw err('USAGE', `bad port '${this.port}' (1..65535)`);
      port = Number(this.port);
    }
    const seeds = this.ips
      .split(',')
      .filter((s) => s.trim() !== '')
      .map((s) => parseSeed(s, port));
    if (seeds.length === 0) throw err('USAGE', '-i needs at least one address');
    const keyFiles = this.keys === undefined ? [undefined] : this.keys.split(',').filter((k) => k.trim() !== '');
    if (keyFiles.length === 0) throw err('USAGE', '-k needs at least one key file');
    const roots: KeyPair[] = keyFiles.map((k) => this.loadKey(k?.trim()));
    const dir = fsDir(this.home, this.name);
    if (Replica.exists(dir) && !this.force)
      throw err('EXISTS', `a filesystem named '${this.name}' already exists (use -f to replace it)`);
    if (Replica.exists(dir)) {
      // Replacing a log that a running node has open would pull it out from under the node.
      try {
        this.openWrite(this.name, roots[0] as KeyPair).close();
      } catch (e) {
        if (isBasefsError(e, 'LOCKED')) throw e;
        // a damaged log is exactly what -f may replace
      }
    }
    const entries = bootstrapEntries(this.name, roots, seeds, Date.now());
    let replica: Replica;
    try {
      replica = Replica.create(
        dir,
        entries.map((e) => e.bytes),
        { force: this.force },
      );
    } catch (e) {
      if (isBasefsError(e, 'LOCKED')) throw err('LOCKED', `filesystem '${this.name}' is locked by another process`);
      throw e;
    }
    const id = toHex(replica.log.id);
    const size = replica.log.size;
    replica.close();
    const config = readConfig(this.home);
    config.filesystems[this.name] = { ...(config.filesystems[this.name] ?? {}), port, seeds, createdAt: new Date().toISOString() };
    writeConfig(this.home, config);
    const rootFps = roots.map((k) => fingerprint(k.publicKey));
    if (this.asJson) {
      this.out(json({ name: this.name, id, port, seeds, rootKeys: rootFps, entries: size, dir }));
      return 0;
    }
    const s = this.style;
    this.out(`created filesystem ${s.bold(this.name)} (id ${shortHash(id)}, ${size} entries) in ${dir}`);
    this.out(`root key${rootFps.length > 1 ? 's' : ''}: ${rootFps.join(', ')}`);
    this.out(`port ${port}; seeds ${seeds.join(', ')}`);
    return 0;
  }
}
