/**
 * Signed user events: round trip; any changed byte, another filesystem or a bad size is refused
 * with a typed error; the receiver's gate refuses duplicates, stale events and authors without
 * write authority.
 */
import t from 'tap';
import { isBasefsError } from '../../src/core/errors.ts';
import { bytesEqual } from '../../src/core/hash.ts';
import { decodeUserEvent, encodeUserEvent, EventGate, EVENT_WINDOW_MS, MAX_EVENT_PAYLOAD } from '../../src/sync/user-event.ts';
import { key } from '../helpers/fs.ts';

const fsId = new Uint8Array(32).fill(3);
const k = key(1);
const nonce = new Uint8Array(8).fill(5);
const now = 1_750_000_000_000;

t.test('round trip and tampering', async (t) => {
  const bytes = encodeUserEvent({ fsId, timestamp: now, nonce, name: 'deploy', payload: new TextEncoder().encode('v2') }, k);
  const e = decodeUserEvent(bytes, fsId);
  t.equal(e.name, 'deploy');
  t.equal(new TextDecoder().decode(e.payload), 'v2');
  t.ok(bytesEqual(e.author, k.publicKey));
  t.equal(e.timestamp, now);
  let refused = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = new Uint8Array(bytes);
    b[i]! ^= 0x40;
    try {
      decodeUserEvent(b, fsId);
    } catch (x) {
      if (isBasefsError(x)) refused++;
    }
  }
  t.equal(refused, bytes.length, 'every single-byte change is refused with a typed error');
  t.throws(() => decodeUserEvent(bytes, new Uint8Array(32).fill(4)), { code: 'NOT_FOUND' });
  t.throws(() => decodeUserEvent(bytes.subarray(0, 40), fsId), { code: 'MALFORMED' });
  t.throws(() => decodeUserEvent(new Uint8Array(2000), fsId), { code: 'MALFORMED' });
  t.throws(() => encodeUserEvent({ fsId, timestamp: now, nonce, name: '', payload: new Uint8Array(0) }, k), { code: 'USAGE' });
  t.throws(() => encodeUserEvent({ fsId, timestamp: now, nonce, name: 'x', payload: new Uint8Array(MAX_EVENT_PAYLOAD + 1) }, k), { code: 'TOO_LARGE' });
});

t.test('the gate: once, fresh, and only from a writer', async (t) => {
  const gate = new EventGate(2);
  const ev = (n: number, ts = now) => decodeUserEvent(encodeUserEvent({ fsId, timestamp: ts, nonce: new Uint8Array(8).fill(n), name: 'e', payload: new Uint8Array(0) }, k), fsId);
  const writer = () => true;
  t.equal(gate.admit(ev(1), now, writer), null);
  t.equal(gate.admit(ev(1), now, writer), 'duplicate');
  t.equal(gate.admit(ev(2, now - EVENT_WINDOW_MS - 1), now, writer), 'stale');
  t.equal(gate.admit(ev(3), now, () => false), 'no authority');
  t.equal(gate.admit(ev(4), now, writer), null);
  t.equal(gate.admit(ev(5), now, writer), null);
  t.equal(gate.admit(ev(1), now, writer), null, 'the oldest id is forgotten beyond the bound');
});
