/** Sync frames: every message round-trips, every bound is enforced, senders split long lists. */
import t from 'tap';
import { Packr } from 'msgpackr';
import { randomBytes } from 'node:crypto';
import { isBasefsError } from '../../src/core/errors.ts';
import { toHex } from '../../src/core/hash.ts';
import { blockMessages, entryMessages, summaryMessages, wantMessages } from '../../src/sync/split.ts';
import { checkSummary, summaryHash } from '../../src/sync/summary.ts';
import { decodeMessage, encodeMessage, FRAME, MAX_FRAME_BYTES, MAX_HASHES, type Message } from '../../src/sync/wire.ts';
import { key } from '../helpers/fs.ts';
import { Rng, seedFrom } from '../helpers/random.ts';
import { cloneReplica, newReplica, randomChange } from '../helpers/sync-pair.ts';

const h = (n: number) => new Uint8Array(32).fill(n);
const packr = new Packr({ useRecords: false });

function code(fn: () => unknown): string {
  try {
    fn();
    return 'none';
  } catch (e) {
    return isBasefsError(e) ? e.code : `not a BasefsError: ${String(e)}`;
  }
}

const raw = (type: number, body: unknown) => new Uint8Array([type, ...packr.pack(body)]);

t.test('every message round-trips', async (t) => {
  const messages: Message[] = [
    { type: 'hello', version: 1, fsId: h(1), root: h(2) },
    { type: 'summary', path: '/etc/net', prefix: '', hash: h(3), entries: [h(4), h(5)], children: [{ name: 'a b', hash: h(6) }], last: true },
    { type: 'summary', path: '/', prefix: '0af', hash: h(3), entries: [], children: [], last: false },
    { type: 'buckets', path: '/etc', prefix: '7', hash: h(3), buckets: Array.from({ length: 16 }, (_, i) => h(i).subarray(0, 16)) },
    { type: 'entries', entries: [new Uint8Array([1, 2, 3])] },
    { type: 'want-entries', hashes: [h(7)] },
    { type: 'want-subtrees', paths: ['/', '/x/ü'] },
    { type: 'want-blocks', hashes: [h(8)] },
    { type: 'blocks', blocks: [{ hash: h(9), bytes: new Uint8Array(10) }] },
    { type: 'end-turn' },
    { type: 'done' },
    { type: 'error', code: 'BAD_HASH', message: 'why' },
  ];
  for (const m of messages) t.same(decodeMessage(encodeMessage(m)), m, m.type);
});

t.test('bounds and shapes are enforced with typed errors', async (t) => {
  const cases: Array<[string, Uint8Array, string]> = [
    ['empty frame', new Uint8Array(0), 'MALFORMED'],
    ['too large', new Uint8Array(MAX_FRAME_BYTES + 1), 'TOO_LARGE'],
    ['unknown type', raw(99, []), 'MALFORMED'],
    ['not msgpack', Uint8Array.of(FRAME.HELLO, 0xc1), 'MALFORMED'],
    ['trailing bytes', new Uint8Array([...encodeMessage({ type: 'done' }), 0]), 'MALFORMED'],
    ['body not an array', raw(FRAME.DONE, { a: 1 }), 'MALFORMED'],
    ['wrong arity', raw(FRAME.HELLO, [1, h(1)]), 'MALFORMED'],
    ['short hash', raw(FRAME.HELLO, [1, h(1), new Uint8Array(31)]), 'MALFORMED'],
    ['version not a number', raw(FRAME.HELLO, ['1', h(1), h(2)]), 'MALFORMED'],
    ['too many hashes', raw(FRAME.WANT_ENTRIES, [Array.from({ length: MAX_HASHES + 1 }, () => h(1))]), 'TOO_LARGE'],
    ['relative path', raw(FRAME.WANT_SUBTREES, [['etc']]), 'MALFORMED'],
    ['dot-dot path', raw(FRAME.WANT_SUBTREES, [['/a/../b']]), 'MALFORMED'],
    ['trailing slash', raw(FRAME.WANT_SUBTREES, [['/a/']]), 'MALFORMED'],
    ['long path', raw(FRAME.WANT_SUBTREES, [['/' + 'a/'.repeat(2100) + 'a']]), 'TOO_LARGE'],
    ['bad child name', raw(FRAME.SUMMARY, ['/', '', h(1), [], [['a/b', h(2)]], true]), 'MALFORMED'],
    ['flag not boolean', raw(FRAME.SUMMARY, ['/', '', h(1), [], [], 1]), 'MALFORMED'],
    ['bad prefix', raw(FRAME.SUMMARY, ['/', 'xz', h(1), [], [], true]), 'MALFORMED'],
    ['long prefix', raw(FRAME.SUMMARY, ['/', '0'.repeat(17), h(1), [], [], true]), 'TOO_LARGE'],
    ['15 buckets', raw(FRAME.BUCKETS, ['/', '', h(1), Array.from({ length: 15 }, () => h(2).subarray(0, 16))]), 'MALFORMED'],
    ['17 buckets', raw(FRAME.BUCKETS, ['/', '', h(1), Array.from({ length: 17 }, () => h(2).subarray(0, 16))]), 'TOO_LARGE'],
    ['full-size digests', raw(FRAME.BUCKETS, ['/', '', h(1), Array.from({ length: 16 }, () => h(2))]), 'MALFORMED'],
    ['entry too large', raw(FRAME.ENTRIES, [[new Uint8Array(70_000)]]), 'TOO_LARGE'],
    ['block too large', raw(FRAME.BLOCKS, [[[h(1), new Uint8Array(65_537)]]]), 'TOO_LARGE'],
    ['entry not binary', raw(FRAME.ENTRIES, [['abc']]), 'MALFORMED'],
    ['timestamp extension', raw(FRAME.ENTRIES, [[new Date(0)]]), 'MALFORMED'],
    ['bad error code', raw(FRAME.ERROR, ['lower', 'x']), 'MALFORMED'],
    ['end-turn with a body', raw(FRAME.END_TURN, [1]), 'MALFORMED'],
  ];
  for (const [name, frame, expected] of cases) t.equal(code(() => decodeMessage(frame)), expected, name);
});

t.test('random garbage never throws anything but a BasefsError', async (t) => {
  const seed = seedFrom('SYNC_SEED', 99);
  t.comment(`seed ${seed} (replay: SYNC_SEED=${seed})`);
  const rng = new Rng(seed);
  const valid = encodeMessage({ type: 'summary', path: '/a', prefix: '', hash: h(1), entries: [h(2)], children: [{ name: 'x', hash: h(3) }], last: true });
  let thrown = 0;
  for (let i = 0; i < 3000; i++) {
    const f = new Uint8Array(valid);
    for (let j = 0; j < 1 + rng.int(4); j++) f[rng.int(f.length)] = rng.int(256);
    const c = code(() => decodeMessage(f));
    if (c.startsWith('not a')) t.fail(c);
    if (c !== 'none') thrown++;
  }
  t.ok(thrown > 0, `${thrown} of 3000 mutated frames refused, none crashed`);
});

t.test('senders split long lists into frames the receiver accepts', async (t) => {
  const entries = Array.from({ length: 40 }, () => new Uint8Array(65_000));
  const em = entryMessages(entries);
  t.ok(em.length > 1, `${em.length} frames`);
  t.equal(em.flatMap((m) => (m.type === 'entries' ? m.entries : [])).length, 40);
  const bm = blockMessages(Array.from({ length: 40 }, (_, i) => ({ hash: h(i), bytes: new Uint8Array(65_536) })));
  const wm = wantMessages('want-entries', Array.from({ length: 20_000 }, () => h(1)));
  const children = Array.from({ length: 5000 }, (_, i) => ({ name: 'n'.repeat(200) + String(i).padStart(5, '0'), hash: h(2) }));
  const sm = summaryMessages({ path: '/', prefix: '', hash: h(0), entries: Array.from({ length: 9000 }, () => h(3)), children });
  t.ok(sm.length >= 3, `${sm.length} summary parts`);
  t.same(sm.map((m) => m.type === 'summary' && m.last), [...sm.slice(1).map(() => false), true]);
  for (const m of [...em, ...bm, ...wm, ...sm]) {
    const f = encodeMessage(m);
    t.ok(f.length <= MAX_FRAME_BYTES, `${m.type} frame of ${f.length} bytes fits`);
    decodeMessage(f);
  }
});

t.test('summaryHash is the core Merkle hash; checkSummary refuses disorder and lies', async (t) => {
  const seed = seedFrom('SYNC_SEED', 3);
  const rng = new Rng(seed);
  const a = newReplica(key(1));
  for (let i = 0; i < 60; i++) randomChange(rng, a, key(1), [key(2).publicKey]);
  let checked = 0;
  const stack = ['/'];
  while (stack.length > 0) {
    const p = stack.pop() as string;
    const s = a.log.merkle.summary(p);
    if (s === undefined) continue;
    t.equal(toHex(summaryHash(s.entries, s.children)), toHex(s.hash), `${p}`);
    checkSummary(s);
    checked++;
    for (const c of s.children) stack.push(p === '/' ? `/${c.name}` : `${p}/${c.name}`);
  }
  t.ok(checked > 3);
  const s = a.log.merkle.summary('/') as NonNullable<ReturnType<typeof a.log.merkle.summary>>;
  t.equal(code(() => checkSummary({ ...s, children: [...s.children].reverse() })), s.children.length > 1 ? 'MALFORMED' : 'BAD_HASH');
  t.equal(code(() => checkSummary({ ...s, hash: h(0) })), 'BAD_HASH');
  t.equal(code(() => checkSummary({ ...s, entries: [...s.entries, ...s.entries] })), s.entries.length > 0 ? 'MALFORMED' : 'BAD_HASH');
  t.equal(code(() => checkSummary({ ...s, entries: [randomBytes(32), ...s.entries].sort(Buffer.compare) })), 'BAD_HASH');
});

t.test('a path created after the root was read changes the root (the walk relies on it)', async (t) => {
  const a = newReplica(key(1));
  a.writer(key(1)).mkdir('/etc');
  const before = toHex(a.log.rootHash());
  a.writer(key(1)).mkdir('/etc/new');
  t.not(toHex(a.log.rootHash()), before);
  t.equal(toHex(a.log.rootHash()), toHex(cloneReplica(a).log.rootHash()));
});

t.test('a bucket listing must stay inside its bucket and hash as a bucket', async (t) => {
  const { checkListing, bucketDigest, nameKey } = await import('../../src/sync/summary.ts');
  const e = [h(0x11), h(0x12)].sort(Buffer.compare);
  t.equal(code(() => checkListing({ path: '/', prefix: '1', hash: bucketDigest(e, []), entries: e, children: [] })), 'none');
  t.equal(code(() => checkListing({ path: '/', prefix: '2', hash: bucketDigest(e, []), entries: e, children: [] })), 'MALFORMED');
  t.equal(code(() => checkListing({ path: '/', prefix: '1', hash: summaryHash(e, []), entries: e, children: [] })), 'BAD_HASH');
  const c = [{ name: 'x', hash: h(1) }];
  t.equal(code(() => checkListing({ path: '/', prefix: nameKey('x').slice(0, 2), hash: bucketDigest([], c), entries: [], children: c })), 'none');
});
