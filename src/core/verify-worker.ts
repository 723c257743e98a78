/** A VerifyPool thread: verifies packed batches with verify.ts and answers with 0/1 per item. */
import { parentPort } from 'node:worker_threads';
import { verifyPacked } from './verify-pool.ts';

parentPort?.on('message', (m: { id: number; packed: Uint8Array }) => {
  const results = verifyPacked(m.packed);
  parentPort?.postMessage({ id: m.id, results }, [results.buffer as ArrayBuffer]);
});
