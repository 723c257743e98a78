import { Command, Option } from 'clipanion';
import { formatPublicKey, fingerprint, generateKeyPair, writeKeyFile } from '../../core/keys.ts';
import { isBasefsError, err } from '../../core/errors.ts';
import { BasefsCommand } from '../base.ts';
import { json } from '../format.ts';

export class GenkeyCommand extends BasefsCommand {
  static override paths = [['genkey']];
  static override usage = Command.Usage({
    category: 'Keys',
    description: 'create an Ed25519 key pair and write the private key file',
    details: `
      Writes a new private key to PATH (default \`$BASEFS_HOME/id_ed25519\`) with mode 0600, and prints the public key (\`ed25519:<base64url>\`, the form \`grant\` takes) and its fingerprint. Refuses to replace an existing file unless \`-f\` is given.
    `,
    examples: [
      ['Create the default key', '$0 genkey'],
      ['Create a key for an administrator', '$0 genkey ./admin.key'],
      ['Replace the default key', '$0 genkey -f'],
    ],
  });

  file = Option.String({ required: false, name: 'PATH' });
  force = Option.Boolean('-f,--force', false, { description: 'replace an existing key file' });
  asJson = Option.Boolean('--json', false, { description: 'print {path, publicKey, fingerprint} as JSON' });

  run(): number {
    const path = this.keyPath(this.file);
    const kp = generateKeyPair();
    try {
      writeKeyFile(path, kp, { force: this.force });
    } catch (e) {
      if (isBasefsError(e, 'EXISTS')) throw err('EXISTS', `${path} already exists (use -f to replace it)`);
      throw e;
    }
    const publicKey = formatPublicKey(kp.publicKey);
    const fp = fingerprint(kp.publicKey);
    if (this.asJson) {
      this.out(json({ path, publicKey, fingerprint: fp }));
      return 0;
    }
    const s = this.style;
    this.out(`wrote private key ${path} (mode 0600; keep it secret)`);
    this.out(`public key:  ${s.bold(publicKey)}`);
    this.out(`fingerprint: ${fp}`);
    return 0;
  }
}
