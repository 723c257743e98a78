/**
 * The local control channel between a running node (`basefs run`) and the commands that ask it
 * things (`members`, `blocks`): a unix socket at $BASEFS_HOME/fs/<name>/node.sock, mode 0600, so
 * only the node's user can talk to it.
 *
 * Protocol: one request per connection. The client writes one JSON object and a newline
 * ({"cmd":"members"|"blocks"|"status"|...}, node-control.ts), the node answers one JSON object and
 * a newline and closes. A request over MAX_REQUEST_BYTES (entries sent by `grant` and friends
 * included), one that is not JSON, or one not finished within REQUEST_TIMEOUT_MS is dropped.
 * Replies are {"ok":true,...} or {"ok":false,"error":"..."}. A streaming reply (`monitor`) is
 * {"ok":true,"stream":true} followed by one JSON object per line until either side closes.
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { err } from '../core/errors.ts';

export const SOCKET_FILE = 'node.sock';
export const MAX_REQUEST_BYTES = 16 * 1024 * 1024;
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;
export const REQUEST_TIMEOUT_MS = 5_000;
/** Bytes a streaming reply may have queued for a slow reader before it is dropped. */
const MAX_STREAM_BACKLOG = 1024 * 1024;
/** sun_path is 108 bytes on Linux, 104 on the BSDs. */
const MAX_SOCKET_PATH = 103;

export type ControlRequest = { cmd: string; [k: string]: unknown };
export type ControlReply = { ok: boolean; [k: string]: unknown };
/** A reply that keeps the connection open: `subscribe` gets a sender and returns its unsubscribe. */
export interface ControlStream {
  ok: true;
  subscribe(send: (line: object) => void): () => void;
}
export type ControlAnswer = ControlReply | ControlStream;
export type ControlHandler = (req: ControlRequest) => ControlAnswer | Promise<ControlAnswer>;

function isStream(a: ControlAnswer): a is ControlStream {
  return typeof (a as { subscribe?: unknown }).subscribe === 'function';
}

export function socketPath(fsDirectory: string): string {
  return join(fsDirectory, SOCKET_FILE);
}

function checkLength(path: string): void {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH)
    throw err('USAGE', `the control socket path ${path} is too long for a unix socket (use a shorter BASEFS_HOME)`);
}

/**
 * Listens on `path` (a stale socket file is removed first: the caller holds the log lock, so no
 * other node of this filesystem can be using it). Resolves once listening.
 */
export async function serveControl(path: string, handler: ControlHandler): Promise<Server> {
  checkLength(path);
  if (existsSync(path)) unlinkSync(path);
  const open = new Set<Socket>();
  const server = createServer((socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    serveOne(socket, handler);
  });
  connections.set(server, open);
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // umask-independent: the socket is created, then narrowed before anything can be served.
    server.listen({ path, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return server;
}

function serveOne(socket: Socket, handler: ControlHandler): void {
  socket.on('error', () => {});
  socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
  let buf = Buffer.alloc(0);
  let answered = false;
  socket.on('data', (chunk: Buffer) => {
    if (answered) return;
    buf = Buffer.concat([buf, chunk]);
    const nl = buf.indexOf(0x0a);
    if (nl < 0) {
      if (buf.length > MAX_REQUEST_BYTES) socket.destroy();
      return;
    }
    if (nl > MAX_REQUEST_BYTES) return void socket.destroy();
    answered = true;
    socket.setTimeout(0);
    void answer(buf.subarray(0, nl), handler).then((reply) => {
      if (socket.destroyed) return;
      if (!isStream(reply)) return void socket.end(JSON.stringify(reply) + '\n');
      socket.write(JSON.stringify({ ok: true, stream: true }) + '\n');
      // A reader that stops reading is cut off rather than buffered without bound.
      const unsubscribe = reply.subscribe((line) => {
        if (socket.writableLength > MAX_STREAM_BACKLOG) socket.destroy();
        else if (!socket.destroyed) socket.write(JSON.stringify(line) + '\n');
      });
      socket.once('close', unsubscribe);
    });
  });
}

async function answer(bytes: Buffer, handler: ControlHandler): Promise<ControlAnswer> {
  try {
    const req: unknown = JSON.parse(bytes.toString('utf8'));
    if (typeof req !== 'object' || req === null || typeof (req as { cmd?: unknown }).cmd !== 'string')
      return { ok: false, error: 'expected {"cmd": ...}' };
    return await handler(req as ControlRequest);
  } catch (e) {
    return { ok: false, error: e instanceof SyntaxError ? 'request is not JSON' : String((e as Error).message ?? e) };
  }
}

/** Open connections per server: streams (monitor) are ended when the node stops. */
const connections = new WeakMap<Server, Set<Socket>>();

/** Closes the server, ends open streams, and removes its socket file. */
export async function closeControl(server: Server, path: string): Promise<void> {
  const closed = new Promise<void>((r) => server.close(() => r()));
  for (const s of connections.get(server) ?? []) s.end();
  await closed;
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** NOT_FOUND when nobody accepts on the socket (no node, or a stale socket file), else IO. */
function connectionError(e: NodeJS.ErrnoException): Error {
  if (e.code === 'ECONNREFUSED' || e.code === 'ENOENT') return err('NOT_FOUND', 'no node listening');
  return err('IO', `control socket: ${e.message}`, e);
}

/**
 * One request to the node at `path`. NOT_FOUND when no node listens there (no socket file, or a
 * stale one nobody accepts on).
 */
export function askNode(path: string, req: ControlRequest, timeoutMs = 10_000): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    if (!existsSync(path)) return reject(err('NOT_FOUND', 'no control socket'));
    checkLength(path);
    const socket = connect({ path });
    let buf = Buffer.alloc(0);
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(e);
    };
    socket.setTimeout(timeoutMs, () => fail(err('TIMEOUT', 'the node did not answer in time')));
    socket.on('error', (e: NodeJS.ErrnoException) => fail(connectionError(e)));
    socket.on('connect', () => socket.write(JSON.stringify(req) + '\n'));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length > MAX_REPLY_BYTES) fail(err('TOO_LARGE', 'the node answered too much'));
    });
    socket.on('end', () => {
      if (settled) return;
      settled = true;
      try {
        const reply = JSON.parse(buf.toString('utf8')) as ControlReply;
        if (reply.ok !== true) reject(err('IO', `the node refused: ${String(reply['error'])}`));
        else resolve(reply);
      } catch {
        reject(err('MALFORMED', 'the node sent a reply that is not JSON'));
      }
    });
  });
}

/**
 * A streaming request (`monitor`): `onLine` gets each JSON line after the opening one. Resolves when
 * the node closes the stream; `close()` on the returned handle ends it from this side.
 */
export function streamFromNode(path: string, req: ControlRequest, onLine: (line: Record<string, unknown>) => void): { done: Promise<void>; close(): void } {
  checkLength(path);
  if (!existsSync(path)) return { done: Promise.reject(err('NOT_FOUND', 'no control socket')), close() {} };
  const socket = connect({ path });
  let buf = '';
  let opened = false;
  const done = new Promise<void>((resolve, reject) => {
    socket.on('error', (e: NodeJS.ErrnoException) => reject(connectionError(e)));
    socket.on('connect', () => socket.write(JSON.stringify(req) + '\n'));
    socket.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text) as Record<string, unknown>;
        } catch {
          socket.destroy();
          return reject(err('MALFORMED', 'the node sent a line that is not JSON'));
        }
        if (!opened) {
          opened = true;
          if (line['ok'] !== true) {
            socket.destroy();
            return reject(err('IO', `the node refused: ${String(line['error'])}`));
          }
          continue;
        }
        onLine(line);
      }
      if (buf.length > MAX_REQUEST_BYTES) socket.destroy();
    });
    socket.on('close', () => resolve());
  });
  return { done, close: () => socket.destroy() };
}
