/** Parallel signature checks give exactly the verdicts of the main thread, and the same log. */
import t from 'tap';
import { Log } from '../../src/core/log.ts';
import { VerifyPool } from '../../src/core/verify-pool.ts';
import { verify } from '../../src/core/verify.ts';
import { toHex } from '../../src/core/hash.ts';
import { key, memoryFs } from '../helpers/fs.ts';

const enc = new TextEncoder();

t.test('a pool with threads agrees with verify() item by item', async (t) => {
  const pool = new VerifyPool(2);
  t.teardown(() => pool.close());
  const k = key(5);
  const { sign } = await import('../../src/core/keys.ts');
  const items = Array.from({ length: 300 }, (_, i) => {
    const message = enc.encode(`message ${i}`);
    const signature = sign(k.seed, message);
    if (i % 7 === 0) signature[10]! ^= 1; // some forged
    return { publicKey: k.publicKey, message, signature };
  });
  const got = await pool.verifyMany(items);
  t.same(got, items.map((i) => verify(i.publicKey, i.message, i.signature)));
  t.equal(got.filter((x) => !x).length, Math.ceil(300 / 7));
});

t.test('ingestManyParallel stores the same set and rejects the same forgeries', async (t) => {
  const pool = new VerifyPool(1);
  t.teardown(() => pool.close());
  const fs = memoryFs(key(1));
  const w = fs.writer(key(1));
  w.mkdir('/etc');
  for (let i = 0; i < 200; i++) w.writeFile(`/etc/f${i % 40}`, enc.encode(`v${i}`));
  const bytes = [...fs.log.entriesInOrder()].map((e) => e.bytes.slice());
  bytes[50]![bytes[50]!.length - 1]! ^= 1; // forge one signature
  const serial = new Log(null);
  const expected = serial.ingestMany(bytes).map((r) => `${r.status}:${r.code ?? ''}`);
  const parallel = new Log(null);
  const got = (await parallel.ingestManyParallel(pool, bytes)).map((r) => `${r.status}:${r.code ?? ''}`);
  t.same(got, expected);
  t.equal(got[50], 'rejected:BAD_SIGNATURE');
  t.equal(toHex(parallel.rootHash()), toHex(serial.rootHash()));
});
