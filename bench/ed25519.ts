/**
 * Raw Ed25519 rates on this machine: verify per backend and sign, on 48-byte messages (the size
 * the log signs: a domain tag and a 32-byte hash). A measurement, not a test; the log-level verify
 * benchmark is bench/verify.ts. Prints a table and one JSON line.
 *
 *   npm run build && node dist/bench/ed25519.js [seconds-per-row]
 */
import { verify as cryptoVerify, createPublicKey } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { keyPairFromSeed, sign, type KeyPair } from '../src/core/keys.ts';
import { verifyBackendName, verifyNoble, verifyNode, nodeBackendAvailable } from '../src/core/verify.ts';

const seconds = Number(process.argv[2] ?? '1.5');
const MESSAGE_BYTES = 48;
const KEYS = 4;
const SIGNED = 512;

/** Runs `op(i)` for about `seconds` and returns operations per second. */
function rate(op: (i: number) => unknown): number {
  for (let i = 0; i < 50; i++) op(i); // warm up caches and the JIT
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  let n = 0;
  while (performance.now() < deadline) {
    for (let j = 0; j < 16; j++) op(n++);
  }
  return n / ((performance.now() - start) / 1000);
}

const keys: KeyPair[] = [];
for (let i = 0; i < KEYS; i++) keys.push(keyPairFromSeed(new Uint8Array(32).fill(i + 1)));
const samples = Array.from({ length: SIGNED }, (_, i) => {
  const key = keys[i % KEYS]!;
  const message = new Uint8Array(MESSAGE_BYTES).map((_, j) => (i * 31 + j) & 0xff);
  return { pub: key.publicKey, message, sig: sign(key.seed, message) };
});
const at = (i: number) => samples[i % SIGNED]!;

const rows: Record<string, number> = {};
if (nodeBackendAvailable) {
  rows['verify node (prechecks + OpenSSL)'] = rate((i) => {
    const s = at(i);
    if (!verifyNode(s.pub, s.message, s.sig)) throw new Error('node rejected a valid signature');
  });
  const keyObjects = keys.map((k) =>
    createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), k.publicKey]), format: 'der', type: 'spki' }),
  );
  rows['verify OpenSSL alone (no prechecks)'] = rate((i) => {
    const s = at(i);
    cryptoVerify(null, s.message, keyObjects[(i % SIGNED) % KEYS]!, s.sig);
  });
}
rows['verify noble (strict, ours)'] = rate((i) => {
  const s = at(i);
  if (!verifyNoble(s.pub, s.message, s.sig)) throw new Error('noble rejected a valid signature');
});
rows['verify noble ed25519.verify (cofactored)'] = rate((i) => {
  const s = at(i);
  ed25519.verify(s.sig, s.message, s.pub, { zip215: false });
});
rows['sign (keys.ts, cached expansion)'] = rate((i) => sign(keys[i % KEYS]!.seed, at(i).message));
rows['sign noble ed25519.sign'] = rate((i) => ed25519.sign(at(i).message, keys[i % KEYS]!.seed));

console.log(`Ed25519 on ${MESSAGE_BYTES}-byte messages, node ${process.version}, OpenSSL ${process.versions.openssl}`);
console.log(`verify() uses backend: ${verifyBackendName}`);
for (const [name, perSecond] of Object.entries(rows)) {
  console.log(`${name.padEnd(44)} ${Math.round(perSecond).toString().padStart(8)} /s`);
}
console.log(JSON.stringify({ bench: 'ed25519', messageBytes: MESSAGE_BYTES, backend: verifyBackendName, perSecond: rows }));
