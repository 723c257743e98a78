/**
 * Linux errno values and the mapping from BaseFS errors to them. fuse-native wants a callback's
 * error as a negative errno; everything the operations throw goes through `toErrno`.
 */
import { isBasefsError, type ErrorCode } from '../core/errors.ts';

export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EFBIG: 27,
  ENOSPC: 28,
  EROFS: 30,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ENOTSUP: 95,
} as const;
export type ErrnoName = keyof typeof ERRNO;

/** An error an operation raises on purpose with a given errno (no BaseFS code fits, e.g. EROFS). */
export class FuseError extends Error {
  readonly errno: number;
  constructor(name: ErrnoName, message: string) {
    super(`${name}: ${message}`);
    this.errno = ERRNO[name];
  }
}

export function fail(name: ErrnoName, message: string): never {
  throw new FuseError(name, message);
}

const BY_CODE: Partial<Record<ErrorCode, ErrnoName>> = {
  NOT_FOUND: 'ENOENT',
  EXISTS: 'EEXIST',
  NOT_DIR: 'ENOTDIR',
  IS_DIR: 'EISDIR',
  NOT_EMPTY: 'ENOTEMPTY',
  // The key has no grant covering the path: permission denied, as a read-only mode bit would say.
  NOT_AUTHORIZED: 'EACCES',
  UNKNOWN_KEY: 'EACCES',
  NO_KEY: 'EROFS',
  BAD_NAME: 'EINVAL',
  USAGE: 'EINVAL',
  TOO_LARGE: 'EFBIG',
  NOT_SUPPORTED: 'ENOTSUP',
  LOCKED: 'EBUSY',
  // Content not received yet and no earlier complete version: the read cannot be served now.
  INCOMPLETE: 'EIO',
};

/** Positive errno for any thrown value; unexpected errors are EIO (and reported by the caller). */
export function toErrno(e: unknown): number {
  if (e instanceof FuseError) return e.errno;
  if (isBasefsError(e)) {
    if (e.code === 'BAD_NAME' && /longer than/.test(e.message)) return ERRNO.ENAMETOOLONG;
    return ERRNO[BY_CODE[e.code] ?? 'EIO'];
  }
  return ERRNO.EIO;
}

/** True for errors that are part of normal operation (ENOENT on a lookup), not worth logging. */
export function isExpected(e: unknown): boolean {
  return e instanceof FuseError || (isBasefsError(e) && BY_CODE[e.code] !== undefined);
}
