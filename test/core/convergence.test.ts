/**
 * Property: any delivery order of the same set of entries (duplicates included, children before
 * parents, grants after the entries they authorize) gives the same view and the same root hash.
 * Replay a failure with BASEFS_SEED=<seed>; explore new seeds with BASEFS_SEED=random.
 */
import t from 'tap';
import { Log } from '../../src/core/log.ts';
import { View } from '../../src/core/view.ts';
import { Writer } from '../../src/core/writer.ts';
import { isBasefsError } from '../../src/core/errors.ts';
import { toHex } from '../../src/core/hash.ts';
import { key, memoryFs, MemoryBlocks } from '../helpers/fs.ts';
import { Rng, seedFrom } from '../helpers/random.ts';

const enc = new TextEncoder();

/** Everything a reader can observe, as one comparable string. */
function snapshot(log: Log, blocks: MemoryBlocks): string {
  const view = new View(log, blocks);
  const lines: string[] = [];
  for (const st of view.walk('/')) {
    let extra = '';
    if (st.kind === 'file') extra = toHex(view.readFile(st.path));
    if (st.kind === 'symlink') extra = view.readlink(st.path);
    lines.push(`${st.path} ${st.kind} ${st.mode.toString(8)} ${toHex(st.head)} ${extra}`);
    for (const r of view.revisions(st.path)) lines.push(`  ${toHex(r.hash)} ${r.selected} ${r.valid} ${r.effective} ${r.current}`);
  }
  for (const k of view.keys()) lines.push(`key ${toHex(k.key)} ${k.dir} ${k.depth}`);
  return lines.join('\n');
}

/** Apply one random operation; failures the writer refuses (no authority, exists...) are fine. */
function randomOp(rng: Rng, w: Writer, view: View, authors: Uint8Array[]): void {
  const paths = [...view.walk('/')].map((s) => s);
  const dirs = paths.filter((s) => s.kind === 'dir').map((s) => s.path);
  const files = paths.filter((s) => s.kind === 'file').map((s) => s.path);
  const dir = rng.pick(dirs);
  const name = rng.pick(['a', 'b', 'c', 'conf', 'd']);
  const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
  try {
    switch (rng.int(10)) {
      case 0:
        w.mkdir(path);
        break;
      case 1:
      case 2:
      case 3:
        w.writeFile(rng.next() < 0.5 && files.length ? rng.pick(files) : path, enc.encode(`v${rng.int(1000)}`));
        break;
      case 4:
        if (files.length) w.delete(rng.pick(files));
        break;
      case 5:
        w.grant(dir, rng.pick(authors), `k${rng.int(9)}`);
        break;
      case 6:
        if (rng.next() < 0.3) w.revoke(dir, rng.pick(authors));
        break;
      case 7:
        if (files.length) w.chmod(rng.pick(files), rng.pick([0o600, 0o644, 0o755]));
        break;
      case 8:
        w.symlink(path, '/target');
        break;
      case 9:
        if (files.length) {
          const f = rng.pick(files);
          const revs = view.revisions(f).filter((r) => r.effective);
          if (revs.length) w.revert(f, toHex(rng.pick(revs).hash));
        }
        break;
    }
  } catch (e) {
    if (!isBasefsError(e)) throw e;
  }
}

t.test('any delivery order converges to the same view and root hash', async (t) => {
  const seed = seedFrom('BASEFS_SEED', 20261125);
  t.comment(`seed ${seed} (replay: BASEFS_SEED=${seed})`);
  const rng = new Rng(seed);
  const keys = [key(1), key(2), key(3), key(4)];
  const authors = keys.map((k) => k.publicKey);
  let forks = 0;
  for (let round = 0; round < 6; round++) {
    // A shared start, then three replicas that diverge: concurrent writes, grants and revokes.
    const base = memoryFs(keys[0]);
    const w0 = base.writer(keys[0]!);
    w0.mkdir('/etc');
    w0.mkdir('/home');
    w0.grant('/home', authors[1]!, 'alice');
    w0.grant('/etc', authors[2]!, 'bob');
    const replicas = [0, 1, 2].map(() => {
      const log = new Log(null);
      for (const e of base.log.entriesInOrder()) log.ingest(e.bytes);
      const view = new View(log, base.blocks);
      return { log, view };
    });
    for (let step = 0; step < 60; step++) {
      const r = rng.pick(replicas);
      const k = rng.pick(keys);
      const w = new Writer({ log: r.log, view: r.view, key: k, blocks: base.blocks, now: () => 1_700_000_000_000 + step });
      randomOp(rng, w, r.view, authors);
    }
    const all = new Map<string, Uint8Array>();
    for (const r of replicas) for (const e of r.log.entriesInOrder()) all.set(toHex(e.hash), e.bytes);
    const entries = [...all.values()];

    forks += countForks(entries);

    const reference = new Log(null);
    for (const b of entries) reference.ingest(b);
    t.equal(reference.size, entries.length, 'in-order delivery accepts everything');
    const expectedRoot = toHex(reference.rootHash());
    const expectedView = snapshot(reference, base.blocks);

    for (let trial = 0; trial < 4; trial++) {
      const order = rng.shuffle([...entries, ...entries.slice(0, rng.int(entries.length))]);
      const log = new Log(null);
      for (const b of order) {
        log.ingest(b);
        if (rng.next() < 0.1) log.rootHash(); // cached hashes must stay right as the tree grows
      }
      t.equal(log.pending, 0, 'nothing left waiting once everything arrived');
      t.equal(toHex(log.rootHash()), expectedRoot, `round ${round} trial ${trial}: same root hash`);
      t.equal(snapshot(log, base.blocks), expectedView, `round ${round} trial ${trial}: same view`);
    }
  }
  t.ok(forks >= 10, `the workload really conflicts (${forks} forks)`);
});

/** Entries that share a parent with another entry: concurrent changes that had to be resolved. */
function countForks(entries: Uint8Array[]): number {
  const log = new Log(null);
  for (const b of entries) log.ingest(b);
  let forks = 0;
  const chains = new Set<unknown>();
  for (const n of log.tree.nodes.values()) {
    if (n.children.length > 1) forks++;
    if (!chains.has(n.chain) && n.chain.roots.length > 1) forks++;
    chains.add(n.chain);
  }
  return forks;
}
