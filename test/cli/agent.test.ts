/**
 * The node as an agent (127.0.0.66..67, this file's addresses only): `run` goes to the background
 * and answers once ready; `serf` members/stats/join/force-leave/monitor/leave and `resources` talk
 * to it over the control socket; what the agent does not serve is refused in one line.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { fsDir } from '../../src/core/home.ts';
import { streamFromNode } from '../../src/cli/control.ts';
import { killAll, NO_LOADER, poll, readIfExists, startBasefs, type Proc } from '../helpers/cli-procs.ts';
import { envFor, isOneLineError, run } from './harness.ts';

const PORT = 17701;


t.test('background node, serf commands and resources', { skip: NO_LOADER, timeout: 180_000 }, async (t) => {
  const h1 = mkdtempSync(join(tmpdir(), 'bfs-'));
  const h2 = mkdtempSync(join(tmpdir(), 'bfs-'));
  const procs: Proc[] = [];
  let bgPid = 0;
  t.teardown(async () => {
    if (bgPid > 0)
      try {
        process.kill(bgPid, 'SIGKILL');
      } catch {
        // already gone
      }
    await killAll(procs);
    rmSync(h1, { recursive: true, force: true });
    rmSync(h2, { recursive: true, force: true });
  });
  const env1 = envFor(h1);
  t.equal((await run(['genkey'], env1)).code, 0);
  t.equal((await run(['bootstrap', 'demo', '-i', `127.0.0.66:${PORT}`, '-p', String(PORT)], env1)).code, 0);

  const started = await run(['run', 'demo', '-b', `127.0.0.66:${PORT}`, '-H', 'a1', '--profile', 'local'], env1);
  t.equal(started.code, 0, started.stderr);
  const m = /pid (\d+)\); log: (\S+);/.exec(started.stdout);
  t.ok(m, started.stdout);
  bgPid = Number(m?.[1]);
  t.equal(m?.[2], join(fsDir(h1, 'demo'), 'node.log'));
  const twice = await run(['run', 'demo', '-b', `127.0.0.66:${PORT}`], env1);
  t.equal(twice.error, 'LOCKED', 'a second node is refused before going to the background');
  t.ok(isOneLineError(twice.stderr));

  // A second node, in the foreground, from a `get`.
  t.equal((await run(['get', 'demo', `127.0.0.66:${PORT}`], envFor(h2))).code, 0);
  const a2 = startBasefs(['run', 'demo', '-f', '-b', `127.0.0.67:${PORT}`, '-H', 'a2', '--profile', 'local'], h2);
  procs.push(a2);
  const members = async () => {
    const r = await run(['serf', 'demo', 'members', '-format', 'json'], env1);
    return r.code === 0 ? (JSON.parse(r.stdout) as { members: Array<{ name: string; addr: string; status: string; tags: Record<string, string> }> }).members : undefined;
  };
  await poll(async () => ((await members())?.filter((x) => x.status === 'alive').length === 2 ? true : undefined), 'a2 joins a1');
  const text = await run(['serf', 'demo', 'members'], env1);
  t.match(text.stdout, /^a1\s+127\.0\.0\.66:17701\s+alive\s+root=[0-9a-f]{16},fs=[0-9a-f]{16},sync=17702$/m);
  t.match(text.stdout, /^a2\s+127\.0\.0\.67:17701\s+alive/m);

  // A monitor sees what the node logs.
  const seen: string[] = [];
  const mon = streamFromNode(join(fsDir(h1, 'demo'), 'node.sock'), { cmd: 'monitor' }, (l) => seen.push(String(l['event'])));

  const stats = await run(['serf', 'demo', 'stats', '-format', 'json'], env1);
  t.equal(stats.code, 0, stats.stderr);
  t.match(JSON.parse(stats.stdout), { fs: 'demo', node: 'a1', alive: 2, process: { rssBytes: Number }, transport: { packetsSent: Number } });
  t.match((await run(['serf', 'demo', 'info'], env1)).stdout, /^agent:\n\tfs = demo\n/);

  const res = await run(['resources', 'demo', '-n', '2', '-i', '200', '--json'], env1);
  t.equal(res.code, 0, res.stderr);
  const samples = res.stdout.trim().split('\n').map((l) => JSON.parse(l) as { rssMiB: number; aliveMembers: number; udpBytesOutPerSec: number });
  t.equal(samples.length, 2);
  t.ok(samples.every((s) => s.rssMiB > 10 && s.aliveMembers === 2), 'memory and members reported');
  const table = await run(['resources', 'demo'], env1);
  t.match(table.stdout, /cpu\s+[\d.]+ %\n\s+memory\s+[\d.]+ MiB resident/);
  const logLines = await run(['resources', 'demo', '-l', '-n', '1'], env1);
  t.match(logLines.stdout, /^\d{4}-\d\d-\d\dT[^:]+:[^:]+:[\d.]+Z?:/);

  // force-leave: refused for an alive member; a killed one goes from dead to left.
  const alive = await run(['serf', 'demo', 'force-leave', 'a2'], env1);
  t.equal(alive.code, 1);
  t.match(alive.stderr, /'a2' is alive: only a failed member can be forced to leave/);
  a2.child.kill('SIGKILL');
  await poll(async () => ((await members())?.find((x) => x.name === 'a2')?.status === 'dead' ? true : undefined), 'a2 dead', 60_000);
  t.equal((await run(['serf', 'demo', 'force-leave', 'a2'], env1)).code, 0);
  t.equal((await members())?.find((x) => x.name === 'a2')?.status, 'left');
  // And a join brings it back once it runs again.
  const events = join(h2, 'events');
  const a2b = startBasefs(['run', 'demo', '-f', '-b', `127.0.0.67:${PORT}`, '-H', 'a2', '--profile', 'local', '-w', `echo "$BASEFS_EVENT_TYPE $BASEFS_EVENT_NAME $(cat)" >> ${events}`], h2);
  procs.push(a2b);
  await poll(async () => ((await members())?.find((x) => x.name === 'a2')?.status === 'alive' ? true : undefined), 'a2 back', 60_000);

  // A user event, signed by a1's key (the root key), reaches a2's watcher with its payload on stdin.
  const ev = await run(['serf', 'demo', 'event', 'deploy', 'v2'], env1);
  t.equal(ev.code, 0, ev.stderr);
  t.equal(ev.stdout, "Event 'deploy' dispatched! Coalescing enabled: false\n");
  await poll(async () => (readIfExists(events).includes('EVENT deploy v2') ? true : undefined), "the event at a2's watcher");
  const noKey = await run(['serf', 'demo', 'event', 'x'], envFor(h2));
  t.equal(noKey.code, 1);
  t.match(noKey.stderr, /this node has no key, and events are signed/);

  for (const [args, code, re] of [
    [['serf', 'demo', 'query', 'x'], 2, /not served by BaseFS's agent/],
    [['serf', 'demo', 'join'], 2, /needs at least one/],
    [['serf', 'demo', 'members', '-format', 'yaml'], 2, /-format must be/],
  ] as const) {
    const r = await run([...args], env1);
    t.equal(r.code, code, args.join(' '));
    t.ok(isOneLineError(r.stderr), r.stderr);
    t.match(r.stderr, re);
  }

  const left = await run(['serf', 'demo', 'leave'], env1);
  t.equal(left.code, 0, left.stderr);
  t.equal(left.stdout, 'Graceful leave complete\n');
  await mon.done;
  t.ok(seen.includes('stopping'), `the monitor saw the stop (${seen.join(',')})`);
  await poll(async () => {
    try {
      process.kill(bgPid, 0);
      return undefined;
    } catch {
      return true;
    }
  }, 'the background node to exit');
  bgPid = 0;
  const log = readFileSync(join(fsDir(h1, 'demo'), 'node.log'), 'utf8');
  t.match(log, /started fs=demo node=a1/);
  t.match(log, /stopped fs=demo/);
  t.match((await run(['serf', 'demo', 'members'], env1)).stderr, /no running node for 'demo'/);
  // a2 saw a1 leave (not fail).
  a2b.child.kill('SIGTERM');
  t.equal(await a2b.exit, 0);
  t.match(a2b.stderr(), /member-leave member=a1/);
});
