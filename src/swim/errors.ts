/**
 * The one error class of src/swim (the layer imports nothing of ours from outside it). Every
 * failure a caller may act on carries a stable string `code`; tests check the code, never the
 * message text.
 */
export type SwimErrorCode =
  // decoding untrusted bytes from the network
  | 'MALFORMED' // structure is wrong: unknown type byte, truncated part, bad field
  | 'TOO_LARGE' // a length, count or payload exceeds its bound
  // runtime and environment
  | 'BAD_ADDRESS' // not an "ip:port" we can use
  | 'BIND_FAILED' // the UDP socket or TCP server could not be bound (fatal at start)
  | 'STATE_CORRUPT' // the incarnation state file is not ours
  | 'IO' // reading or writing local state failed
  | 'TIMEOUT'
  | 'BUSY' // a resource limit refused the request
  | 'USAGE' // a bad argument to a public API
  | 'BAD_ARGUMENT' // an invalid option or argument (bad config value, oversized key, bad name)
  | 'LEFT' // the state machine has left the cluster; broadcast/setMeta/join are refused
  | 'CLOSED'; // the node is stopped

export class SwimError extends Error {
  readonly code: SwimErrorCode;
  constructor(code: SwimErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'SwimError';
    this.code = code;
  }
}

export function isSwimError(e: unknown, code?: SwimErrorCode): e is SwimError {
  return e instanceof SwimError && (code === undefined || e.code === code);
}
