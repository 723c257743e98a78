/**
 * The commands that append to the log: grant, revoke, revert. Each opens the filesystem writable
 * (taking the log's lock), signs with the user's key (default $BASEFS_HOME/id_ed25519, -k to
 * choose), and is checked by the same rules every other node applies before anything is written.
 * While a node of the filesystem runs, the signed entries go to it instead (withWriter).
 */
import { Command, Option } from 'clipanion';
import { err, isBasefsError } from '../../core/errors.ts';
import { actionName, type Entry } from '../../core/entry.ts';
import { bytesEqual, toHex } from '../../core/hash.ts';
import { fingerprint, formatPublicKey, type KeyPair } from '../../core/keys.ts';
import { isWithin } from '../../core/paths.ts';
import type { Replica } from '../../core/replica.ts';
import type { Writer } from '../../core/writer.ts';
import { nodeAnswers, writeViaNode } from '../node-write.ts';
import { BasefsCommand } from '../base.ts';
import { json, shortHash } from '../format.ts';
import { checkLabel, looksLikeKey, parseKeyArgument } from '../key-arg.ts';

abstract class WriteCommand extends BasefsCommand {
  keyFile = Option.String('-k,--key', { description: 'private key to sign with (default: $BASEFS_HOME/id_ed25519)' });
  asJson = Option.Boolean('--json', false, { description: 'print the appended entries as JSON' });

  /** Set when the entries went to a running node rather than straight into the log. */
  viaNode = false;

  /**
   * Runs `fn` with a writer for `name` (which changes `path`). With the log free, the writer appends
   * to it directly. While a node runs (it holds the log's lock), `fn` runs against a read-only
   * snapshot and the entries it signs are handed to the node over its control socket, which
   * verifies them like a peer's, stores them and spreads them.
   */
  async withWriter<T>(name: string, path: string, fn: (writer: Writer, replica: Replica, key: KeyPair) => T): Promise<T> {
    this.fsDirOf(name); // an unknown filesystem is reported before a missing key
    const key = this.loadKey(this.keyFile);
    let replica: Replica;
    try {
      replica = this.openWrite(name, key);
    } catch (e) {
      if (!isBasefsError(e, 'LOCKED')) throw e;
      return this.#viaNode(name, path, key, fn, e);
    }
    try {
      const writer = replica.writer;
      if (writer === null) throw err('NOT_SUPPORTED', 'this filesystem cannot be written here');
      return this.#apply(name, path, key, () => fn(writer, replica, key));
    } finally {
      replica.close();
    }
  }

  #apply<T>(name: string, path: string, key: KeyPair, call: () => T): T {
    try {
      return call();
    } catch (e) {
      if (isBasefsError(e, 'NOT_AUTHORIZED'))
        throw err('NOT_AUTHORIZED', `key ${fingerprint(key.publicKey)} may not change ${name}:${path}`);
      throw e;
    }
  }

  async #viaNode<T>(name: string, path: string, key: KeyPair, fn: (writer: Writer, replica: Replica, key: KeyPair) => T, locked: unknown): Promise<T> {
    // Locked, but no node answers: another command holds the lock.
    if (!(await nodeAnswers(this.home, name))) throw locked;
    const result = await writeViaNode(this.home, name, key, (writer, snapshot) => this.#apply(name, path, key, () => fn(writer, snapshot, key)));
    this.viaNode = true;
    return result;
  }

  report(name: string, entries: readonly Entry[], summary: string): void {
    if (this.asJson) {
      this.out(json({ name, viaNode: this.viaNode, entries: entries.map((e) => ({ hash: toHex(e.hash), action: actionName(e.action), name: e.name })) }));
      return;
    }
    this.out(summary + (this.viaNode ? ' (handed to the running node)' : ''));
    for (const e of entries) this.out(`  appended ${actionName(e.action).padEnd(6)} ${shortHash(e.hash)}`);
  }
}

function dirTarget(cmd: BasefsCommand, text: string) {
  const t = cmd.target(text);
  if (!t.explicitPath) return { ...t, path: '/' };
  return t;
}

export class GrantCommand extends WriteCommand {
  static override paths = [['grant']];
  static override usage = Command.Usage({
    category: 'Permissions',
    description: 'give a key write access to a directory and everything below it',
    details: `
      Appends a GRANT entry signed with your key, which must itself have authority over DIR. KEY is a public key (\`ed25519:...\`, as printed by \`genkey\`) or a key file. The label (\`-n\`, default: the key file's name) names the grant in \`keys\` and \`show\`.
    `,
    examples: [
      ['Let the admin key manage /etc', '$0 grant myfs:/etc ed25519:3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA -n admin'],
      ['Grant the key in a file, signing with another key', '$0 grant myfs:/etc ./admin.key -k ./root.key'],
    ],
  });

  dir = Option.String({ name: 'NAME:/DIR' });
  key = Option.String({ name: 'KEY' });
  label = Option.String('-n,--label', { description: 'a name for the grant (default: the key file name, or "key-<fingerprint>")' });

  async run(): Promise<number> {
    const t = dirTarget(this, this.dir);
    const k = parseKeyArgument(this.key);
    const fp = fingerprint(k.publicKey);
    const label = checkLabel(this.label ?? k.suggestedLabel ?? `key-${fp.replace(/:/g, '').slice(0, 8)}`);
    const entry = await this.withWriter(t.name, t.path, (w, replica) => {
      if (bytesEqual(replica.log.genesis.entry.author, k.publicKey))
        throw err('USAGE', `${fp} is the filesystem's root key; it already owns /`);
      return w.grant(t.path, k.publicKey, label);
    });
    this.report(t.name, [entry], `granted ${label} (${fp}) write access to ${t.name}:${t.path}`);
    return 0;
  }
}

export class RevokeCommand extends WriteCommand {
  static override paths = [['revoke']];
  static override usage = Command.Usage({
    category: 'Permissions',
    description: "withdraw a key's write access to a directory and everything below it",
    details: `
      Appends REVOKE entries for every grant of the key at DIR or below, signed with your key. What the revoked key wrote before stays: the command first appends ACK entries that confirm the current state of each path it last wrote. Anything the key signs afterwards is ignored by every node. KEY is a public key, a key file, or the label or fingerprint of a granted key (see \`keys\`).
    `,
    examples: [
      ['Revoke by label', '$0 revoke myfs:/etc admin'],
      ['Revoke by fingerprint everywhere', '$0 revoke myfs 9f8e:7d6c:5b4a:3928'],
    ],
  });

  dir = Option.String({ name: 'NAME:/DIR' });
  key = Option.String({ name: 'KEY' });

  async run(): Promise<number> {
    const t = dirTarget(this, this.dir);
    let label = '';
    let entries: Entry[] = [];
    let fp = '';
    entries = await this.withWriter(t.name, t.path, (w, replica) => {
      const { publicKey, label: l } = this.findKey(replica, t.path, this.key);
      fp = fingerprint(publicKey);
      label = l;
      if (bytesEqual(replica.log.genesis.entry.author, publicKey))
        throw err('USAGE', `${fp} is the filesystem's root key, which cannot be revoked`);
      return w.revoke(t.path, publicKey, label);
    });
    this.report(t.name, entries, `revoked ${label || fp} (${fp}) on ${t.name}:${t.path} and below`);
    return 0;
  }

  /** KEY as a public key or key file, else as the label or fingerprint of a grant at or below `dir`. */
  findKey(replica: Replica, dir: string, text: string): { publicKey: Uint8Array; label: string } {
    // The genesis key is included so that naming it gets "cannot be revoked" rather than "no such key".
    const grants = replica.view.keys().filter((k) => k.grant === null || isWithin(k.dir, dir));
    if (looksLikeKey(text)) {
      const { publicKey } = parseKeyArgument(text);
      const g = grants.find((k) => bytesEqual(k.key, publicKey));
      return { publicKey, label: g?.label ?? '' };
    }
    const wanted = text.toLowerCase().replace(/:/g, '');
    const matches = grants.filter((k) => k.label === text || fingerprint(k.key).replace(/:/g, '') === wanted);
    const distinct = new Map(matches.map((k) => [toHex(k.key), k]));
    if (distinct.size === 0)
      throw err('NOT_FOUND', `no key granted at ${dir} or below matches '${text}' (see 'basefs keys ${replica.name}:${dir}')`);
    if (distinct.size > 1)
      throw err('USAGE', `'${text}' matches ${distinct.size} keys (${[...distinct.values()].map((k) => formatPublicKey(k.key)).join(', ')}); give the public key`);
    const k = [...distinct.values()][0] as { key: Uint8Array; label: string };
    return { publicKey: k.key, label: k.label };
  }
}

export class RevertCommand extends WriteCommand {
  static override paths = [['revert']];
  static override usage = Command.Usage({
    category: 'History',
    description: 'restore a file to an earlier revision',
    details: `
      Appends a REVERT entry, signed with your key, that restores the state PATH had at the entry HASH (a unique hex prefix of it, as printed by \`show\`). The history is kept: a revert is one more entry, and can itself be reverted.
    `,
    examples: [['Restore /etc/app.conf to revision 3f2a9c1e', '$0 revert myfs:/etc/app.conf 3f2a9c1e']],
  });

  file = Option.String({ name: 'NAME:/PATH' });
  hash = Option.String({ name: 'HASH' });

  async run(): Promise<number> {
    const t = this.target(this.file);
    if (!t.explicitPath || t.path === '/') throw err('USAGE', 'revert needs NAME:/PATH of a file');
    if (!/^[0-9a-fA-F]{4,64}$/.test(this.hash)) throw err('USAGE', `'${this.hash}' is not a hash prefix (4 to 64 hex digits)`);
    const entry = await this.withWriter(t.name, t.path, (w) => w.revert(t.path, this.hash));
    this.report(t.name, [entry], `reverted ${t.name}:${t.path} to ${this.hash.toLowerCase()}`);
    return 0;
  }
}
