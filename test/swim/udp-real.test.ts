/**
 * The real protocol (SwimNode) on the real runtime, beyond the compliance suite: restart with a
 * persisted incarnation on the same address, hostile bytes against a live node, and the members
 * table of a running node. Local profile, 127.0.0.11..20, ephemeral ports.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { makeConfig } from '../../src/swim/config.ts';
import { encodeFrame, encodeRequest } from '../../src/swim/frame.ts';
import { parseAddress } from '../../src/swim/net-address.ts';
import { SwimNode } from '../../src/swim/protocol.ts';
import { SwimRuntime } from '../../src/swim/runtime.ts';
import type { SwimTransport } from '../../src/swim/transport.ts';
import {
  cryptoRandom,
  FileIncarnationStore,
  formatMembersJson,
  formatMembersTable,
  startSwimNode,
  UdpTransport,
  type SwimNodeOptions,
} from '../../src/swim/udp.ts';
import { waitFor } from '../helpers/wait.ts';

async function start(t: { teardown(fn: () => unknown): void }, opts: Partial<SwimNodeOptions> & { name: string; host: string }): Promise<SwimRuntime> {
  const rt = await startSwimNode({ port: 0, profile: 'local', leaveLingerMs: 300, ...opts });
  t.teardown(() => rt.close());
  return rt;
}

const alive = (rt: SwimRuntime, name: string): boolean => rt.members().some((m) => m.name === name && m.status === 'alive');

t.test('restart on the same address with a persisted incarnation: never dead, back at once', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swim-restart-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const statePath = path.join(dir, 'c.json');
  const a = await start(t, { name: 'a', host: '127.0.0.11' });
  const b = await start(t, { name: 'b', host: '127.0.0.12', seeds: [a.address] });
  let c = await start(t, { name: 'c', host: '127.0.0.13', seeds: [a.address], statePath, meta: new TextEncoder().encode('v1') });
  const deaths: string[] = [];
  for (const rt of [a, b]) rt.on('dead', (m) => deaths.push(`${rt.name} saw ${m.name} dead`));
  await waitFor(() => [a, b, c].every((x) => ['a', 'b', 'c'].every((n) => alive(x, n))), 'convergence', 15_000);
  const before = b.members().find((m) => m.name === 'c')?.incarnation ?? 0;
  t.equal(new FileIncarnationStore(statePath).load(), c.machine.incarnation(), 'state file holds the current incarnation');
  const { port } = parseAddress(c.address);
  await c.close(); // a crash: no leave
  c = await start(t, { name: 'c', host: '127.0.0.13', port, seeds: [a.address], statePath, meta: new TextEncoder().encode('v2') });
  t.ok(c.machine.incarnation() > before, 'restarted above the incarnation peers hold');
  const restarted = performance.now();
  await waitFor(
    () =>
      [a, b].every((x) => {
        const m = x.members().find((y) => y.name === 'c');
        return m?.status === 'alive' && new TextDecoder().decode(m.meta) === 'v2';
      }),
    'the new run of c (new metadata) at every peer',
    4_500,
  );
  t.comment(`restarted node seen with its new metadata everywhere after ${Math.round(performance.now() - restarted)} ms`);
  t.same(deaths, [], 'no peer ever declared it dead');
});

t.test('hostile bytes against a live node are dropped; the cluster carries on', async (t) => {
  const a = await start(t, { name: 'a', host: '127.0.0.14' });
  const b = await start(t, { name: 'b', host: '127.0.0.15', seeds: [a.address] });
  await waitFor(() => alive(a, 'b') && alive(b, 'a'), 'join', 10_000);
  const warnings: string[] = [];
  a.on('warning', (w) => warnings.push(`${w.kind}:${w.code}`));
  const { host, port } = parseAddress(a.address);
  const s = dgram.createSocket('udp4');
  t.teardown(() => s.close());
  await new Promise<void>((r) => s.bind(0, '127.0.0.16', r));
  const junk = [
    Buffer.from([]),
    Buffer.from([0xff]),
    Buffer.from([10, 255, 0, 0]), // a compound header claiming 255 parts
    Buffer.from([1, 0xc1, 0xc1, 0xc1]),
    Buffer.alloc(1400, 0xa5),
    Buffer.from('GET / HTTP/1.1\r\n\r\n'),
  ];
  for (const j of junk) s.send(j, port, host);
  await waitFor(() => a.counters.inputsDropped >= 4, 'junk datagrams dropped', 5_000);
  await new Promise<void>((resolve) => {
    // A well-formed request (sender address, then bytes) whose body the protocol rejects.
    const request = encodeFrame(encodeRequest('127.0.0.16:9', new Uint8Array([0xc1, 0xc1, 0xc1, 0xc1])), 1024);
    const c = net.connect({ host, port }, () => c.write(request));
    c.on('error', () => resolve());
    c.on('close', () => resolve());
    c.resume();
  });
  await waitFor(() => a.counters.inputsDropped >= 5, 'junk stream dropped', 5_000);
  t.ok(warnings.some((w) => w.startsWith('receive:')), 'reported as warnings');
  const got: string[] = [];
  b.on('user', (p) => got.push(new TextDecoder().decode(p)));
  a.broadcast('k', new TextEncoder().encode('still fine'));
  await waitFor(() => got.includes('still fine'), 'a broadcast after the junk', 10_000);
  t.ok(alive(b, 'a') && alive(a, 'b'));
});

t.test('members table of a running node', async (t) => {
  const a = await start(t, { name: 'alpha', host: '127.0.0.17' });
  const b = await start(t, { name: 'beta', host: '127.0.0.18', seeds: [a.address] });
  await waitFor(() => alive(a, 'beta') && alive(b, 'alpha'), 'join', 10_000);
  const table = formatMembersTable(a.members(), { now: a.now() });
  const lines = table.trimEnd().split('\n');
  t.equal(lines.length, 3);
  t.match(lines[0], /^NAME\s+ADDRESS\s+STATUS\s+INCARNATION\s+LAST CHANGE$/);
  t.match(lines[1], new RegExp(`^alpha\\s+${a.address.replace(/\./g, '\\.')}\\s+alive\\s+\\d+\\s+\\d+s$`));
  t.match(lines[2], /^beta\s+127\.0\.0\.18:\d+\s+alive/);
  const json = JSON.parse(formatMembersJson(b.members(), { now: b.now(), wallNow: Date.now() })) as Array<{ name: string; status: string }>;
  t.same(
    json.map((m) => [m.name, m.status]),
    [
      ['alpha', 'alive'],
      ['beta', 'alive'],
    ],
  );
  await b.close({ leave: true });
  await waitFor(() => a.members().find((m) => m.name === 'beta')?.status === 'left', 'left', 10_000);
  t.match(formatMembersTable(a.members(), { now: a.now() }), /beta\s+127\.0\.0\.18:\d+\s+left/);
});

/** A transport that silently loses every datagram to and from `blocked` (a UDP-only firewall). */
function udpBlocked(inner: UdpTransport, blocked: () => string | null): SwimTransport {
  return {
    get address() {
      return inner.address;
    },
    attach(h) {
      inner.attach({ ...h, packet: (from, data) => (from === blocked() ? undefined : h.packet(from, data)) });
    },
    sendPacket(to, data) {
      if (to !== blocked()) inner.sendPacket(to, data);
    },
    openStream: (to, data, timeoutMs, done) => inner.openStream(to, data, timeoutMs, done),
    close: () => inner.close(),
  };
}

t.test('UDP blocked between two nodes: the TCP fallback ping keeps them alive', async (t) => {
  const config = makeConfig('local');
  const make = async (name: string, host: string, other: () => string | null): Promise<{ rt: SwimRuntime; node: SwimNode }> => {
    const inner = await UdpTransport.bind({ host, port: 0, inboundStreamTimeoutMs: config.tcpTimeoutMs });
    const node = new SwimNode({ name, address: inner.address, random: cryptoRandom(), config });
    const rt = new SwimRuntime({ machine: node, transport: udpBlocked(inner, other) });
    t.teardown(() => rt.close());
    return { rt, node };
  };
  let bAddr: string | null = null;
  let aAddr: string | null = null;
  const a = await make('a', '127.0.0.19', () => bAddr);
  const b = await make('b', '127.0.0.20', () => aAddr);
  aAddr = a.rt.address;
  bAddr = b.rt.address;
  const suspicions: string[] = [];
  a.rt.on('suspect', (m) => suspicions.push(m.name));
  b.rt.on('suspect', (m) => suspicions.push(m.name));
  a.rt.join([]);
  b.rt.join([a.rt.address]); // the join is a push-pull over TCP, so it works
  await waitFor(() => alive(a.rt, 'b') && alive(b.rt, 'a'), 'join over TCP', 10_000);
  await waitFor(() => a.node.stats().tcpFallbackSuccesses >= 3 && b.node.stats().tcpFallbackSuccesses >= 3, 'three TCP fallback probes each', 15_000);
  t.same(suspicions, [], 'nobody suspected');
  t.ok(alive(a.rt, 'b') && alive(b.rt, 'a'));
});
