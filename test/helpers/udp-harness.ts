/**
 * The compliance harness on real sockets: every node is a SwimRuntime bound to its own
 * 127.0.0.x address (127.0.0.11..20, round robin) with an ephemeral port, in this process.
 * Time is the wall clock; `waitFor` polls.
 */
import type { SwimRuntime } from '../../src/swim/runtime.ts';
import { startSwimNode, type MachineFactory } from '../../src/swim/udp.ts';
import type { ComplianceHarness, ComplianceNode } from './swim-compliance.ts';
import { sleep, waitFor } from './wait.ts';

export const TEST_HOSTS = Array.from({ length: 10 }, (_, i) => `127.0.0.${11 + i}`);

export interface UdpHarnessOptions {
  createMachine: MachineFactory;
  /** Wall-clock budgets are multiplied by this (slow CI). */
  slack?: number;
  leaveLingerMs?: number;
}

export function udpHarness(opts: UdpHarnessOptions): ComplianceHarness {
  const runtimes: SwimRuntime[] = [];
  let next = 0;
  const slack = opts.slack ?? 1.5;
  return {
    kind: 'udp',
    async start(name, seeds, meta) {
      const host = TEST_HOSTS[next++ % TEST_HOSTS.length] as string;
      const rt = await startSwimNode({
        name,
        host,
        port: 0,
        seeds,
        ...(meta ? { meta } : {}),
        createMachine: opts.createMachine,
        leaveLingerMs: opts.leaveLingerMs ?? 500,
      });
      runtimes.push(rt);
      const received: { from: string; payload: Uint8Array }[] = [];
      rt.on('user', (payload, from) => received.push({ from, payload }));
      const node: ComplianceNode = {
        name,
        address: rt.address,
        members: () => rt.members(),
        broadcast: (key, payload) => rt.broadcast(key, payload),
        setMeta: (m) => rt.setMeta(m),
        received,
        crash: () => rt.close(),
        leave: () => rt.close({ leave: true }),
      };
      return node;
    },
    waitFor: (cond, what, budgetMs) => waitFor(cond, what, budgetMs * slack, 20),
    pass: (ms) => sleep(ms),
    async close() {
      await Promise.all(runtimes.map((r) => r.close()));
    },
  };
}
