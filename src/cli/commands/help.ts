import { Command, Option } from 'clipanion';
import { err } from '../../core/errors.ts';
import { BasefsCommand } from '../base.ts';
import { packageVersion } from '../version.ts';

const CATEGORY_ORDER = ['Keys', 'Filesystems', 'Permissions', 'History', 'Node', 'Mount', 'General'];

export class HelpCommand extends BasefsCommand {
  static override paths = [['help'], ['-h'], ['--help'], Command.Default];
  static override usage = Command.Usage({
    category: 'General',
    description: 'list all commands, or explain one',
    examples: [
      ['List the commands', '$0 help'],
      ['Explain one command', '$0 help grant'],
    ],
  });

  command = Option.String({ required: false, name: 'COMMAND' });

  async run(): Promise<number> {
    if (this.command !== undefined) {
      const known = this.cli.definitions().some((d) => d.path === `basefs ${this.command}`);
      if (!known) throw err('USAGE', `unknown command '${this.command}' (see 'basefs help')`);
      return await this.cli.run([this.command, '--help']);
    }
    const s = this.style;
    const defs = this.cli.definitions();
    const byCategory = new Map<string, typeof defs>();
    for (const d of defs) {
      const c = (d.category ?? 'General').trim();
      byCategory.set(c, [...(byCategory.get(c) ?? []), d]);
    }
    const cats = [...byCategory.keys()].sort((a, b) => rank(a) - rank(b));
    this.out(`${s.bold('basefs')} ${packageVersion()} - a peer-to-peer configuration filesystem on a signed log`);
    this.out('');
    this.out(`usage: basefs COMMAND [ARGS...]      (BASEFS_HOME: ${this.home})`);
    const width = Math.max(...defs.map((d) => d.path.length - 'basefs '.length));
    for (const c of cats) {
      this.out('');
      this.out(s.bold(c));
      for (const d of byCategory.get(c) ?? []) {
        const name = d.path.slice('basefs '.length);
        this.out(`  ${name.padEnd(width)}  ${(d.description ?? '').trim()}`);
      }
    }
    this.out('');
    this.out("Run 'basefs COMMAND --help' for a command's arguments and examples; 'basefs --version' for the version.");
    return 0;
  }

}

function rank(c: string): number {
  const i = CATEGORY_ORDER.indexOf(c);
  return i < 0 ? CATEGORY_ORDER.length : i;
}

export class VersionCommand extends BasefsCommand {
  static override paths = [['--version'], ['-v'], ['version']];
  static override usage = Command.Usage({
    category: 'General',
    description: 'print the version',
    examples: [['Print the version', '$0 --version']],
  });

  run(): number {
    this.out(packageVersion());
    return 0;
  }
}
