/**
 * `installserf`: the original downloaded the Serf binary. BaseFS now has its own SWIM gossip, so
 * there is nothing to install; the command stays so that old scripts keep working, and says why.
 */
import { Command, Option } from 'clipanion';
import { BasefsCommand } from '../base.ts';

export class InstallserfCommand extends BasefsCommand {
  static override paths = [['installserf']];
  static override usage = Command.Usage({
    category: 'Node',
    description: 'kept for compatibility: gossip is built in, nothing to install',
    details:
      'The original BaseFS ran a HashiCorp Serf agent beside each node and this command downloaded it. ' +
      'BaseFS now carries its own SWIM membership and gossip (with Lifeguard), so no binary is needed; ' +
      'the command succeeds without doing anything. The optional BINPATH of the original is accepted and ignored.',
    examples: [['Nothing to install', '$0 installserf']],
  });

  binpath = Option.String({ required: false });

  run(): number {
    this.context.stdout.write(
      'nothing to install: BaseFS has built-in SWIM gossip (no Serf agent is used)\n',
    );
    return 0;
  }
}
