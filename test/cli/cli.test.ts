import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { defaultPort, fsDir } from '../../src/core/home.ts';
import { formatPublicKey, generateKeyPair, parsePublicKey, readKeyFile } from '../../src/core/keys.ts';
import { Replica } from '../../src/core/replica.ts';
import { describeError } from '../../src/cli/errors.ts';
import { err } from '../../src/core/errors.ts';
import { ACTION, createEntry } from '../../src/core/entry.ts';
import { chunkFile } from '../../src/core/content.ts';
import { fromHex, toHex } from '../../src/core/hash.ts';
import { envFor, isOneLineError, run, type Env } from './harness.ts';

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

/** A home with a root key and a bootstrapped filesystem "demo". */
async function setup(t: Test): Promise<{ home: string; env: Env }> {
  const home = t.testdir();
  const env = envFor(home);
  t.equal((await run(['genkey'], env)).code, 0, 'genkey');
  t.equal((await run(['bootstrap', 'demo', '-i', '127.0.0.1,127.0.0.2:7000'], env)).code, 0, 'bootstrap');
  return { home, env };
}

/** Library-level writes (mkdir/write come from the mount in a later release). */
function withWriter(home: string, keyFile: string, fn: (r: Replica) => void): void {
  const r = Replica.open(fsDir(home, 'demo'), { writable: true, key: readKeyFile(keyFile) });
  try {
    fn(r);
  } finally {
    r.close();
  }
}

function readFs(home: string, path: string): string {
  const r = Replica.open(fsDir(home, 'demo'), { writable: false });
  try {
    return str(r.view.readFile(path));
  } finally {
    r.close();
  }
}

function logSize(home: string): number {
  const r = Replica.open(fsDir(home, 'demo'), { writable: false });
  try {
    return r.log.size;
  } finally {
    r.close();
  }
}

t.test('genkey writes a 0600 key, prints its public key, refuses to overwrite without -f', async (t) => {
  const home = t.testdir();
  const env = envFor(home);
  const r = await run(['genkey'], env);
  t.equal(r.code, 0);
  t.equal(r.stderr, '');
  const keyFile = join(home, 'id_ed25519');
  t.equal(statSync(keyFile).mode & 0o777, 0o600);
  const kp = readKeyFile(keyFile);
  t.match(r.stdout, formatPublicKey(kp.publicKey));
  t.match(r.stdout, /fingerprint: [0-9a-f]{4}(:[0-9a-f]{4}){3}/);

  const again = await run(['genkey'], env);
  t.equal(again.code, 1, 'existing key without -f');
  t.equal(again.error, 'EXISTS');
  t.ok(isOneLineError(again.stderr), again.stderr);
  t.same(readKeyFile(keyFile), kp, 'the key is untouched');

  const forced = await run(['genkey', '-f'], env);
  t.equal(forced.code, 0);
  t.not(formatPublicKey(readKeyFile(keyFile).publicKey), formatPublicKey(kp.publicKey));

  const js = await run(['genkey', join(home, 'other.key'), '--json'], env);
  t.equal(js.code, 0);
  const o = JSON.parse(js.stdout) as { path: string; publicKey: string; fingerprint: string };
  t.same(Object.keys(o), ['path', 'publicKey', 'fingerprint']);
  t.equal(o.path, join(home, 'other.key'));
  t.doesNotThrow(() => parsePublicKey(o.publicKey));
});

t.test('bootstrap: config, seeds, port; mistakes', async (t) => {
  const home = t.testdir();
  const env = envFor(home);
  const noKey = await run(['bootstrap', 'demo', '-i', '127.0.0.1'], env);
  t.equal(noKey.code, 1, 'missing key');
  t.ok(isOneLineError(noKey.stderr), noKey.stderr);
  t.equal(noKey.error, 'NO_KEY');

  await run(['genkey'], env);
  const r = await run(['bootstrap', 'demo', '-i', '127.0.0.1,127.0.0.2:7000', '--json'], env);
  t.equal(r.code, 0, r.stderr);
  const port = defaultPort('demo');
  const o = JSON.parse(r.stdout) as Record<string, unknown>;
  t.same(Object.keys(o), ['name', 'id', 'port', 'seeds', 'rootKeys', 'entries', 'dir']);
  t.same(o['seeds'], [`127.0.0.1:${port}`, '127.0.0.2:7000']);
  t.equal(o['port'], port);
  const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')) as {
    filesystems: Record<string, { port: number; seeds: string[]; createdAt: string }>;
  };
  t.equal(config.filesystems['demo']?.port, port);
  t.same(config.filesystems['demo']?.seeds, [`127.0.0.1:${port}`, '127.0.0.2:7000']);
  t.ok(Date.parse(config.filesystems['demo']?.createdAt ?? '') > 0);
  const rep = Replica.open(fsDir(home, 'demo'), { writable: false });
  t.same(rep.seeds(), [`127.0.0.1:${port}`, '127.0.0.2:7000']);
  t.equal(rep.name, 'demo');
  rep.close();

  const exists = await run(['bootstrap', 'demo', '-i', '127.0.0.1'], env);
  t.equal(exists.code, 1);
  t.equal(exists.error, 'EXISTS');
  t.ok(isOneLineError(exists.stderr));
  const forced = await run(['bootstrap', 'demo', '-i', '10.0.0.9', '-p', '17000', '-f'], env);
  t.equal(forced.code, 0, forced.stderr);
  t.equal((JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')) as typeof config).filesystems['demo']?.port, 17000);

  const kb = generateKeyPair();
  const second = join(home, 'second.key');
  await run(['genkey', second], env);
  const two = await run(['bootstrap', 'two', '-i', '::1', '-k', `${join(home, 'id_ed25519')},${second}`, '--json'], env);
  t.equal(two.code, 0, two.stderr);
  t.equal((JSON.parse(two.stdout) as { rootKeys: string[] }).rootKeys.length, 2);
  t.match((JSON.parse(two.stdout) as { seeds: string[] }).seeds[0], /^\[::1\]:\d+$/);
  void kb;

  for (const [args, what] of [
    [['bootstrap', 'x', '-i', 'not-an-ip'], 'bad address'],
    [['bootstrap', 'x', '-i', '10.0.0.1:99999'], 'bad seed port'],
    [['bootstrap', 'x', '-i', '10.0.0.1', '-p', 'abc'], 'bad port'],
    [['bootstrap', 'bad/name', '-i', '10.0.0.1'], 'bad name'],
    [['bootstrap', 'x'], 'missing -i'],
    [['bootstrap'], 'missing name'],
  ] as const) {
    const m = await run([...args], env);
    t.equal(m.code, 2, what);
    t.equal(m.error, 'USAGE', what);
    t.ok(isOneLineError(m.stderr), `${what}: ${m.stderr}`);
  }
  const badKey = await run(['bootstrap', 'x', '-i', '10.0.0.1', '-k', join(home, 'config.json')], env);
  t.equal(badKey.code, 1, 'a file that is not a key');
  t.equal(badKey.error, 'MALFORMED');
  t.ok(isOneLineError(badKey.stderr), badKey.stderr);
});

t.test('list: text and --json', async (t) => {
  const home = t.testdir();
  const env = envFor(home);
  const empty = await run(['list', '--json'], env);
  t.equal(empty.code, 0);
  t.same(JSON.parse(empty.stdout), []);
  t.equal((await run(['list'], env)).code, 0);
  await run(['genkey'], env);
  await run(['bootstrap', 'demo', '-i', '127.0.0.1'], env);
  await run(['bootstrap', 'beta', '-i', '127.0.0.1'], env);
  const r = await run(['list', '--json'], env);
  t.equal(r.code, 0);
  const list = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  t.same(
    list.map((x) => x['name']),
    ['beta', 'demo'],
  );
  const first = list[0] as Record<string, unknown>;
  t.same(Object.keys(first), ['name', 'id', 'entries', 'rootHash', 'port', 'seeds', 'sizeBytes', 'lastUpdate', 'dir']);
  t.match(first['id'], /^[0-9a-f]{64}$/);
  t.match(first['rootHash'], /^[0-9a-f]{64}$/);
  t.equal(first['entries'], 2);
  t.ok((first['sizeBytes'] as number) > 0);
  t.ok(Date.parse(first['lastUpdate'] as string) > 0);
  const text = await run(['list'], env);
  t.match(text.stdout, /NAME\s+ID\s+ENTRIES/);
  t.match(text.stdout, /demo\s+[0-9a-f]{12}\s+2\s/);

  // One damaged filesystem does not hide the others.
  mkdirSync(join(home, 'fs', 'broken'), { recursive: true });
  writeFileSync(join(home, 'fs', 'broken', 'log'), 'not a log file at all');
  const withBroken = await run(['list', '--json'], env);
  t.equal(withBroken.code, 0);
  const rows = JSON.parse(withBroken.stdout) as Array<Record<string, unknown>>;
  t.same(
    rows.map((x) => [x['name'], typeof x['error']]),
    [
      ['beta', 'undefined'],
      ['broken', 'string'],
      ['demo', 'undefined'],
    ],
  );
  t.match((await run(['list'], env)).stdout, /broken\s+unreadable/);
});

t.test('show: tree text, --json, subtree, default name, mistakes', async (t) => {
  const { home, env } = await setup(t);
  const r = await run(['show'], env);
  t.equal(r.code, 0, 'the only filesystem is the default');
  t.match(r.stdout, /\* [0-9a-f]{12}\s+MKDIR\s+[0-9a-f]{4}:/);
  t.match(r.stdout, /\.cluster/);
  t.match(r.stdout, /└── \.cluster/, 'a tree');
  const ascii = await run(['show', '-a'], env);
  t.match(ascii.stdout, /`-- \.cluster/);
  t.notMatch(ascii.stdout, /[^\x00-\x7f]/, 'ASCII only');
  withWriter(home, join(home, 'id_ed25519'), (rep) => {
    rep.writer?.mkdir('/etc');
    rep.writer?.writeFile('/etc/a', text('1'));
    rep.writer?.writeFile('/etc/a', text('22'));
  });
  const js = await run(['show', 'demo', '--json'], env);
  t.equal(js.code, 0);
  const o = JSON.parse(js.stdout) as {
    name: string;
    id: string;
    rootHash: string;
    entries: number;
    paths: Array<{ path: string; kind: string; entries: Array<Record<string, unknown>> }>;
  };
  t.same(Object.keys(o), ['name', 'id', 'rootHash', 'entries', 'path', 'paths']);
  t.equal(o.name, 'demo');
  t.equal(o.entries, 5);
  t.same(
    o.paths.map((p) => [p.path, p.kind]),
    [
      ['/', 'dir'],
      ['/.cluster', 'file'],
      ['/etc', 'dir'],
      ['/etc/a', 'file'],
    ],
  );
  const a = o.paths[3]?.entries ?? [];
  t.same(
    a.map((e) => [e['action'], e['current']]),
    [
      ['WRITE', false],
      ['WRITE', true],
    ],
  );
  t.same(Object.keys(a[0] ?? {}).sort(), ['action', 'author', 'authorKey', 'current', 'effective', 'hash', 'selected', 'size', 'timestamp', 'valid']);

  const sub = await run(['show', 'demo:/etc', '--json'], env);
  t.same(
    (JSON.parse(sub.stdout) as typeof o).paths.map((p) => p.path),
    ['/etc', '/etc/a'],
  );
  for (const [args, code, error] of [
    [['show', 'nope'], 1, 'NOT_FOUND'],
    [['show', 'demo:/missing'], 1, 'NOT_FOUND'],
    [['show', 'demo:etc'], 2, 'USAGE'],
    [['show', 'demo', 'extra'], 2, 'USAGE'],
  ] as const) {
    const m = await run([...args], env);
    t.equal(m.code, code, args.join(' '));
    t.equal(m.error, error, args.join(' '));
    t.ok(isOneLineError(m.stderr), m.stderr);
    t.equal(m.stdout, '');
  }
  await run(['bootstrap', 'other', '-i', '127.0.0.1'], env);
  const ambiguous = await run(['show'], env);
  t.equal(ambiguous.code, 2, 'several filesystems: name one');
  t.equal(ambiguous.error, 'USAGE');
  t.ok(isOneLineError(ambiguous.stderr));
});

t.test('grant, keys, revert, revoke: the permission story', async (t) => {
  const { home, env } = await setup(t);
  const root = join(home, 'id_ed25519');
  const admin = join(home, 'admin.key');
  const ops = join(home, 'ops.key');
  await run(['genkey', admin], env);
  const opsPub = (JSON.parse((await run(['genkey', ops, '--json'], env)).stdout) as { publicKey: string }).publicKey;
  withWriter(home, root, (r) => r.writer?.mkdir('/etc'));

  const noDir = await run(['grant', 'demo:/nope', admin], env);
  t.equal(noDir.code, 1, 'grant on a missing directory');
  t.equal(noDir.error, 'NOT_DIR');
  t.ok(isOneLineError(noDir.stderr), noDir.stderr);

  const g = await run(['grant', 'demo:/etc', admin, '--json'], env);
  t.equal(g.code, 0, g.stderr);
  const ge = JSON.parse(g.stdout) as { name: string; entries: Array<{ hash: string; action: string; name: string }> };
  t.same(ge.entries.map((e) => [e.action, e.name]), [['GRANT', 'admin']], 'label defaults to the key file name');
  const g2 = await run(['grant', 'demo:/etc', opsPub, '-n', 'ops'], env);
  t.equal(g2.code, 0, g2.stderr);

  const keys = await run(['keys', 'demo', '--json'], env);
  t.equal(keys.code, 0);
  const k = JSON.parse(keys.stdout) as { name: string; id: string; path: string; keys: Array<Record<string, unknown>> };
  t.same(Object.keys(k), ['name', 'id', 'path', 'keys']);
  t.same(
    k.keys.map((x) => [x['label'], x['dir'], x['depth']]),
    [
      ['root', '/', 0],
      ['admin', '/etc', 1],
      ['ops', '/etc', 1],
    ],
  );
  t.same(Object.keys(k.keys[1] ?? {}), ['key', 'fingerprint', 'label', 'dir', 'depth', 'grant']);
  t.equal(k.keys[0]?.['grant'], null);
  const keysText = await run(['keys', 'demo:/etc'], env);
  t.match(keysText.stdout, /admin\s+[0-9a-f]{4}:/);
  const keysOther = await run(['keys', 'demo:/.cluster', '--json'], env);
  t.same(
    (JSON.parse(keysOther.stdout) as typeof k).keys.map((x) => x['label']),
    ['root'],
    'only the keys that may write the path',
  );

  // The admin works in /etc, but may not grant outside it.
  withWriter(home, admin, (r) => {
    r.writer?.writeFile('/etc/app.conf', text('v1'));
    r.writer?.writeFile('/etc/app.conf', text('v2'));
  });
  const before = logSize(home);
  const denied = await run(['grant', 'demo:/', opsPub, '-k', admin], env);
  t.equal(denied.code, 1);
  t.equal(denied.error, 'NOT_AUTHORIZED');
  t.ok(isOneLineError(denied.stderr), denied.stderr);
  t.equal(logSize(home), before, 'nothing was written');

  // revert
  const hist = JSON.parse((await run(['show', 'demo:/etc/app.conf', '--json'], env)).stdout) as {
    paths: Array<{ entries: Array<{ hash: string; action: string }> }>;
  };
  const v1 = hist.paths[0]?.entries[0]?.hash ?? '';
  for (const [args, code, error] of [
    [['revert', 'demo:/etc/app.conf', 'xyz', '-k', admin], 2, 'USAGE'],
    [['revert', 'demo:/etc/app.conf', 'ffffffffff', '-k', admin], 1, 'NOT_FOUND'],
    [['revert', 'demo', v1.slice(0, 8), '-k', admin], 2, 'USAGE'],
    [['revert', 'demo:/etc/app.conf', v1.slice(0, 8), '-k', join(home, 'missing.key')], 1, 'NO_KEY'],
  ] as const) {
    const m = await run([...args], env);
    t.equal(m.code, code, args.join(' '));
    t.equal(m.error, error, args.join(' '));
    t.ok(isOneLineError(m.stderr), m.stderr);
  }
  const rv = await run(['revert', 'demo:/etc/app.conf', v1.slice(0, 10), '-k', admin], env);
  t.equal(rv.code, 0, rv.stderr);
  t.equal(readFs(home, '/etc/app.conf'), 'v1');

  // revoke by label; the admin's work stays
  const rk = await run(['revoke', 'demo:/etc', 'admin', '--json'], env);
  t.equal(rk.code, 0, rk.stderr);
  const actions = (JSON.parse(rk.stdout) as typeof ge).entries.map((e) => e.action);
  t.same(actions, ['ACK', 'REVOKE']);
  t.equal(readFs(home, '/etc/app.conf'), 'v1', 'acknowledged work is kept');
  const after = JSON.parse((await run(['keys', 'demo', '--json'], env)).stdout) as typeof k;
  t.same(
    after.keys.map((x) => x['label']),
    ['root', 'ops'],
  );
  withWriter(home, admin, (r) => t.throws(() => r.writer?.writeFile('/etc/app.conf', text('v3')), { code: 'NOT_AUTHORIZED' }));
  const again = await run(['revoke', 'demo:/etc', 'admin'], env);
  t.equal(again.code, 1, 'nothing left to revoke');
  t.equal(again.error, 'NOT_FOUND');
  t.ok(isOneLineError(again.stderr));
  const rootRevoke = await run(['revoke', 'demo', 'root'], env);
  t.equal(rootRevoke.code, 2, 'the root key cannot be revoked');
  t.equal(rootRevoke.error, 'USAGE');
  t.ok(isOneLineError(rootRevoke.stderr));

  // revoke by fingerprint and by public key
  const opsFp = (after.keys[1]?.['fingerprint'] as string) ?? '';
  const byFp = await run(['revoke', 'demo', opsFp], env);
  t.equal(byFp.code, 0, byFp.stderr);
  await run(['grant', 'demo:/etc', ops], env);
  const byKey = await run(['revoke', 'demo:/etc', opsPub], env);
  t.equal(byKey.code, 0, byKey.stderr);
  t.same(
    (JSON.parse((await run(['keys', 'demo', '--json'], env)).stdout) as typeof k).keys.map((x) => x['label']),
    ['root'],
  );

  // show marks the revoked key's kept work as effective but no longer valid
  const shown = JSON.parse((await run(['show', 'demo:/etc/app.conf', '--json'], env)).stdout) as {
    paths: Array<{ entries: Array<{ action: string; valid: boolean; effective: boolean; current: boolean }> }>;
  };
  t.same(
    shown.paths[0]?.entries.map((e) => [e.action, e.valid, e.effective, e.current]),
    [
      ['WRITE', false, true, false],
      ['WRITE', false, true, false],
      ['REVERT', false, true, false],
      ['ACK', true, true, true],
    ],
  );
});

t.test('grant: bad keys and labels', async (t) => {
  const { home, env } = await setup(t);
  withWriter(home, join(home, 'id_ed25519'), (r) => r.writer?.mkdir('/etc'));
  const notPoint = 'ed25519:' + Buffer.alloc(32, 0xff).toString('base64url');
  for (const [key, code, error] of [
    ['ed25519:abc', 2, 'USAGE'],
    ['ed25519:' + 'A'.repeat(42) + 'B', 2, 'USAGE'],
    [notPoint, 1, 'BAD_KEY'],
    ['no-such-file', 2, 'USAGE'],
    [join(home, 'config.json'), 2, 'USAGE'],
  ] as const) {
    const r = await run(['grant', 'demo:/etc', key], env);
    t.equal(r.code, code, key);
    t.equal(r.error, error, key);
    t.ok(isOneLineError(r.stderr), r.stderr);
  }
  const pub = formatPublicKey(generateKeyPair().publicKey);
  const badLabel = await run(['grant', 'demo:/etc', pub, '-n', 'has space'], env);
  t.equal(badLabel.code, 2);
  t.equal(badLabel.error, 'USAGE');
  const noFs = await run(['grant', 'nope:/etc', pub], env);
  t.equal(noFs.code, 1);
  t.equal(noFs.error, 'NOT_FOUND');
  const noKey = await run(['grant', 'demo:/etc', pub, '-k', join(home, 'absent.key')], env);
  t.equal(noKey.code, 1);
  t.equal(noKey.error, 'NO_KEY');
  t.ok(isOneLineError(noKey.stderr));
  const ok = await run(['grant', 'demo:/etc', pub], env);
  t.equal(ok.code, 0, 'the public key text form');
  t.equal(ok.error, undefined);
  t.match(ok.stdout, /key-[0-9a-f]{8}/, 'default label from the fingerprint');
});

t.test('write commands take the lock; read commands do not', async (t) => {
  const { home, env } = await setup(t);
  const held = Replica.open(fsDir(home, 'demo'), { writable: true });
  t.teardown(() => held.close());
  const pub = formatPublicKey(generateKeyPair().publicKey);
  const r = await run(['grant', 'demo', pub], env);
  t.equal(r.code, 1);
  t.equal(r.error, 'LOCKED');
  t.ok(isOneLineError(r.stderr), r.stderr);
  t.equal((await run(['show', 'demo'], env)).code, 0, 'show works beside a writer');
  t.equal((await run(['keys', 'demo'], env)).code, 0);
  t.equal((await run(['list'], env)).code, 0);
});

const ALL = ['genkey', 'keys', 'bootstrap', 'list', 'show', 'grant', 'revoke', 'revert', 'installserf', 'help', 'run', 'get', 'members', 'blocks', 'serf', 'resources', 'mount', 'unmount'];

t.test('installserf explains that gossip is built in and succeeds', async (t) => {
  for (const argv of [['installserf'], ['installserf', '/usr/local/bin/']]) {
    const r = await run(argv, envFor(t.testdir()));
    t.equal(r.code, 0);
    t.match(r.stdout, /built-in SWIM gossip/);
    t.equal(r.stderr, '');
  }
});

t.test('help lists every command; every command has --help with examples', async (t) => {
  const env = envFor(t.testdir());
  for (const argv of [[], ['help'], ['--help'], ['-h']]) {
    const r = await run(argv, env);
    t.equal(r.code, 0, argv.join(' '));
    for (const c of ALL) t.match(r.stdout, new RegExp(`^  ${c}\\s`, 'm'), `${c} in help`);
  }
  for (const c of ALL) {
    const r = await run([c, '--help'], env);
    t.equal(r.code, 0, `${c} --help`);
    t.match(r.stdout, /Examples/, `${c} has examples`);
  }
  const one = await run(['help', 'grant'], env);
  t.equal(one.code, 0);
  t.match(one.stdout, /basefs grant/);
  const unknownHelp = await run(['help', 'frob'], env);
  t.equal(unknownHelp.code, 2);
  t.equal(unknownHelp.error, 'USAGE');
  t.ok(isOneLineError(unknownHelp.stderr));
});

t.test('--version prints the package version', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  for (const flag of ['--version', '-v']) {
    const r = await run([flag], envFor(t.testdir()));
    t.equal(r.code, 0);
    t.equal(r.stdout, pkg.version + '\n');
  }
});

t.test('parse errors: one line, exit 2', async (t) => {
  const env = envFor(t.testdir());
  for (const argv of [['frob'], ['frob', 'x', 'y'], ['list', '--bogus'], ['genkey', 'a', 'b'], ['grant', 'demo:/etc']]) {
    const r = await run(argv, env);
    t.equal(r.code, 2, argv.join(' '));
    t.equal(r.error, 'USAGE');
    t.ok(isOneLineError(r.stderr), r.stderr);
    t.equal(r.stdout, '');
  }
});

t.test('colour only on a TTY without NO_COLOR', async (t) => {
  const { home } = await setup(t);
  const esc = /\u001b\[/;
  t.notMatch((await run(['show', 'demo'], { BASEFS_HOME: home })).stdout, esc, 'not a TTY');
  t.match((await run(['show', 'demo'], { BASEFS_HOME: home }, { tty: true })).stdout, esc, 'a TTY');
  t.notMatch((await run(['show', 'demo'], { BASEFS_HOME: home, NO_COLOR: '1' }, { tty: true })).stdout, esc, 'NO_COLOR');
  t.notMatch((await run(['show', 'demo', '--json'], { BASEFS_HOME: home }, { tty: true })).stdout, esc, 'JSON never');
});

t.test('error mapping: codes to exit statuses, hints, no stack', async (t) => {
  t.same(describeError(err('USAGE', 'x')), { code: 'USAGE', message: 'x', exit: 2 });
  t.equal(describeError(err('NOT_FOUND', 'x')).exit, 1);
  for (const code of ['NO_KEY', 'LOCKED', 'NOT_AUTHORIZED'] as const) {
    const f = describeError(err(code, 'detail'));
    t.equal(f.code, code);
    t.ok(f.message.startsWith('detail (') && f.message.length > 'detail ()'.length, `${code} gets a hint`);
  }
  t.equal(describeError(new TypeError('boom')).code, 'INTERNAL');
  const debugHome = t.testdir();
  const r = await run(['show', 'nope'], envFor(debugHome, { BASEFS_DEBUG: '1' }));
  t.match(r.stderr, /\n\s+at /, 'BASEFS_DEBUG=1 adds the stack');
});

t.test('show marks a losing branch (~) and an ignored tail (!)', async (t) => {
  const { home, env } = await setup(t);
  const root = readKeyFile(join(home, 'id_ed25519'));
  const admin = generateKeyPair();
  let base = '';
  withWriter(home, join(home, 'id_ed25519'), (r) => {
    r.writer?.mkdir('/etc');
    r.writer?.grant('/etc', admin.publicKey, 'admin');
    base = toHex(r.writer?.writeFile('/etc/a', text('base')).hash ?? new Uint8Array());
  });
  // Two concurrent writes after the same entry (as two nodes would make them): the root key's
  // branch has more authority and wins. Then the admin is revoked and appends once more.
  const fork = (key: typeof root, body: string, parent: string) =>
    createEntry(
      { parent: fromHex(parent), timestamp: 1, action: ACTION.WRITE, name: 'a', content: chunkFile(text(body)).manifest },
      key.publicKey,
      key.seed,
    );
  const theirs = fork(admin, 'admin', base);
  const ours = fork(root, 'root', base);
  withWriter(home, join(home, 'id_ed25519'), (r) => {
    t.same(r.log.ingestMany([theirs.bytes, ours.bytes]).map((x) => x.status), ['accepted', 'accepted']);
    r.writer?.revoke('/etc', admin.publicKey, 'admin');
  });
  const tail = fork(admin, 'late', toHex(ours.hash));
  withWriter(home, join(home, 'id_ed25519'), (r) => t.equal(r.log.ingest(tail.bytes).status, 'accepted', 'stored, but it will not count'));
  t.equal(readFs(home, '/etc/a'), 'root');

  const js = JSON.parse((await run(['show', 'demo:/etc/a', '--json'], env)).stdout) as {
    paths: Array<{ entries: Array<{ hash: string; selected: boolean; effective: boolean; current: boolean }> }>;
  };
  const byHash = new Map(js.paths[0]?.entries.map((e) => [e.hash, e]));
  t.same(byHash.get(toHex(theirs.hash)), { ...byHash.get(toHex(theirs.hash)), selected: false, effective: false });
  t.same(byHash.get(toHex(ours.hash)), { ...byHash.get(toHex(ours.hash)), selected: true, effective: true, current: true });
  t.same(byHash.get(toHex(tail.hash)), { ...byHash.get(toHex(tail.hash)), selected: true, effective: false, current: false });
  const out = (await run(['show', 'demo:/etc/a'], env)).stdout;
  t.match(out, new RegExp(`~ ${toHex(theirs.hash).slice(0, 12)}`));
  t.match(out, new RegExp(`\\* ${toHex(ours.hash).slice(0, 12)}`));
  t.match(out, new RegExp(`! ${toHex(tail.hash).slice(0, 12)}`));
});
