/**
 * The CLI as a real process: `node src/cli/main.ts` under the TypeScript loader tap itself uses
 * (found in this process's execArgv), so shebang-free startup, exit statuses and real stdio are
 * tested without a build. The built dist/ is exercised by `npm run demo`.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const loader = process.execArgv.filter((a) => /@tapjs[\\/]typescript/.test(a));

function basefs(args: string[], home: string) {
  const r = spawnSync(process.execPath, [...loader, MAIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'], HOME: home, BASEFS_HOME: home, TS_NODE_TRANSPILE_ONLY: '1' },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('basefs as a process', { skip: loader.length === 0 ? 'not run under tap (no TypeScript loader)' : false }, async (t) => {
  const home = t.testdir();
  t.equal(basefs(['--version'], home).code, 0);
  const key = basefs(['genkey'], home);
  t.equal(key.code, 0, key.stderr);
  t.match(key.stdout, /ed25519:[A-Za-z0-9_-]{43}/);
  const boot = basefs(['bootstrap', 'demo', '-i', '127.0.0.1'], home);
  t.equal(boot.code, 0, boot.stderr);
  const show = basefs(['show', 'demo', '--json'], home);
  t.equal(show.code, 0, show.stderr);
  t.equal((JSON.parse(show.stdout) as { name: string }).name, 'demo');
  t.notMatch(basefs(['show', 'demo'], home).stdout, /\u001b\[/, 'no colour on a pipe');

  const missing = basefs(['show', 'nope'], home);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^basefs: [^\n]+\n$/);
  t.equal(missing.stdout, '');
  const usage = basefs(['bootstrap', 'x'], home);
  t.equal(usage.code, 2);
  t.match(usage.stderr, /^basefs: [^\n]+\n$/);
  const noMountpoint = basefs(['mount', 'demo', join(home, 'no-such-dir')], home);
  t.equal(noMountpoint.code, 1);
  t.match(noMountpoint.stderr, /^basefs: [^\n]+ does not exist: create it \(mkdir -p [^\n]+\)\n$/);
  const help = basefs([], home);
  t.equal(help.code, 0);
  t.match(help.stdout, /installserf/);
});
