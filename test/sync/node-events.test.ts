/**
 * Signed user events between real nodes (127.0.0.37..39, ephemeral ports): an event signed by a
 * key with write authority is delivered once on every node, the sender included; one signed by a
 * key without authority is delivered nowhere else and not relayed.
 */
import t from 'tap';
import { key } from '../helpers/fs.ts';
import { NodeCluster } from '../helpers/node-cluster.ts';
import { waitFor } from '../helpers/wait.ts';

t.test('events: delivered once everywhere, and only from a writer', async (t) => {
  const cluster = new NodeCluster(t);
  const hosts = ['127.0.0.37', '127.0.0.38', '127.0.0.39'];
  const nodes = [];
  for (const [i, h] of hosts.entries()) nodes.push(await cluster.start(`ev${i}`, h));
  await cluster.converged(nodes);
  const got = nodes.map(() => [] as string[]);
  nodes.forEach((n, i) => (n.onEvent = (e) => got[i]!.push(`${e.name}:${new TextDecoder().decode(e.payload)}`)));

  t.ok(nodes[0]!.mayWrite(key(1).publicKey), 'the root key may write');
  t.notOk(nodes[0]!.mayWrite(key(9).publicKey), 'an unknown key may not');
  nodes[0]!.sendEvent('deploy', new TextEncoder().encode('v2'), key(1));
  await waitFor(() => got.every((g) => g.length === 1), 'the event on every node', 20_000, 20);
  t.same(got, [['deploy:v2'], ['deploy:v2'], ['deploy:v2']]);

  // A key without authority: the sender delivers it to itself, nobody else does.
  nodes[1]!.sendEvent('evil', new Uint8Array(0), key(9));
  nodes[0]!.sendEvent('after', new Uint8Array(0), key(1));
  await waitFor(() => got.every((g) => g.includes('after:')), 'the later event everywhere', 20_000, 20);
  t.same(got[0], ['deploy:v2', 'after:']);
  t.same(got[2], ['deploy:v2', 'after:']);
});
