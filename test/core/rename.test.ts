import t from 'tap';
import { key, memoryFs, replicaOf } from '../helpers/fs.ts';
import { View } from '../../src/core/view.ts';
import { ACTION } from '../../src/core/entry.ts';

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

t.test('a file moves with its content, mode and mtime; the source is gone', async (t) => {
  const fs = memoryFs();
  const w = fs.writer(key(1));
  w.mkdir('/a');
  w.mkdir('/b');
  w.writeFile('/a/conf', text('x=1'), { mtime: 1_600_000_000_000 });
  w.chmod('/a/conf', 0o600);
  const entries = w.rename('/a/conf', '/b/conf.new');
  t.ok(entries.length >= 2);
  t.notOk(fs.view.exists('/a/conf'));
  t.equal(str(fs.view.readFile('/b/conf.new')), 'x=1');
  const st = fs.view.stat('/b/conf.new');
  t.equal(st.mode, 0o600);
  t.equal(st.mtime, 1_600_000_000_000, 'rename keeps the mtime');
});

t.test('replacing an existing file (editor save) keeps one path with the new content', async (t) => {
  const fs = memoryFs();
  const w = fs.writer(key(1));
  w.writeFile('/conf', text('old'));
  w.chmod('/conf', 0o640);
  w.writeFile('/.conf.swp', text('new'));
  w.rename('/.conf.swp', '/conf');
  t.equal(str(fs.view.readFile('/conf')), 'new');
  t.notOk(fs.view.exists('/.conf.swp'));
  t.equal(fs.view.stat('/conf').mode, 0o644, 'the moved file brings its own mode');
  t.same(fs.view.readdir('/'), ['.cluster', 'conf']);
  const kinds = fs.view.revisions('/conf').map((r) => r.action);
  t.same(kinds.slice(0, 2), ['WRITE', 'MODE'], 'the destination keeps its history (one chain)');
});

t.test('a large file moves without storing its blocks again', async (t) => {
  const fs = memoryFs();
  const w = fs.writer(key(1));
  const big = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
  w.writeFile('/big', big);
  const blocks = fs.blocks.map.size;
  w.rename('/big', '/big2');
  t.same(fs.view.readFile('/big2'), big);
  t.equal(fs.blocks.map.size, blocks);
});

t.test('a symlink moves as a symlink; a file replaces a symlink and back', async (t) => {
  const fs = memoryFs();
  const w = fs.writer(key(1));
  w.symlink('/l', 'target/x');
  w.rename('/l', '/m');
  t.equal(fs.view.readlink('/m'), 'target/x');
  t.notOk(fs.view.exists('/l'));
  w.writeFile('/f', text('file'));
  w.rename('/f', '/m');
  t.equal(str(fs.view.readFile('/m')), 'file');
  w.symlink('/s', 'elsewhere');
  w.rename('/s', '/m');
  t.equal(fs.view.readlink('/m'), 'elsewhere');
});

t.test('a directory moves with its whole subtree; an empty destination directory is replaced', async (t) => {
  const fs = memoryFs();
  const w = fs.writer(key(1));
  w.mkdir('/src');
  w.mkdir('/src/sub');
  w.chmod('/src/sub', 0o700);
  w.writeFile('/src/a', text('A'));
  w.writeFile('/src/sub/b', new Uint8Array(70_000).fill(3));
  w.symlink('/src/sub/l', '../a');
  w.mkdir('/dst');
  w.rename('/src', '/dst');
  t.notOk(fs.view.exists('/src'));
  t.same([...fs.view.walk('/dst')].map((s) => s.path), ['/dst', '/dst/a', '/dst/sub', '/dst/sub/b', '/dst/sub/l']);
  t.equal(str(fs.view.readFile('/dst/a')), 'A');
  t.equal(fs.view.readFile('/dst/sub/b').length, 70_000);
  t.equal(fs.view.readlink('/dst/sub/l'), '../a');
  t.equal(fs.view.stat('/dst/sub').mode, 0o700);
  // Another replica that receives the same entries sees the same tree.
  const other = new View(replicaOf(fs.log), fs.blocks);
  t.same([...other.walk('/')].map((s) => s.path), [...fs.view.walk('/')].map((s) => s.path));
});

t.test('POSIX refusals: not empty, into itself, kind mismatches, missing source or parent', async (t) => {
  const fs = memoryFs();
  const w = fs.writer(key(1));
  w.mkdir('/d');
  w.mkdir('/full');
  w.writeFile('/full/x', text('x'));
  w.writeFile('/f', text('f'));
  const before = fs.log.size;
  t.throws(() => w.rename('/d', '/full'), { code: 'NOT_EMPTY' });
  t.throws(() => w.rename('/d', '/d/inner'), { code: 'USAGE' });
  t.throws(() => w.rename('/d', '/f'), { code: 'NOT_DIR' });
  t.throws(() => w.rename('/f', '/d'), { code: 'IS_DIR' });
  t.throws(() => w.rename('/nope', '/x'), { code: 'NOT_FOUND' });
  t.throws(() => w.rename('/f', '/nope/x'), { code: 'NOT_FOUND' });
  t.throws(() => w.rename('/f', '/f/x'), { code: 'NOT_DIR' });
  t.throws(() => w.rename('/', '/x'), { code: 'USAGE' });
  t.same(w.rename('/f', '/f'), [], 'a rename onto itself is a no-op');
  t.equal(fs.log.size, before, 'nothing was written');
});

t.test('authority is checked at both ends before anything is written', async (t) => {
  const fs = memoryFs();
  const root = fs.writer(key(1));
  const alice = fs.writer(key(2));
  root.mkdir('/home');
  root.mkdir('/etc');
  root.writeFile('/etc/conf', text('root'));
  root.grant('/home', key(2).publicKey, 'alice');
  alice.writeFile('/home/mine', text('mine'));
  alice.mkdir('/home/dir');
  alice.writeFile('/home/dir/x', text('x'));
  const before = fs.log.size;
  t.throws(() => alice.rename('/home/mine', '/etc/mine'), { code: 'NOT_AUTHORIZED' }, 'no authority at the destination');
  t.throws(() => alice.rename('/etc/conf', '/home/conf'), { code: 'NOT_AUTHORIZED' }, 'no authority at the source');
  t.throws(() => alice.rename('/home/dir', '/etc/dir'), { code: 'NOT_AUTHORIZED' });
  t.equal(fs.log.size, before, 'a refused rename writes nothing');
  alice.rename('/home/dir', '/home/moved');
  t.equal(str(fs.view.readFile('/home/moved/x')), 'x');
});

t.test('touch sets a file mtime with one entry and no new content', async (t) => {
  const fs = memoryFs();
  const w = fs.writer(key(1));
  w.writeFile('/f', text('same'));
  t.ok(w.touch('/f', 1_500_000_000_000));
  t.equal(fs.view.stat('/f').mtime, 1_500_000_000_000);
  t.equal(str(fs.view.readFile('/f')), 'same');
  t.equal(w.touch('/f', 1_500_000_000_000), null, 'no entry when the mtime is already that');
  w.symlink('/l', 'f');
  t.equal(w.touch('/l', 1), null, 'a symlink keeps its time');
});

t.test('a directory\'s mtime is its newest MODE entry\'s: touch, chmod dated, rename keeps it', async (t) => {
  const fs = memoryFs();
  const w = fs.writer(key(1));
  w.mkdir('/d');
  w.writeFile('/d/f', text('x'));
  const made = fs.view.stat('/d').mtime;
  const e = w.touch('/d', 1_500_000_000_000);
  t.equal(e?.action, ACTION.MODE, 'one MODE entry');
  t.same([fs.view.stat('/d').mtime, fs.view.stat('/d').mode], [1_500_000_000_000, 0o755], 'mtime set, mode unchanged');
  t.same(fs.view.readdir('/d'), ['f'], 'the directory keeps its children');
  t.equal(w.touch('/d', 1_500_000_000_000), null, 'no entry when the mtime is already that');
  w.chmod('/d', 0o700, { at: fs.view.stat('/d').mtime });
  t.same([fs.view.stat('/d').mtime, fs.view.stat('/d').mode], [1_500_000_000_000, 0o700], 'a chmod dated at the mtime keeps it');
  w.rename('/d', '/e');
  t.same([fs.view.stat('/e').mtime, fs.view.stat('/e').mode], [1_500_000_000_000, 0o700], 'a moved directory keeps mtime and mode');
  t.ok(made !== 1_500_000_000_000);
  const copy = replicaOf(fs.log);
  t.equal(new View(copy).stat('/e').mtime, 1_500_000_000_000, 'every replica shows the same');
});

t.test('writeFileIfChanged writes nothing for the same content and mtime, and a version otherwise', async (t) => {
  const fs = memoryFs();
  const w = fs.writer(key(1));
  const big = new Uint8Array(100_000).fill(3); // blocks, not inline content
  w.writeFile('/big', big, { mtime: 1_600_000_000_000 });
  w.writeFile('/small', text('v1'), { mtime: 1_600_000_000_000 });
  const before = fs.log.size;
  t.equal(w.writeFileIfChanged('/big', big, { mtime: 1_600_000_000_000 }), null, 'same blocks and mtime');
  t.equal(w.writeFileIfChanged('/small', text('v1'), { mtime: 1_600_000_000_000 }), null, 'same inline content and mtime');
  t.equal(fs.log.size, before, 'nothing written');
  t.ok(w.writeFileIfChanged('/small', text('v1'), { mtime: 1_600_000_001_000 }), 'same content, new mtime: a version');
  t.ok(w.writeFileIfChanged('/small', text('v2'), { mtime: 1_600_000_001_000 }), 'new content, same mtime: a version');
  t.equal(str(fs.view.readFile('/small')), 'v2');
  t.ok(w.writeFileIfChanged('/new', text('x'), { mtime: 1 }), 'a new file');
  t.equal(fs.log.size, before + 3);
});
