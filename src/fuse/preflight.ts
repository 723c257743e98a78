/**
 * Everything a mount needs, checked before trying, so a mount that cannot start says in one line
 * what is missing and how to fix it (FUSE_UNAVAILABLE / MOUNTPOINT), instead of a libfuse message
 * or a hang. fuse-native is loaded here, lazily: the rest of BaseFS never needs libfuse.
 */
import { accessSync, constants, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { err } from '../core/errors.ts';

/** The part of fuse-native's class we use (it ships no types). */
export interface FuseInstance {
  mount(cb: (e: Error | null) => void): void;
  unmount(cb: (e: Error | null) => void): void;
}
export type FuseClass = new (mnt: string, ops: object, opts: object) => FuseInstance;

export function checkDevice(): void {
  if (process.platform !== 'linux') throw err('FUSE_UNAVAILABLE', `mounting is supported on Linux only (this is ${process.platform})`);
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch {
    throw err('FUSE_UNAVAILABLE', '/dev/fuse is missing or not accessible: load the module (modprobe fuse), or run the container with --device /dev/fuse --cap-add SYS_ADMIN');
  }
  if (!onPath('fusermount')) throw err('FUSE_UNAVAILABLE', 'fusermount is not installed: install the fuse package (apt-get install fuse)');
}

export async function loadFuse(): Promise<FuseClass> {
  try {
    // A variable specifier: the module is optional and untyped, and must not load before a mount.
    const specifier = 'fuse-native';
    const mod = (await import(specifier)) as { default: FuseClass };
    return mod.default;
  } catch (e) {
    const text = String((e as Error).message ?? e);
    if (/libfuse\.so/.test(text))
      throw err('FUSE_UNAVAILABLE', 'libfuse.so.2 is not installed: install libfuse2 (apt-get install libfuse2)', e);
    throw err('FUSE_UNAVAILABLE', `the fuse-native module cannot be loaded (${text.split('\n')[0]}): run npm install fuse-native`, e);
  }
}

/** An existing, empty directory that nothing is mounted on; returns its absolute path. */
export function checkMountpoint(path: string): string {
  const mnt = resolve(path);
  // Asked first, from the mount table: a stat of a mount whose server hangs would hang here too.
  if (isMounted(mnt))
    throw err('MOUNTPOINT', `${mnt} is already a mount point: unmount it first (basefs unmount ${mnt}, or fusermount -u ${mnt})`);
  let st;
  try {
    st = statSync(mnt);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTCONN')
      throw err('MOUNTPOINT', `${mnt} is a stale mount (its process ended): run fusermount -uz ${mnt}`);
    throw err('MOUNTPOINT', `${mnt} does not exist: create it (mkdir -p ${mnt})`);
  }
  if (!st.isDirectory()) throw err('MOUNTPOINT', `${mnt} is not a directory: mount on an empty directory`);
  if (statSync(dirname(mnt)).dev !== st.dev)
    throw err('MOUNTPOINT', `${mnt} is already a mount point: unmount it first (basefs unmount ${mnt}, or fusermount -u ${mnt})`);
  if (readdirSync(mnt).length > 0) throw err('MOUNTPOINT', `${mnt} is not empty: mount on an empty directory`);
  return mnt;
}

/** Whether `mnt` (absolute) is listed in this mount namespace's mount table. */
export function isMounted(mnt: string): boolean {
  let table: string;
  try {
    table = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return false;
  }
  // Field 5 is the mount point, with space, tab, newline and backslash octal-escaped.
  const escaped = mnt.replace(/[\\ \t\n]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
  return table.split('\n').some((line) => line.split(' ')[4] === escaped);
}

function onPath(cmd: string): boolean {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/bin', '/usr/bin', '/sbin', '/usr/sbin'];
  return dirs.some((dir) => {
    try {
      accessSync(`${dir}/${cmd}`, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
