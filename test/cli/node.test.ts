/**
 * `basefs run`, `get`, `members` and `blocks` with real node processes on 127.0.0.41..49 (this
 * file's addresses only): bootstrap and write in one BASEFS_HOME, run a node there, `get` into a
 * second home, run that one too, ask both over their control sockets, stop both with SIGTERM.
 * Homes live under the system temp directory: a unix socket path must stay under ~100 bytes.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { decodeText } from '../../src/core/content.ts';
import { toHex } from '../../src/core/hash.ts';
import { fsDir } from '../../src/core/home.ts';
import { readKeyFile } from '../../src/core/keys.ts';
import { Replica } from '../../src/core/replica.ts';
import { askNode, MAX_REQUEST_BYTES } from '../../src/cli/control.ts';
import { killAll, NO_LOADER, poll, startBasefs as start, type Proc } from '../helpers/cli-procs.ts';
import { envFor, isOneLineError, run } from './harness.ts';

const PORT = 17401;

/** Writes `bytes` to the control socket; resolves with whatever comes back before it closes. */
function rawRequest(path: string, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ path });
    let got = '';
    s.on('data', (c: Buffer) => (got += c.toString('utf8')));
    s.on('error', () => {});
    s.on('close', () => resolve(got));
    s.write(bytes);
  });
}

interface MemberRow {
  name: string;
  status: string;
}

async function aliveMembers(home: string): Promise<string[] | undefined> {
  const r = await run(['members', 'demo', '--json'], envFor(home));
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.stdout) as MemberRow[]).filter((m) => m.status === 'alive').map((m) => m.name);
}

t.test('run, get, members, blocks and a clean stop with real processes', { skip: NO_LOADER, timeout: 120_000 }, async (t) => {
  const h1 = mkdtempSync(join(tmpdir(), 'bfs-'));
  const h2 = mkdtempSync(join(tmpdir(), 'bfs-'));
  const procs: Proc[] = [];
  t.teardown(async () => {
    await killAll(procs);
    rmSync(h1, { recursive: true, force: true });
    rmSync(h2, { recursive: true, force: true });
  });

  // A filesystem with data, written before the node takes the log's lock.
  t.equal((await run(['genkey'], envFor(h1))).code, 0);
  const boot = await run(['bootstrap', 'demo', '-i', `127.0.0.41:${PORT}`, '-p', String(PORT), '--json'], envFor(h1));
  t.equal(boot.code, 0, boot.stderr);
  const id = (JSON.parse(boot.stdout) as { id: string }).id;
  const big = randomBytes(300_000);
  {
    const r = Replica.open(fsDir(h1, 'demo'), { key: readKeyFile(join(h1, 'id_ed25519')) });
    r.writer?.writeFile('/hello.txt', new TextEncoder().encode('hello from n1\n'));
    r.writer?.mkdir('/data');
    r.writer?.writeFile('/data/big.bin', big);
    r.close();
  }

  const none = await run(['members', 'demo'], envFor(h1));
  t.equal(none.code, 1);
  t.match(none.stderr, /^basefs: no running node for 'demo' \(start one with 'basefs run demo'\)\n$/);

  // A stale socket file (a node that was killed) does not fool `members` and is replaced by `run`.
  writeFileSync(join(fsDir(h1, 'demo'), 'node.sock'), '');
  t.match((await run(['members', 'demo'], envFor(h1))).stderr, /no running node for 'demo'/);

  const n1 = start(['run', 'demo', '-f', '-b', '127.0.0.41', '-H', 'n1', '--profile', 'local'], h1);
  procs.push(n1);
  t.same(await poll(() => aliveMembers(h1), 'n1 to answer'), ['n1']);
  const sock = join(fsDir(h1, 'demo'), 'node.sock');
  t.equal(statSync(sock).mode & 0o777, 0o600, 'socket mode 0600');
  t.match(await askNode(sock, { cmd: 'status' }), { ok: true, fs: 'demo', node: 'n1', id, entries: 5 });
  await t.rejects(askNode(sock, { cmd: 'frob' }), /unknown command/);
  t.equal(await rawRequest(sock, Buffer.from('not json\n')), '{"ok":false,"error":"request is not JSON"}\n');
  t.equal(await rawRequest(sock, Buffer.alloc(MAX_REQUEST_BYTES + 100, 0x20)), '', 'oversized request dropped');
  t.match(n1.stderr(), /started fs=demo node=n1 address=127\.0\.0\.41:17401 syncPort=17402/);

  // A second node on the same log is refused by the lock.
  const twice = await run(['run', 'demo', '-b', '127.0.0.43'], envFor(h1));
  t.equal(twice.code, 1);
  t.equal(twice.error, 'LOCKED');
  t.ok(isOneLineError(twice.stderr));

  // get: a wrong --id, or (trusting the peer on first use) another name, fetches nothing and
  // leaves nothing behind.
  const otherName = await run(['get', 'other', `127.0.0.41:${PORT}`], envFor(h2));
  t.equal(otherName.code, 2, otherName.stderr);
  t.match(otherName.stderr, /named 'demo', not 'other'/);
  t.notOk(existsSync(fsDir(h2, 'other')), 'nothing left after a refused first-use get');
  const wrong = await run(['get', 'demo', `127.0.0.41:${PORT}`, '--id', 'ab'.repeat(32)], envFor(h2));
  t.equal(wrong.code, 1, wrong.stderr);
  t.ok(isOneLineError(wrong.stderr), wrong.stderr);
  t.match(wrong.stderr, /does not hold filesystem abababababababab/);
  const nobody = await run(['get', 'demo', '127.0.0.44:17401', '--id', id], envFor(h2));
  t.equal(nobody.code, 1);
  t.match(nobody.stderr, /no node answers at 127\.0\.0\.44:17402/);
  t.notOk(existsSync(fsDir(h2, 'demo')), 'nothing left after a refused get');

  const got = await run(['get', 'demo', `127.0.0.41:${PORT}`, '--json'], envFor(h2));
  t.equal(got.code, 0, got.stderr);
  const g = JSON.parse(got.stdout) as { id: string; firstUse: boolean; entries: number; blocks: number; missingBlocks: number; ms: number };
  t.equal(g.id, id, 'first use: the peer\'s filesystem id');
  t.equal(g.firstUse, true);
  t.equal(g.missingBlocks, 0);
  t.ok(g.blocks >= 5, `${g.blocks} blocks fetched`);
  t.comment(`get: ${g.entries} entries, ${g.blocks} blocks in ${g.ms} ms`);
  {
    const a = Replica.open(fsDir(h1, 'demo'), { writable: false });
    const b = Replica.open(fsDir(h2, 'demo'), { writable: false });
    t.equal(toHex(b.log.rootHash()), toHex(a.log.rootHash()), 'same root hash');
    t.equal(decodeText(b.view.readFile('/hello.txt')), 'hello from n1\n');
    t.ok(Buffer.from(b.view.readFile('/data/big.bin')).equals(big), 'big file identical');
    t.same(b.seeds(), [`127.0.0.41:${PORT}`]);
    a.close();
    b.close();
  }
  const again = await run(['get', 'demo', `127.0.0.41:${PORT}`, '--id', id], envFor(h2));
  t.equal(again.error, 'EXISTS');

  const n2 = start(['run', 'demo', '-f', '-b', '127.0.0.42', '-H', 'n2', '--profile', 'local', '--json-log'], h2);
  procs.push(n2);
  for (const h of [h1, h2])
    t.same(await poll(async () => ((await aliveMembers(h))?.length === 2 ? await aliveMembers(h) : undefined), 'both nodes alive'), ['n1', 'n2']);
  const table = await run(['members', 'demo'], envFor(h2));
  t.equal(table.code, 0);
  t.match(table.stdout, /^NAME\s+ADDRESS\s+STATUS/);
  t.match(table.stdout, /n1\s+127\.0\.0\.41:17401\s+alive/);
  t.comment(table.stdout.trimEnd());

  const blocks = await run(['blocks', 'demo', '--json'], envFor(h2));
  t.equal(blocks.code, 0, blocks.stderr);
  const bs = JSON.parse(blocks.stdout) as { files: Array<{ path: string; blocks: number; missing: number }>; missing: number };
  t.equal(bs.missing, 0);
  t.match(bs.files, [{ path: '/.cluster' }, { path: '/data/big.bin', missing: 0 }, { path: '/hello.txt' }]);
  const text = await run(['blocks'], envFor(h2));
  t.match(text.stdout, /\/data\/big\.bin\s+complete/);

  // JSON log lines on n2.
  const first = n2.stderr().split('\n')[0] ?? '';
  t.match(JSON.parse(first) as object, { event: 'started', node: 'n2' });

  n1.child.kill('SIGTERM');
  n2.child.kill('SIGTERM');
  t.equal(await n1.exit, 0, 'n1 exits 0');
  t.equal(await n2.exit, 0, 'n2 exits 0');
  t.match(n1.stderr(), /stopping reason=SIGTERM/);
  for (const h of [h1, h2]) {
    const r = await run(['members', 'demo'], envFor(h));
    t.equal(r.code, 1);
    t.match(r.stderr, /no running node for 'demo'/);
    t.notOk(existsSync(join(fsDir(h, 'demo'), 'node.sock')), 'socket removed');
  }
});
