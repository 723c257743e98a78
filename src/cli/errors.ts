/**
 * The one place where failures become what a user reads: one line on stderr, "basefs: <message>",
 * and an exit status (0 success, 1 failure, 2 usage error). Never a stack trace: an unexpected
 * error (a bug) prints its message and asks for BASEFS_DEBUG=1, which adds the stack.
 */
import { isBasefsError, type BasefsError, type ErrorCode } from '../core/errors.ts';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The BasefsError message without its "CODE: " prefix. */
export function detail(e: BasefsError): string {
  const prefix = `${e.code}: `;
  return e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
}

/** What to add after the detail of each code, when the detail alone does not say what to do. */
const HINTS: Partial<Record<ErrorCode, string>> = {
  NO_KEY: "create one with 'basefs genkey', or choose one with -k",
  LOCKED: 'another process (a running node or command) has it open for writing; try again when it is done',
  NOT_AUTHORIZED: "it has no write authority there; see 'basefs keys'",
  UNKNOWN_KEY: "it was never granted anywhere; see 'basefs keys'",
  BAD_KEY: 'not a valid Ed25519 public key',
  INCOMPLETE: 'its blocks have not all arrived yet',
};

export interface Failure {
  /** The BasefsError code; USAGE for a command-line parse error; INTERNAL for anything else. */
  code: ErrorCode | 'INTERNAL';
  message: string;
  exit: number;
}

/** Maps any thrown value to its one-line message and exit status. */
export function describeError(e: unknown): Failure {
  if (isBasefsError(e)) {
    const hint = HINTS[e.code];
    let message = detail(e);
    if (hint !== undefined && !message.includes(hint)) message += ` (${hint})`;
    return { code: e.code, message, exit: e.code === 'USAGE' ? EXIT_USAGE : EXIT_FAILURE };
  }
  // Clipanion's own parse errors (unknown command, missing argument, bad option).
  if (e instanceof Error && (e.name === 'UnknownSyntaxError' || e.name === 'AmbiguousSyntaxError' || e.name === 'UsageError')) {
    return { code: 'USAGE', message: clipanionMessage(e), exit: EXIT_USAGE };
  }
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (e instanceof Error && typeof code === 'string' && code.startsWith('E')) {
    return { code: 'IO', message: e.message, exit: EXIT_FAILURE };
  }
  const text = e instanceof Error ? e.message : String(e);
  return { code: 'INTERNAL', message: `internal error: ${text} (set BASEFS_DEBUG=1 for details)`, exit: EXIT_FAILURE };
}

function clipanionMessage(e: Error): string {
  const first = (e.message.split('\n')[0] ?? '').trim();
  if (e.name === 'UnknownSyntaxError' && /Command not found/.test(first)) return "unknown command (see 'basefs help')";
  // "Command not found; did you mean one of: ..." / "Not enough positional arguments." / ...
  const text = first.replace(/\.$/, '');
  return `${text.charAt(0).toLowerCase()}${text.slice(1)} (see 'basefs help')`;
}

/** One line, whatever the message holds. */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
