import t from 'tap';
import { key, memoryFs } from '../helpers/fs.ts';

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

t.test('bootstrap creates / and /.cluster', async (t) => {
  const fs = memoryFs();
  t.same(fs.view.readdir('/'), ['.cluster']);
  t.equal(str(fs.view.readFile('/.cluster')), '127.0.0.1:7946\n');
  t.equal(fs.view.stat('/').kind, 'dir');
});

t.test('mkdir, write, read, overwrite, delete, re-create', async (t) => {
  const fs = memoryFs();
  const w = fs.writer(key(1));
  w.mkdir('/etc');
  w.mkdir('/etc/app');
  w.writeFile('/etc/app/conf', text('a=1'));
  t.equal(str(fs.view.readFile('/etc/app/conf')), 'a=1');
  w.writeFile('/etc/app/conf', text('a=2'));
  t.equal(str(fs.view.readFile('/etc/app/conf')), 'a=2');
  t.throws(() => w.mkdir('/nope/x'), { code: 'NOT_FOUND' });
  t.throws(() => w.mkdir('/etc/app/conf'), { code: 'EXISTS' });
  t.throws(() => w.delete('/etc/app'), { code: 'NOT_EMPTY' });
  w.delete('/etc/app/conf');
  t.notOk(fs.view.exists('/etc/app/conf'));
  w.writeFile('/etc/app/conf', text('again'));
  t.equal(str(fs.view.readFile('/etc/app/conf')), 'again');
  w.delete('/etc/app', { recursive: true });
  t.notOk(fs.view.exists('/etc/app/conf'));
  w.mkdir('/etc/app');
  t.same(fs.view.readdir('/etc/app'), [], 're-created directory does not bring old children back');
});

t.test('large file goes to blocks; a 512*512 byte file round-trips', async (t) => {
  const fs = memoryFs();
  const w = fs.writer(key(1));
  const big = new Uint8Array(512 * 512 + 7).map((_, i) => (i * 31) & 0xff);
  w.writeFile('/big', big);
  t.equal(fs.view.stat('/big').size, big.length);
  t.ok(fs.view.stat('/big').complete);
  t.same(fs.view.readFile('/big'), big);
  t.equal(fs.blocks.map.size, 2, 'four identical 64 KiB blocks are stored once, plus the tail');
});

t.test('symlink, hard link, chmod, revert', async (t) => {
  const fs = memoryFs();
  const w = fs.writer(key(1));
  const v1 = w.writeFile('/f', text('one'));
  w.writeFile('/f', text('two'));
  w.chmod('/f', 0o600);
  t.equal(fs.view.stat('/f').mode, 0o600);
  w.symlink('/s', '/f');
  t.equal(fs.view.readlink('/s'), '/f');
  t.equal(fs.view.stat('/s').kind, 'symlink');
  w.link('/h', '/f');
  t.equal(str(fs.view.readFile('/h')), 'two');
  w.revert('/f', Buffer.from(v1.hash).toString('hex').slice(0, 12));
  t.equal(str(fs.view.readFile('/f')), 'one');
  const revs = fs.view.revisions('/f');
  t.equal(revs.length, 4);
  t.equal(revs.filter((r) => r.current).length, 1);
  t.equal(revs.at(-1)?.action, 'REVERT');
  // revert can also undelete
  w.delete('/f');
  t.notOk(fs.view.exists('/f'));
  w.revert('/f', Buffer.from(v1.hash).toString('hex'));
  t.equal(str(fs.view.readFile('/f')), 'one');
});

t.test('a key without a grant may not write; a grant on /home allows only below it', async (t) => {
  const fs = memoryFs();
  const root = fs.writer(key(1));
  const alice = fs.writer(key(2));
  root.mkdir('/home');
  root.mkdir('/etc');
  t.throws(() => alice.mkdir('/home/alice'), { code: 'NOT_AUTHORIZED' });
  root.grant('/home', key(2).publicKey, 'alice');
  alice.mkdir('/home/alice');
  alice.writeFile('/home/alice/x', text('hi'));
  t.throws(() => alice.writeFile('/etc/x', text('no')), { code: 'NOT_AUTHORIZED' });
  t.throws(() => alice.delete('/home', { recursive: true }), { code: 'NOT_AUTHORIZED' }, 'a key granted at D cannot delete D');
  t.throws(() => alice.grant('/', key(3).publicKey, 'mallory'), { code: 'NOT_AUTHORIZED' }, 'no escalation');
  alice.grant('/home', key(3).publicKey, 'bob'); // may grant in the chain where it was granted
  root.writeFile('/home/alice/x', text('root wins'));
  t.equal(str(fs.view.readFile('/home/alice/x')), 'root wins');
  const keys = fs.view.keys();
  t.same(keys.map((k) => [k.label, k.dir]), [['root', '/'], ['alice', '/home'], ['bob', '/home']]);
});

t.test('revoke keeps earlier work (acked) and ignores later writes', async (t) => {
  const fs = memoryFs();
  const root = fs.writer(key(1));
  const alice = fs.writer(key(2));
  root.mkdir('/home');
  root.grant('/home', key(2).publicKey, 'alice');
  alice.mkdir('/home/a');
  alice.writeFile('/home/a/conf', text('v1'));
  const before = fs.log.rootHash();
  const revoked = root.revoke('/home', key(2).publicKey, 'alice');
  t.ok(revoked.length >= 2);
  t.not(Buffer.compare(before, fs.log.rootHash()), 0);
  t.equal(str(fs.view.readFile('/home/a/conf')), 'v1', 'earlier work stays');
  t.same(fs.view.readdir('/home/a'), ['conf'], 'a non-empty directory made by the revoked key stays');
  t.throws(() => alice.writeFile('/home/a/conf', text('v2')), { code: 'NOT_AUTHORIZED' });
});
