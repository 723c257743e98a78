/**
 * @noble/curves and @noble/hashes, loaded on first use. Loading them costs a node several MB of
 * RSS (module code and compiled functions), and a node needs them only where node:crypto cannot
 * help: the fallback verify and sign backends (an OpenSSL without Ed25519) and the point checks of
 * a public key not seen before (verify.ts). Loaded synchronously (require of an ES module, which
 * Node.js supports from 20.19, our engines floor), so that callers stay synchronous.
 */
import { createRequire } from 'node:module';

type Curves = typeof import('@noble/curves/ed25519.js');
type Utils = typeof import('@noble/curves/utils.js');
type Sha2 = typeof import('@noble/hashes/sha2.js');

export interface Noble {
  readonly ed25519: Curves['ed25519'];
  readonly bytesToNumberLE: Utils['bytesToNumberLE'];
  readonly numberToBytesLE: Utils['numberToBytesLE'];
  readonly sha512: Sha2['sha512'];
}

let loaded: Noble | undefined;

export function noble(): Noble {
  if (loaded === undefined) {
    const load = createRequire(import.meta.url);
    const curves = load('@noble/curves/ed25519.js') as Curves;
    const utils = load('@noble/curves/utils.js') as Utils;
    const sha2 = load('@noble/hashes/sha2.js') as Sha2;
    loaded = {
      ed25519: curves.ed25519,
      bytesToNumberLE: utils.bytesToNumberLE,
      numberToBytesLE: utils.numberToBytesLE,
      sha512: sha2.sha512,
    };
  }
  return loaded;
}

/** The order of Ed25519's prime subgroup, L = 2^252 + 27742317777372353535851937790883648493. */
export const ED25519_L = 2n ** 252n + 27742317777372353535851937790883648493n;
