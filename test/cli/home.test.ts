import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  checkFsName,
  configPath,
  defaultKeyPath,
  defaultPort,
  fsDir,
  homeDir,
  listFilesystems,
  readConfig,
  resolveTarget,
  updateFsConfig,
  writeConfig,
} from '../../src/core/home.ts';

t.test('homeDir: BASEFS_HOME, else ~/.basefs', async (t) => {
  t.equal(homeDir({ BASEFS_HOME: '/x/y' }), '/x/y');
  t.equal(homeDir({ BASEFS_HOME: '', HOME: '/home/u' }), '/home/u/.basefs');
  t.equal(homeDir({ HOME: '/home/u' }), '/home/u/.basefs');
  t.equal(defaultKeyPath('/h'), '/h/id_ed25519');
  t.equal(configPath('/h'), '/h/config.json');
  t.equal(fsDir('/h', 'myfs'), '/h/fs/myfs');
});

t.test('defaultPort: deterministic, 10000..19999, SHA-256 of the name', async (t) => {
  t.equal(defaultPort('test'), defaultPort('test'));
  // sha256("test") = 9f86d081...0a08; as an integer mod 10000, plus 10000
  const hex = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
  t.equal(defaultPort('test'), 10000 + Number(BigInt('0x' + hex) % 10000n));
  for (const n of ['a', 'demo', 'myfs', 'x'.repeat(64)]) {
    const p = defaultPort(n);
    t.ok(p >= 10000 && p <= 19999, `${n} → ${p}`);
  }
});

t.test('filesystem names and targets', async (t) => {
  for (const good of ['a', 'my-fs', 'fs.1', 'A_b']) t.doesNotThrow(() => checkFsName(good), good);
  for (const bad of ['', '.x', '-x', 'a/b', 'a:b', 'a b', 'x'.repeat(65)])
    t.throws(() => checkFsName(bad), { code: 'USAGE' }, JSON.stringify(bad));
  t.same(resolveTarget('myfs'), { name: 'myfs', path: '/', explicitPath: false });
  t.same(resolveTarget('myfs:/etc//app/'), { name: 'myfs', path: '/etc/app', explicitPath: true });
  t.same(resolveTarget('myfs:/'), { name: 'myfs', path: '/', explicitPath: true });
  t.throws(() => resolveTarget('myfs:etc'), { code: 'USAGE' });
  t.throws(() => resolveTarget('myfs:/a/../b'), { code: 'USAGE' });
  t.throws(() => resolveTarget('bad/name:/x'), { code: 'USAGE' });
  t.throws(() => resolveTarget(''), { code: 'USAGE' });
});

t.test('config: missing is empty, round trip keeps unknown fields, bad files are MALFORMED', async (t) => {
  const home = t.testdir();
  t.same(readConfig(home), { version: 1, filesystems: {} });
  writeConfig(home, {
    version: 1,
    future: { x: 1 },
    filesystems: { a: { port: 12345, seeds: ['10.0.0.1:12345'], createdAt: '2026-01-01T00:00:00.000Z', mountpoint: '/m' } },
  });
  const c = readConfig(home);
  t.equal(c.filesystems['a']?.port, 12345);
  t.equal(c.filesystems['a']?.['mountpoint'], '/m');
  t.same(c['future'], { x: 1 });
  updateFsConfig(home, 'b', { port: 1, seeds: [], createdAt: '' });
  t.same(Object.keys(readConfig(home).filesystems).sort(), ['a', 'b']);
  updateFsConfig(home, 'a', null);
  t.same(Object.keys(readConfig(home).filesystems), ['b']);
  writeFileSync(configPath(home), '{nope');
  t.throws(() => readConfig(home), { code: 'MALFORMED' });
  writeFileSync(configPath(home), JSON.stringify({ version: 1, filesystems: { a: { port: 'x' } } }));
  t.throws(() => readConfig(home), { code: 'MALFORMED' });
  writeFileSync(configPath(home), JSON.stringify({ version: 2, filesystems: {} }));
  t.throws(() => readConfig(home), { code: 'MALFORMED' });
});

t.test('listFilesystems: directories under fs/ that hold a log', async (t) => {
  const home = t.testdir();
  t.same(listFilesystems(home), []);
  for (const n of ['b', 'a', 'empty']) mkdirSync(join(home, 'fs', n), { recursive: true });
  writeFileSync(join(home, 'fs', 'a', 'log'), '');
  writeFileSync(join(home, 'fs', 'b', 'log'), '');
  t.same(listFilesystems(home), ['a', 'b']);
});
