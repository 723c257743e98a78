import t from 'tap';
import {
  MAX_COMPOUND_PARTS, decodePacket, decodeStream, encodeCompound, encodeMessage,
} from '../../src/swim/codec.ts';
import type { Message } from '../../src/swim/codec.ts';
import { isSwimError } from '../../src/swim/errors.ts';
import { SwimNode } from '../../src/swim/protocol.ts';
import { makeConfig } from '../../src/swim/config.ts';
import { SeededRandom } from '../../src/swim/sim/random.ts';
import { localSim, joinCluster, testSeed, throwsCode } from '../helpers/swim-sim.ts';

const meta = new Uint8Array([1, 2, 3]);
const samples: Message[] = [
  { type: 'ping', seq: 7, node: 'b', from: 'a', fromAddr: '10.0.0.1:7946' },
  { type: 'indirect-ping', seq: 0xffffffff, target: 'c', targetAddr: '10.0.0.3:7946', nack: true, from: 'a', fromAddr: '10.0.0.1:7946' },
  { type: 'ack', seq: 1 },
  { type: 'nack', seq: 2 },
  { type: 'suspect', incarnation: 3, node: 'c', from: 'a' },
  { type: 'alive', incarnation: 4, node: 'c', address: '10.0.0.3:7946', meta },
  { type: 'dead', incarnation: 5, node: 'c', from: 'c' },
  { type: 'user', origin: 'a', key: '', epoch: 1, version: 9, payload: new Uint8Array(100).fill(7) },
];

t.test('every message round-trips, alone and in a compound', async (t) => {
  for (const m of samples) {
    const enc = encodeMessage(m);
    t.same(decodePacket(enc, 1400), [m], m.type);
  }
  const compound = encodeCompound(samples.map(encodeMessage));
  t.same(decodePacket(compound, 1400), samples);
  const pp: Message = {
    type: 'push-pull', join: true,
    nodes: [{ name: 'a', address: '10.0.0.1:7946', status: 'suspect', incarnation: 2, meta }],
    app: new Uint8Array([9]),
    users: [{ type: 'user', origin: 'b', key: 'head', epoch: 2, version: 3, payload: new Uint8Array([4]) }],
  };
  t.same(decodeStream(encodeMessage(pp), 1 << 20), pp);
  t.same(decodeStream(encodeMessage(samples[0] as Message), 1 << 20), samples[0]);
});

t.test('alive is compact: positional fields, not field names', async (t) => {
  const enc = encodeMessage({ type: 'alive', incarnation: 1, node: 'node-1', address: '10.0.0.1:7946', meta: new Uint8Array(0) });
  t.ok(enc.length < 30, `alive for a short name is ${enc.length} bytes`);
});

t.test('limits: packet size, compound parts, push-pull only on streams', async (t) => {
  throwsCode(t, () => decodePacket(new Uint8Array(1401), 1400), 'TOO_LARGE');
  throwsCode(t, () => encodeCompound(Array.from({ length: MAX_COMPOUND_PARTS + 1 }, () => encodeMessage({ type: 'ack', seq: 1 }))), 'TOO_LARGE');
  const pp = encodeMessage({ type: 'push-pull', join: false, nodes: [], app: new Uint8Array(0), users: [] });
  throwsCode(t, () => decodePacket(pp, 1400), 'MALFORMED');
  throwsCode(t, () => decodeStream(encodeMessage({ type: 'suspect', incarnation: 1, node: 'x', from: 'y' }), 1 << 20), 'MALFORMED');
  throwsCode(t, () => decodeStream(pp, 3), 'TOO_LARGE');
  throwsCode(t, () => decodePacket(encodeCompound([encodeCompound([pp.subarray(0, 0)])]), 1400), 'MALFORMED');
  throwsCode(t, () => decodePacket(encodeMessage({ type: 'alive', incarnation: 1, node: 'x'.repeat(256), address: 'a', meta }), 1400), 'TOO_LARGE');
  throwsCode(t, () => decodePacket(encodeMessage({ type: 'alive', incarnation: 1, node: 'x', address: 'a', meta: new Uint8Array(1025) }), 2000), 'TOO_LARGE');
  throwsCode(t, () => decodePacket(encodeMessage({ type: 'ack', seq: -1 }), 1400), 'MALFORMED');
  throwsCode(t, () => decodePacket(encodeMessage({ type: 'ack', seq: 2 ** 32 }), 1400), 'MALFORMED');
  throwsCode(t, () => decodePacket(new Uint8Array([3, 0x91, 0x01, 0x00]), 1400), 'MALFORMED', 'trailing bytes');
  throwsCode(t, () => decodePacket(new Uint8Array([99, 0x90]), 1400), 'MALFORMED', 'unknown type');
  throwsCode(t, () => decodePacket(new Uint8Array([10, 2, 0, 3]), 1400), 'MALFORMED', 'truncated compound');
});

t.test('API limits: payload, meta, key, after leave', async (t) => {
  const n = new SwimNode({ name: 'a', address: '10.0.0.1:7946', random: new SeededRandom(1), config: makeConfig('local') });
  throwsCode(t, () => n.broadcast('k', new Uint8Array(1025), 0), 'TOO_LARGE');
  throwsCode(t, () => n.broadcast('k'.repeat(300), new Uint8Array(1), 0), 'BAD_ARGUMENT');
  throwsCode(t, () => n.setMeta(new Uint8Array(513), 0), 'TOO_LARGE');
  throwsCode(t, () => new SwimNode({ name: '', address: 'x', random: new SeededRandom(1) }), 'BAD_ARGUMENT');
  throwsCode(t, () => new SwimNode({ name: 'b', address: 'x', random: new SeededRandom(1), meta: new Uint8Array(600) }), 'TOO_LARGE');
  t.ok(n.broadcast('k', new Uint8Array(1024), 0).packets.length >= 0, 'the limit itself is fine');
  n.leave(0);
  throwsCode(t, () => n.broadcast('k', new Uint8Array(1), 0), 'LEFT');
});

t.test('no datagram over 1,400 bytes under load (512-byte metadata, max-size broadcasts)', async (t) => {
  const seed = testSeed(t, 11);
  const sim = localSim(seed);
  const names = joinCluster(sim, 20);
  sim.runFor(3000);
  for (const n of names) sim.setMeta(n, new Uint8Array(512).fill(1));
  for (let i = 0; i < 40; i++) sim.broadcast(names[i % names.length] as string, `k${i}`, new Uint8Array(1024).fill(i));
  sim.runFor(20000);
  let max = 0;
  for (const n of names) max = Math.max(max, sim.counters(n).maxPacketBytes);
  t.ok(max <= 1400, `largest datagram ${max} bytes`);
  t.ok(max > 1000, 'packets are actually filled');
  t.ok(names.every((n) => sim.counters(n).malformed === 0), 'no node rejected anything');
});

t.test('fuzz: garbage and mutated packets throw only SwimError and leave state untouched', async (t) => {
  const seed = testSeed(t, 12345);
  const rng = new SeededRandom(seed);
  const node = new SwimNode({
    name: 'a', address: '10.0.0.1:7946', random: new SeededRandom(seed + 1), config: makeConfig('local'),
    initialMembers: [{ name: 'b', address: '10.0.0.2:7946' }, { name: 'c', address: '10.0.0.3:7946' }],
  });
  node.join([], 0);
  const snapshot = (): string => JSON.stringify({ m: node.members(), q: node.queueLength(), d: node.nextDeadline(), s: node.stats(), i: node.incarnation() });
  const pushPull = encodeMessage({
    type: 'push-pull', join: false, app: new Uint8Array([1, 2]),
    nodes: [{ name: 'b', address: '10.0.0.2:7946', status: 'alive', incarnation: 3, meta }],
    users: [{ type: 'user', origin: 'c', key: 'k', epoch: 1, version: 1, payload: new Uint8Array([5]) }],
  });
  const valid = samples.map(encodeMessage).concat([encodeCompound(samples.map(encodeMessage)), pushPull]);
  let rejected = 0;
  for (let i = 0; i < 20000; i++) {
    let data: Uint8Array;
    const mode = i % 4;
    const base = valid[rng.int(valid.length)] as Uint8Array;
    if (mode === 0) {
      data = new Uint8Array(rng.int(64));
      for (let j = 0; j < data.length; j++) data[j] = rng.int(256);
    } else if (mode === 1) {
      data = base.subarray(0, rng.int(base.length)); // truncated
    } else {
      data = new Uint8Array(base);
      const flips = 1 + rng.int(3);
      for (let j = 0; j < flips; j++) data[rng.int(data.length)] = rng.int(256);
    }
    const before = snapshot();
    try {
      node.receivePacket('10.0.0.9:7946', data, 1);
      // Packets that still decode may legitimately change state; only rejected ones must not.
    } catch (e) {
      if (!isSwimError(e)) {
        t.fail(`non-SwimError for ${Buffer.from(data).toString('hex')}: ${String(e)}`);
        return;
      }
      rejected++;
      if (snapshot() !== before) {
        t.fail(`state changed by a rejected packet ${Buffer.from(data).toString('hex')}`);
        return;
      }
    }
    const beforeStream = snapshot();
    try {
      node.receiveStream('10.0.0.9:7946', data, 1);
    } catch (e) {
      if (!isSwimError(e) || snapshot() !== beforeStream) {
        t.fail(`stream input ${Buffer.from(data).toString('hex')}: ${String(e)}`);
        return;
      }
    }
    const beforeReply = snapshot();
    try {
      node.receiveStreamReply(1 + rng.int(3), data, 1);
    } catch (e) {
      if (!isSwimError(e) || snapshot() !== beforeReply) {
        t.fail(`stream reply ${Buffer.from(data).toString('hex')}: ${String(e)}`);
        return;
      }
    }
  }
  t.ok(rejected > 10000, `${rejected} of 20000 rejected, all with SwimError, state untouched`);
});
