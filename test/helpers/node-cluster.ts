/**
 * BasefsNodes in this process for tests: each on its own 127.0.0.x (31..40 belong to these tests),
 * ephemeral ports, the SWIM 'local' profile, a replica in a temp dir created from shared bootstrap
 * entries, fast anti-entropy timers. Every node and replica is stopped and closed at teardown.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../../src/core/hash.ts';
import { bootstrapEntries, Replica } from '../../src/core/replica.ts';
import { BasefsNode, type BasefsNodeOptions, type NodeTiming } from '../../src/sync/node.ts';
import { key } from './fs.ts';
import { waitFor } from './wait.ts';

export const NODE_HOSTS = Array.from({ length: 10 }, (_, i) => `127.0.0.${31 + i}`);

/** Timers scaled for tests: rounds every 1–2 s, quick reactions. */
export const FAST_TIMING: Partial<NodeTiming> = {
  antiEntropyMinMs: 1_000,
  antiEntropyMaxMs: 2_000,
  rootDiffDelayMs: 200,
  pullDelayMs: 50,
  retryDelayMs: 300,
  metaDebounceMs: 100,
  closeGraceMs: 1_000,
};

interface Teardown {
  teardown(fn: () => unknown): void;
}

export class NodeCluster {
  readonly root: string;
  /** The filesystem's first entries (genesis, root grants, /.cluster), shared by every replica. */
  readonly bootstrap: Uint8Array[];
  readonly nodes: BasefsNode[] = [];

  constructor(t: Teardown) {
    this.root = mkdtempSync(join(tmpdir(), 'basefs-node-'));
    this.bootstrap = bootstrapEntries('nodes', [key(1)], ['127.0.0.31:7946'], 1_700_000_000_000).map((e) => e.bytes);
    t.teardown(() => this.close());
  }

  /** A replica (root key 1 as writer) from the bootstrap entries, or only the first `only` of them. */
  replica(name: string, only?: number): Replica {
    const entries = only === undefined ? this.bootstrap : this.bootstrap.slice(0, only);
    return Replica.create(join(this.root, name), entries, { key: key(1), sync: 'never' });
  }

  async start(name: string, host: string, extra: Partial<BasefsNodeOptions> = {}): Promise<BasefsNode> {
    const seeds = this.nodes.filter((n) => !n.stopped).slice(0, 1).map((n) => n.address);
    const node = await BasefsNode.start({
      replica: extra.replica ?? this.replica(name),
      name,
      host,
      port: 0,
      seeds,
      profile: 'local',
      leaveLingerMs: 200,
      ...extra,
      timing: { ...FAST_TIMING, ...extra.timing },
    });
    this.nodes.push(node);
    return node;
  }

  /** Every node in `nodes` sees the others alive. */
  async converged(nodes: readonly BasefsNode[], timeoutMs = 30_000): Promise<void> {
    await waitFor(
      () => nodes.every((n) => nodes.every((o) => o === n || n.members().some((m) => m.name === o.name && m.status === 'alive'))),
      'membership',
      timeoutMs,
      20,
    );
  }

  /** Every node in `nodes` has the same root hash. */
  async sameRoot(nodes: readonly BasefsNode[], what: string, timeoutMs = 30_000): Promise<void> {
    await waitFor(() => new Set(nodes.map((n) => toHex(n.rootHash()))).size === 1, what, timeoutMs, 20);
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop({ leave: false })));
    for (const n of this.nodes) n.replica.close();
    rmSync(this.root, { recursive: true, force: true });
  }
}
