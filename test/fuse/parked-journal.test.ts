/**
 * The journal of parked files (src/fuse/parked-journal.ts): what a killed mount left is read back,
 * a torn or damaged tail is cut off, a file that is not a journal is refused, and one file parked
 * for long does not make it grow. No FUSE needed.
 */
import t from 'tap';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBasefsError } from '../../src/core/errors.ts';
import { OpenFile } from '../../src/fuse/open-files.ts';
import { decodePayload, encodeSet, ParkedJournal, type ParkedRecord } from '../../src/fuse/parked-journal.ts';
import { Parking } from '../../src/fuse/parking.ts';

function tempJournal(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'basefs-parked-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'parked');
}

const rec = (path: string, n = 1): ParkedRecord => ({ path, mode: 0o600, mtime: 1_700_000_000_123 + n, manifest: Uint8Array.of(0, n, n, n) });

t.test('records survive a reopen; a re-recorded file keeps its last record; dropped ones are gone', async (t) => {
  const path = tempJournal(t);
  const a = ParkedJournal.open(path);
  t.same(a.records, [], 'a new journal is empty');
  const j = a.journal;
  const [x, y, z] = [j.newId(), j.newId(), j.newId()];
  j.put(x, rec('/x', 1));
  j.put(y, rec('/y', 2));
  j.put(x, rec('/x', 3)); // changed while parked (chmod, utimens)
  j.put(z, rec('/z', 4));
  j.drop([y]);
  t.equal(j.live, 2);
  j.close();

  const b = ParkedJournal.open(path);
  t.same(b.records, [{ ...rec('/x', 3), id: x }, { ...rec('/z', 4), id: z }], 'the last record of each file not dropped, in order, with its id');
  t.equal(b.ignoredBytes, 0);
  const w = b.journal.newId();
  t.ok(w > z, 'new ids do not reuse the ones still recorded');
  b.journal.put(w, rec('/w', 5));
  b.journal.close();
  t.same(ParkedJournal.open(path).records.map((r) => r.path), ['/x', '/z', '/w'], 'records read and not cleared stay');
});

t.test('dropping the last parked file cuts the journal back to its header; clear() forgets everything', async (t) => {
  const path = tempJournal(t);
  const { journal: j } = ParkedJournal.open(path);
  const ids = [j.newId(), j.newId()];
  for (const id of ids) j.put(id, rec(`/f${id}`));
  j.drop(ids);
  t.equal(statSync(path).size, 16);
  j.put(j.newId(), rec('/again'));
  j.clear();
  j.close();
  t.same(ParkedJournal.open(path).records, []);
});

t.test('a torn or damaged tail is cut off; the records before it are kept', async (t) => {
  const path = tempJournal(t);
  const { journal: j } = ParkedJournal.open(path);
  j.put(j.newId(), rec('/kept'));
  j.close();
  const good = statSync(path).size;
  appendFileSync(path, Buffer.from([0, 0, 0, 40, 1, 2])); // a frame cut short by a crash
  const torn = ParkedJournal.open(path);
  t.same(torn.records.map((r) => r.path), ['/kept']);
  t.equal(torn.ignoredBytes, 6);
  t.equal(statSync(path).size, good, 'the torn bytes are gone');
  torn.journal.close();

  const bytes = readFileSync(path);
  bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1); // a flipped bit in the last record: its checksum fails
  writeFileSync(path, bytes);
  const bad = ParkedJournal.open(path);
  t.same(bad.records, [], 'a record whose checksum fails is not used');
  bad.journal.close();
});

t.test('a file that is not a journal is refused, and left as it is', async (t) => {
  const path = tempJournal(t);
  writeFileSync(path, 'BASEFSLOG and something else');
  let code: string | undefined;
  try {
    ParkedJournal.open(path);
  } catch (e) {
    code = isBasefsError(e) ? e.code : String(e);
  }
  t.equal(code, 'MALFORMED');
  t.equal(readFileSync(path, 'utf8'), 'BASEFSLOG and something else');
});

t.test('payloads that put() cannot have written are MALFORMED', async (t) => {
  const ok = encodeSet(7, rec('/ok'));
  t.same(decodePayload(ok), { kind: 'set', id: 7, record: rec('/ok') });
  const bad: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['unknown kind', Uint8Array.of(9, 0, 0, 0, 1)],
    ['drop of a partial id', Uint8Array.of(2, 0, 0, 1)],
    ['set cut in its header', ok.subarray(0, 10)],
    ['path longer than the payload', (() => { const b = Buffer.from(ok); b.writeUInt32BE(1000, 15); return b; })()],
    ['empty path', (() => { const b = Buffer.from(ok); b.writeUInt32BE(0, 15); return b; })()],
    ['mode above 0o7777', (() => { const b = Buffer.from(ok); b.writeUInt16BE(0o10000, 5); return b; })()],
    ['mtime not finite', (() => { const b = Buffer.from(ok); b.writeDoubleBE(NaN, 7); return b; })()],
    ['path not UTF-8', (() => { const b = Buffer.from(encodeSet(1, rec('/ab'))); b[19] = 0xff; return b; })()],
    ['done with a short hash', Uint8Array.of(3, 0, 0, 0, 1, 9, 9)],
  ];
  for (const [what, payload] of bad) {
    let code: string | undefined;
    try {
      decodePayload(payload);
    } catch (e) {
      code = isBasefsError(e) ? e.code : String(e);
    }
    t.equal(code, 'MALFORMED', what);
  }
});

t.test("a DONE keeps a committed file's record, naming its entry, until dropped", async (t) => {
  const path = tempJournal(t);
  const { journal: j } = ParkedJournal.open(path);
  const [a, b] = [j.newId(), j.newId()];
  j.put(a, rec('/a'));
  j.put(b, rec('/b'));
  const hash = new Uint8Array(32).fill(7);
  j.done(a, hash);
  j.close();
  const again = ParkedJournal.open(path);
  t.same(again.records, [{ ...rec('/a'), committedAs: hash, id: a }, { ...rec('/b'), id: b }]);
  again.journal.rewrite(again.records.map((r) => [r.id, r] as const));
  again.journal.drop([b]);
  again.journal.close();
  t.same(ParkedJournal.open(path).records, [{ ...rec('/a'), committedAs: hash, id: a }], 'rewrite() keeps the DONE');
});

t.test('rewrite() keeps only the records given, atomically', async (t) => {
  const path = tempJournal(t);
  const { journal: j } = ParkedJournal.open(path);
  const ids = [j.newId(), j.newId(), j.newId()];
  ids.forEach((id, i) => j.put(id, rec(`/r${i}`, i)));
  j.rewrite([[ids[1] as number, rec('/r1', 1)]]);
  t.equal(j.live, 1);
  j.put(j.newId(), rec('/after'));
  j.close();
  t.same(ParkedJournal.open(path).records.map((r) => r.path), ['/r1', '/after']);
});

t.test('a file parked for long: the journal is compacted instead of growing behind it', async (t) => {
  const path = tempJournal(t);
  const { journal } = ParkedJournal.open(path);
  let parking: Parking;
  const committed: string[] = [];
  const errors: string[] = [];
  parking = new Parking(journal, { put: () => new Uint8Array(32) }, {
    parkMs: 0,
    commit: (f) => {
      committed.push(f.path);
      parking.settle(f, 'committed');
    },
    durable: () => Promise.resolve(),
    onError: (op, e) => errors.push(`${op}: ${String(e)}`),
    compactBytes: 64 * 1024,
  });
  t.teardown(() => parking.close());
  const file = (path: string, text: string) => {
    const f = new OpenFile(path, 0, { created: true, mode: 0o644 });
    f.write(() => new Uint8Array(0), new TextEncoder().encode(text), 0);
    return f;
  };
  const stuck = file('/stuck', 'first version, closed');
  parking.park(stuck);
  stuck.refs = 1; // opened again, and being rewritten: it waits for that close
  stuck.write(() => new Uint8Array(0), new TextEncoder().encode('being rewritten'), 0);
  let peak = 0;
  for (let i = 0; i < 3000; i++) {
    parking.park(file(`/f${i}`, `file ${i}`));
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 1)); // the timer commits what waits
    peak = Math.max(peak, statSync(path).size);
  }
  await new Promise((r) => setTimeout(r, 5));
  t.equal(committed.length, 3000, 'every other file committed');
  // A journal that cannot be written (a full disk) is reported, never thrown out of the timer.
  const failing = file('/on-a-full-disk', 'x');
  parking.park(failing);
  const realDrop = journal.drop.bind(journal);
  journal.drop = () => {
    throw new Error('ENOSPC');
  };
  await new Promise((r) => setTimeout(r, 5));
  t.same(committed.at(-1), '/on-a-full-disk');
  journal.drop = realDrop;
  parking.park(file('/after-space-came-back', 'y')); // its drop takes the failed one along
  await new Promise((r) => setTimeout(r, 5));
  t.ok(peak < 80 * 1024, `the journal stayed small (at most ${peak} bytes)`);
  t.same(errors, ['parked files journal: Error: ENOSPC'], 'the failed drop was reported');
  parking.close();
  const left = ParkedJournal.open(path);
  t.same(
    left.records.map((r) => [r.path, new TextDecoder().decode(r.manifest.subarray(1))]),
    [['/stuck', 'first version, closed']],
    'left: the parked file as it was closed (the record whose drop failed went with the next drop)',
  );
  left.journal.close();
});

t.test('records held for the next mount survive drops, compaction and clearing', async (t) => {
  const path = tempJournal(t);
  const { journal } = ParkedJournal.open(path);
  const heldId = journal.newId();
  journal.put(heldId, rec('/left-by-a-killed-mount'));
  let parking: Parking;
  parking = new Parking(journal, { put: () => new Uint8Array(32) }, {
    parkMs: 0,
    // A commit that fails for a passing reason (IO): the file is shelved, its record kept.
    commit: (f) => (f.path === '/on-a-full-disk' ? parking.shelve(f) : parking.settle(f, 'committed')),
    durable: () => Promise.resolve(),
    onError: (op, e) => t.fail(`${op}: ${String(e)}`),
    compactBytes: 16 * 1024,
  }, [[heldId, rec('/left-by-a-killed-mount')]]);
  const file = (p: string) => {
    const f = new OpenFile(p, 0, { created: true, mode: 0o600 });
    f.write(() => new Uint8Array(0), Uint8Array.of(1, 2, 3), 0);
    return f;
  };
  parking.park(file('/on-a-full-disk'));
  for (let i = 0; i < 1000; i++) {
    parking.park(file(`/f${i}`));
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 1));
  }
  await new Promise((r) => setTimeout(r, 5));
  t.equal(parking.size, 0);
  t.ok(statSync(path).size < 24 * 1024, 'compacted meanwhile');
  parking.clearJournal(); // what a clean unmount does
  parking.close();
  t.same(ParkedJournal.open(path).records.map((r) => r.path).sort(), ['/left-by-a-killed-mount', '/on-a-full-disk']);
});
