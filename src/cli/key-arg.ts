/**
 * The KEY argument of grant and revoke: a public key text ("ed25519:<base64url>") or the path of a
 * key file (a private key file, or a file holding a public key text).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { err, isBasefsError } from '../core/errors.ts';
import { parsePrivateKey, parsePublicKey } from '../core/keys.ts';

export interface KeyArgument {
  publicKey: Uint8Array;
  /** A label suggested by the argument: the key file's name without its extension. */
  suggestedLabel: string | null;
}

const KEY_FILE_MAX = 64 * 1024;

/** Whether `text` names a key by its text or by a file (as opposed to a label or fingerprint). */
export function looksLikeKey(text: string): boolean {
  return text.startsWith('ed25519:') || existsSync(resolve(text));
}

export function parseKeyArgument(text: string): KeyArgument {
  if (text.startsWith('ed25519:')) {
    try {
      return { publicKey: parsePublicKey(text), suggestedLabel: null };
    } catch (e) {
      if (isBasefsError(e)) throw err(e.code === 'BAD_KEY' ? 'BAD_KEY' : 'USAGE', `'${text}' is not a valid public key`);
      throw e;
    }
  }
  const path = resolve(text);
  if (!existsSync(path))
    throw err('USAGE', `'${text}' is neither a public key (ed25519:...) nor a key file`);
  if (!statSync(path).isFile() || statSync(path).size > KEY_FILE_MAX)
    throw err('USAGE', `${path} is not a key file`);
  const content = readFileSync(path, 'utf8');
  const label = basename(path).replace(/\.[^.]*$/, '') || null;
  for (const parse of [(s: string) => parsePrivateKey(s).publicKey, parsePublicKey]) {
    try {
      return { publicKey: parse(content), suggestedLabel: label };
    } catch (e) {
      if (!isBasefsError(e)) throw e;
    }
  }
  throw err('USAGE', `${path} holds neither a BaseFS private key nor a public key (ed25519:...)`);
}

/** Labels name a grant in listings: 1..64 of [A-Za-z0-9._@+-]. */
const LABEL = /^[A-Za-z0-9._@+-]{1,64}$/;

export function checkLabel(label: string): string {
  if (!LABEL.test(label)) throw err('USAGE', `bad label '${label}': use 1 to 64 letters, digits or . _ @ + -`);
  return label;
}
