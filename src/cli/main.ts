#!/usr/bin/env node
/** The `basefs` executable: runs the command line on this process's streams and environment. */
import { runCli } from './cli.ts';

// `basefs show | head`: the reader went away. Output is all that was left to do (entries are
// durable before anything is printed), so stop quietly instead of dying on an unhandled EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    throw e;
  });
}

process.exitCode = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
