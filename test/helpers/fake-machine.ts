/**
 * A tiny stand-in for the SWIM protocol, for testing the runtime's plumbing (sockets, timers,
 * streams, persistence, events) without depending on the real protocol's behaviour.
 *
 * Wire: UTF-8 JSON, one object per datagram. Full mesh: `join` says hello to the seeds, a hello
 * from an unknown node adds it (join event) and is answered; every `heartbeatMs` a hello goes to
 * every known member. `broadcast(key, payload)` sends a user message to every member, except keys
 * starting with "stream:" which open a stream to the address after the prefix (the reply is
 * recorded in `replies`). An inbound stream is answered with its bytes reversed; the request
 * "null" gets no reply and "throw" is rejected as malformed. `setMeta` raises the incarnation.
 */
import { SwimError } from '../../src/swim/errors.ts';
import type { Address, MemberInfo, Outbox, SwimStateMachine } from '../../src/swim/types.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Hello {
  t: 'hello' | 'reply';
  name: string;
  address: Address;
  inc: number;
  meta: string;
}
interface User {
  t: 'user';
  from: string;
  payload: string;
}
interface Bye {
  t: 'bye';
  name: string;
}
type Msg = Hello | User | Bye;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

export interface FakeMachineOptions {
  name: string;
  address: Address;
  incarnation?: number | null;
  meta?: Uint8Array;
  heartbeatMs?: number;
}

export class FakeMachine implements SwimStateMachine {
  readonly name: string;
  readonly address: Address;
  readonly heartbeatMs: number;
  readonly replies = new Map<number, Uint8Array | null>();
  ticks = 0;
  #inc: number;
  #meta: Uint8Array;
  #members = new Map<string, MemberInfo>();
  #next = Infinity;
  #streamId = 0;
  #left = false;

  constructor(opts: FakeMachineOptions) {
    this.name = opts.name;
    this.address = opts.address;
    this.heartbeatMs = opts.heartbeatMs ?? 50;
    this.#inc = opts.incarnation ?? 1;
    this.#meta = opts.meta ?? new Uint8Array(0);
  }

  #out(): Outbox {
    return { packets: [], streams: [], events: [] };
  }

  #hello(t: 'hello' | 'reply'): Uint8Array {
    const m: Hello = { t, name: this.name, address: this.address, inc: this.#inc, meta: hex(this.#meta) };
    return enc.encode(JSON.stringify(m));
  }

  #toAll(out: Outbox, data: Uint8Array): void {
    for (const m of this.#members.values()) if (m.status === 'alive') out.packets.push({ to: m.address, data });
  }

  join(seeds: Address[], now: number): Outbox {
    const out = this.#out();
    for (const s of seeds) out.packets.push({ to: s, data: this.#hello('hello') });
    this.#next = now + this.heartbeatMs;
    return out;
  }

  tick(now: number): Outbox {
    const out = this.#out();
    if (now < this.#next || this.#left) return out;
    this.ticks++;
    this.#toAll(out, this.#hello('hello'));
    this.#next = now + this.heartbeatMs;
    return out;
  }

  nextDeadline(): number {
    return this.#left ? Infinity : this.#next;
  }

  receivePacket(_from: Address, data: Uint8Array, now: number): Outbox {
    let msg: Msg;
    try {
      msg = JSON.parse(dec.decode(data)) as Msg;
    } catch {
      throw new SwimError('MALFORMED', 'not JSON');
    }
    if (typeof msg !== 'object' || msg === null || typeof msg.t !== 'string') throw new SwimError('MALFORMED', 'no type');
    const out = this.#out();
    if (msg.t === 'hello' || msg.t === 'reply') {
      if (msg.name === this.name) return out;
      const known = this.#members.get(msg.name);
      const info: MemberInfo = {
        name: msg.name,
        address: msg.address,
        status: 'alive',
        incarnation: msg.inc,
        meta: unhex(msg.meta),
        changedAt: now,
      };
      if (!known || known.status !== 'alive') {
        this.#members.set(msg.name, info);
        out.events.push({ type: 'join', member: info });
        if (msg.t === 'hello') out.packets.push({ to: msg.address, data: this.#hello('reply') });
      } else if (msg.inc > known.incarnation) {
        this.#members.set(msg.name, info);
        out.events.push({ type: 'update', member: info });
      }
    } else if (msg.t === 'user') {
      out.events.push({ type: 'user', payload: unhex(msg.payload), from: msg.from });
    } else if (msg.t === 'bye') {
      const known = this.#members.get(msg.name);
      if (known && known.status === 'alive') {
        const info: MemberInfo = { ...known, status: 'left', changedAt: now };
        this.#members.set(msg.name, info);
        out.events.push({ type: 'leave', member: info });
      }
    } else {
      throw new SwimError('MALFORMED', 'unknown type');
    }
    return out;
  }

  receiveStream(_from: Address, data: Uint8Array): { reply: Uint8Array | null; out: Outbox } {
    const text = dec.decode(data);
    if (text === 'throw') throw new SwimError('MALFORMED', 'rejected');
    if (text === 'null') return { reply: null, out: this.#out() };
    return { reply: data.slice().reverse(), out: this.#out() };
  }

  receiveStreamReply(id: number, data: Uint8Array | null): Outbox {
    this.replies.set(id, data === null ? null : data.slice());
    return this.#out();
  }

  broadcast(key: string, payload: Uint8Array): Outbox {
    if (payload.length > 1000) throw new SwimError('TOO_LARGE', 'payload');
    const out = this.#out();
    if (key.startsWith('stream:')) {
      const id = ++this.#streamId;
      out.streams.push({ id, to: key.slice('stream:'.length), data: payload, timeoutMs: 500 });
      return out;
    }
    const m: User = { t: 'user', from: this.name, payload: hex(payload) };
    this.#toAll(out, enc.encode(JSON.stringify(m)));
    return out;
  }

  setMeta(meta: Uint8Array): Outbox {
    this.#meta = meta.slice();
    this.#inc++;
    const out = this.#out();
    this.#toAll(out, this.#hello('hello'));
    return out;
  }

  leave(): Outbox {
    const out = this.#out();
    this.#toAll(out, enc.encode(JSON.stringify({ t: 'bye', name: this.name } satisfies Bye)));
    this.#left = true;
    return out;
  }

  members(): MemberInfo[] {
    const self: MemberInfo = {
      name: this.name,
      address: this.address,
      status: this.#left ? 'left' : 'alive',
      incarnation: this.#inc,
      meta: this.#meta,
      changedAt: 0,
    };
    return [self, ...this.#members.values()];
  }

  incarnation(): number {
    return this.#inc;
  }
}
