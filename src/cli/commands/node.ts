/**
 * The node commands: `run` (a node in the foreground, with a local control socket), `get` (fetch a
 * filesystem from a peer), and `members` / `blocks`, which ask a running node over its control
 * socket (control.ts).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Command, Option } from 'clipanion';
import { BlockStore } from '../../core/block-store.ts';
import { decodeText } from '../../core/content.ts';
import { err, isBasefsError } from '../../core/errors.ts';
import { fromHex, toHex } from '../../core/hash.ts';
import { checkFsName, defaultPort, fsDir, readConfig, writeConfig } from '../../core/home.ts';
import { Log } from '../../core/log.ts';
import { Replica } from '../../core/replica.ts';
import { parseAddress } from '../../swim/net-address.ts';
import { formatMembersTable, type MemberJson } from '../../swim/table.ts';
import type { MemberInfo } from '../../swim/types.ts';
import { SyncSession } from '../../sync/anti-entropy.ts';
import { runOverStream } from '../../sync/stream.ts';
import { BasefsCommand } from '../base.ts';
import { askNode, socketPath, type ControlReply, type ControlRequest } from '../control.ts';
import { blockReport, type FileBlocks } from '../node-control.ts';
import { NodeHostCommand } from '../node-host.ts';
import { parseSeed } from './bootstrap.ts';

export { STATE_FILE } from '../node-host.ts';
export type { FileBlocks };

function noNode(name: string): Error {
  return err('NOT_FOUND', `no running node for '${name}' (start one with 'basefs run ${name}')`);
}

/** A command that talks to the running node of a filesystem over its control socket. */
export abstract class AskCommand extends BasefsCommand {
  async ask(name: string, req: ControlRequest): Promise<ControlReply> {
    const path = socketPath(fsDir(this.home, name));
    try {
      return await askNode(path, req);
    } catch (e) {
      throw this.noNodeIfMissing(e, name);
    }
  }

  /** NOT_FOUND from the socket means no node runs: say how to start one. */
  noNodeIfMissing(e: unknown, name: string): unknown {
    return isBasefsError(e, 'NOT_FOUND') ? noNode(name) : e;
  }
}

export class MembersCommand extends AskCommand {
  static override paths = [['members']];
  static override usage = Command.Usage({
    category: 'Node',
    description: 'list the members of the group a running node sees',
    details: `Asks the node started by \`basefs run NAME\` (over its control socket in BASEFS_HOME) for its SWIM member table. Fails with one line when no node is running. NAME may be left out when there is only one filesystem.`,
    examples: [
      ['The table', '$0 members myfs'],
      ['As JSON', '$0 members myfs --json'],
    ],
  });
  name = Option.String({ name: 'NAME', required: false });
  asJson = Option.Boolean('--json', false, { description: 'print the members as a JSON array' });

  async run(): Promise<number> {
    const { name } = this.target(this.name);
    const reply = await this.ask(name, { cmd: 'members' });
    const members = (reply['members'] ?? []) as MemberJson[];
    if (this.asJson) {
      this.out(JSON.stringify(members, null, 2));
      return 0;
    }
    const infos: MemberInfo[] = members.map((m) => ({
      name: m.name,
      address: m.address,
      status: m.status,
      incarnation: m.incarnation,
      meta: fromHex(m.meta),
      changedAt: -m.lastChangeMs,
    }));
    this.context.stdout.write(formatMembersTable(infos, { now: 0, color: this.style.enabled }));
    return 0;
  }
}

export class BlocksCommand extends AskCommand {
  static override paths = [['blocks']];
  static override usage = Command.Usage({
    category: 'Node',
    description: 'show which files a running node still misses blocks of',
    details: `Asks the node started by \`basefs run NAME\` for the block state of every file: complete, or how many of its blocks are still missing (being fetched; until they arrive the file shows its previous version).`,
    examples: [
      ['Per-file block state', '$0 blocks myfs'],
      ['As JSON', '$0 blocks myfs --json'],
    ],
  });
  name = Option.String({ name: 'NAME', required: false });
  asJson = Option.Boolean('--json', false, { description: 'print {files: [{path, blocks, missing}], missing} as JSON' });

  async run(): Promise<number> {
    const { name } = this.target(this.name);
    const reply = await this.ask(name, { cmd: 'blocks' });
    const files = (reply['files'] ?? []) as FileBlocks[];
    const missing = files.reduce((n, f) => n + f.missing, 0);
    if (this.asJson) {
      this.out(JSON.stringify({ files, missing }, null, 2));
      return 0;
    }
    const width = Math.max(4, ...files.map((f) => f.path.length));
    for (const f of files)
      this.out(`${f.path.padEnd(width)}  ${f.missing === 0 ? 'complete' : `${f.missing} of ${f.blocks} blocks missing`}`);
    const incomplete = files.filter((f) => f.missing > 0).length;
    this.out(incomplete === 0 ? `${files.length} files, all complete` : `${incomplete} of ${files.length} files incomplete, ${missing} blocks missing`);
    return 0;
  }
}

export class RunCommand extends NodeHostCommand {
  static override paths = [['run']];
  static override usage = Command.Usage({
    category: 'Node',
    description: 'run a node without mounting',
    details: `Runs a node of filesystem NAME. By default it goes to the background once it answers (its log appended to $BASEFS_HOME/fs/NAME/node.log); with -f it stays in the foreground and logs on stderr. It runs until SIGINT or SIGTERM or \`basefs serf NAME leave\` (then it leaves the group, closes its control socket and the log, and exits 0).

Gossip (SWIM, UDP and TCP) is on the filesystem's port (config.json, or the one given with -b) and anti-entropy sessions on the port after it. Without -b the node binds the machine's first non-loopback IPv4 address. The seeds it joins are those of -j plus the ones in the filesystem's /.cluster. The node name is the host name (-H to choose; with a loopback -b address, host name and address, so several nodes can share one machine on 127.0.0.x).

The node keeps its SWIM incarnation in $BASEFS_HOME/fs/NAME/node.state, answers \`basefs members\`, \`blocks\`, \`serf\` and \`resources\` on $BASEFS_HOME/fs/NAME/node.sock (mode 0600), and logs one line per notable event (--json-log: one JSON object per line). While it runs, \`basefs grant\`, \`revoke\` and \`revert\` hand their signed entries to it.

-w SCRIPT runs \`sh -c SCRIPT\` after each applied change, local or received, with BASEFS_EVENT_TYPE (MKDIR, WRITE, DELETE, GRANT, ...), BASEFS_EVENT_PATH and BASEFS_NAME set: debounced (200 ms per type and path), one at a time, and for a file only once all its blocks are here.`,
    examples: [
      ['A node on 127.0.0.2, joining another', '$0 run myfs -b 127.0.0.2 -j 127.0.0.1'],
      ['In the foreground, with a watcher', "$0 run myfs -f -w 'logger basefs $BASEFS_EVENT_TYPE $BASEFS_EVENT_PATH'"],
    ],
  });

  async run(): Promise<number> {
    return this.hostNode();
  }
}

export class GetCommand extends BasefsCommand {
  static override paths = [['get']];
  static override usage = Command.Usage({
    category: 'Node',
    description: "fetch a filesystem's log and blocks from a peer",
    details: `Fetches filesystem NAME from a running node at ADDR[:PORT] into BASEFS_HOME, verifying every entry (signature, hash, parent, authority) and every block (by hash); then it can be run. ADDR:PORT is the peer's gossip (SWIM) address; PORT defaults to the filesystem's port (config.json, else derived from the name) and the transfer uses the port after it (PORT+1), where the peer's node serves anti-entropy.

With --id (the filesystem id, the hash of its genesis entry; \`basefs show NAME --json\` prints it on any node that has it) only the genesis entry that hashes to it is accepted, so a peer cannot substitute another filesystem. Without --id the peer's filesystem is trusted on first use: its genesis must be named NAME, every other entry is verified against it as usual, and the id is printed so that it can be compared with one from a node you trust.

Writes the filesystem's section of config.json (port, and seeds from its /.cluster). Progress goes to stderr when it is a terminal.`,
    examples: [
      ['Fetch myfs from 10.0.0.1', '$0 get myfs 10.0.0.1'],
      ['Fetch only the filesystem with this id', '$0 get myfs 10.0.0.1 --id 3f9a…'],
    ],
  });
  name = Option.String({ name: 'NAME' });
  addr = Option.String({ name: 'ADDR[:PORT]' });
  id = Option.String('--id', { description: 'accept only the filesystem with this id (hex hash of its genesis entry); default: trust the peer on first use' });
  force = Option.Boolean('-f,--force', false, { description: 'replace an existing filesystem of the same name' });
  asJson = Option.Boolean('--json', false, { description: 'print the result as JSON' });

  async run(): Promise<number> {
    checkFsName(this.name);
    const config = readConfig(this.home);
    const port0 = config.filesystems[this.name]?.port ?? defaultPort(this.name);
    const peer = parseAddress(parseSeed(this.addr, port0));
    if (this.id !== undefined && !/^[0-9a-fA-F]{64}$/.test(this.id)) throw err('USAGE', '--id must be 64 hex digits');
    const fsId = this.id === undefined ? 'first-use' : fromHex(this.id.toLowerCase());
    const dir = fsDir(this.home, this.name);
    const existed = Replica.exists(dir);
    if (existed && !this.force) throw err('EXISTS', `a filesystem named '${this.name}' already exists (use -f to replace it)`);
    const started = performance.now();
    mkdirSync(dir, { recursive: true });
    const cleanup = () => {
      if (!existed) rmSync(dir, { recursive: true, force: true });
    };
    const log = new Log(null);
    const session = new SyncSession({ log, blocks: BlockStore.open(join(dir, 'blocks')), role: 'initiator', now: Date.now(), fsId });
    const tty = (this.context.stderr as { isTTY?: boolean }).isTTY === true;
    const progress = tty
      ? setInterval(() => {
          const s = session.stats;
          this.context.stderr.write(`\rfetching: ${s.entriesAccepted} entries, ${s.blocksReceived} blocks (${Math.round(s.blockBytesReceived / 1024)} KiB)`);
        }, 200)
      : null;
    const socket = connect({ host: peer.host, port: peer.port + 1, noDelay: true });
    socket.on('error', () => {});
    const result = await runOverStream(session, socket);
    if (progress !== null) {
      clearInterval(progress);
      this.context.stderr.write('\n');
    }
    const where = `${peer.host}:${peer.port}`;
    if (result.error !== undefined && log.size === 0) {
      cleanup();
      const m = result.error.message;
      if (/another filesystem/.test(m))
        throw err('NOT_FOUND', `the node at ${where} does not hold filesystem ${(this.id ?? '').slice(0, 16)}… (check --id)`);
      if (/ECONNREFUSED/.test(m))
        throw err('NOT_FOUND', `no node answers at ${peer.host}:${peer.port + 1} (is 'basefs run ${this.name}' running on ${where}?)`);
      throw err(result.error.code, `fetching from ${where} failed: ${m}`);
    }
    if (result.error !== undefined) {
      cleanup();
      throw err(result.error.code, `fetching from ${where} stopped after ${log.size} entries: ${result.error.message}`);
    }
    if (log.size === 0) {
      cleanup();
      throw err('NOT_FOUND', `${where} sent no entries`);
    }
    const remoteName = decodeText(log.genesis.entry.content);
    if (remoteName !== this.name) {
      cleanup();
      throw err('USAGE', `the peer's filesystem is named '${remoteName}', not '${this.name}'`);
    }
    let replica: Replica;
    try {
      replica = Replica.create(
        dir,
        [...log.entriesInOrder()].map((e) => e.bytes),
        { force: this.force },
      );
    } catch (e) {
      cleanup();
      if (isBasefsError(e, 'LOCKED')) throw err('LOCKED', `filesystem '${this.name}' is locked by another process (a running node?)`);
      throw e;
    }
    const files = blockReport(replica);
    const missing = files.reduce((n, f) => n + f.missing, 0);
    const seeds = replica.seeds();
    const id = toHex(replica.log.id);
    const entries = replica.log.size;
    replica.close();
    config.filesystems[this.name] = {
      ...(config.filesystems[this.name] ?? {}),
      port: peer.port,
      seeds,
      createdAt: new Date().toISOString(),
    };
    writeConfig(this.home, config);
    const ms = Math.round(performance.now() - started);
    const s = result.stats;
    if (this.asJson) {
      this.out(JSON.stringify({ name: this.name, id, firstUse: this.id === undefined, from: where, entries, blocks: s.blocksReceived, blockBytes: s.blockBytesReceived, missingBlocks: missing, ms, dir }));
      return 0;
    }
    this.out(`fetched ${this.style.bold(this.name)} (id ${id.slice(0, 16)}, ${entries} entries, ${s.blocksReceived} blocks) from ${where} in ${ms} ms`);
    if (this.id === undefined) this.out(`trusted on first use: filesystem id ${id} (compare it with 'basefs show ${this.name} --json' on a node you trust)`);
    if (missing > 0) this.out(`${missing} blocks still missing; a running node fetches them ('basefs run ${this.name}')`);
    return 0;
  }
}
