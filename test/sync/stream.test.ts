/** The session over real byte streams: in-memory duplex pairs and one TCP connection on 127.0.0.1. */
import t from 'tap';
import { createServer, connect, type Socket } from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import { BlockStore } from '../../src/core/block-store.ts';
import { toHex } from '../../src/core/hash.ts';
import { View } from '../../src/core/view.ts';
import { SyncSession } from '../../src/sync/anti-entropy.ts';
import { lengthPrefixed, runOverStream } from '../../src/sync/stream.ts';
import { encodeMessage } from '../../src/sync/wire.ts';
import { key } from '../helpers/fs.ts';
import { Rng } from '../helpers/random.ts';
import { cloneReplica, emptyReplica, newReplica, randomChange, snapshot, type Replica } from '../helpers/sync-pair.ts';

/** Two connected in-memory duplex ends. */
function duplexPair(): [Duplex, Duplex] {
  const ab = new PassThrough();
  const ba = new PassThrough();
  return [Duplex.from({ readable: ba, writable: ab }), Duplex.from({ readable: ab, writable: ba })];
}

function diverged(): { a: Replica; b: Replica } {
  const rng = new Rng(11);
  const a = newReplica(key(1));
  a.writer(key(1)).mkdir('/etc');
  const b = cloneReplica(a);
  for (let i = 0; i < 40; i++) randomChange(rng, i % 2 ? a : b, key(1), [key(2).publicKey]);
  const big = new Uint8Array(300_000);
  for (let i = 0; i < big.length; i += 1000) big[i] = i / 1000;
  a.writer(key(1)).writeFile('/etc/big', big);
  return { a, b };
}

const session = (r: Replica, role: 'initiator' | 'responder', limits = {}) =>
  new SyncSession({ log: r.log, blocks: r.blocks, role, now: Date.now(), limits });

t.test('two replicas converge over an in-memory duplex pair', async (t) => {
  const { a, b } = diverged();
  const [x, y] = duplexPair();
  const [ra, rb] = await Promise.all([runOverStream(session(a, 'initiator'), x), runOverStream(session(b, 'responder'), y)]);
  t.equal(ra.error, undefined);
  t.equal(rb.error, undefined);
  t.equal(toHex(a.log.rootHash()), toHex(b.log.rootHash()));
  t.equal(snapshot(a), snapshot(b));
  t.ok(rb.stats.blocksReceived >= 5, 'blocks of the big file came over');
});

t.test('over TCP on 127.0.0.1: a new replica gets everything, blocks into an on-disk BlockStore', async (t) => {
  const { a } = diverged();
  const fresh = emptyReplica(a);
  const store = BlockStore.open(t.testdir(), { sync: 'never' });
  const served: Promise<unknown>[] = [];
  const server = createServer((socket) => served.push(runOverStream(session(a, 'responder'), socket)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const socket = await new Promise<Socket>((resolve) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
  });
  const started = performance.now();
  const r = await runOverStream(new SyncSession({ log: fresh.log, blocks: store, role: 'initiator', now: Date.now() }), socket);
  const ms = performance.now() - started;
  await Promise.all(served);
  server.close();
  t.equal(r.error, undefined);
  t.equal(fresh.log.size, a.log.size);
  t.equal(snapshot({ ...fresh, view: new View(fresh.log, store) }), snapshot(a));
  t.equal(store.stats().count, r.stats.blocksReceived);
  t.comment(`TCP: ${a.log.size} entries and ${r.stats.blocksReceived} blocks, ${r.stats.bytesReceived + r.stats.bytesSent} bytes, ${r.stats.roundTrips} round trips, ${ms.toFixed(0)} ms`);
});

t.test('an oversized length prefix ends the session before anything is buffered', async (t) => {
  const { b } = diverged();
  const [x, y] = duplexPair();
  const run = runOverStream(session(b, 'responder'), y);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(64 * 1024 * 1024, 0);
  x.write(head);
  const r = await run;
  t.equal(r.error?.code, 'TOO_LARGE');
});

t.test('a garbage frame ends the session with MALFORMED and closes the stream', async (t) => {
  const { b } = diverged();
  const [x, y] = duplexPair();
  const run = runOverStream(session(b, 'responder'), y);
  x.write(lengthPrefixed(new Uint8Array([77, 1, 2, 3])));
  const r = await run;
  t.equal(r.error?.code, 'MALFORMED');
  await new Promise<void>((resolve) => x.once('end', resolve).resume());
  t.pass('the honest side closed the stream');
});

t.test('a peer that goes silent mid-session is dropped at the deadline', async (t) => {
  const { b } = diverged();
  const [x, y] = duplexPair();
  let clock = 0;
  const run = runOverStream(session(b, 'responder', { idleTimeoutMs: 1000 }), y, { now: () => clock, tickMs: 5 });
  x.write(lengthPrefixed(encodeMessage({ type: 'hello', version: 1, fsId: b.log.id, root: new Uint8Array(32) })));
  setTimeout(() => (clock = 5000), 20); // time passes; the peer never ends its turn
  const r = await run;
  t.equal(r.error?.code, 'TIMEOUT');
});

t.test('the peer closing the connection mid-session is CLOSED', async (t) => {
  const { b } = diverged();
  const [x, y] = duplexPair();
  const run = runOverStream(session(b, 'responder'), y);
  x.write(lengthPrefixed(encodeMessage({ type: 'hello', version: 1, fsId: b.log.id, root: new Uint8Array(32) })));
  x.end();
  const r = await run;
  t.equal(r.error?.code, 'CLOSED');
});
