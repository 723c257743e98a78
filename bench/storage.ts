/**
 * Storage benchmark: log append rate under each sync policy and batch size, open time of a
 * 100,000-record log, CRC-32C throughput, block store put/get. Prints a table and one JSON line.
 * Run: node --import @tapjs/typescript/import bench/storage.ts   (or from dist/ after a build)
 * Flags: --records N (default 100000) for the open test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c } from '../src/core/crc32c.ts';
import { LogFile, readLog, type SyncPolicy } from '../src/core/log-file.ts';
import { BlockStore } from '../src/core/block-store.ts';

const argRecords = process.argv.indexOf('--records');
const OPEN_RECORDS = argRecords > 0 ? Number(process.argv[argRecords + 1]) : 100_000;
const RECORD_BYTES = 300;
const dir = mkdtempSync(join(tmpdir(), 'basefs-bench-storage-'));
const rows: [string, number, string][] = [];
const result: Record<string, number> = {};

function record(i: number): Uint8Array {
  const r = new Uint8Array(RECORD_BYTES);
  for (let k = 0; k < RECORD_BYTES; k++) r[k] = (i * 31 + k * 7) & 0xff;
  return r;
}

/** Appends for about `seconds` and returns records per second. */
function appendRate(sync: SyncPolicy, batch: number, seconds: number): number {
  const path = join(dir, `append-${sync}-${batch}`);
  const { log } = LogFile.open(path, { sync });
  const records = Array.from({ length: batch }, (_, i) => record(i));
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < seconds * 1000) {
    log.append(records);
    n += batch;
  }
  log.close(); // includes the final flush for 'never'
  const rate = n / ((performance.now() - start) / 1000);
  rmSync(path);
  return rate;
}

function measure(name: string, key: string, value: number, unit: string): void {
  rows.push([name, value, unit]);
  result[key] = Math.round(value * 10) / 10;
}

try {
  const crcBuf = Uint8Array.from({ length: 64 << 20 }, (_, i) => (i * 2654435761) >>> 24);
  crc32c(crcBuf.subarray(0, 1 << 20)); // warm up
  let t = performance.now();
  crc32c(crcBuf);
  measure('crc32c throughput', 'crc32c_mib_s', 64 / ((performance.now() - t) / 1000), 'MiB/s');

  measure("append, sync 'always', 1 record per call", 'append_always_1_per_s', appendRate('always', 1, 2), 'records/s');
  measure("append, sync 'always', 100 records per call", 'append_always_100_per_s', appendRate('always', 100, 2), 'records/s');
  measure("append, sync 'never', 1 record per call", 'append_never_1_per_s', appendRate('never', 1, 2), 'records/s');
  measure("append, sync 'never', 100 records per call", 'append_never_100_per_s', appendRate('never', 100, 2), 'records/s');

  const path = join(dir, 'big');
  const build = LogFile.open(path, { sync: 'never' });
  for (let i = 0; i < OPEN_RECORDS; i += 1000) {
    build.log.append(Array.from({ length: Math.min(1000, OPEN_RECORDS - i) }, (_, k) => record(i + k)));
  }
  build.log.close();
  const sizeMiB = build.log.size / (1 << 20);
  t = performance.now();
  const opened = LogFile.open(path);
  const openMs = performance.now() - t;
  if (opened.records.length !== OPEN_RECORDS) throw new Error('record count mismatch');
  opened.log.close();
  measure(`open ${OPEN_RECORDS} records (${sizeMiB.toFixed(1)} MiB, page cache warm)`, 'open_ms', openMs, 'ms');
  t = performance.now();
  readLog(path);
  measure('readLog of the same file (no lock)', 'read_log_ms', performance.now() - t, 'ms');

  for (const sync of ['always', 'never'] as const) {
    const store = BlockStore.open(join(dir, `blocks-${sync}`), { sync });
    const blocks = Array.from({ length: sync === 'always' ? 300 : 3000 }, (_, i) => {
      const b = new Uint8Array(4096);
      b.fill(i & 0xff);
      new DataView(b.buffer).setUint32(0, i);
      return b;
    });
    t = performance.now();
    const hashes = blocks.map((b) => store.put(b));
    measure(`block put 4 KiB, sync '${sync}'`, `block_put_${sync}_per_s`, blocks.length / ((performance.now() - t) / 1000), 'blocks/s');
    if (sync === 'never') {
      t = performance.now();
      for (const h of hashes) store.get(h);
      measure('block get 4 KiB (verified)', 'block_get_per_s', hashes.length / ((performance.now() - t) / 1000), 'blocks/s');
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const width = Math.max(...rows.map((r) => r[0].length));
for (const [name, value, unit] of rows) {
  console.log(`${name.padEnd(width)}  ${value.toFixed(value < 100 ? 1 : 0).padStart(10)} ${unit}`);
}
console.log(JSON.stringify({ bench: 'storage', ...result }));
