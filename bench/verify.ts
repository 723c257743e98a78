/**
 * Verification benchmark (issue 3): a node receiving a whole log from an untrusted peer.
 *
 *   ceiling     raw Ed25519 verify rate of the fastest backend, on the same signatures
 *   ingest      full pipeline per entry: decode, hash, signature, placement, admission, Merkle,
 *               in memory and with the durable log file (one fsync per 1,000-entry batch); then
 *               with the signature checks spread over every core (VerifyPool)
 *   append      local writes through the Writer, each one durable (fsync) before it returns
 *   open        opening the stored log (the daemon's and the mount's start-up cost)
 *   memory      RSS and heap after opening
 *
 * Quick mode (default) uses 100,000 entries, like full mode, but fewer repetitions; `--entries N`
 * changes the size, `--full` repeats each measurement 3 times and reports the best.
 * Prints a table, then one JSON line. Run: npm run bench:verify [-- --full]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tagBytes } from '../src/core/hash.ts';
import { Log } from '../src/core/log.ts';
import { LogFile } from '../src/core/log-file.ts';
import { Replica } from '../src/core/replica.ts';
import { verify, verifyBackendName } from '../src/core/verify.ts';
import { VerifyPool } from '../src/core/verify-pool.ts';
import { benchKey, buildLog, writeLogFile } from './sync-log.ts';
import { textTable } from './stats.ts';

const args = process.argv.slice(2);
const full = args.includes('--full');
const entriesArg = args.indexOf('--entries');
const N = entriesArg >= 0 ? Number(args[entriesArg + 1]) : 100_000;
const reps = full ? 3 : 1;
if (args[0] === '--open-only') {
  openOnly(args[1] as string);
  process.exit(0);
}

/** Child mode: open the stored log like a starting node and report time and memory. */
function openOnly(dir: string): void {
  const s = performance.now();
  const r = Replica.open(dir, { writable: false });
  r.view.stat('/sites/s0/etc0'); // the first lookup a mount serves
  const openMs = performance.now() - s;
  r.log.rootHash(); // what a node needs before it joins anti-entropy
  const rootMs = performance.now() - s - openMs;
  global.gc?.();
  const m = process.memoryUsage();
  console.log(JSON.stringify({ openMs, rootMs, rss: m.rss, heap: m.heapUsed, entries: r.log.size }));
  r.close();
}

const progress = (s: string) => process.stderr.isTTY && process.stderr.write(`\r${s}\x1b[K`);

/** The shared benchmark filesystem (bench/sync-log.ts), stored as a peer would serve it. */
function generate(dir: string, n: number): void {
  writeLogFile(buildLog(n, (done) => progress(`generating log: ${done}/${n}`)), dir);
}

function best(f: () => number): number {
  let b = 0;
  for (let i = 0; i < reps; i++) b = Math.max(b, f());
  return b;
}

const work = mkdtempSync(join(tmpdir(), 'basefs-bench-verify-'));
try {
  const src = join(work, 'src');
  const t0 = performance.now();
  generate(src, N);
  const genSeconds = (performance.now() - t0) / 1000;
  progress('');

  const stored = Replica.open(src, { writable: false });
  const entries = [...stored.log.entriesInOrder()];
  const bytes = entries.map((e) => e.bytes);
  const authors = new Set(entries.map((e) => Buffer.from(e.author).toString('hex'))).size;

  // Ceiling: the raw signature check of the fastest backend, on exactly these signatures.
  const sigTag = tagBytes('basefs/entry-sig/v1');
  const inputs = entries.map((e) => {
    const m = new Uint8Array(sigTag.length + 32);
    m.set(sigTag);
    m.set(e.hash, sigTag.length);
    return m;
  });
  const ceiling = best(() => {
    const s = performance.now();
    let ok = 0;
    for (let i = 0; i < entries.length; i++) if (verify(entries[i]!.author, inputs[i]!, entries[i]!.signature)) ok++;
    if (ok !== entries.length) throw new Error('a stored signature does not verify');
    return entries.length / ((performance.now() - s) / 1000);
  });

  // Ingest as a receiving node: in memory, then into a durable log file in 1,000-entry batches.
  let rootHash = '';
  const ingestMemory = best(() => {
    const log = new Log(null);
    const s = performance.now();
    for (let i = 0; i < bytes.length; i += 1000) log.ingestMany(bytes.slice(i, i + 1000));
    const rate = bytes.length / ((performance.now() - s) / 1000);
    if (log.size !== entries.length) throw new Error(`only ${log.size} of ${entries.length} accepted`);
    rootHash = Buffer.from(log.rootHash()).toString('hex');
    return rate;
  });
  const ingestDisk = best(() => {
    const path = join(work, `recv-${Math.random()}`);
    const { log: file } = LogFile.open(path, { sync: 'always' });
    const log = new Log(file);
    const s = performance.now();
    for (let i = 0; i < bytes.length; i += 1000) log.ingestMany(bytes.slice(i, i + 1000));
    const rate = bytes.length / ((performance.now() - s) / 1000);
    file.close();
    rmSync(path);
    return rate;
  });
  if (rootHash !== Buffer.from(stored.log.rootHash()).toString('hex')) throw new Error('root hash differs after ingest');

  // The same with the signature checks spread over every core (VerifyPool), as `get` does.
  const pool = new VerifyPool();
  let ingestParallel = 0;
  for (let r = 0; r < reps; r++) {
    const log = new Log(null);
    const s = performance.now();
    for (let i = 0; i < bytes.length; i += 2000) await log.ingestManyParallel(pool, bytes.slice(i, i + 2000));
    ingestParallel = Math.max(ingestParallel, bytes.length / ((performance.now() - s) / 1000));
    if (Buffer.from(log.rootHash()).toString('hex') !== rootHash) throw new Error('parallel ingest differs');
  }
  await pool.close();

  // Local appends, each durable before the write returns.
  const appendRate = best(() => {
    const r = Replica.open(src, { key: benchKey(1), sync: 'always' });
    r.view.stat('/'); // warm the view, as a running node has it
    const count = 1000;
    const s = performance.now();
    for (let i = 0; i < count; i++) r.writer!.writeFile(`/sites/bench-${i % 50}`, new TextEncoder().encode(`v${i}`));
    const rate = count / ((performance.now() - s) / 1000);
    r.close();
    return rate;
  });

  // Open time and memory of the stored log, in a fresh process so nothing else is on its heap.
  stored.close();
  const child = spawnSync(process.execPath, ['--expose-gc', process.argv[1] as string, '--open-only', src], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`open measurement failed: ${child.stderr}`);
  const openStats = JSON.parse(child.stdout.trim().split('\n').at(-1) as string) as { openMs: number; rootMs: number; rss: number; heap: number };
  const openMs = openStats.openMs;
  const rootMs = openStats.rootMs;
  const mem = { rss: openStats.rss, heapUsed: openStats.heap };
  const logBytes = statSync(join(src, 'log')).size;

  const result = {
    bench: 'verify',
    mode: full ? 'full' : 'quick',
    entries: entries.length,
    authors,
    backend: verifyBackendName,
    ceiling_verify_per_s: Math.round(ceiling),
    ingest_memory_per_s: Math.round(ingestMemory),
    ingest_disk_per_s: Math.round(ingestDisk),
    ingest_vs_ceiling: +(ingestDisk / ceiling).toFixed(3),
    threads: pool.threads + 1,
    ingest_parallel_per_s: Math.round(ingestParallel),
    ingest_parallel_vs_ceiling: +(ingestParallel / ceiling).toFixed(3),
    ingest_seconds_100k: +(100_000 / ingestDisk).toFixed(2),
    append_durable_per_s: Math.round(appendRate),
    open_ms: +openMs.toFixed(1),
    first_root_hash_ms: +rootMs.toFixed(1),
    log_mb: +(logBytes / 1048576).toFixed(1),
    rss_mb: +(mem.rss / 1048576).toFixed(1),
    heap_used_mb: +(mem.heapUsed / 1048576).toFixed(1),
    generate_s: +genSeconds.toFixed(1),
  };
  console.log(
    textTable(
      ['measure', 'value', 'target'],
      [
        [`raw Ed25519 verify (${verifyBackendName}), entries/s`, result.ceiling_verify_per_s, 'ceiling'],
        ['ingest, in memory, entries/s', result.ingest_memory_per_s, ''],
        ['ingest, durable log, entries/s', result.ingest_disk_per_s, '>= 80% of ceiling'],
        ['ingest / ceiling', result.ingest_vs_ceiling, '>= 0.8'],
        ['seconds to verify 100k entries', result.ingest_seconds_100k, '<= 10'],
        [`ingest, signatures on ${result.threads} threads, entries/s`, result.ingest_parallel_per_s, ''],
        ['parallel ingest / one-core ceiling', result.ingest_parallel_vs_ceiling, ''],
        ['local append (fsync each), entries/s', result.append_durable_per_s, ''],
        ['open stored log + first lookup, ms', result.open_ms, '<= 1000'],
        ['then first root hash (whole Merkle tree), ms', result.first_root_hash_ms, ''],
        ['log file, MB', result.log_mb, ''],
        ['RSS after open, MB', result.rss_mb, ''],
        ['heap used after open, MB', result.heap_used_mb, ''],
      ],
    ),
  );
  console.log(JSON.stringify(result));
} finally {
  if (!process.env.BENCH_KEEP) rmSync(work, { recursive: true, force: true });
  else console.error(`kept ${work}`);
}
