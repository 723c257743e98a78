/**
 * Real `basefs` processes for multi-node CLI tests: started with the test runner's TypeScript
 * loader, each with its own BASEFS_HOME, stderr collected, and a condition poller with a deadline
 * (never a fixed sleep). Homes live under the system temp directory: a unix socket path must stay
 * under ~100 bytes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
export const loader = process.execArgv.filter((a) => /@tapjs[\\/]typescript/.test(a));
export const NO_LOADER = loader.length === 0 ? 'not run under tap (no TypeScript loader)' : false;

export interface Proc {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<number | null>;
}

export function startBasefs(args: string[], home: string, extraEnv: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [...loader, MAIN, ...args], {
    env: { PATH: process.env['PATH'], HOME: home, BASEFS_HOME: home, TS_NODE_TRANSPILE_ONLY: '1', NO_COLOR: '1', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err += c.toString('utf8')));
  child.stdout?.resume();
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, stderr: () => err, exit };
}

/** Kills what is still running (SIGKILL) and waits for every exit. */
export async function killAll(procs: readonly Proc[]): Promise<void> {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exit));
}

export async function poll<T>(f: () => Promise<T | undefined>, what: string, ms = 30_000): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A file's text, or '' while it does not exist yet (a watcher's output being polled for). */
export function readIfExists(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
