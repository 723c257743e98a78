/**
 * The original's commands that are not here yet (the mount). They are real commands so that
 * `help` lists them and `--help` explains them; run, they say in one line when they arrive.
 */
import { Command, Option } from 'clipanion';
import { err } from '../../core/errors.ts';
import { BasefsCommand } from '../base.ts';

export const NETWORK_RELEASE = 'the network release (issue 5)';
export const MOUNT_RELEASE = 'the mount release (issue 6)';

export abstract class ComingCommand extends BasefsCommand {
  static release = NETWORK_RELEASE;
  args = Option.Proxy();

  run(): number {
    const cls = this.constructor as typeof ComingCommand & { paths: string[][] };
    // Option.Proxy() takes every argument, so --help is answered here.
    if (this.args[0] === '--help' || this.args[0] === '-h') {
      this.context.stdout.write(this.cli.usage(this, { detailed: true }));
      return 0;
    }
    const name = cls.paths[0]?.[0] ?? 'this command';
    throw err('NOT_SUPPORTED', `'${name}' is not available yet; it arrives with ${cls.release}`);
  }
}

export function usage(category: string, description: string, synopsis: string, release: string) {
  return Command.Usage({
    category,
    description: `${description} (coming)`,
    details: `Not available yet: arrives with ${release}. Planned form: \`${synopsis}\`.`,
    examples: [[description.charAt(0).toUpperCase() + description.slice(1), `$0 ${synopsis}`]],
  });
}

export const COMING_COMMANDS = [] as const;
