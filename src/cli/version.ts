/** The package version, read from the package.json above this file (src/cli or dist/src/cli). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      try {
        const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'basefs' && typeof pkg.version === 'string') return (cached = pkg.version);
      } catch {
        // not ours; keep looking
      }
    }
    dir = dirname(dir);
  }
  return (cached = 'unknown');
}
