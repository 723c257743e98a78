/**
 * The one error class of BaseFS. Every failure that a caller may want to act on carries a stable
 * string `code`; tests and callers check the code, never the message text, so messages may improve.
 */
export type ErrorCode =
  // decoding untrusted bytes (network or disk)
  | 'MALFORMED' // structure is wrong: bad tag, bad length prefix, trailing bytes, bad UTF-8
  | 'TOO_LARGE' // a size or count exceeds its bound
  | 'CHECKSUM' // a stored frame's checksum does not match
  // verifying entries
  | 'BAD_HASH' // the claimed hash does not match the recomputed one
  | 'BAD_SIGNATURE' // the signature does not verify (strict RFC 8032)
  | 'BAD_KEY' // a public key is not a canonical, non-small-order Ed25519 point
  | 'BAD_NAME' // a file name is empty, too long, or contains '/', NUL, '.' or '..'
  | 'BAD_PARENT' // the parent is of a kind this action may not follow
  | 'DUPLICATE' // the entry is already in the log
  | 'ORPHAN' // the parent is not (yet) known; the entry is held until it arrives
  | 'UNKNOWN_KEY' // the author was never granted anywhere
  | 'NOT_AUTHORIZED' // the author has no grant that covers this path
  | 'SECOND_ROOT' // a second genesis entry for a filesystem
  // file system view
  | 'NOT_FOUND'
  | 'EXISTS'
  | 'NOT_DIR'
  | 'IS_DIR'
  | 'NOT_EMPTY'
  | 'INCOMPLETE' // a file's blocks are not all present
  // storage and environment
  | 'IO'
  | 'LOCKED'
  | 'NO_KEY'
  | 'USAGE' // a user mistake on the command line or in an API argument
  | 'NOT_SUPPORTED'
  | 'FUSE_UNAVAILABLE' // libfuse, /dev/fuse, fusermount or the fuse-native module is missing
  | 'MOUNTPOINT' // the mountpoint is missing, not a directory, not empty or already mounted
  | 'TIMEOUT'
  | 'CLOSED';

export class BasefsError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'BasefsError';
    this.code = code;
  }
}

/** Shorthand used at every boundary: `throw err('TOO_LARGE', 'name is 300 bytes, max 255')`. */
export function err(code: ErrorCode, message: string, cause?: unknown): BasefsError {
  return new BasefsError(code, message, cause === undefined ? undefined : { cause });
}

export function isBasefsError(e: unknown, code?: ErrorCode): e is BasefsError {
  return e instanceof BasefsError && (code === undefined || e.code === code);
}
