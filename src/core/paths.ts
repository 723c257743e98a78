/**
 * Paths inside a BaseFS filesystem: absolute, '/'-separated, no '.' or '..' components, no
 * trailing slash (except the root "/"). Names are single components, validated as the entry format
 * and every POSIX client expect.
 */
import { err } from './errors.ts';
import { MAX_NAME } from './entry.ts';

const encoder = new TextEncoder();

/** Throws BAD_NAME unless `name` is a usable single path component. */
export function checkName(name: string): void {
  if (name.length === 0) throw err('BAD_NAME', 'empty name');
  if (name === '.' || name === '..') throw err('BAD_NAME', `"${name}" is not a file name`);
  if (name.includes('/') || name.includes('\0')) throw err('BAD_NAME', 'name contains "/" or NUL');
  // UTF-8 needs at most 3 bytes per UTF-16 unit: only long names need encoding to be measured.
  if (name.length * 3 > MAX_NAME && encoder.encode(name).length > MAX_NAME)
    throw err('BAD_NAME', `name longer than ${MAX_NAME} bytes`);
}

export function isValidName(name: string): boolean {
  try {
    checkName(name);
    return true;
  } catch {
    return false;
  }
}

/** Normalize a user-given path ("a/b/", "/a//b/./c") to canonical form; rejects "..". */
export function normalizePath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    checkName(part);
    parts.push(part);
  }
  return '/' + parts.join('/');
}

export function splitPath(path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/');
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? '/' + name : dir + '/' + name;
}

export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path === '/' ? '/' : path.slice(path.lastIndexOf('/') + 1);
}

/** Number of components: "/" is 0, "/etc" is 1. A key granted at depth d has authority d. */
export function pathDepth(path: string): number {
  return path === '/' ? 0 : splitPath(path).length;
}

/** True when `path` is `ancestor` or lies below it. */
export function isWithin(path: string, ancestor: string): boolean {
  if (ancestor === '/') return true;
  return path === ancestor || path.startsWith(ancestor + '/');
}

/** "/", then each ancestor down to `path` itself. */
export function ancestorsAndSelf(path: string): string[] {
  const out = ['/'];
  let cur = '';
  for (const p of splitPath(path)) {
    cur += '/' + p;
    out.push(cur);
  }
  return out;
}
