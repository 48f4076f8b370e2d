import type { ProbeErrorInfo } from './result.js';

/**
 * The two kinds of failure a run can end in, each with its own exit code, mapped in one
 * place (cli/main.ts): bad input (exit 2: nothing was probed) and a target that cannot be
 * probed (exit 3). Everything else that escapes is a bug (exit 4).
 */

/** Bad input: a flag, URL, scenario file or expectation that cannot be used. Exit code 2. */
export class InputError extends Error {
  /** The one line shown on stderr. */
  describe(): string {
    return this.message;
  }
}

/** A mistake on the command line found after parsing (unknown scenario id, bad output path). */
export class UsageError extends InputError {}

/** A file `analyze` cannot read as a packet capture (missing, unreadable, not pcap/pcapng): exit code 2. */
export class CaptureFileError extends InputError {}

/**
 * The input was fine but the command cannot run on this machine: exit code 3. `code` is
 * stable; `hint` says what the user can do about it.
 */
export class CannotRunError extends Error {
  constructor(
    readonly code: 'tool-missing' | 'temp-space',
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'CannotRunError';
  }

  /** The one line shown on stderr. */
  describe(): string {
    return `${this.message}: ${this.hint} [${this.code}]`;
  }
}

/** A program the command needs is not installed (tshark for `analyze`). */
export class MissingToolError extends CannotRunError {
  constructor(
    readonly tool: string,
    hint: string,
  ) {
    super('tool-missing', `${tool} is not installed or not on PATH`, hint);
    this.name = 'MissingToolError';
  }
}

/**
 * Too little free space in the temporary directory for `analyze` to split a large capture
 * (wire/tshark.ts): found before splitting, or as ENOSPC while it splits.
 */
export class TempSpaceError extends CannotRunError {
  constructor(
    readonly neededBytes: number,
    readonly freeBytes: number,
    readonly dir: string,
  ) {
    super(
      'temp-space',
      `not enough free space to split the capture: it needs about ${mebibytes(neededBytes)} in ${dir}, ${mebibytes(freeBytes)} free`,
      'set TMPDIR to a larger disk',
    );
    this.name = 'TempSpaceError';
  }
}

function mebibytes(bytes: number): string {
  return `${Math.ceil(bytes / 1048576)} MiB`;
}

/**
 * Stable codes for "the target could not be probed". Users and tests match on the code,
 * never on the message; the raw errno and syscall are kept beside it.
 */
export type ProbeErrorCode =
  | 'dns-not-found'
  | 'dns-temporary'
  | 'connect-refused'
  | 'connect-unreachable'
  | 'connect-timeout'
  | 'connect-reset'
  | 'connect-failed'
  | 'tls-failed'
  | 'not-http'
  /** `--protocol h2` and the target does not speak HTTP/2 (ALPN, or no SETTINGS answered the preface). */
  | 'h2-unsupported'
  | 'protocol-error'
  | 'no-response'
  | 'closed-before-response'
  | 'scenario-timeout'
  | 'interrupted';

/** A failure to reach or understand the target. Exit code 3 (when nothing interrupted the run). */
export class ProbeError extends Error {
  readonly code: ProbeErrorCode;
  readonly errno: string | null;
  readonly syscall: string | null;
  /** What the user can do about it (a certificate the probe does not trust); null when the error does not say. */
  readonly hint: string | null;

  constructor(code: ProbeErrorCode, message: string, errno: string | null = null, syscall: string | null = null, hint: string | null = null) {
    super(message);
    this.name = 'ProbeError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
    this.hint = hint;
  }

  toInfo(): ProbeErrorInfo {
    return { code: this.code, message: this.message, errno: this.errno, syscall: this.syscall, hint: this.hint };
  }
}

/** The signals that stop a run and still write its reports (SIGINT is Ctrl-C; CI runners send SIGTERM). */
export type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

/**
 * Why a run or a scenario was stopped before its end, passed as an AbortSignal's reason:
 * the user (Ctrl-C), another hop of the same run that could not be probed, or the
 * scenario's own deadline (--scenario-timeout).
 */
export type AbortReason =
  | { readonly kind: 'user-interrupt'; readonly signal: StopSignal }
  | { readonly kind: 'hop-failed'; readonly hop: string }
  | { readonly kind: 'scenario-deadline'; readonly limitMs: number };

/** The reason a signal was aborted with, or null when it was not (or was aborted without one of ours). */
export function abortReason(signal: AbortSignal | undefined): AbortReason | null {
  if (signal?.aborted !== true) return null;
  const reason = signal.reason as Partial<AbortReason> | undefined;
  return typeof reason === 'object' && reason !== null && typeof reason.kind === 'string' ? (reason as AbortReason) : null;
}

/** Thrown out of a step when its scenario was stopped; carries the reason. */
export class Aborted extends Error {
  constructor(readonly reason: AbortReason | null) {
    super(`aborted (${reason?.kind ?? 'unknown'})`);
    this.name = 'Aborted';
  }
}
