/**
 * A first-use fetch (`basefs get` without --id): an empty log takes whatever filesystem the peer
 * names in its hello, and still verifies every entry against that genesis; a peer that names one
 * filesystem and sends another's genesis gets nothing in. Nodes that name a filesystem are
 * unaffected: an explicit id that differs is still refused.
 */
import t from 'tap';
import { toHex } from '../../src/core/hash.ts';
import { Log } from '../../src/core/log.ts';
import { View } from '../../src/core/view.ts';
import { Writer } from '../../src/core/writer.ts';
import { SyncSession } from '../../src/sync/anti-entropy.ts';
import { decodeMessage, encodeMessage } from '../../src/sync/wire.ts';
import { key } from '../helpers/fs.ts';
import { newReplica, pump, snapshot, SyncMemoryBlocks, type Replica } from '../helpers/sync-pair.ts';

function empty(): Replica {
  const log = new Log(null);
  const blocks = new SyncMemoryBlocks();
  const view = new View(log, blocks);
  return { log, view, blocks, writer: (k) => new Writer({ log, view, key: k, blocks }) };
}

function populated(seed: number): Replica {
  const r = newReplica(key(seed));
  const w = r.writer(key(seed));
  w.mkdir('/etc');
  w.writeFile('/etc/big', new Uint8Array(200_000).fill(seed));
  return r;
}

t.test('first use: the whole filesystem the peer names, verified', async (t) => {
  const src = populated(1);
  const dst = empty();
  const r = pump(dst, src, { fsId: 'first-use' });
  t.equal(r.initiator.failure, undefined);
  t.equal(toHex(r.initiator.filesystemId), toHex(src.log.id), 'adopted the peer\'s id');
  t.equal(toHex(dst.log.rootHash()), toHex(src.log.rootHash()));
  t.equal(snapshot(dst), snapshot(src));
});

t.test('a peer that names one filesystem and sends another genesis gets nothing in', async (t) => {
  const named = populated(1);
  const other = populated(2);
  const dst = empty();
  // Rewrite the responder's hello to name `named` while it serves `other`.
  const r = pump(dst, other, {
    fsId: 'first-use',
    tamper: (frame, from) => {
      if (from !== 'responder') return [frame];
      const m = decodeMessage(frame);
      if (m.type !== 'hello') return [frame];
      return [encodeMessage({ ...m, fsId: named.log.id })];
    },
  });
  t.not(r.initiator.failure, undefined, 'the session fails');
  t.equal(dst.log.size, 0, 'no entry stored');
});

t.test('an explicit id still refuses another filesystem; first use is for empty initiators only', async (t) => {
  const a = populated(1);
  const b = populated(2);
  const r = pump(empty(), b, { fsId: a.log.id });
  t.match(r.initiator.failure?.message ?? '', /another filesystem/);
  t.throws(() => new SyncSession({ log: a.log, blocks: a.blocks, role: 'initiator', now: 0, fsId: 'first-use' }), { code: 'USAGE' });
  t.throws(() => new SyncSession({ log: empty().log, blocks: null, role: 'responder', now: 0, fsId: 'first-use' }), { code: 'USAGE' });
});
