/**
 * NodeCore on its own, as the state machine it is: inputs with explicit times in, actions and
 * deadlines out. No sockets, no simulator: what the runtime and the simulator both rely on.
 */
import t from 'tap';
import { toHex } from '../../src/core/hash.ts';
import { Log } from '../../src/core/log.ts';
import { View } from '../../src/core/view.ts';
import { Writer } from '../../src/core/writer.ts';
import { SeededRandom } from '../../src/swim/sim/random.ts';
import type { MemberInfo } from '../../src/swim/types.ts';
import { NodeCore, type NodeAction, type NodePort } from '../../src/sync/node-core.ts';
import { encodeEntryGossip } from '../../src/sync/node-gossip.ts';
import { decodeNodeMeta, encodeNodeMeta } from '../../src/sync/node-meta.ts';
import { MemoryBlockStore } from '../../src/sync/sim/index.ts';
import { EPOCH_MS, ROOT_KEY, simEntries } from './sim-helpers.ts';

function setup() {
  const log = new Log(null);
  for (const b of simEntries()) log.ingest(b);
  const blocks = new MemoryBlockStore();
  const view = new View(log, blocks);
  const members: MemberInfo[] = [];
  const rng = new SeededRandom(7);
  const core = new NodeCore({
    name: 'me', log, view, blocks, syncPort: 7947, members: () => members, random: () => rng.next(), now: 0, maxUserPayload: 1024,
    timing: { antiEntropyMinMs: 10_000, antiEntropyMaxMs: 10_000 },
  });
  const member = (name: string, root: Uint8Array, entries: number, complete?: boolean): MemberInfo => {
    const meta = encodeNodeMeta({ syncPort: 7947, root, fsId: log.id, entries, ...(complete !== undefined ? { complete } : {}) });
    const m: MemberInfo = { name, address: `10.0.0.${members.length + 2}:7946`, status: 'alive', incarnation: 1, changedAt: 0, meta };
    members.push(m);
    return m;
  };
  const sent: Array<{ key: string; payload: Uint8Array }> = [];
  const metas: Uint8Array[] = [];
  const port: NodePort = { broadcast: (key, payload) => sent.push({ key, payload }), setMeta: (m) => metas.push(m), sync: () => {} };
  return { log, view, blocks, core, member, sent, metas, port };
}

const syncs = (actions: NodeAction[]) => actions.flatMap((a) => (a.type === 'sync' ? [a.peer.name] : []));

t.test('a root difference: the side with fewer entries pulls, after rootDiffDelayMs', async (t) => {
  const { core, log, member } = setup();
  t.equal(core.nextDeadline(), 10_000, 'the periodic round');
  core.member(member('behind', new Uint8Array(32).fill(1), log.size - 1), 100);
  t.equal(core.nextDeadline(), 10_000, 'a member with fewer entries does not draw us to it');
  core.member(member('ahead', new Uint8Array(32).fill(2), log.size + 1), 200);
  t.equal(core.nextDeadline(), 1_200, 'one with more entries does, after rootDiffDelayMs');
  t.same(core.tick(1_199), [], 'nothing before');
  t.same(syncs(core.tick(1_200)), ['ahead'], 'a session with it');
  t.equal(core.stats.syncsInitiated, 1);
  t.equal(core.requestSync('ahead'), null, 'never two sessions with one peer');
});

t.test('a peer caught lying is not chosen again; one that failed to connect is', async (t) => {
  const { core, member } = setup();
  member('liar', new Uint8Array(32).fill(3), 1000);
  member('flaky', new Uint8Array(32).fill(4), 1000);
  t.equal(core.requestSync('liar')?.name, 'liar');
  core.finished('liar', 'initiator', { code: 'BAD_SIGNATURE', message: 'forged', remote: false }, 500);
  t.equal(core.requestSync('flaky')?.name, 'flaky');
  core.finished('flaky', 'initiator', { code: 'CLOSED', message: 'refused', remote: false }, 600);
  const chosen = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const c = core.requestSync();
    if (c !== null) {
      chosen.add(c.name);
      core.finished(c.name, 'initiator', undefined, 700 + i);
    }
  }
  t.same([...chosen], ['flaky'], 'only the honest peer is chosen');
  t.equal(core.requestSync('liar')?.name, 'liar', 'unless asked for by name');
  t.equal(core.stats.syncsFailed, 2);
});

t.test('own entries are broadcast, the advertised root follows after metaDebounceMs', async (t) => {
  const { core, log, view, blocks, sent, metas, port } = setup();
  const stop = log.onAccept((nodes) => core.apply(core.accepted(nodes, 1_000), port));
  const e = new Writer({ log, view, key: ROOT_KEY, blocks, now: () => EPOCH_MS + 1 }).mkdir('/etc');
  stop();
  t.equal(sent.length, 1, 'one broadcast');
  t.equal(sent[0]?.key, `e${toHex(e.hash).slice(0, 24)}`, 'under the entry\'s key');
  t.equal(core.stats.entriesBroadcast, 1, 'whole, it fits');
  t.equal(core.nextDeadline(), 1_500);
  core.apply(core.tick(1_500), port);
  const meta = decodeNodeMeta(metas[0]);
  t.equal(meta && toHex(meta.root), toHex(log.rootHash()), 'the new root is advertised');
  t.equal(meta?.entries, log.size, 'with the entry count');
  t.equal(core.stats.metaUpdates, 1);
});

t.test('gossip is verified before it is relayed', async (t) => {
  const { core } = setup();
  t.equal(core.gossip(Uint8Array.of(9, 9, 9), 'x', 0), false, 'garbage');
  t.equal(core.gossip(Uint8Array.of(1, 1, 2, 3), 'x', 0), false, 'an entry that does not decode');
  t.equal(core.stats.gossipMalformed, 1);
  t.equal(core.stats.gossipRejected, 1);
  core.stop();
  t.equal(core.nextDeadline(), Infinity, 'a stopped core has nothing to do');
});

t.test('missing blocks are pulled from a random complete holder, the origin only when none is known', async (t) => {
  const { core, log, member } = setup();
  // The writer's replica: a file with one block, gossiped whole; our node lacks the block.
  const w = setup();
  const entry = new Writer({ log: w.log, view: w.view, key: ROOT_KEY, blocks: w.blocks, now: () => EPOCH_MS + 1 })
    .writeFile('/blob', Uint8Array.from({ length: 20_000 }, (_, i) => i & 0xff));
  const old = log.rootHash();
  const oldSize = log.size;
  member('writer', old, oldSize, true); // its new metadata has not reached us yet
  log.onAccept((nodes) => core.accepted(nodes, 1_000)); // as the drivers do
  t.equal(core.gossip(encodeEntryGossip(entry.bytes), 'writer', 1_000), true, 'accepted and relayed');
  t.equal(core.missingBlocks().length, 1, 'the block is missing');
  t.equal(core.nextDeadline(), 1_100, 'a block pull after pullDelayMs');
  t.same(syncs(core.tick(1_100)), ['writer'], 'no holder known: the origin');
  core.finished('writer', 'initiator', { code: 'CLOSED', message: 'refused', remote: false }, 1_110);
  const retry = core.nextDeadline();
  t.ok(retry >= 1_110 + 200 && retry <= 1_110 + 600, `refused: a jittered retry after blockRetryMs (${retry})`);

  const root = log.rootHash();
  member('lacking', root, log.size, false);
  member('old', old, oldSize, true);
  member('unknown', root, log.size);
  t.same(syncs(core.tick(retry)), ['unknown'], 'the origin is backed off: a peer that does not say (an older node)');
  core.finished('unknown', 'initiator', undefined, retry + 10);
  core.member(member('holder', root, log.size, true), retry + 20);
  t.equal(core.nextDeadline(), retry + 20, 'a holder appearing while we wait: a pull at once');
  t.same(syncs(core.tick(retry + 20)), ['holder'], 'from the holder, not the writer, the old or the lacking');
  t.equal(core.tick(retry + 20).length, 0, 'one block pull at a time');

});
