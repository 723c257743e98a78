/**
 * Writing to a filesystem whose log a running node holds (it has the lock): the change is made by a
 * Writer over a read-only snapshot, which signs entries exactly as it would on the log itself, and
 * the signed entries are handed to the node over its control socket (`ingest`). The node verifies
 * them like a peer's, stores them and spreads them. Only entries without new blocks can go this way
 * (grants, revokes, reverts, directories, files up to the inline size); the mount writes bigger ones.
 */
import { fsDir } from '../core/home.ts';
import type { KeyPair } from '../core/keys.ts';
import { Replica } from '../core/replica.ts';
import { Writer } from '../core/writer.ts';
import { askNode, socketPath } from './control.ts';

/** Runs `fn` against a snapshot of `name` in `home`, sends what it signed to the node, returns fn's result. */
export async function writeViaNode<T>(home: string, name: string, key: KeyPair, fn: (writer: Writer, snapshot: Replica) => T): Promise<T> {
  const dir = fsDir(home, name);
  const snapshot = Replica.open(dir, { writable: false });
  const writer = new Writer({ log: snapshot.log, view: snapshot.view, key });
  const signed: Uint8Array[] = [];
  const stop = snapshot.log.onAccept((nodes) => {
    for (const n of nodes) signed.push(n.entry.bytes);
  });
  let result: T;
  try {
    result = fn(writer, snapshot);
  } finally {
    stop();
    snapshot.close();
  }
  if (signed.length > 0) await askNode(socketPath(dir), { cmd: 'ingest', entries: signed.map((b) => Buffer.from(b).toString('base64')) });
  return result;
}

/** A node of `name` answers on its control socket. */
export async function nodeAnswers(home: string, name: string): Promise<boolean> {
  try {
    await askNode(socketPath(fsDir(home, name)), { cmd: 'status' }, 2000);
    return true;
  } catch {
    return false;
  }
}
