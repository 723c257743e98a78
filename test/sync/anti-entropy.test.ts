/**
 * Two replicas reconcile in one session: identical ones in one round trip, diverged ones (seeded
 * random concurrent writes, grants, revokes, deletes, files with blocks) to the same root hash and
 * the same view, whichever side initiates; an empty replica gets everything. Replays are harmless.
 * Replay a failure with SYNC_SEED=<seed> (SYNC_SEED=random explores new seeds).
 */
import t from 'tap';
import { toHex } from '../../src/core/hash.ts';
import { encodeRecord, Log } from '../../src/core/log.ts';
import { View } from '../../src/core/view.ts';
import { Writer } from '../../src/core/writer.ts';
import { SyncSession } from '../../src/sync/anti-entropy.ts';
import { decodeMessage } from '../../src/sync/wire.ts';
import { key } from '../helpers/fs.ts';
import { Rng, seedFrom } from '../helpers/random.ts';
import { cloneReplica, emptyReplica, newReplica, pump, pumpInterleaved, randomChange, snapshot, SyncMemoryBlocks, type Replica } from '../helpers/sync-pair.ts';

const keys = [key(1), key(2), key(3), key(4)];
const authors = keys.map((k) => k.publicKey);

function base(): Replica {
  const r = newReplica(keys[0]!);
  const w = r.writer(keys[0]!);
  w.mkdir('/etc');
  w.mkdir('/home');
  w.grant('/home', authors[1]!, 'alice');
  w.grant('/etc', authors[2]!, 'bob');
  w.writeFile('/etc/hosts', new TextEncoder().encode('127.0.0.1 localhost\n'));
  return r;
}

function allComplete(r: Replica): boolean {
  return [...r.view.walk('/')].every((s) => s.kind !== 'file' || s.complete);
}

t.test('identical replicas finish in one round trip and a few hundred bytes', async (t) => {
  const a = base();
  const b = cloneReplica(a);
  const r = pump(a, b);
  t.equal(r.initiator.failure, undefined);
  t.equal(r.responder.failure, undefined);
  t.ok(r.initiator.done && r.responder.done);
  t.equal(r.initiator.stats.roundTrips, 1);
  t.equal(r.responder.stats.roundTrips, 1);
  t.ok(r.wireBytes < 400, `${r.wireBytes} bytes`);
  t.comment(`identical: ${r.wireBytes} bytes, ${r.frames} frames`);
});

t.test('seeded random divergence converges in one session, either side initiating', async (t) => {
  const seed = seedFrom('SYNC_SEED', 20261125);
  t.comment(`seed ${seed} (replay: SYNC_SEED=${seed})`);
  const rng = new Rng(seed);
  for (let round = 0; round < 8; round++) {
    const a = base();
    const b = cloneReplica(a);
    const steps = 20 + rng.int(120);
    for (let i = 0; i < steps; i++) randomChange(rng, rng.next() < 0.5 ? a : b, rng.pick(keys), authors);
    const before = { a: a.log.size, b: b.log.size };
    const r = round % 2 === 0 ? pump(a, b) : pump(b, a);
    t.equal(r.initiator.failure, undefined, `round ${round}: initiator ok`);
    t.equal(r.responder.failure, undefined, `round ${round}: responder ok`);
    t.equal(toHex(a.log.rootHash()), toHex(b.log.rootHash()), `round ${round}: same root hash`);
    t.equal(a.log.size, b.log.size, `round ${round}: same entry count`);
    t.equal(a.log.pending + b.log.pending, 0, `round ${round}: nothing left pending`);
    t.equal(snapshot(a), snapshot(b), `round ${round}: same view`);
    t.ok(allComplete(a) && allComplete(b), `round ${round}: every file complete on both`);
    const s = r.initiator.stats;
    t.comment(
      `round ${round}: sizes ${before.a}/${before.b} -> ${a.log.size}; ${r.wireBytes} bytes, ` +
        `${s.roundTrips} round trips, sent ${s.entriesSent} received ${s.entriesReceived} entries, ` +
        `blocks ${s.blocksSent}/${s.blocksReceived}`,
    );
    // Converged: the next session is the one-round-trip case.
    t.equal(pump(a, b).initiator.stats.roundTrips, 1, `round ${round}: a second session has nothing to do`);
  }
});

t.test('a new replica with only the genesis gets everything, as initiator or as responder', async (t) => {
  const seed = seedFrom('SYNC_SEED', 7);
  t.comment(`seed ${seed} (replay: SYNC_SEED=${seed})`);
  const rng = new Rng(seed);
  const a = base();
  for (let i = 0; i < 80; i++) randomChange(rng, a, rng.pick(keys), authors);
  for (const asInitiator of [true, false]) {
    const fresh = emptyReplica(a);
    const r = asInitiator ? pump(fresh, a) : pump(a, fresh);
    t.equal(r.initiator.failure, undefined);
    t.equal(r.responder.failure, undefined);
    t.equal(fresh.log.size, a.log.size, 'every entry');
    t.equal(toHex(fresh.log.rootHash()), toHex(a.log.rootHash()));
    t.equal(snapshot(fresh), snapshot(a));
    t.ok(allComplete(fresh), 'every block');
    t.comment(`${asInitiator ? 'initiator' : 'responder'}: ${a.log.size} entries, ${r.wireBytes} bytes, ${r.initiator.stats.roundTrips} round trips`);
  }
});

t.test('the walk batches one level per turn: round trips follow depth, not the number of changes', async (t) => {
  const a = base();
  const w = a.writer(keys[0]!);
  w.mkdir('/d1');
  w.mkdir('/d1/d2');
  w.mkdir('/d1/d2/d3');
  const b = cloneReplica(a);
  // Ten changes spread over three levels on each side.
  for (let i = 0; i < 5; i++) {
    a.writer(keys[0]!).writeFile(`/d1/d2/d3/a${i}`, new TextEncoder().encode(`a${i}`));
    b.writer(keys[0]!).writeFile(`/d1/d2/b${i}`, new TextEncoder().encode(`b${i}`));
  }
  const r = pump(a, b);
  t.equal(toHex(a.log.rootHash()), toHex(b.log.rootHash()));
  // HELLO, then "/" "/d1" "/d1/d2" "/d1/d2/d3" one per turn, the last answers, DONE.
  t.ok(r.initiator.stats.roundTrips <= 5, `${r.initiator.stats.roundTrips} round trips`);
  t.equal(r.initiator.stats.entriesSent + r.responder.stats.entriesSent, 10, 'exactly the ten missing entries move');
});

t.test('duplicates and replays are harmless', async (t) => {
  const a = base();
  const b = cloneReplica(a, false);
  a.writer(keys[0]!).writeFile('/etc/big', new Uint8Array(150_000).fill(7));
  b.writer(keys[0]!).mkdir('/srv');
  // Every frame but END_TURN/DONE delivered twice: entries come twice, blocks come twice.
  const r = pump(a, b, {
    tamper: (f) => {
      const type = decodeMessage(f).type;
      return type === 'entries' || type === 'blocks' ? [f, f] : [f];
    },
  });
  t.equal(r.initiator.failure, undefined);
  t.equal(r.responder.failure, undefined);
  t.equal(toHex(a.log.rootHash()), toHex(b.log.rootHash()));
  t.ok(r.responder.stats.entriesDuplicate > 0, 'duplicates were seen and ignored');
  t.ok(r.responder.stats.blocksIgnored > 0, 'repeated blocks were dropped');
  t.ok(allComplete(b));
  // A whole second session between converged replicas changes nothing.
  const size = b.log.size;
  const again = pump(b, a);
  t.equal(again.initiator.stats.roundTrips, 1);
  t.equal(b.log.size, size);
});

t.test('a replica without a block store still syncs entries', async (t) => {
  const a = base();
  a.writer(keys[0]!).writeFile('/etc/big', new Uint8Array(70_000).fill(1));
  const b = emptyReplica(a);
  const s1 = new SyncSession({ log: b.log, blocks: null, role: 'initiator', now: 0 });
  const s2 = new SyncSession({ log: a.log, blocks: a.blocks, role: 'responder', now: 0 });
  s2.start(0);
  let toResp = s1.start(0).send;
  while (toResp.length > 0) {
    const toInit: Uint8Array[] = [];
    for (const f of toResp) toInit.push(...s2.receive(f, 0).send);
    toResp = [];
    for (const f of toInit) toResp.push(...s1.receive(f, 0).send);
  }
  t.ok(s1.done && s2.done);
  t.equal(s1.failure, undefined);
  t.equal(b.log.size, a.log.size);
  t.equal(s1.stats.blocksReceived, 0);
});

t.test('a wide directory and a long history are walked by buckets, not listed', async (t) => {
  const a = base();
  const w = a.writer(keys[0]!);
  w.mkdir('/wide');
  for (let i = 0; i < 2000; i++) w.writeFile(`/wide/f${i}`, new TextEncoder().encode(`${i}`));
  for (let i = 0; i < 600; i++) w.writeFile('/etc/counter', new TextEncoder().encode(`${i}`));
  // b: the same log, loaded the fast way a node opens its own file.
  const log = new Log(null);
  log.loadTrusted([...a.log.entriesInOrder()].map(encodeRecord));
  const blocks = new SyncMemoryBlocks();
  for (const [k, v] of a.blocks.map) blocks.map.set(k, v);
  const view = new View(log, blocks);
  let now = 1_900_000_000_000;
  const bReplica: Replica = { log, view, blocks, writer: (k) => new Writer({ log, view, key: k, blocks, now: () => ++now }) };
  a.writer(keys[0]!).writeFile('/wide/f7', new TextEncoder().encode('changed on a'));
  a.writer(keys[0]!).writeFile('/etc/counter', new TextEncoder().encode('601 on a'));
  bReplica.writer(keys[0]!).writeFile('/wide/f1999', new TextEncoder().encode('changed on b'));
  bReplica.writer(keys[0]!).writeFile('/wide/new', new TextEncoder().encode('new on b'));
  const r = pump(a, bReplica);
  t.equal(r.initiator.failure, undefined);
  t.equal(r.responder.failure, undefined);
  t.equal(toHex(a.log.rootHash()), toHex(bReplica.log.rootHash()));
  t.equal(snapshot(a), snapshot(bReplica));
  t.equal(r.initiator.stats.entriesSent + r.responder.stats.entriesSent, 4, 'only the four changes move');
  // Listing /wide alone would be ~2000 × 45 bytes, /etc/counter's history ~600 × 34.
  t.ok(r.wireBytes < 12_000, `${r.wireBytes} bytes, ${r.initiator.stats.roundTrips} round trips`);
  t.comment(`wide: ${r.wireBytes} bytes, ${r.initiator.stats.roundTrips} round trips, ${r.initiator.stats.summariesSent + r.responder.stats.summariesSent} summaries`);
});

t.test('equal roots, missing blocks: a node that knows its incomplete files fetches them without a walk', async (t) => {
  const { missingBlocks } = await import('../../src/sync/block-wants.ts');
  const a = base();
  const big = new Uint8Array(200_000);
  for (let i = 0; i < big.length; i += 100) big[i] = i % 251;
  a.writer(keys[0]!).writeFile('/etc/big', big);
  const b = cloneReplica(a, false);
  t.equal(b.view.stat('/etc/big').complete, false);
  const want = missingBlocks(b.view, b.blocks);
  t.equal(want.length, 4);
  const s1 = new SyncSession({ log: b.log, blocks: b.blocks, role: 'initiator', now: 0, missingBlocks: want });
  const s2 = new SyncSession({ log: a.log, blocks: a.blocks, role: 'responder', now: 0 });
  s2.start(0);
  const toA = s1.start(0).send;
  const toB = toA.flatMap((f) => s2.receive(f, 0).send);
  const back = toB.flatMap((f) => s1.receive(f, 0).send);
  back.forEach((f) => s2.receive(f, 0));
  t.ok(s1.done && s2.done);
  t.equal(s1.failure, undefined);
  t.equal(s1.stats.blocksReceived, 4);
  t.equal(s1.stats.roundTrips, 2, 'HELLO+WANT_BLOCKS, HELLO+BLOCKS, DONE');
  t.ok(b.view.stat('/etc/big').complete);
  t.same(b.view.readFile('/etc/big'), big);
  // A file deleted before its blocks were asked for is simply skipped.
  const c = cloneReplica(a, false);
  const d = cloneReplica(a, false);
  d.writer(keys[0]!).delete('/etc/big');
  const r = pump(c, d);
  t.equal(r.initiator.failure, undefined);
  t.equal(r.initiator.stats.blocksReceived + r.responder.stats.blocksReceived, 0);
});

t.test('cut connections and writes during a session: partial progress is valid, the next session converges', async (t) => {
  const seed = seedFrom('SYNC_SEED', 4242);
  t.comment(`seed ${seed} (replay: SYNC_SEED=${seed})`);
  const rng = new Rng(seed);
  for (let round = 0; round < 6; round++) {
    const a = base();
    const b = cloneReplica(a);
    for (let i = 0; i < 60; i++) randomChange(rng, rng.next() < 0.5 ? a : b, rng.pick(keys), authors);
    // Session 1 is cut after a random number of frames (both sides then time out).
    const cutAt = 1 + rng.int(12);
    const cut = pump(a, b, { between: (n) => n < cutAt, limits: { idleTimeoutMs: 1000 } });
    for (const s of [cut.initiator, cut.responder]) if (!s.done) t.equal(s.tick(1000).error?.code, 'TIMEOUT');
    // Session 2 runs while both sides keep writing between frames.
    const r = pump(b, a, {
      between: () => {
        if (rng.next() < 0.15) randomChange(rng, rng.next() < 0.5 ? a : b, rng.pick(keys), authors);
      },
    });
    t.equal(r.initiator.failure, undefined, `round ${round}: a session with concurrent writes ends cleanly`);
    t.equal(r.responder.failure, undefined);
    // Session 3, quiet: everything written meanwhile arrives too, and the blocks of files whose
    // entries came in a cut session (equal roots do not mean equal blocks: each side says what it lacks).
    const last = pump(a, b, { missingBlocks: true });
    t.equal(last.initiator.failure, undefined);
    t.equal(toHex(a.log.rootHash()), toHex(b.log.rootHash()), `round ${round}: converged (cut after ${cutAt} frames)`);
    t.equal(snapshot(a), snapshot(b));
    t.ok(allComplete(a) && allComplete(b));
  }
});

t.test('one node in several sessions at once (serving two peers while initiating a third)', async (t) => {
  const seed = seedFrom('SYNC_SEED', 77);
  t.comment(`seed ${seed} (replay: SYNC_SEED=${seed})`);
  const rng = new Rng(seed);
  const hub = base();
  const peers = [cloneReplica(hub), cloneReplica(hub), cloneReplica(hub)];
  for (let i = 0; i < 120; i++) randomChange(rng, rng.pick([hub, ...peers]), rng.pick(keys), authors);
  const [p0, p1, p2] = peers as [Replica, Replica, Replica];
  const runs = pumpInterleaved([[p0, hub], [p1, hub], [hub, p2]], rng);
  for (const r of runs) {
    t.equal(r.initiator.failure, undefined);
    t.equal(r.responder.failure, undefined);
  }
  // The hub now holds every entry; rounds from it bring every peer level. Two rounds, because a
  // block may only reach the hub from the last peer of the first round (concurrent versions of one
  // file: each session fetched the version that was current when it asked).
  for (let round = 0; round < 2; round++) for (const p of peers) pump(hub, p, { missingBlocks: true });
  for (const p of peers) {
    t.equal(toHex(p.log.rootHash()), toHex(hub.log.rootHash()));
    t.equal(snapshot(p), snapshot(hub));
  }
});
