/**
 * `npm run demo:offline`: the offline commands (keys, grants, revert, revoke) on one real log.
 *
 * In a temporary BASEFS_HOME it runs the real CLI (`node dist/src/cli/main.js ...`, exactly what a
 * user runs) through a whole story: two keys, a filesystem, a delegated directory, a change, a
 * revert, a revocation that keeps the revoked key's work, and the listings. File writes use the
 * library (the FUSE mount provides them in a later release). Every step checks its outcome, so
 * the demo fails loudly (exit 1) if anything is off; it always removes its temporary directory.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBasefsError } from '../core/errors.ts';
import { fsDir } from '../core/home.ts';
import { readKeyFile } from '../core/keys.ts';
import { Replica } from '../core/replica.ts';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), 'main.js');
const home = mkdtempSync(join(tmpdir(), 'basefs-demo-'));
const env = { ...process.env, BASEFS_HOME: home, NO_COLOR: '1' };
const adminKey = join(home, 'admin.key');
const opsKey = join(home, 'ops.key');
const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);
let step = 0;

/** Paths in what we print are shown relative to $BASEFS_HOME, so the output reads the same everywhere. */
const shown = (s: string) => s.split(home).join('$BASEFS_HOME');

function say(s: string): void {
  process.stdout.write(s + '\n');
}

function heading(title: string): void {
  step++;
  say(`\n== ${step}. ${title}`);
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`demo check failed: ${what}`);
}

/** Runs `basefs ...args` as a separate process and prints the command and its output. */
function basefs(args: string[], expectExit = 0, quiet = false): string {
  say(`$ basefs ${shown(args.join(' '))}${quiet ? '   (output read by the demo, not shown)' : ''}`);
  const r = spawnSync(process.execPath, [MAIN, ...args], { env, encoding: 'utf8' });
  const out = (r.stdout ?? '') + (r.stderr ?? '');
  if (!quiet) {
    for (const line of out.replace(/\n$/, '').split('\n')) if (line !== '') say('    ' + shown(line));
  } else if (r.stderr) {
    say('    ' + shown(r.stderr.trim()));
  }
  if (r.status !== expectExit) throw new Error(`'basefs ${args.join(' ')}' exited with ${r.status}, expected ${expectExit}`);
  if (expectExit !== 0) say(`    (exit status ${r.status}, as expected)`);
  return r.stdout ?? '';
}

/** A library step: open the replica writable with `keyFile`, run `fn` with its writer. */
function library(keyFile: string, description: string, fn: (r: Replica) => void): void {
  say(`[library, signed with ${shown(keyFile)}] ${description}`);
  const r = Replica.open(fsDir(home, 'demo'), { writable: true, key: readKeyFile(keyFile) });
  try {
    fn(r);
  } finally {
    r.close();
  }
}

function read(path: string): string {
  const r = Replica.open(fsDir(home, 'demo'), { writable: false });
  try {
    return str(r.view.readFile(path));
  } finally {
    r.close();
  }
}

function main(): void {
  say('BaseFS demo: the offline commands on a real signed log.');
  say(`A throwaway BASEFS_HOME is used: ${home}`);

  heading('Keys: the root of trust, an administrator, and one more key for later');
  basefs(['genkey']);
  basefs(['genkey', adminKey]);
  const ops = JSON.parse(basefs(['genkey', opsKey, '--json'])) as { publicKey: string };

  heading('Create the filesystem "demo" with three seed nodes');
  basefs(['bootstrap', 'demo', '-i', '127.0.0.1,127.0.0.2,127.0.0.3']);
  basefs(['show', 'demo']);

  heading('Make /etc and delegate it to the administrator');
  say('Files and directories are written through the FUSE mount in a later release (issue 6);');
  say('until then this demo makes them with the library Writer, which signs entries the same way.');
  library(join(home, 'id_ed25519'), 'mkdir /etc', (r) => r.writer?.mkdir('/etc'));
  basefs(['grant', 'demo:/etc', adminKey, '-n', 'admin']);
  basefs(['keys', 'demo']);

  heading('The administrator writes a configuration file, twice');
  library(adminKey, 'write /etc/app.conf = "listen 80"', (r) => r.writer?.writeFile('/etc/app.conf', text('listen 80\n')));
  library(adminKey, 'write /etc/app.conf = "listen 8080"', (r) => r.writer?.writeFile('/etc/app.conf', text('listen 8080\n')));
  check(read('/etc/app.conf') === 'listen 8080\n', 'the second write is current');
  basefs(['show', 'demo:/etc']);

  heading('Authority is checked: the administrator cannot grant outside /etc');
  basefs(['grant', 'demo:/', ops.publicKey, '-n', 'ops', '-k', adminKey], 1);

  heading('Revert the file to its first version');
  const history = JSON.parse(basefs(['show', 'demo:/etc/app.conf', '--json'], 0, true)) as {
    paths: Array<{ entries: Array<{ hash: string; action: string }> }>;
  };
  const first = history.paths[0]?.entries.find((e) => e.action === 'WRITE');
  check(first !== undefined, 'the file has a first WRITE');
  say(`    the first WRITE of /etc/app.conf is ${first?.hash.slice(0, 12)}`);
  basefs(['revert', 'demo:/etc/app.conf', (first as { hash: string }).hash.slice(0, 10), '-k', adminKey]);
  check(read('/etc/app.conf') === 'listen 80\n', 'revert restored the first version');
  say(`/etc/app.conf now reads: ${JSON.stringify(read('/etc/app.conf'))}`);

  heading('Revoke the administrator: its earlier work stays, its future work is refused');
  basefs(['revoke', 'demo:/etc', 'admin']);
  basefs(['keys', 'demo']);
  basefs(['show', 'demo:/etc']);
  check(read('/etc/app.conf') === 'listen 80\n', 'the revoked key\'s acknowledged work is kept');
  let refused = false;
  library(adminKey, 'try to write /etc/app.conf again', (r) => {
    try {
      r.writer?.writeFile('/etc/app.conf', text('listen 9999\n'));
    } catch (e) {
      refused = isBasefsError(e, 'NOT_AUTHORIZED');
    }
  });
  check(refused, 'a revoked key cannot write');
  say('    refused: NOT_AUTHORIZED (every node would ignore such an entry too)');

  heading('The filesystems in this BASEFS_HOME, for scripts');
  basefs(['list', '--json']);

  say('\nDemo finished: every step behaved as expected.');
}

let status = 0;
try {
  main();
} catch (e) {
  process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
  status = 1;
} finally {
  rmSync(home, { recursive: true, force: true });
}
process.exitCode = status;
