/** Conflict resolution by proof of authority: every tie-break rule, in order. */
import t from 'tap';
import { ACTION, createEntry, type Entry } from '../../src/core/entry.ts';
import { chunkFile } from '../../src/core/content.ts';
import { toHex } from '../../src/core/hash.ts';
import { key, memoryFs, type TestFs } from '../helpers/fs.ts';

const enc = new TextEncoder();
const str = (b: Uint8Array) => new TextDecoder().decode(b);

function write(fs: TestFs, k: ReturnType<typeof key>, parent: Uint8Array, name: string, text: string, ts = 1): Entry {
  const e = createEntry(
    { parent, timestamp: ts, action: ACTION.WRITE, name, content: chunkFile(enc.encode(text)).manifest },
    k.publicKey,
    k.seed,
  );
  const r = fs.log.ingest(e.bytes);
  if (r.status !== 'accepted') throw new Error(`${r.status} ${r.code}`);
  return e;
}

function setup() {
  const fs = memoryFs(key(1));
  const root = fs.writer(key(1));
  root.mkdir('/home');
  root.grant('/', key(2).publicKey, 'admin'); // depth 0, like root
  root.grant('/home', key(3).publicKey, 'alice'); // depth 1
  root.grant('/home', key(4).publicKey, 'bob'); // depth 1
  const base = root.writeFile('/home/conf', enc.encode('base'));
  return { fs, base };
}

t.test('forked writes by one key: the greatest hash wins', async (t) => {
  const { fs, base } = setup();
  const forks = Array.from({ length: 12 }, (_, i) => write(fs, key(3), base.hash, 'conf', `fork ${i}`, i));
  const winner = forks.reduce((a, b) => (Buffer.compare(a.hash, b.hash) > 0 ? a : b));
  t.equal(toHex(fs.view.stat('/home/conf').head), toHex(winner.hash));
});

t.test('authority beats hash: a shallower key\'s write wins, whatever the hashes', async (t) => {
  const { fs, base } = setup();
  const forks = Array.from({ length: 12 }, (_, i) => write(fs, key(3), base.hash, 'conf', `fork ${i}`, i));
  const loser = forks.reduce((a, b) => (Buffer.compare(a.hash, b.hash) < 0 ? a : b));
  // root continues the branch with the smallest hash: that branch now has authority 0
  const rootWrite = write(fs, key(1), loser.hash, 'conf', 'root says');
  t.equal(str(fs.view.readFile('/home/conf')), 'root says');
  // a later write by a depth-1 key on another branch does not take over
  const other = forks.find((f) => f !== loser)!;
  write(fs, key(4), other.hash, 'conf', 'bob later', 99);
  t.equal(toHex(fs.view.stat('/home/conf').head), toHex(rootWrite.hash));
});

t.test('equal authority: more distinct contributors wins, then the hash', async (t) => {
  const { fs, base } = setup();
  const a = write(fs, key(3), base.hash, 'conf', 'alice branch');
  const b = write(fs, key(4), base.hash, 'conf', 'bob branch');
  const first = Buffer.compare(a.hash, b.hash) > 0 ? a : b;
  const second = first === a ? b : a;
  t.equal(toHex(fs.view.stat('/home/conf').head), toHex(first.hash), 'tie: greater hash');
  // the other branch gains a second contributor of the same depth
  const helperKey = first === a ? key(3) : key(4);
  const boosted = write(fs, helperKey, second.hash, 'conf', 'two contributors');
  t.equal(toHex(fs.view.stat('/home/conf').head), toHex(boosted.hash));
});

t.test('competing first entries for one name: authority decides', async (t) => {
  const { fs } = setup();
  const home = fs.view.find('/home')!.state.incarnation!.entry;
  const mk = (k: ReturnType<typeof key>, ts: number) => {
    const e = createEntry({ parent: home.hash, timestamp: ts, action: ACTION.MKDIR, name: 'x', content: new Uint8Array(0) }, k.publicKey, k.seed);
    t.equal(fs.log.ingest(e.bytes).status, 'accepted');
    return e;
  };
  mk(key(3), 1);
  mk(key(4), 2);
  const admin = mk(key(2), 3);
  t.equal(toHex(fs.view.stat('/home/x').head), toHex(admin.hash), 'the depth-0 admin wins over depth-1 keys');
  t.equal(fs.view.revisions('/home/x').length, 3, 'losers stay in the history');
});

t.test('an invalid tail is ignored; a valid successor acknowledges what it follows', async (t) => {
  const { fs, base } = setup();
  const stranger = write(fs, key(2), base.hash, 'conf', 'admin edit'); // valid (depth 0)
  t.equal(str(fs.view.readFile('/home/conf')), 'admin edit');
  // revoke nothing, but show ACK semantics: alice ACKs an entry; state stays that entry's content
  const ack = createEntry({ parent: stranger.hash, timestamp: 5, action: ACTION.ACK, name: 'conf', content: new Uint8Array(0) }, key(3).publicKey, key(3).seed);
  t.equal(fs.log.ingest(ack.bytes).status, 'accepted');
  t.equal(str(fs.view.readFile('/home/conf')), 'admin edit');
  t.equal(toHex(fs.view.stat('/home/conf').head), toHex(ack.hash));
});

t.test('concurrent grants both count; a revoke withdraws only the grants it has seen', async (t) => {
  const fs = memoryFs(key(1));
  const root = fs.writer(key(1));
  root.mkdir('/d');
  const inc = fs.view.find('/d')!.state.incarnation!.entry;
  const grant = (signer: ReturnType<typeof key>, who: ReturnType<typeof key>, ts: number) => {
    const e = createEntry({ parent: inc.hash, timestamp: ts, action: ACTION.GRANT, name: 'g', content: who.publicKey }, signer.publicKey, signer.seed);
    t.equal(fs.log.ingest(e.bytes).status, 'accepted');
    return e;
  };
  const g5 = grant(key(1), key(5), 1);
  grant(key(1), key(6), 2);
  const labels = () => fs.view.keys().filter((k) => k.dir === '/d').map((k) => toHex(k.key)).sort();
  t.same(labels(), [toHex(key(5).publicKey), toHex(key(6).publicKey)].sort(), 'no concurrent grant is lost');
  // a revoke of key 5 that saw its grant
  const r = createEntry({ parent: g5.hash, timestamp: 3, action: ACTION.REVOKE, name: 'g', content: key(5).publicKey }, key(1).publicKey, key(1).seed);
  t.equal(fs.log.ingest(r.bytes).status, 'accepted');
  t.same(labels(), [toHex(key(6).publicKey)]);
  // a concurrent re-grant of key 5 that the revoke did not see survives it
  grant(key(1), key(5), 4);
  t.same(labels(), [toHex(key(5).publicKey), toHex(key(6).publicKey)].sort());
  // Writer.revoke withdraws every live grant of the key
  fs.writer(key(1)).revoke('/d', key(5).publicKey, 'g');
  t.same(labels(), [toHex(key(6).publicKey)]);
});
