/**
 * Signature checks spread over the machine's cores. A node that joins late, or runs `basefs get`,
 * verifies a whole log it received from an untrusted peer; the signature check is ~80% of that
 * work and is independent per entry, so it parallelizes. Every thread runs verify.ts, so the
 * semantics (strict RFC 8032, same prechecks) are exactly the same as on the main thread.
 *
 * Work travels as one packed buffer per chunk (key 32 || message length u16 || message || sig 64),
 * not as thousands of small arrays, so posting it costs one copy.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { verify } from './verify.ts';

export interface VerifyItem {
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
}

/** Below this many items per batch, threads cost more than they save. */
const MIN_PARALLEL = 64;

export class VerifyPool {
  private readonly workers: Worker[];
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (r: Uint8Array) => void; reject: (e: unknown) => void; worker: Worker }>();

  /** `threads` helper threads besides the caller's (default: one per extra core; 0 = no threads). */
  constructor(threads = Math.max(0, availableParallelism() - 1)) {
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    const url = new URL(`./verify-worker${ext}`, import.meta.url);
    this.workers = Array.from({ length: threads }, () => {
      const w = new Worker(url);
      w.on('message', (m: { id: number; results: Uint8Array }) => {
        const job = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        this.settled(w);
        job?.resolve(m.results);
      });
      w.on('error', (e) => {
        for (const [id, job] of this.waiting)
          if (job.worker === w) {
            this.waiting.delete(id);
            job.reject(e);
          }
      });
      w.unref(); // an idle pool never keeps the process alive
      return w;
    });
  }

  get threads(): number {
    return this.workers.length;
  }

  /** Results in input order. The caller's thread takes one share of the work itself. */
  async verifyMany(items: readonly VerifyItem[]): Promise<boolean[]> {
    const shares = this.workers.length + 1;
    if (this.workers.length === 0 || items.length < MIN_PARALLEL) return items.map(verifyItem);
    const size = Math.ceil(items.length / shares);
    const pending = this.workers.map((w, i) => this.post(w, items.slice((i + 1) * size, (i + 2) * size)));
    const mine = items.slice(0, size).map(verifyItem);
    const theirs = await Promise.all(pending);
    return mine.concat(...theirs.map((r) => Array.from(r, (b) => b === 1)));
  }

  private post(w: Worker, items: readonly VerifyItem[]): Promise<Uint8Array> {
    if (items.length === 0) return Promise.resolve(new Uint8Array(0));
    const id = this.nextId++;
    const packed = packItems(items);
    return new Promise<Uint8Array>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, worker: w });
      w.ref(); // keep the process alive while work is in flight
      w.postMessage({ id, packed }, [packed.buffer as ArrayBuffer]);
    });
  }

  private settled(w: Worker): void {
    for (const job of this.waiting.values()) if (job.worker === w) return;
    w.unref();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function verifyItem(i: VerifyItem): boolean {
  return verify(i.publicKey, i.message, i.signature);
}

export function packItems(items: readonly VerifyItem[]): Uint8Array {
  let size = 0;
  for (const i of items) size += 32 + 2 + i.message.length + 64;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let at = 0;
  for (const i of items) {
    out.set(i.publicKey.subarray(0, 32), at);
    dv.setUint16(at + 32, i.message.length);
    out.set(i.message, at + 34);
    out.set(i.signature.subarray(0, 64), at + 34 + i.message.length);
    at += 34 + i.message.length + 64;
  }
  return out;
}

/** Verify a packed buffer (the worker's side); 1 = valid, 0 = not. */
export function verifyPacked(packed: Uint8Array): Uint8Array {
  const dv = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const results: number[] = [];
  let at = 0;
  while (at + 34 <= packed.length) {
    const len = dv.getUint16(at + 32);
    const end = at + 34 + len + 64;
    if (end > packed.length) break;
    const ok = verify(packed.subarray(at, at + 32), packed.subarray(at + 34, at + 34 + len), packed.subarray(at + 34 + len, end));
    results.push(ok ? 1 : 0);
    at = end;
  }
  return Uint8Array.from(results);
}
