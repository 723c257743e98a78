/**
 * The /etc-like tree of bench:fuse, generated from a seed so every run (and both destinations)
 * copies the same bytes: nested directories, mostly small text files, a few large ones, some
 * symlinks and a few private (0600) or executable (0755) modes. The tree is a model (paths, sizes,
 * versions) that `materialize` and `applyRound` write to a plain source directory; a file's bytes
 * come from its path and version alone, so a round only rewrites what it changed.
 *
 * Every mtime is a whole second derived from the file's version: rsync's quick check (size and
 * mtime) then sees exactly the files a round changed, whatever resolution the destination keeps.
 */
import { chmodSync, mkdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { seededRandom } from './stats.ts';

export interface TreeFile {
  size: number;
  mode: number;
  version: number;
}

export interface Tree {
  dirs: string[];
  files: Map<string, TreeFile>;
  /** Symlink path -> relative target (an existing file when generated; removals may dangle it). */
  links: Map<string, string>;
}

export interface RoundChange {
  changed: number;
  added: number;
  removed: number;
  bytesWritten: number;
}

const BASE_MTIME_S = 1_700_000_000;
const TOP = ['apt', 'ssh', 'nginx', 'systemd', 'network', 'ssl', 'default', 'init.d', 'cron.d', 'security', 'pam.d', 'udev', 'dbus-1', 'logrotate.d', 'modprobe.d', 'sysctl.d', 'profile.d', 'alternatives', 'fonts', 'X11'];
const SUB = ['conf.d', 'sites-available', 'sites-enabled', 'rules.d', 'keys', 'system', 'user', 'certs', 'private', 'scripts'];
const EXT = ['.conf', '', '.list', '.rules', '.service', '.pem', '.sh', '.cfg'];
/** Config-ish text: words, spaces, '=' and newlines, so line-oriented tools see ordinary lines. */
const ALPHABET = Buffer.from('abcdefghijklmnopqrstuvwxyz_0123456789 =\n\n  #/.');

/** djb2 of the path, so a file's bytes depend on its path and version only. */
function pathSeed(path: string, version: number): number {
  let h = 5381;
  for (let i = 0; i < path.length; i++) h = (Math.imul(h, 33) ^ path.charCodeAt(i)) >>> 0;
  return (h ^ Math.imul(version + 1, 0x9e3779b1)) >>> 0;
}

export function fileBytes(path: string, f: TreeFile): Buffer {
  const rng = seededRandom(pathSeed(path, f.version));
  const out = Buffer.allocUnsafe(f.size);
  for (let i = 0; i < f.size; i++) out[i] = ALPHABET[Math.floor(rng.next() * ALPHABET.length)] as number;
  return out;
}

/** Small: 100 B..4 KiB (log-uniform), 10% 4..32 KiB, and `large` files of 64..600 KiB. */
function smallSize(r: () => number): number {
  return r() < 0.9 ? Math.floor(100 * Math.pow(40, r())) : Math.floor(4096 * Math.pow(8, r()));
}

/**
 * About `files` regular files totalling about `bytes` (the large files take what the small ones
 * leave), plus 2.5% symlinks. Deterministic for a given (files, bytes, seed).
 */
export function generateTree(files: number, bytes: number, seed = 11): Tree {
  const rng = seededRandom(seed);
  const r = () => rng.next();
  const dirs: string[] = [];
  const tops = Math.max(8, Math.round(files / 30));
  for (let t = 0; t < tops; t++) {
    const top = t < TOP.length ? (TOP[t] as string) : `pkg${t}`;
    dirs.push(top);
    for (const s of SUB) {
      if (r() < 0.3) {
        dirs.push(`${top}/${s}`);
        if (r() < 0.25) dirs.push(`${top}/${s}/${SUB[Math.floor(r() * SUB.length)]}.d`);
      }
    }
  }
  const large = Math.max(2, Math.round(files * 0.02));
  const sizes = Array.from({ length: files - large }, () => smallSize(r));
  const smallTotal = sizes.reduce((a, b) => a + b, 0);
  const largeWeights = Array.from({ length: large }, () => 0.1 + r());
  const wsum = largeWeights.reduce((a, b) => a + b, 0);
  const left = Math.max(large * 65536, bytes - smallTotal);
  for (const w of largeWeights) sizes.push(Math.min(614_400, Math.max(65536, Math.floor((left * w) / wsum))));
  const tree: Tree = { dirs, files: new Map(), links: new Map() };
  sizes.forEach((size, i) => {
    const dir = dirs[Math.floor(r() * dirs.length)] as string;
    const ext = EXT[Math.floor(r() * EXT.length)] as string;
    const mode = ext === '.sh' ? 0o755 : ext === '.pem' || dir.endsWith('private') ? 0o600 : 0o644;
    tree.files.set(`${dir}/f${i}${ext}`, { size, mode, version: 0 });
  });
  const paths = [...tree.files.keys()];
  for (let i = 0; i < Math.round(files * 0.025); i++) {
    const dir = dirs[Math.floor(r() * dirs.length)] as string;
    const target = paths[Math.floor(r() * paths.length)] as string;
    tree.links.set(`${dir}/link${i}`, relative(dir, target));
  }
  return tree;
}

export function treeBytes(tree: Tree): number {
  let n = 0;
  for (const f of tree.files.values()) n += f.size;
  return n;
}

const setTimes = (abs: string, f: TreeFile): void => {
  const t = BASE_MTIME_S + f.version * 3600;
  utimesSync(abs, t, t);
};

function writeFile(root: string, path: string, f: TreeFile): number {
  const abs = join(root, path);
  writeFileSync(abs, fileBytes(path, f));
  chmodSync(abs, f.mode);
  setTimes(abs, f);
  return f.size;
}

/**
 * Put every file's and directory's access time back to its mtime after a reader moved it
 * (relatime): the recopy with `rsync --atimes` hands a file's access time to the mount as the
 * mtime (bench/fuse.ts, RSYNC), and `cp -a` (--cp) a directory's too. A directory keeps the mtime
 * its last change gave it.
 */
export function resetTimes(tree: Tree, root: string): void {
  for (const [p, f] of tree.files) setTimes(join(root, p), f);
  for (const d of ['', ...tree.dirs]) {
    const abs = join(root, d);
    const { mtime } = statSync(abs);
    utimesSync(abs, mtime, mtime);
  }
}

/** Write the whole tree under `root` (a plain directory). */
export function materialize(tree: Tree, root: string): void {
  for (const d of tree.dirs) mkdirSync(join(root, d), { recursive: true });
  for (const [p, f] of tree.files) writeFile(root, p, f);
  for (const [p, target] of tree.links) symlinkSync(target, join(root, p));
}

/**
 * Round `round` (1..): rewrite `fraction` of the files (a new version, size within +-20%), add 3
 * files and remove 3, in the model and under `root`. The same round number always picks the same
 * files, so the mount and the plain directory receive identical changes.
 */
export function applyRound(tree: Tree, root: string, round: number, fraction = 0.05): RoundChange {
  const rng = seededRandom(10_000 + round);
  const r = () => rng.next();
  const paths = [...tree.files.keys()].sort();
  const pick = new Set<string>();
  const want = Math.max(1, Math.round(paths.length * fraction));
  while (pick.size < want) pick.add(paths[Math.floor(r() * paths.length)] as string);
  let bytesWritten = 0;
  for (const p of pick) {
    const f = tree.files.get(p) as TreeFile;
    const next = { ...f, version: round, size: Math.max(1, Math.floor(f.size * (0.8 + 0.4 * r()))) };
    tree.files.set(p, next);
    bytesWritten += writeFile(root, p, next);
  }
  const rest = paths.filter((p) => !pick.has(p));
  const removed = new Set<string>();
  while (removed.size < 3) removed.add(rest[Math.floor(r() * rest.length)] as string);
  for (const p of removed) {
    tree.files.delete(p);
    rmSync(join(root, p));
  }
  for (let j = 0; j < 3; j++) {
    const dir = tree.dirs[Math.floor(r() * tree.dirs.length)] as string;
    const p = `${dir}/new-r${round}-${j}.conf`;
    const f = { size: smallSize(r), mode: 0o644, version: round };
    tree.files.set(p, f);
    mkdirSync(dirname(join(root, p)), { recursive: true });
    bytesWritten += writeFile(root, p, f);
  }
  return { changed: pick.size, added: 3, removed: removed.size, bytesWritten };
}
