/**
 * The real runtime's plumbing over real sockets on 127.0.0.11..20, driven by a fake state
 * machine (test/helpers/fake-machine.ts) so these tests do not depend on the protocol.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { WARNINGS_PER_SECOND, type RuntimeWarning, type SwimRuntime } from '../../src/swim/runtime.ts';
import { FileIncarnationStore, MemoryIncarnationStore, startSwimNode, UdpTransport, type MachineContext } from '../../src/swim/udp.ts';
import { parseAddress } from '../../src/swim/net-address.ts';
import { FakeMachine } from '../helpers/fake-machine.ts';
import { waitFor } from '../helpers/wait.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

function fake(ctx: MachineContext): FakeMachine {
  return new FakeMachine({
    name: ctx.name,
    address: ctx.address,
    incarnation: ctx.persistedIncarnation === null ? 1 : ctx.persistedIncarnation + 1,
    meta: ctx.meta,
    heartbeatMs: 50,
  });
}

async function node(
  t: { teardown(fn: () => unknown): void },
  name: string,
  host: string,
  seeds: string[] = [],
  extra: Partial<Parameters<typeof startSwimNode>[0]> & { onContext?: (ctx: MachineContext) => void } = {},
): Promise<{ rt: SwimRuntime; m: FakeMachine; warnings: RuntimeWarning[]; users: string[] }> {
  let m: FakeMachine | undefined;
  const { onContext, ...rest } = extra;
  const rt = await startSwimNode({
    name,
    host,
    port: 0,
    seeds,
    leaveLingerMs: 100,
    createMachine: (ctx) => {
      onContext?.(ctx);
      return (m = fake(ctx));
    },
    ...rest,
  });
  const warnings: RuntimeWarning[] = [];
  const users: string[] = [];
  rt.on('warning', (w) => warnings.push(w));
  rt.on('user', (p, from) => users.push(`${from}:${dec.decode(p)}`));
  t.teardown(() => rt.close());
  if (!m) throw new Error('no machine');
  return { rt, m, warnings, users };
}


t.test('bind: port 0 gives one port for UDP and TCP; conflicts and bad hosts are refused', async (t) => {
  const tr = await UdpTransport.bind({ host: '127.0.0.11', port: 0 });
  t.teardown(() => tr.close());
  t.ok(tr.port > 0);
  t.equal(tr.address, `127.0.0.11:${tr.port}`);
  await t.rejects(UdpTransport.bind({ host: '127.0.0.11', port: tr.port }), { code: 'EADDRINUSE' });
  await t.rejects(UdpTransport.bind({ host: 'localhost', port: 0 }), { code: 'BAD_ARGUMENT' });
  await t.rejects(UdpTransport.bind({ host: '127.0.0.11', port: 70000 }), { code: 'BAD_ARGUMENT' });
  await t.rejects(UdpTransport.bind({ host: '0.0.0.0', port: 0 }), { code: 'BAD_ARGUMENT' }, 'unspecified needs an advertise address (refused before binding)');
  await t.rejects(UdpTransport.bind({ host: '127.0.0.11', advertiseHost: 'x', port: 0 }), { code: 'BAD_ARGUMENT' });
  const adv = await UdpTransport.bind({ host: '127.0.0.11', advertiseHost: '127.0.0.19', port: 0 });
  t.equal(adv.address, `127.0.0.19:${adv.port}`, 'advertises the given address');
  await adv.close();
  // The UDP side really is on the same port: a datagram reaches the handler.
  const got: string[] = [];
  tr.attach({ packet: (from, d) => got.push(`${from} ${dec.decode(d)}`), stream: (_f, _d, r) => r(null), warning: () => {} });
  const s = dgram.createSocket('udp4');
  t.teardown(() => s.close());
  await new Promise<void>((r) => s.bind(0, '127.0.0.12', r));
  s.send('hi', tr.port, '127.0.0.11');
  await waitFor(() => got.length === 1, 'datagram');
  t.match(got[0], /^127\.0\.0\.12:\d+ hi$/);
  // A stream request carries the opener's advertised address; that, not the ephemeral TCP source
  // port, is what the acceptor's handler sees.
  const other = await UdpTransport.bind({ host: '127.0.0.13', advertiseHost: '127.0.0.14', port: 0 });
  const seen: string[] = [];
  tr.attach({ packet: () => {}, stream: (from, d, respond) => (seen.push(`${from} ${dec.decode(d)}`), respond(enc.encode('pong'))), warning: () => {} });
  const reply = await new Promise<Uint8Array | null>((r) => other.openStream(tr.address, enc.encode('ping'), 2000, r));
  await other.close();
  t.equal(dec.decode(reply ?? new Uint8Array()), 'pong');
  t.same(seen, [`127.0.0.14:${other.port} ping`]);
  await tr.close();
  await tr.close(); // idempotent
  tr.sendPacket('127.0.0.12:9', enc.encode('after close')); // ignored, no throw
});

t.test('three nodes join, broadcast, heartbeat timers, leave', async (t) => {
  const a = await node(t, 'a', '127.0.0.11');
  const b = await node(t, 'b', '127.0.0.12', [a.rt.address]);
  const c = await node(t, 'c', '127.0.0.13', [a.rt.address, b.rt.address]);
  await waitFor(() => [a, b, c].every((n) => n.rt.members().length === 3), 'full membership');
  t.equal(a.rt.name, 'a');
  const joins: string[] = [];
  c.rt.on('join', (m) => joins.push(m.name));
  a.rt.broadcast('k', enc.encode('hello'));
  await waitFor(() => b.users.length === 1 && c.users.length === 1, 'broadcast');
  t.same(b.users, ['a:hello']);
  await waitFor(() => a.m.ticks >= 3, 'heartbeats from the timer');
  const left: string[] = [];
  b.rt.on('leave', (m) => left.push(m.name));
  await c.rt.close({ leave: true });
  t.ok(c.rt.closed);
  await waitFor(() => left.includes('c'), 'leave seen');
  t.throws(() => c.rt.broadcast('k', enc.encode('x')), { code: 'LEFT' });
  t.same(a.warnings.filter((w) => w.kind !== 'send'), []);
});

t.test('streams: reply, no reply, refused, silent peer, rejected request', async (t) => {
  const a = await node(t, 'a', '127.0.0.14');
  const b = await node(t, 'b', '127.0.0.15');
  const open = (to: string, body: string): void => a.rt.broadcast(`stream:${to}`, enc.encode(body));
  open(b.rt.address, 'abc');
  await waitFor(() => a.m.replies.has(1), 'reply');
  t.equal(dec.decode(a.m.replies.get(1) ?? new Uint8Array()), 'cba');
  open(b.rt.address, 'null');
  await waitFor(() => a.m.replies.has(2), 'no reply');
  t.equal(a.m.replies.get(2), null);
  open(b.rt.address, 'throw');
  await waitFor(() => a.m.replies.has(3), 'rejected');
  t.equal(a.m.replies.get(3), null);
  t.equal(b.rt.counters.inputsDropped, 1);
  t.match(b.warnings, [{ kind: 'receive', code: 'MALFORMED' }]);
  // Nobody listening: refused.
  const free = await UdpTransport.bind({ host: '127.0.0.16', port: 0 });
  const freeAddr = free.address;
  await free.close();
  open(freeAddr, 'x');
  await waitFor(() => a.m.replies.has(4), 'refused');
  t.equal(a.m.replies.get(4), null);
  // A peer that accepts and never answers: the 500 ms timeout of the fake machine.
  const silent = net.createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, '127.0.0.16', r));
  t.teardown(() => silent.close());
  const started = performance.now();
  open(`127.0.0.16:${(silent.address() as net.AddressInfo).port}`, 'x');
  await waitFor(() => a.m.replies.has(5), 'timeout');
  t.equal(a.m.replies.get(5), null);
  t.ok(performance.now() - started >= 450, 'waited for the timeout');
  t.ok(a.warnings.some((w) => w.kind === 'stream-out' && w.code === 'TIMEOUT'));
  t.ok(a.warnings.some((w) => w.kind === 'stream-out' && w.code === 'ECONNREFUSED'));
  // An address the machine gives that cannot be parsed: reported, not thrown.
  open('nonsense', 'x');
  await waitFor(() => a.m.replies.has(6), 'bad address');
  t.equal(a.m.replies.get(6), null);
});

t.test('hostile input is dropped and the node keeps working', async (t) => {
  const a = await node(t, 'a', '127.0.0.17', [], { maxStreamBytes: 1024, maxInboundStreams: 2, inboundStreamTimeoutMs: 300 });
  const b = await node(t, 'b', '127.0.0.18', [a.rt.address]);
  await waitFor(() => a.rt.members().length === 2, 'join');
  const { host, port } = parseAddress(a.rt.address);
  // Garbage datagrams, including an empty one.
  const s = dgram.createSocket('udp4');
  t.teardown(() => s.close());
  await new Promise<void>((r) => s.bind(0, '127.0.0.19', r));
  for (const g of ['', '{', 'null', '{"t":"nope"}', '\u0000\u0001\u0002']) s.send(Buffer.from(g), port, host);
  await waitFor(() => a.rt.counters.inputsDropped >= 4, 'garbage dropped');
  // Garbage on TCP: an HTTP request (oversized length), a frame cut short, trailing bytes.
  const tcp = (bytes: Uint8Array, endIt: boolean): Promise<void> =>
    new Promise((resolve) => {
      const c = net.connect({ host, port }, () => {
        c.write(bytes);
        if (endIt) c.end();
      });
      c.on('error', () => resolve());
      c.on('close', () => resolve());
      c.resume();
    });
  await tcp(enc.encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), false);
  await tcp(new Uint8Array([0, 0, 0, 10, 1, 2]), true);
  await tcp(new Uint8Array([0, 0, 0, 1, 65, 66]), false);
  // A client that sends nothing is cut off by the inbound timeout.
  await tcp(new Uint8Array(0), false);
  t.ok(a.warnings.some((w) => w.kind === 'stream-in' && w.code === 'TOO_LARGE'));
  t.ok(a.warnings.some((w) => w.kind === 'stream-in' && w.code === 'MALFORMED'));
  t.ok(a.warnings.some((w) => w.kind === 'stream-in' && w.code === 'TIMEOUT'));
  // More concurrent streams than allowed: the extra one is refused at once.
  const holders: net.Socket[] = [];
  for (let i = 0; i < 3; i++) {
    const c = net.connect({ host, port });
    c.on('error', () => {});
    holders.push(c);
  }
  t.teardown(() => holders.forEach((c) => c.destroy()));
  const ut = a.rt.transport as UdpTransport;
  await waitFor(() => ut.stats.streamsRejected >= 1, 'stream limit');
  t.ok(a.warnings.some((w) => w.kind === 'stream-in' && w.code === 'BUSY'));
  // Sending to nowhere does not crash: a port with nobody, an unroutable one.
  a.rt.broadcast('k', enc.encode('still alive'));
  await waitFor(() => b.users.includes('a:still alive'), 'broadcast after the abuse');
  ut.sendPacket('127.0.0.19:1', enc.encode('x'));
  ut.sendPacket('127.0.0.19:0', enc.encode('x'));
  ut.sendPacket('127.0.0.19:1', new Uint8Array(70_000));
  t.ok(ut.stats.sendErrors >= 2);
  t.ok(ut.stats.packetsReceived > 0 && ut.stats.bytesSent > 0);
});

t.test('incarnation persistence: saved on change, restored above the saved value', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swim-inc-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const statePath = path.join(dir, 'swim.json');
  const seen: (number | null)[] = [];
  const start = (): ReturnType<typeof node> =>
    node(t, 'p', '127.0.0.20', [], {
      statePath,
      onContext: (ctx) => seen.push(ctx.persistedIncarnation),
    });
  const first = await start();
  t.equal(seen[0], null, 'no state at first start');
  t.equal(new FileIncarnationStore(statePath).load(), 1, 'the starting incarnation is saved');
  first.rt.setMeta(enc.encode('m1'));
  first.rt.setMeta(enc.encode('m2'));
  t.equal(first.m.incarnation(), 3);
  t.equal(new FileIncarnationStore(statePath).load(), 3);
  t.same(fs.readdirSync(dir), ['swim.json'], 'no temporary files left');
  await first.rt.close();
  const second = await start();
  t.equal(seen[1], 3, 'the saved incarnation is handed to the machine');
  t.equal(new FileIncarnationStore(statePath).load(), 4, 'which starts one above it, saved at once');
  await second.rt.close();
  fs.writeFileSync(statePath, 'garbage');
  await t.rejects(start(), { code: 'MALFORMED' });
  fs.writeFileSync(statePath, '{"incarnation": -1}');
  await t.rejects(start(), { code: 'MALFORMED' });
  t.equal(seen.length, 2, 'no machine built, no socket bound, on a corrupt file');
});

t.test('a failing store is reported and retried, not thrown', async (t) => {
  let fail = true;
  const store = new MemoryIncarnationStore(null);
  const flaky = {
    load: () => store.load(),
    save: (n: number) => {
      if (fail) throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
      store.save(n);
    },
  };
  const a = await node(t, 'a', '127.0.0.11', [], { store: flaky });
  t.equal(a.rt.counters.saveErrors, 1, 'the save at join failed');
  a.rt.setMeta(enc.encode('x'));
  t.equal(a.rt.counters.saveErrors, 1, 'not retried within a second');
  t.equal(store.value, null);
  fail = false;
  await new Promise((r) => setTimeout(r, 1100));
  a.rt.setMeta(enc.encode('y'));
  t.equal(store.value, 3, 'saved once the disk is back');
  t.ok(a.rt.counters.saves >= 1, 'retried by a later dispatch or by setMeta');
});

t.test('a garbage flood is dropped and its warnings are capped', async (t) => {
  const a = await node(t, 'a', '127.0.0.12');
  const { host, port } = parseAddress(a.rt.address);
  const s = dgram.createSocket('udp4');
  t.teardown(() => s.close());
  await new Promise<void>((r) => s.bind(0, '127.0.0.13', r));
  for (let i = 0; i < 200; i++) s.send(Buffer.from(`junk ${i}`), port, host);
  await waitFor(() => a.rt.counters.inputsDropped + a.rt.counters.warningsSuppressed >= 150, 'the flood handled', 10_000);
  t.ok(a.rt.counters.warningsSuppressed > 0, 'some warnings only counted');
  t.ok(a.warnings.length <= 2 * WARNINGS_PER_SECOND, `at most ${WARNINGS_PER_SECOND} a second reach the listener`);
  a.rt.broadcast('k', enc.encode('x')); // still serving the application
});
