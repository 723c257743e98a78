import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { FileIncarnationStore, MemoryIncarnationStore } from '../../src/swim/incarnation-store.ts';

t.test('file store: round trip, atomic replace, bounds', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swim-store-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'state.json');
  const s = new FileIncarnationStore(file);
  t.equal(s.load(), null, 'nothing saved yet');
  s.save(0);
  t.equal(s.load(), 0);
  s.save(0xffff_ffff);
  t.equal(new FileIncarnationStore(file).load(), 0xffff_ffff);
  t.same(JSON.parse(fs.readFileSync(file, 'utf8')), { version: 1, incarnation: 0xffff_ffff });
  t.same(fs.readdirSync(dir), ['state.json'], 'no temporary file left');
  t.throws(() => s.save(-1), RangeError);
  t.throws(() => s.save(1.5), RangeError);
  t.throws(() => s.save(2 ** 32), RangeError);
  t.equal(s.load(), 0xffff_ffff, 'a refused save changes nothing');
});

t.test('file store: foreign or damaged files are refused, not guessed at', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swim-store-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'state.json');
  const bad = (content: string): void => {
    fs.writeFileSync(file, content);
    t.throws(() => new FileIncarnationStore(file).load(), { name: 'SwimError', code: 'MALFORMED' }, JSON.stringify(content.slice(0, 30)));
  };
  bad('');
  bad('{"incarnation":');
  bad('null');
  bad('[]');
  bad('{"incarnation":"7"}');
  bad('{"incarnation":1.5}');
  bad('{"incarnation":4294967296}');
  bad(' '.repeat(5000));
  fs.rmSync(file);
  fs.mkdirSync(file);
  t.throws(() => new FileIncarnationStore(file).load(), { code: 'MALFORMED' }, 'a directory');
  const missingDir = new FileIncarnationStore(path.join(dir, 'no', 'such', 'dir', 'state.json'));
  t.equal(missingDir.load(), null);
  t.throws(() => missingDir.save(1), { code: 'ENOENT' }, 'the fs error comes through');
});

t.test('memory store', async (t) => {
  const m = new MemoryIncarnationStore(5);
  t.equal(m.load(), 5);
  m.save(6);
  t.equal(m.load(), 6);
  t.equal(m.saves, 1);
});
