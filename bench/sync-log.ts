/**
 * The benchmarks' filesystem (bench:verify and bench:sync share it, so their figures describe the
 * same log): a realistic multi-admin tree. Root grants a site admin per site, each site admin
 * grants a team key on a subdirectory, and all of them keep writing small configuration files
 * (inline, no blocks). Built in memory, one writer per key; `writeLogFile` stores it as a peer
 * would serve it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { keyPairFromSeed, type KeyPair } from '../src/core/keys.ts';
import { LogFile } from '../src/core/log-file.ts';
import { encodeRecord, Log } from '../src/core/log.ts';
import { bootstrapEntries } from '../src/core/replica.ts';
import { View } from '../src/core/view.ts';
import { Writer } from '../src/core/writer.ts';
import { seededRandom } from './stats.ts';

/** Deterministic keys: 1 is the root of trust, 10.. site admins, 100.. teams. */
export function benchKey(n: number): KeyPair {
  const seed = new Uint8Array(32);
  seed[0] = n;
  seed[1] = 0x42;
  return keyPairFromSeed(seed);
}

/** At least `n` entries (the bootstrap and the tree come first); `progress` every 1,000. */
export function buildLog(n: number, progress: (done: number) => void = () => {}): Log {
  const rng = seededRandom(7);
  const root = benchKey(1);
  const sites = 16;
  const admins = Array.from({ length: sites }, (_, i) => benchKey(10 + i));
  const teams = Array.from({ length: sites }, (_, i) => benchKey(100 + i));
  let t = 1_700_000_000_000;
  const now = () => ++t;
  const log = new Log(null);
  for (const e of bootstrapEntries('bench', [root], ['127.0.0.1:7946'], t)) log.ingest(e.bytes);
  const view = new View(log, null);
  const writer = (k: KeyPair) => new Writer({ log, view, key: k, now });
  const w = writer(root);
  w.mkdir('/sites');
  for (let i = 0; i < sites; i++) {
    w.mkdir(`/sites/s${i}`);
    w.grant(`/sites/s${i}`, admins[i]!.publicKey, `admin${i}`);
    const a = writer(admins[i]!);
    a.mkdir(`/sites/s${i}/team`);
    a.grant(`/sites/s${i}/team`, teams[i]!.publicKey, `team${i}`);
    for (let d = 0; d < 4; d++) a.mkdir(`/sites/s${i}/etc${d}`);
  }
  const adminWriters = admins.map(writer);
  const teamWriters = teams.map(writer);
  const enc = new TextEncoder();
  while (log.size < n) {
    const i = Math.floor(rng.next() * sites);
    const team = rng.next() < 0.5;
    const base = team ? `/sites/s${i}/team` : `/sites/s${i}/etc${Math.floor(rng.next() * 4)}`;
    const file = `${base}/f${Math.floor(rng.next() * 200)}.conf`;
    (team ? teamWriters : adminWriters)[i]!.writeFile(file, enc.encode(`key=${rng.next()}\n`));
    if (log.size % 1000 === 0) progress(log.size);
  }
  return log;
}

/** Store `log` as `dir`/log, the layout Replica.open reads (no fsync: a benchmark fixture). */
export function writeLogFile(log: Log, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const { log: file } = LogFile.open(join(dir, 'log'), { sync: 'never' });
  file.append([...log.entriesInOrder()].map(encodeRecord));
  file.close();
}
