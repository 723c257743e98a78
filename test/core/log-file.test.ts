import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LogFile, MAX_RECORD_BYTES, readLog } from '../../src/core/log-file.ts';
import { crashRecord } from './fixtures/crash-record.ts';
import { makeTempDir } from '../helpers/fs.ts';

const HEADER_BYTES = 16;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

const tempDir = (t: Test): string => makeTempDir(t, 'basefs-log-');

/** Deterministic pseudo-random bytes (mulberry32), so failures reproduce. */
function pseudoRandomBytes(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    out[i] = (x ^ (x >>> 14)) & 0xff;
  }
  return out;
}

/** Writes a log holding `texts`, closes it and returns its bytes. */
function writeLog(path: string, texts: string[]): Buffer {
  const { log } = LogFile.open(path);
  log.append(texts.map(enc));
  log.close();
  return readFileSync(path);
}

/** Offset of each frame in a log holding `texts` (one-byte-per-char texts). */
function frameOffsets(texts: string[]): number[] {
  const offsets: number[] = [];
  let at = HEADER_BYTES;
  for (const s of texts) {
    offsets.push(at);
    at += 8 + s.length;
  }
  return offsets;
}

function corruptFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.includes('.corrupt-'));
}

t.test('append and reopen round trip', async (t) => {
  const path = join(tempDir(t), 'log');
  const first = LogFile.open(path);
  t.same(first.records, []);
  t.same(first.recovered, { truncatedBytes: 0 });
  t.equal(first.log.size, HEADER_BYTES);
  first.log.append([enc('a'), enc('bb')]);
  first.log.append([enc('ccc')]);
  first.log.append([]);
  t.equal(first.log.count, 3);
  t.equal(first.log.size, HEADER_BYTES + 3 * 8 + 6);
  first.log.close();
  first.log.close(); // idempotent
  t.throws(() => first.log.append([enc('x')]), { code: 'CLOSED' });
  t.notOk(existsSync(`${path}.lock`), 'lock released on close');

  const again = LogFile.open(path);
  t.same(again.records.map(dec), ['a', 'bb', 'ccc']);
  t.equal(again.log.count, 3);
  t.equal(again.log.size, statSync(path).size);
  again.log.close();
});

t.test("sync 'never' round trip, sync() and large records", async (t) => {
  const path = join(tempDir(t), 'log');
  const big = pseudoRandomBytes(1, MAX_RECORD_BYTES);
  const { log } = LogFile.open(path, { sync: 'never' });
  log.append([enc('x'), big]);
  log.sync();
  log.append([enc('y')]);
  log.close();
  const { records, log: reopened } = LogFile.open(path);
  t.equal(records.length, 3);
  t.same(records[1], big);
  t.equal(dec(records[2]!), 'y');
  reopened.close();
});

t.test('rejected batches write nothing', async (t) => {
  const path = join(tempDir(t), 'log');
  const { log } = LogFile.open(path);
  log.append([enc('kept')]);
  const size = log.size;
  t.throws(() => log.append([enc('ok'), new Uint8Array(MAX_RECORD_BYTES + 1)]), { code: 'TOO_LARGE' });
  t.throws(() => log.append([enc('ok'), new Uint8Array(0)]), { code: 'USAGE' });
  t.equal(log.size, size);
  t.equal(log.count, 1);
  log.close();
  t.equal(statSync(path).size, size);
});

t.test('a torn tail at every byte offset of the last frame is recovered', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'log');
  const texts = ['first record', 'second', 'the last record, torn at every offset'];
  const full = writeLog(path, texts);
  const lastStart = frameOffsets(texts)[2]!;
  for (let cut = lastStart + 1; cut < full.length; cut++) {
    for (const name of corruptFiles(dir)) rmSync(join(dir, name));
    writeFileSync(path, full.subarray(0, cut));
    const { log, records, recovered } = LogFile.open(path);
    t.same(records.map(dec), texts.slice(0, 2), `cut ${cut}: earlier records kept`);
    t.same(recovered, { truncatedBytes: cut - lastStart, savedTo: `${path}.corrupt-${lastStart}`, at: lastStart, damage: 'torn' });
    t.same(readFileSync(`${path}.corrupt-${lastStart}`), full.subarray(lastStart, cut), 'torn bytes saved aside');
    t.equal(statSync(path).size, lastStart, 'truncated to the last good frame');
    log.append([enc('after recovery')]);
    log.close();
    t.same(readLog(path).records.map(dec), [...texts.slice(0, 2), 'after recovery']);
  }
});

t.test('a full-length last frame whose payload never reached the disk fails its checksum', async (t) => {
  const path = join(tempDir(t), 'log');
  const texts = ['one', 'two', 'three three'];
  const bytes = writeLog(path, texts);
  const lastStart = frameOffsets(texts)[2]!;
  bytes.fill(0, lastStart + 8);
  writeFileSync(path, bytes);
  const { log, records, recovered } = LogFile.open(path);
  t.same(records.map(dec), ['one', 'two']);
  t.equal(recovered.damage, 'checksum');
  log.close();
});

t.test('garbage after the last frame is cut off and saved', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'log');
  const texts = ['alpha', 'beta', 'gamma'];
  const good = writeLog(path, texts);
  for (const [seed, length] of [[1, 1], [2, 7], [3, 8], [4, 100], [5, 5000], [6, 70000]] as const) {
    for (const name of corruptFiles(dir)) rmSync(join(dir, name));
    const garbage = pseudoRandomBytes(seed, length);
    writeFileSync(path, Buffer.concat([good, garbage]));
    const { log, records, recovered } = LogFile.open(path);
    t.same(records.map(dec), texts, `${length} garbage bytes`);
    t.equal(recovered.truncatedBytes, length);
    t.ok(readFileSync(recovered.savedTo!).equals(garbage), "garbage saved aside");
    log.close();
    t.same(readFileSync(path), good);
  }
});

t.test('a zero-filled tail (left by some file systems after a crash) is not read as records', async (t) => {
  const path = join(tempDir(t), 'log');
  const good = writeLog(path, ['only']);
  writeFileSync(path, Buffer.concat([good, Buffer.alloc(4096)]));
  const { log, records, recovered } = LogFile.open(path);
  t.same(records.map(dec), ['only']);
  t.equal(recovered.damage, 'bad-length');
  t.equal(recovered.truncatedBytes, 4096);
  log.close();
});

t.test('a flipped bit inside an earlier frame cuts the log at that frame and saves the rest', async (t) => {
  // Documented behaviour: frames after a damaged one are not trusted (their framing may be
  // wrong too); they are moved to <path>.corrupt-<offset> and peers re-send the lost entries.
  const texts = Array.from({ length: 10 }, (_, i) => `record number ${i}`);
  const offsets = frameOffsets(texts);
  const damagedAt = offsets[3]!;
  for (const [what, byte, bit] of [
    ['payload', damagedAt + 8 + 5, 2],
    ['crc', damagedAt + 4, 0],
    ['length, low bit', damagedAt + 3, 0],
    ['length, high bit', damagedAt, 7],
  ] as const) {
    const dir = tempDir(t);
    const path = join(dir, 'log');
    const bytes = writeLog(path, texts);
    const original = Buffer.from(bytes);
    bytes[byte]! ^= 1 << bit;
    writeFileSync(path, bytes);
    const { log, records, recovered } = LogFile.open(path);
    t.same(records.map(dec), texts.slice(0, 3), `${what}: records before the damage are kept`);
    t.equal(recovered.at, damagedAt);
    t.equal(recovered.truncatedBytes, bytes.length - damagedAt);
    t.same(readFileSync(recovered.savedTo!), bytes.subarray(damagedAt), `${what}: the rest is saved`);
    t.same(readFileSync(path), original.subarray(0, damagedAt));
    log.close();
  }
});

t.test('a wrong header is refused and the file left untouched', async (t) => {
  const dir = tempDir(t);
  const valid = writeLog(join(dir, 'valid'), ['x']);
  const wrongVersion = Buffer.from(valid);
  wrongVersion.writeUInt32BE(2, 12);
  const cases: Record<string, Uint8Array> = {
    empty: new Uint8Array(0),
    short: valid.subarray(0, 10),
    'other magic': Buffer.concat([Buffer.from('NOTABASEFSLOG\0\0\x01'), valid.subarray(16)]),
    'unknown version': wrongVersion,
  };
  for (const [name, bytes] of Object.entries(cases)) {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    t.throws(() => LogFile.open(path), { code: 'MALFORMED' }, name);
    t.throws(() => readLog(path), { code: 'MALFORMED' }, name);
    t.same(readFileSync(path), bytes, `${name}: unchanged`);
    t.notOk(existsSync(`${path}.lock`), `${name}: lock released`);
  }
  t.same(corruptFiles(dir), []);
});

t.test('locking', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'log');
  const lockPath = `${path}.lock`;

  t.test('a live holder gives LOCKED; readLog still works', async (t) => {
    const { log } = LogFile.open(path);
    log.append([enc('held')]);
    t.throws(() => LogFile.open(path), { code: 'LOCKED' });
    t.same(readLog(path).records.map(dec), ['held']);
    log.close();
    const second = LogFile.open(path);
    t.equal(second.records.length, 1);
    second.log.close();
  });

  t.test('a lock whose pid is not alive is taken over', async (t) => {
    // pids above the kernel's pid_max (at most 2^22) never exist
    writeFileSync(lockPath, 'pid 99999999\nboot \n');
    const { log } = LogFile.open(path);
    t.equal(readFileSync(lockPath, 'latin1').split('\n')[0], `pid ${process.pid}`);
    log.close();
    t.notOk(existsSync(lockPath));
  });

  t.test('a stale lock is taken over only under the takeover lock', async (t) => {
    writeFileSync(lockPath, 'pid 99999999\nboot \n');
    writeFileSync(`${lockPath}.takeover`, `pid ${process.pid}\nboot \n`);
    t.throws(() => LogFile.open(path), { code: 'LOCKED' }, 'another live process is taking over');
    writeFileSync(`${lockPath}.takeover`, 'pid 99999999\nboot \n');
    const { log } = LogFile.open(path); // a dead taker's leftover is removed too
    log.close();
    t.same(readdirSync(dir).filter((n) => n.startsWith('log.lock')), []);
  });

  t.test('an unreadable lock file is taken over', async (t) => {
    writeFileSync(lockPath, 'garbage');
    const { log } = LogFile.open(path);
    log.close();
    t.notOk(existsSync(lockPath));
  });

  const noBootId = !existsSync('/proc/sys/kernel/random/boot_id') && 'no boot id on this platform';
  t.test('a lock from an earlier boot is taken over even if its pid is alive now', { skip: noBootId }, async () => {
    writeFileSync(lockPath, `pid ${process.pid}\nboot 00000000-0000-0000-0000-000000000000\n`);
    const { log } = LogFile.open(path);
    log.close();
  });

  t.test('lock: false opens without the lock file', async (t) => {
    const held = LogFile.open(path);
    const { log } = LogFile.open(path, { lock: false });
    log.close();
    t.ok(existsSync(lockPath), "the other holder's lock is untouched");
    held.log.close();
  });
});

t.test('readLog reports a torn tail without repairing it', async (t) => {
  const path = join(tempDir(t), 'log');
  const good = writeLog(path, ['a', 'b']);
  const torn = Buffer.concat([good, Buffer.from([0, 0, 0, 9, 1, 2])]);
  writeFileSync(path, torn);
  const snapshot = readLog(path);
  t.same(snapshot.records.map(dec), ['a', 'b']);
  t.equal(snapshot.tailBytes, 6);
  t.equal(snapshot.damage, 'torn');
  t.same(readFileSync(path), torn);
  t.throws(() => readLog(join(tempDir(t), 'missing')), { code: 'NOT_FOUND' });
});

t.test('SIGKILL at a random moment never loses an acknowledged record', async (t) => {
  const path = join(tempDir(t), 'log');
  const child = fileURLToPath(new URL('./fixtures/log-appender.ts', import.meta.url));
  // Run the child with the same TypeScript loader as this test, nothing else of tap's.
  const loader = process.execArgv.filter((a) => a.includes('typescript'));
  let acknowledged = 0;
  for (let round = 0; round < 5; round++) {
    const target = acknowledged + 1 + Math.floor(Math.random() * 400);
    const proc = spawn(process.execPath, [...loader, child, path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let pending = '';
    const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', (d: Buffer) => {
        pending += d.toString();
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) acknowledged = Math.max(acknowledged, Number(line));
        if (acknowledged >= target) {
          proc.kill('SIGKILL'); // the child keeps appending until the signal lands
          resolve();
        }
      });
      proc.on('exit', (code, signal) => {
        if (signal !== 'SIGKILL') reject(new Error(`appender exited early (${code}): ${stderr}`));
      });
    });
    await exited;

    const { log, records, recovered } = LogFile.open(path); // also takes over the dead child's lock
    t.ok(records.length >= acknowledged, `round ${round}: ${records.length} records, ${acknowledged} acknowledged, ${recovered.truncatedBytes} bytes cut`);
    const wrong = records.findIndex((r, i) => dec(r) !== dec(crashRecord(i)));
    t.equal(wrong, -1, `round ${round}: every record is the expected one, in order`);
    acknowledged = records.length;
    log.close();
  }
});
