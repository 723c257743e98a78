/**
 * A BaseFS group of real `basefs` processes on 127.0.0.61..65 (this file's addresses only):
 *   - bootstrap on one node, `get` (first use) on the others; a change made on one node (a grant
 *     handed to the running node by the CLI) reaches every node with identical root hashes, and
 *     their watchers run;
 *   - a node killed with SIGKILL and restarted catches up on what it missed;
 *   - a partition: two groups that cannot reach each other (neither knows the other's address;
 *     /.cluster names a seed where nothing runs) both keep writing, then one `serf join` heals it
 *     and all five nodes converge to one root hash and one key table, both sides' grants kept;
 *   - a malicious peer connecting to a node's sync port with a forged entry, and then with a
 *     validly signed file whose blocks it serves wrong, is refused; the node keeps working and
 *     nothing it refused spreads.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createEntry, ACTION } from '../../src/core/entry.ts';
import { bytesEqual, type Hash } from '../../src/core/hash.ts';
import { fsDir } from '../../src/core/home.ts';
import { formatPublicKey, readKeyFile, type KeyPair } from '../../src/core/keys.ts';
import { encodeRecord, Log } from '../../src/core/log.ts';
import { Replica } from '../../src/core/replica.ts';
import { View } from '../../src/core/view.ts';
import { Writer } from '../../src/core/writer.ts';
import { askNode } from '../../src/cli/control.ts';
import { SyncSession } from '../../src/sync/anti-entropy.ts';
import { runOverStream } from '../../src/sync/stream.ts';
import { killAll, NO_LOADER, poll, readIfExists, startBasefs, type Proc } from '../helpers/cli-procs.ts';
import { SyncMemoryBlocks } from '../helpers/sync-pair.ts';
import { envFor, run } from './harness.ts';

const PORT = 17601;
const IPS = ['127.0.0.61', '127.0.0.62', '127.0.0.63', '127.0.0.64', '127.0.0.65'];
/** Named in /.cluster; nothing ever runs there, so no node finds the others by itself. */
const NOWHERE = `127.0.0.69:${PORT}`;

function sock(home: string): string {
  return join(fsDir(home, 'demo'), 'node.sock');
}

async function status(home: string): Promise<{ root: string; entries: number; alive: number } | undefined> {
  try {
    return (await askNode(sock(home), { cmd: 'status' })) as unknown as { root: string; entries: number; alive: number };
  } catch {
    return undefined;
  }
}

/** Resolves with the common root once every home's node reports the same one. */
async function sameRoot(homes: readonly string[], what: string, ms = 60_000): Promise<string> {
  return poll(async () => {
    const roots = await Promise.all(homes.map(async (h) => (await status(h))?.root));
    return roots[0] !== undefined && roots.every((r) => r === roots[0]) ? roots[0] : undefined;
  }, what, ms);
}

async function alive(homes: readonly string[], n: number, what: string): Promise<void> {
  await poll(async () => ((await Promise.all(homes.map(status))).every((s) => s?.alive === n) ? true : undefined), what, 60_000);
}

async function keysOf(home: string): Promise<string> {
  const r = await run(['keys', 'demo', '--json'], envFor(home));
  return r.stdout;
}

/** A sync session from this test process to a node's sync port: the malicious peer. */
async function evilSession(log: Log, blocks: SyncMemoryBlocks, syncPort: number, host: string) {
  const session = new SyncSession({ log, blocks, role: 'initiator', now: Date.now() });
  const socket = connect({ host, port: syncPort, noDelay: true });
  socket.on('error', () => {});
  return runOverStream(session, socket);
}

/** Serves a wrong block for every hash it is asked. */
class LyingBlocks extends SyncMemoryBlocks {
  override get(h: Hash): Uint8Array | null {
    return super.get(h) === null ? null : new Uint8Array(65_536).fill(7);
  }
}

t.test('a group of real processes: replicate, catch up, heal a partition, refuse a liar', { skip: NO_LOADER, timeout: 300_000 }, async (t) => {
  const homes = IPS.map(() => mkdtempSync(join(tmpdir(), 'bfs-')));
  const [h1, h2, h3, h4, h5] = homes as [string, string, string, string, string];
  const procs: Proc[] = [];
  t.teardown(async () => {
    await killAll(procs);
    for (const h of homes) rmSync(h, { recursive: true, force: true });
  });
  const node = (i: number, home: string, join: string[] = [], extra: string[] = []) => {
    const args = ['run', 'demo', '-f', '-b', `${IPS[i]}:${PORT}`, '-H', `n${i + 1}`, '--profile', 'local', ...extra];
    if (join.length > 0) args.push('-j', join.join(','));
    const p = startBasefs(args, home);
    procs.push(p);
    return p;
  };
  const at = (i: number) => `${IPS[i]}:${PORT}`;

  t.equal((await run(['genkey'], envFor(h1))).code, 0);
  const boot = await run(['bootstrap', 'demo', '-i', NOWHERE, '-p', String(PORT), '--json'], envFor(h1));
  t.equal(boot.code, 0, boot.stderr);
  const id = (JSON.parse(boot.stdout) as { id: string }).id;
  const n1 = node(0, h1);
  await poll(() => status(h1), 'n1 to answer');
  for (const h of [h2, h3]) {
    const got = await run(['get', 'demo', at(0), '--json'], envFor(h));
    t.equal(got.code, 0, got.stderr);
    t.match(JSON.parse(got.stdout), { id, firstUse: true });
  }
  const events = join(h2, 'events');
  node(1, h2, [at(0)], ['-w', `echo "$BASEFS_EVENT_TYPE $BASEFS_EVENT_PATH" >> ${events}`]);
  let n3 = node(2, h3, [at(0)]);
  await alive([h1, h2, h3], 3, 'three nodes alive everywhere');

  // 1. A change on n1 (the CLI hands the signed GRANT to the running node) reaches everyone.
  for (const k of ['k2', 'k3', 'k4', 'k5']) t.equal((await run(['genkey', join(h1, k)], envFor(h1))).code, 0);
  const pub = (k: string) => formatPublicKey(readKeyFile(join(h1, k)).publicKey);
  const before = (await status(h1))?.root;
  const g = await run(['grant', 'demo:/', join(h1, 'k2'), '-n', 'two'], envFor(h1));
  t.equal(g.code, 0, g.stderr);
  t.match(g.stdout, /handed to the running node/);
  const r1 = await sameRoot([h1, h2, h3], 'the grant on every node');
  t.not(r1, before, 'the root moved');
  await poll(async () => (readIfExists(events).includes('GRANT /') ? true : undefined), "n2's watcher");

  // 2. n3 is killed; a change it misses; it restarts and catches up.
  n3.child.kill('SIGKILL');
  t.equal(await n3.exit, null);
  t.equal((await run(['grant', 'demo:/', join(h1, 'k3'), '-n', 'three'], envFor(h1))).code, 0);
  await sameRoot([h1, h2], 'n1 and n2 agree');
  n3 = node(2, h3, [at(0)]);
  const r2 = await sameRoot([h1, h2, h3], 'n3 caught up after a restart');
  t.not(r2, r1);
  t.match(n3.stderr(), /started fs=demo node=n3/);

  // 3. Partition: n4 and n5 form their own group (fetched from n1 first, so they hold k2's grant).
  for (const h of [h4, h5]) t.equal((await run(['get', 'demo', at(0), '--id', id], envFor(h))).code, 0);
  const n4 = node(3, h4);
  // n5 joins n4 once n4 answers: a join to a seed that is not up yet is retried only on the
  // reconnect timer (15 s), and on a loaded 2-core machine a node can take that long to start.
  await poll(() => status(h4), 'n4 to answer');
  const n5 = node(4, h5, [at(3)]);
  // Seen once under a full suite on 2 cores (n5 started before n4): this group not formed in
  // 60 s. Say what each saw.
  await alive([h4, h5], 2, 'the second group').catch(async (e: Error) => {
    const seen = await Promise.all([h4, h5].map(status));
    throw new Error(`${e.message}; status ${JSON.stringify(seen)}\nn4: ${n4.stderr().slice(-1500)}\nn5: ${n5.stderr().slice(-1500)}`);
  });
  // Side A writes with the root key, side B with k2 (granted at /): both grant k4, with
  // different labels (concurrent grants of one key are both kept), and one key each.
  const k2file = join(h1, 'k2');
  t.equal((await run(['grant', 'demo:/', pub('k4'), '-n', 'four-a'], envFor(h1))).code, 0);
  t.equal((await run(['grant', 'demo:/', pub('k5'), '-n', 'five'], envFor(h1))).code, 0);
  t.equal((await run(['grant', 'demo:/', pub('k4'), '-n', 'four-b', '-k', k2file], envFor(h4))).code, 0);
  const a = await sameRoot([h1, h2, h3], 'side A agrees');
  const b = await sameRoot([h4, h5], 'side B agrees');
  t.not(a, b, 'the two sides differ while partitioned');
  const heal = await run(['serf', 'demo', 'join', at(3)], envFor(h1));
  t.equal(heal.code, 0, heal.stderr);
  t.match(heal.stdout, /Successfully joined cluster by contacting 1 nodes/);
  await alive(homes, 5, 'one group of five');
  const healed = await sameRoot(homes, 'all five converge', 90_000);
  t.not(healed, a);
  t.not(healed, b);
  const tables = await Promise.all(homes.map(keysOf));
  t.ok(tables.every((x) => x === tables[0]), 'the same key table on every node');
  const table = JSON.parse(tables[0] ?? '{}') as { keys: Array<{ key: string; label: string }> };
  for (const k of ['k2', 'k3', 'k4', 'k5']) t.ok(table.keys.some((x) => x.key === pub(k)), `${k} holds a grant`);
  // k4 was granted on both sides: one row, the same label everywhere (the table is identical).
  t.match(table.keys.find((x) => x.key === pub('k4'))?.label ?? '', /^four-[ab]$/);

  // 4. A malicious peer. First a forged entry (stored unverified on its side with loadTrusted).
  const s1 = (await askNode(sock(h1), { cmd: 'status' })) as unknown as { entries: number; root: string; syncPort: number };
  const evil = Replica.open(fsDir(h1, 'demo'), { writable: false });
  const evilLog = new Log(null);
  evilLog.loadTrusted([...evil.log.entriesInOrder()].map(encodeRecord));
  evil.close();
  const rootKey = readKeyFile(join(h1, 'id_ed25519'));
  const forged = forge(evilLog, rootKey);
  evilLog.loadTrusted([encodeRecord(forged)]);
  const f = await evilSession(evilLog, new SyncMemoryBlocks(), s1.syncPort, IPS[0] as string);
  t.not(f.error, undefined, `the forged entry ends the session (${f.error?.code})`);
  const s1b = (await askNode(sock(h1), { cmd: 'status' })) as unknown as { entries: number; root: string };
  t.equal(s1b.root, s1.root, 'n1 stored nothing');
  t.equal(s1b.entries, s1.entries);

  // Then a validly signed file (k2 may write at /) whose blocks the peer serves wrong.
  const liar = new Log(null);
  liar.loadTrusted([...evilLog.entriesInOrder()].filter((e) => !bytesEqual(e.hash, forged.hash)).map(encodeRecord));
  const lyingBlocks = new LyingBlocks();
  const w = new Writer({ log: liar, view: new View(liar, lyingBlocks), key: readKeyFile(k2file), blocks: lyingBlocks });
  w.writeFile('/big.bin', new Uint8Array(200_000).fill(1));
  await evilSession(liar, lyingBlocks, s1.syncPort, IPS[0] as string);
  const blocks = await run(['blocks', 'demo', '--json'], envFor(h1));
  const report = JSON.parse(blocks.stdout) as { files: Array<{ path: string; missing: number }> };
  const big = report.files.find((x) => x.path === '/big.bin');
  t.ok(big !== undefined && big.missing > 0, `n1 took the signed entry but none of the wrong blocks (${big?.missing} missing)`);
  t.ok((await status(h1)) !== undefined, 'n1 still answers');
  // The valid entry spreads; nobody has the file's content (the liar's blocks were refused everywhere).
  await sameRoot(homes, 'the signed entry everywhere');
  t.equal((await run(['members', 'demo'], envFor(h5))).code, 0);
  t.equal(n1.child.exitCode, null, 'n1 is still running');
});


/** An entry with the root key's author field and a signature that does not verify. */
function forge(log: Log, key: KeyPair) {
  const parent = log.genesis.entry.hash;
  const e = createEntry({ parent, timestamp: Date.now(), action: ACTION.MKDIR, name: 'forged', content: new Uint8Array(0) }, key.publicKey, key.seed);
  const bytes = new Uint8Array(e.bytes);
  bytes[bytes.length - 1]! ^= 0x01; // the last byte is the signature's
  return { ...e, bytes, hash: e.hash, signature: bytes.subarray(bytes.length - 64) };
}

