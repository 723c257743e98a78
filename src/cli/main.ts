#!/usr/bin/env node
/** The `basefs` executable: runs the command line on this process's streams and environment. */
import { runCli } from './cli.ts';

process.exitCode = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
