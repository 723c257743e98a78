/**
 * Runs the BaseFS CLI in-process against PassThrough streams (clipanion's tests/tools.ts style):
 * each call gets its own streams and an explicit environment, never process.env.
 */
import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/cli.ts';

export interface Result {
  /** Exit status. */
  code: number;
  /** The error code of the failure reported on stderr (BasefsError code, USAGE for parse errors). */
  error: string | undefined;
  stdout: string;
  stderr: string;
}

export type Env = Record<string, string | undefined>;

export function envFor(home: string, extra: Env = {}): Env {
  return { BASEFS_HOME: home, HOME: home, NO_COLOR: '1', ...extra };
}

function collect(stream: PassThrough): () => string {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer | string) => chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c)));
  return () => Buffer.concat(chunks).toString('utf8');
}

export async function run(argv: string[], env: Env, opts: { tty?: boolean } = {}): Promise<Result> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  if (opts.tty) (stdout as PassThrough & { isTTY?: boolean }).isTTY = true;
  const out = collect(stdout);
  const errText = collect(stderr);
  let error: string | undefined;
  const code = await runCli(argv, { stdout, stderr, env, stdin: new PassThrough(), onFailure: (f) => (error = f.code) });
  stdout.end();
  stderr.end();
  await new Promise((r) => setImmediate(r));
  return { code, error, stdout: out(), stderr: errText() };
}

/** One line, no stack trace: what every user mistake must look like. */
export function isOneLineError(stderr: string): boolean {
  return /^basefs: [^\n]+\n$/.test(stderr) && !/\n\s+at /.test(stderr) && !/Error:/.test(stderr);
}
