/**
 * State precedence and refutation (memberlist AliveNode_*, SuspectNode_*, DeadNode_*, MergeState),
 * driving one state machine directly with packets.
 */
import t from 'tap';
import { decodePacket, encodeMessage } from '../../src/swim/codec.ts';
import type { Message, PacketMsg } from '../../src/swim/codec.ts';
import { makeConfig } from '../../src/swim/config.ts';
import type { SwimConfig } from '../../src/swim/config.ts';
import { SwimNode } from '../../src/swim/protocol.ts';
import { SeededRandom } from '../../src/swim/sim/random.ts';
import type { Outbox } from '../../src/swim/types.ts';

const A = '10.0.0.1:7946';
const B = '10.0.0.2:7946';
const C = '10.0.0.3:7946';
const empty = new Uint8Array(0);

function mk(overrides: Partial<SwimConfig> = {}): SwimNode {
  return new SwimNode({
    name: 'a', address: A, random: new SeededRandom(1), config: makeConfig('local', overrides),
    initialMembers: [{ name: 'b', address: B }, { name: 'c', address: C }],
  });
}
function feed(n: SwimNode, m: Message, now = 1000): Outbox {
  return n.receivePacket(C, encodeMessage(m), now);
}
function events(o: Outbox): string[] {
  return o.events.map((e) => (e.type === 'user' ? `user:${e.from}` : `${e.type}:${e.member.name}@${e.member.incarnation}`));
}
function sentMessages(o: Outbox): PacketMsg[] {
  return o.packets.flatMap((p) => decodePacket(p.data, 1400));
}

t.test('alive: unknown node joins; only a strictly newer incarnation replaces', async (t) => {
  const n = mk();
  t.same(events(feed(n, { type: 'alive', incarnation: 1, node: 'd', address: '10.0.0.4:7946', meta: empty })), ['join:d@1']);
  t.same(events(feed(n, { type: 'alive', incarnation: 1, node: 'd', address: '10.0.0.4:7946', meta: new Uint8Array([1]) })), [], 'same incarnation ignored');
  t.same(n.member('d')?.meta, empty);
  t.same(events(feed(n, { type: 'alive', incarnation: 2, node: 'd', address: '10.0.0.4:7946', meta: new Uint8Array([1]) })), ['update:d@2'], 'newer with new meta: update');
  t.same(events(feed(n, { type: 'alive', incarnation: 1, node: 'd', address: '10.0.0.4:7946', meta: empty })), [], 'older ignored');
  t.equal(n.member('d')?.incarnation, 2);
});

t.test('suspect: old incarnation ignored, equal applies; alive refutes it', async (t) => {
  const n = mk();
  feed(n, { type: 'alive', incarnation: 5, node: 'b', address: B, meta: empty });
  t.same(events(feed(n, { type: 'suspect', incarnation: 4, node: 'b', from: 'c' })), [], 'older suspect ignored');
  t.same(events(feed(n, { type: 'suspect', incarnation: 5, node: 'b', from: 'c' })), ['suspect:b@5']);
  t.same(events(feed(n, { type: 'alive', incarnation: 5, node: 'b', address: B, meta: empty })), [], 'alive at the same incarnation does not refute');
  t.same(events(feed(n, { type: 'alive', incarnation: 6, node: 'b', address: B, meta: empty })), ['alive:b@6']);
  t.equal(n.member('b')?.status, 'alive');
});

t.test('refute a suspicion or death of ourselves: higher incarnation, alive broadcast, worse health', async (t) => {
  const n = mk();
  n.join([], 0);
  t.equal(n.incarnation(), 1);
  const out = feed(n, { type: 'suspect', incarnation: 1, node: 'a', from: 'c' });
  t.equal(n.incarnation(), 2, 'max(own + 1, accused + 1)');
  t.equal(n.healthScore(), 1, 'refuting raises the health score');
  const alive = sentMessages(out).filter((m) => m.type === 'alive' && m.node === 'a');
  t.ok(alive.length > 0, 'the refutation is pushed at once');
  feed(n, { type: 'dead', incarnation: 7, node: 'a', from: 'c' });
  t.equal(n.incarnation(), 8, 'dead about us at 7: jump to 8');
  t.equal(n.member('a')?.status, 'alive');
  feed(n, { type: 'suspect', incarnation: 3, node: 'a', from: 'c' });
  t.equal(n.incarnation(), 8, 'an old accusation is ignored');
});

t.test('alive about ourselves with the same incarnation but other metadata is refuted (restart with new settings)', async (t) => {
  const n = mk();
  feed(n, { type: 'alive', incarnation: 1, node: 'a', address: A, meta: empty });
  t.equal(n.incarnation(), 1, 'our own news coming back: nothing to do');
  feed(n, { type: 'alive', incarnation: 1, node: 'a', address: A, meta: new Uint8Array([9]) });
  t.equal(n.incarnation(), 2);
});

t.test('dead vs left: a node declaring itself dead has left; its own leave corrects a dead verdict, never the reverse', async (t) => {
  const n = mk();
  t.same(events(feed(n, { type: 'dead', incarnation: 1, node: 'b', from: 'c' })), ['dead:b@1']);
  // memberlist keeps the first verdict; we follow Serf, which turns a failed member into a left
  // one when its leave arrives (a peer that missed the leave under loss declared it dead).
  t.same(events(feed(n, { type: 'dead', incarnation: 1, node: 'b', from: 'b' })), ['leave:b@1'], 'dead, then its own leave: left');
  t.equal(n.member('b')?.status, 'left');
  t.same(events(feed(n, { type: 'dead', incarnation: 0, node: 'b', from: 'b' })), [], 'an older leave changes nothing');
  t.same(events(feed(n, { type: 'dead', incarnation: 1, node: 'c', from: 'c' })), ['leave:c@1']);
  t.equal(n.member('c')?.status, 'left');
  t.same(events(feed(n, { type: 'dead', incarnation: 2, node: 'c', from: 'b' })), [], 'left stays left');
  t.same(events(feed(n, { type: 'suspect', incarnation: 3, node: 'c', from: 'b' })), [], 'no suspicion of the left');
});

t.test('alive replayed after dead is ignored; a refutation brings the node back', async (t) => {
  const n = mk();
  feed(n, { type: 'alive', incarnation: 3, node: 'b', address: B, meta: empty });
  feed(n, { type: 'dead', incarnation: 3, node: 'b', from: 'c' });
  t.same(events(feed(n, { type: 'alive', incarnation: 3, node: 'b', address: B, meta: empty })), [], 'stale alive replayed');
  t.equal(n.member('b')?.status, 'dead');
  t.same(events(feed(n, { type: 'alive', incarnation: 4, node: 'b', address: B, meta: empty })), ['join:b@4']);
});

t.test('push-pull merge softens a remote dead to suspect', async (t) => {
  const n = mk();
  const pp = encodeMessage({
    type: 'push-pull', join: false, app: empty, users: [],
    nodes: [
      { name: 'b', address: B, status: 'dead', incarnation: 1, meta: empty },
      { name: 'c', address: C, status: 'left', incarnation: 1, meta: empty },
      { name: 'e', address: '10.0.0.5:7946', status: 'dead', incarnation: 1, meta: empty },
    ],
  });
  const { reply, out } = n.receiveStream(C, pp, 1000);
  t.same(events(out), ['suspect:b@1', 'leave:c@1'], 'dead → suspect, left → left, unknown dead ignored');
  t.ok(reply && reply.length > 0, 'answers with its own state');
});

t.test('a name at a new address: conflict unless left or reclaimable', async (t) => {
  const n = mk();
  const moved = { type: 'alive', incarnation: 9, node: 'b', address: '10.9.9.9:7946', meta: empty } as const;
  feed(n, moved);
  t.equal(n.member('b')?.address, B, 'alive member keeps its address');
  t.equal(n.stats().conflicts, 1);
  feed(n, { type: 'dead', incarnation: 1, node: 'b', from: 'c' }, 1000);
  feed(n, moved, 50_000);
  t.equal(n.member('b')?.address, B, 'reclaim time 0 means never (memberlist)');

  const r = mk({ deadNodeReclaimMs: 5000 });
  feed(r, { type: 'dead', incarnation: 1, node: 'b', from: 'c' }, 1000);
  feed(r, { ...moved, incarnation: 1 }, 3000);
  t.equal(r.member('b')?.address, B, 'not before the reclaim time');
  t.same(events(feed(r, { ...moved, incarnation: 1 }, 6001)), ['join:b@1'], 'reclaimed, even at a lower incarnation');
  t.equal(r.member('b')?.address, moved.address);

  const l = mk();
  feed(l, { type: 'dead', incarnation: 1, node: 'b', from: 'b' });
  t.same(events(feed(l, { ...moved, incarnation: 1 }, 2000)), ['join:b@1'], 'a left name is free at once');
});

t.test('buddy rule: a suspect is told in the ping (Lifeguard on), not without it', async (t) => {
  for (const lifeguard of [true, false]) {
    const n = new SwimNode({
      // minRetransmits at the formula's value (2 at N = 2): the suspect c told us about is then
      // gossiped out of the queue before the probe, so only the buddy notice can ride the ping.
      name: 'a', address: A, random: new SeededRandom(3), config: makeConfig('local', { lifeguard, minRetransmits: 2 }),
      initialMembers: [{ name: 'b', address: B }],
    });
    n.join([], 0);
    feed(n, { type: 'suspect', incarnation: 1, node: 'b', from: 'c' }, 10);
    let sent: PacketMsg[] = [];
    for (let now = 10; now < 3000 && !sent.some((m) => m.type === 'ping'); now = Math.max(now + 1, n.nextDeadline())) {
      sent = sentMessages(n.tick(now));
    }
    const ping = sent.find((m) => m.type === 'ping');
    t.ok(ping, 'b is probed');
    const told = sent.some((m) => m.type === 'suspect' && m.node === 'b');
    t.equal(told, lifeguard, `suspect notice rides the ping: ${lifeguard}`);
  }
});

t.test('graceful leave: left to everyone, no refutation of our own leave', async (t) => {
  const n = mk();
  n.join([], 0);
  const out = n.leave(100);
  t.ok(sentMessages(out).some((m) => m.type === 'dead' && m.node === 'a' && m.from === 'a'), 'leave is pushed at once');
  t.equal(n.member('a')?.status, 'left');
  feed(n, { type: 'suspect', incarnation: 1, node: 'a', from: 'c' });
  feed(n, { type: 'alive', incarnation: 1, node: 'a', address: A, meta: new Uint8Array([1]) });
  t.equal(n.incarnation(), 1, 'no refutation after leaving');
  t.ok(n.hasLeft());
});

t.test('restart: persisted incarnation starts one above', async (t) => {
  const n = new SwimNode({ name: 'a', address: A, random: new SeededRandom(1), persistedIncarnation: 41 });
  t.equal(n.incarnation(), 42);
  t.equal(new SwimNode({ name: 'a', address: A, random: new SeededRandom(1) }).incarnation(), 1);
});

t.test('suspicion timeout against confirmations (memberlist Suspect_Dogpile)', async (t) => {
  // 11 members on LAN: min = 4 × log10(11) × 1 s = 4165 ms, max = 6 × min, K = 2.
  const members = Array.from({ length: 10 }, (_, i) => ({ name: `m${i}`, address: `10.0.1.${i}:7946` }));
  const cases: Array<[string[], number]> = [
    [[], 24_990], // no confirmation: max
    [['m2'], 11_850], // one: max − (max − min) × log 2 / log 3, counted from the start
    [['m2', 'm3'], 4165], // K confirmations: min
    [['m2', 'm3', 'm4'], 4165], // never below min
    [['m1', 'm1', 'm1'], 24_990], // the accuser and duplicates do not count
  ];
  for (const [confirmers, want] of cases) {
    const n = new SwimNode({ name: 'a', address: A, random: new SeededRandom(5), config: makeConfig('lan', { pushPullIntervalMs: 0 }), initialMembers: members });
    n.receivePacket(C, encodeMessage({ type: 'suspect', incarnation: 1, node: 'm0', from: 'm1' }), 0);
    for (const c of confirmers) n.receivePacket(C, encodeMessage({ type: 'suspect', incarnation: 1, node: 'm0', from: c }), 0);
    n.tick(want - 1);
    t.equal(n.member('m0')?.status, 'suspect', `${confirmers.join(',') || 'none'}: still suspect at ${want - 1} ms`);
    n.tick(want);
    t.equal(n.member('m0')?.status, 'dead', `dead at ${want} ms`);
  }
});

t.test('news created here is pushed at once, not at the next gossip tick', async (t) => {
  const n = mk();
  n.join([], 0);
  const out = n.broadcast('k', new Uint8Array([1]), 5);
  const users = sentMessages(out).filter((m) => m.type === 'user');
  t.equal(out.packets.length, 2, 'one packet to each of the two other members (fanout 3)');
  t.equal(users.length, 2);
  const meta = n.setMeta(new Uint8Array([7]), 6);
  t.ok(sentMessages(meta).some((m) => m.type === 'alive' && m.node === 'a' && m.incarnation === 2), 'new metadata goes out at once');
});

t.test('a stale accusation about us is answered to its sender with our current alive', async (t) => {
  const n = mk();
  feed(n, { type: 'suspect', incarnation: 1, node: 'a', from: 'c' }); // refuted: now at 2
  t.equal(n.incarnation(), 2);
  const out = n.receivePacket(B, encodeMessage({ type: 'suspect', incarnation: 1, node: 'a', from: 'c' }), 2000);
  const toB = out.packets.filter((p) => p.to === B).flatMap((p) => decodePacket(p.data, 1400));
  t.ok(toB.some((m) => m.type === 'alive' && m.node === 'a' && m.incarnation === 2), 'b is told our incarnation');
  t.equal(n.incarnation(), 2, 'no new refutation needed');
  t.equal(n.stats().staleAccusationsAnswered, 1);
});

t.test('a suspicion learned from push-pull is not an independent confirmation', async (t) => {
  const members = Array.from({ length: 10 }, (_, i) => ({ name: `m${i}`, address: `10.0.1.${i}:7946` }));
  const n = new SwimNode({ name: 'a', address: A, random: new SeededRandom(5), config: makeConfig('lan', { pushPullIntervalMs: 0 }), initialMembers: members });
  n.join([], 0);
  n.receivePacket(C, encodeMessage({ type: 'suspect', incarnation: 1, node: 'm0', from: 'm1' }), 0);
  const pp = encodeMessage({
    type: 'push-pull', join: false, app: empty, users: [],
    nodes: [{ name: 'm0', address: '10.0.1.0:7946', status: 'suspect', incarnation: 1, meta: empty }],
  });
  n.receiveStream(C, pp, 100);
  t.equal(n.stats().confirmations, 0, 'merging does not confirm');
  n.tick(24_000);
  t.equal(n.member('m0')?.status, 'suspect', 'the timer still runs toward the maximum');
  // A fresh suspicion from a merge is gossiped under our own name: every wire field stays valid.
  const n2 = new SwimNode({ name: 'a', address: A, random: new SeededRandom(5), config: makeConfig('lan'), initialMembers: members });
  n2.join([], 0);
  const { out } = n2.receiveStream(C, pp, 100);
  const sus = sentMessages(out).filter((m) => m.type === 'suspect');
  t.ok(sus.length > 0 && sus.every((m) => m.type === 'suspect' && m.from === 'a'), 'gossiped as ours');
});
