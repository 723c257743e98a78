/**
 * The BaseFS command line: the command list, and `runCli`, which runs one command line against a
 * context (streams and environment) and returns its exit status. main.ts runs it on the real
 * process; the tests run it on PassThrough streams.
 *
 * Parse errors (unknown command, missing argument, bad option) are caught here so that they, like
 * every other user mistake, print one line on stderr and exit with 2 (clipanion would print a
 * multi-line usage text on stdout and exit with 1).
 */
import { Cli, type BaseContext } from 'clipanion';
import { reportError, type ErrorObserver } from './base.ts';
import { BootstrapCommand } from './commands/bootstrap.ts';
import { InstallserfCommand } from './commands/installserf.ts';
import { GenkeyCommand } from './commands/genkey.ts';
import { HelpCommand, VersionCommand } from './commands/help.ts';
import { KeysCommand } from './commands/keys.ts';
import { BlocksCommand, GetCommand, MembersCommand, RunCommand } from './commands/node.ts';
import { MountCommand, UnmountCommand } from './commands/mount.ts';
import { ResourcesCommand } from './commands/resources.ts';
import { SerfCommand } from './commands/serf.ts';
import { ListCommand } from './commands/list.ts';
import { ShowCommand } from './commands/show.ts';
import { GrantCommand, RevertCommand, RevokeCommand } from './commands/write.ts';
import { wantsColor } from './format.ts';
import { packageVersion } from './version.ts';

export const COMMANDS = [
  GenkeyCommand,
  KeysCommand,
  BootstrapCommand,
  ListCommand,
  ShowCommand,
  GrantCommand,
  RevokeCommand,
  RevertCommand,
  HelpCommand,
  VersionCommand,
  RunCommand,
  GetCommand,
  MembersCommand,
  BlocksCommand,
  InstallserfCommand,
  MountCommand,
  UnmountCommand,
  SerfCommand,
  ResourcesCommand,
];

export function buildCli(options: { colors?: boolean } = {}): Cli {
  const cli = new Cli({
    binaryLabel: 'BaseFS',
    binaryName: 'basefs',
    binaryVersion: packageVersion(),
    enableColors: options.colors ?? false,
  });
  for (const c of COMMANDS) cli.register(c);
  return cli;
}

export type RunContext = Pick<BaseContext, 'stdout' | 'stderr' | 'env'> & Partial<BaseContext> & ErrorObserver;

/** Runs one command line; never throws, never touches `process`. */
export async function runCli(argv: readonly string[], context: RunContext): Promise<number> {
  const colors = wantsColor(context.stdout, context.env);
  const full: BaseContext & ErrorObserver = {
    stdin: context.stdin ?? Cli.defaultContext.stdin,
    stdout: context.stdout,
    stderr: context.stderr,
    env: context.env,
    colorDepth: colors ? (context.colorDepth ?? 8) : 1,
    ...(context.onFailure ? { onFailure: context.onFailure } : {}),
  };
  const cli = buildCli({ colors });
  let command;
  try {
    command = cli.process([...argv], full);
  } catch (e) {
    return reportError(full, e);
  }
  try {
    return await cli.run(command, full);
  } catch (e) {
    return reportError(full, e);
  }
}
