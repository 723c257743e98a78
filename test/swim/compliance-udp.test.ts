/**
 * The compliance suite (test/helpers/swim-compliance.ts) on real UDP and TCP sockets, one
 * SwimRuntime per node on 127.0.0.11..20 with ephemeral ports, Local profile timers.
 */
import t from 'tap';
import { makeConfig } from '../../src/swim/config.ts';
import { SwimNode } from '../../src/swim/protocol.ts';
import { runSwimCompliance } from '../helpers/swim-compliance.ts';
import { udpHarness } from '../helpers/udp-harness.ts';

const config = makeConfig('local');

runSwimCompliance(t, async () =>
  udpHarness({
    createMachine: (ctx) =>
      new SwimNode({
        name: ctx.name,
        address: ctx.address,
        random: ctx.random,
        config,
        meta: ctx.meta,
      }),
  }),
);
