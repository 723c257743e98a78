import t from 'tap';
import { BroadcastQueue } from '../../src/swim/queue.ts';

const bytes = (n: number, fill = 1): Uint8Array => new Uint8Array(n).fill(fill);

t.test('least transmitted first, then largest, then newest', async (t) => {
  const q = new BroadcastQueue(4, () => 10);
  q.queue('small-old', bytes(10));
  q.queue('big', bytes(30));
  q.queue('small-new', bytes(10));
  t.same(q.keys(), ['big', 'small-new', 'small-old']);
  // Hand out only room for one: the largest untransmitted.
  t.same(q.getBroadcasts(2, 40).map((b) => b.length), [30]);
  t.equal(q.transmits('big'), 1);
  t.same(q.keys(), ['small-new', 'small-old', 'big'], 'transmitted messages move behind fresh ones');
  t.same(q.getBroadcasts(2, 12).length, 1);
  t.equal(q.transmits('small-new'), 1, 'newest of a tier first');
});

t.test('newer message for the same key invalidates the older one', async (t) => {
  const q = new BroadcastQueue(4, () => 10);
  q.queue('node-a', bytes(5, 1)); // e.g. suspect a @1
  q.getBroadcasts(2, 100);
  q.queue('node-a', bytes(7, 2)); // alive a @2 replaces it, with a fresh transmit count
  q.queue('node-b', bytes(5, 3));
  t.equal(q.length, 2);
  t.equal(q.transmits('node-a'), 0);
  const out = q.getBroadcasts(2, 100);
  t.equal(out.length, 2);
  t.same(out[0], bytes(7, 2), 'only the newer message remains');
});

t.test('messages retire after mult × ceil(log10(N+1)) transmits', async (t) => {
  let n = 10;
  const q = new BroadcastQueue(2, () => n);
  q.queue('x', bytes(3));
  for (let i = 0; i < 4; i++) t.equal(q.getBroadcasts(2, 100).length, 1, `transmit ${i + 1}`);
  t.equal(q.length, 0, 'retired after 4 at N=10 with mult 2');
  n = 100;
  q.queue('y', bytes(3));
  let sent = 0;
  while (q.getBroadcasts(2, 100).length > 0) sent++;
  t.equal(sent, 6, '6 at N=100 with mult 2');
});

t.test('packing respects the byte limit and per-message overhead', async (t) => {
  const q = new BroadcastQueue(4, () => 10);
  for (let i = 0; i < 10; i++) q.queue(`k${i}`, bytes(100));
  const out = q.getBroadcasts(2, 1400 - 2);
  t.equal(out.length, 10, 'all ten fit');
  const q2 = new BroadcastQueue(4, () => 10);
  for (let i = 0; i < 30; i++) q2.queue(`k${i}`, bytes(100));
  const packed = q2.getBroadcasts(2, 1398);
  t.equal(packed.length, 13, '13 × 102 ≤ 1398 < 14 × 102');
  t.same(q2.getBroadcasts(2, 50), [], 'nothing fits');
});

t.test('depth bound drops the stalest messages', async (t) => {
  const q = new BroadcastQueue(4, () => 10, 3);
  q.queue('a', bytes(1));
  q.getBroadcasts(2, 3); // a transmitted once: stalest
  q.queue('b', bytes(1));
  q.queue('c', bytes(1));
  q.queue('d', bytes(1));
  t.equal(q.length, 3);
  t.notOk(q.has('a'));
  t.equal(q.dropped, 1);
});
