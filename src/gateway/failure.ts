// The one table from every way a script run can fail to its catalogue code and its one log line.
//
// Exports: Failure (what went wrong), describeFailure(f) -> FailureEntry, failureFields(f),
//          silentExitFailure(exit, module), errorCodeForSpawnError(err).
//
// Both ends use it: the front answers with sendError (cgi and FastCGI mounts, through
// gateway/flow), the pool's program runner with a CGI Status response (pool/cgi-error). So one
// spawn failure is the same status everywhere (EMFILE, EAGAIN, a full queue: 503 with
// Retry-After; any other start failure: 502), and every event has one constant message.
import type { ErrorCode } from '../errors.js';
import type { MalformedReason } from '../cgi/response.js';
import type { FastcgiError } from '../fastcgi/errors.js';
import { SpawnError, type ChildExit } from '../spawn/types.js';

/** Node's exit code for a top-level await that never settled (a handler module that hangs). */
export const NODE_UNSETTLED_TLA = 13;

export type Failure =
  /** The program could not be started (execve failed, no slot, descriptors exhausted). */
  | { readonly kind: 'spawn'; readonly err: Error }
  /** The meta-variables are larger than exec accepts (RFC 3875 §4.1.18 headers, mostly). */
  | { readonly kind: 'exec-limits'; readonly variable: string }
  /** The FastCGI exchange failed (connect, protocol, reset, timeout, overload). */
  | { readonly kind: 'fastcgi'; readonly err: FastcgiError }
  /** The response head is not a CGI response (RFC 3875 §6.2). */
  | { readonly kind: 'malformed'; readonly reason: MalformedReason; readonly line?: string; readonly exit?: ChildExit }
  /** The script ended (exit status or signal) without writing a byte. */
  | { readonly kind: 'no-output'; readonly exit: ChildExit }
  /** A handler module run as CGI whose promise never settled: Node ended it with exit code 13. */
  | { readonly kind: 'unsettled'; readonly exit: ChildExit }
  /** The body ended before the script's own Content-Length, and nothing was sent yet. */
  | { readonly kind: 'short-body'; readonly contentLength: number | null }
  /** We cut the script off (--cgi-timeout, --cgi-idle-timeout) before it answered. */
  | { readonly kind: 'timeout'; readonly reason: 'timeout' | 'idle-timeout' };

export interface FailureEntry {
  readonly code: ErrorCode;
  readonly level: 'info' | 'warn' | 'error';
  /** Constant: the fields say which script and why. */
  readonly msg: string;
  /** 503 asks the client to come back (RFC 9110 §10.2.3). */
  readonly retryAfter: boolean;
}

/** Start failures that mean "no resources now", not "this script is broken": 503, retry. */
const EXHAUSTED: ReadonlySet<string> = new Set(['EQUEUEFULL', 'ECLOSED', 'EMFILE', 'ENFILE', 'EAGAIN', 'ENOMEM']);

const OVERLOADED: FailureEntry = { code: 'FF_OVERLOADED', level: 'warn', msg: 'too many scripts running: request refused', retryAfter: true };
const TOO_LARGE: FailureEntry = { code: 'FF_HEADERS_TOO_LARGE', level: 'info', msg: 'meta-variables over the exec limits', retryAfter: false };
const START_FAILED: FailureEntry = { code: 'FF_SCRIPT_START_FAILED', level: 'error', msg: 'script could not be started', retryAfter: false };
const MALFORMED: FailureEntry = { code: 'FF_BAD_SCRIPT_RESPONSE', level: 'warn', msg: 'malformed script response', retryAfter: false };
const NO_OUTPUT: FailureEntry = { code: 'FF_SCRIPT_NO_OUTPUT', level: 'warn', msg: 'script ended without writing a response', retryAfter: false };
const UNSETTLED: FailureEntry = { code: 'FF_HANDLER_UNSETTLED', level: 'error', msg: 'handler never settled its response', retryAfter: false };
const SHORT_BODY: FailureEntry = { code: 'FF_BAD_SCRIPT_RESPONSE', level: 'warn', msg: 'script body did not match its response', retryAfter: false };
const TIMEOUT: FailureEntry = { code: 'FF_SCRIPT_TIMEOUT', level: 'warn', msg: 'script timed out before its headers', retryAfter: false };
const UPSTREAM: Record<'FF_UPSTREAM_FAILED' | 'FF_UPSTREAM_TIMEOUT' | 'FF_OVERLOADED', FailureEntry> = {
  FF_UPSTREAM_FAILED: { code: 'FF_UPSTREAM_FAILED', level: 'warn', msg: 'FastCGI upstream failed', retryAfter: false },
  FF_UPSTREAM_TIMEOUT: { code: 'FF_UPSTREAM_TIMEOUT', level: 'warn', msg: 'FastCGI upstream failed', retryAfter: false },
  FF_OVERLOADED: { code: 'FF_OVERLOADED', level: 'warn', msg: 'FastCGI upstream failed', retryAfter: true },
};

/**
 * The catalogue entry a failed spawn() is answered with; null for ABORT_ERR (the client is gone:
 * nothing to answer). E2BIG means the request made the environment too large for exec: 431.
 */
export function errorCodeForSpawnError(err: SpawnError): ErrorCode | null {
  if (err.code === 'ABORT_ERR') return null;
  return describeFailure({ kind: 'spawn', err }).code;
}

/** The spawn error's errno-like code ('EUNKNOWN' for anything else thrown at start). */
function spawnCode(err: Error): string {
  return err instanceof SpawnError ? err.code : 'EUNKNOWN';
}

export function describeFailure(f: Failure): FailureEntry {
  switch (f.kind) {
    case 'spawn': {
      const code = spawnCode(f.err);
      if (EXHAUSTED.has(code)) return OVERLOADED;
      return code === 'E2BIG' ? TOO_LARGE : START_FAILED;
    }
    case 'exec-limits':
      return TOO_LARGE;
    case 'fastcgi':
      return UPSTREAM[f.err.errorCode as keyof typeof UPSTREAM] ?? UPSTREAM.FF_UPSTREAM_FAILED;
    case 'malformed':
      return MALFORMED;
    case 'no-output':
      return NO_OUTPUT;
    case 'unsettled':
      return UNSETTLED;
    case 'short-body':
      return SHORT_BODY;
    case 'timeout':
      return TIMEOUT;
  }
}

/** The log fields that say why: `err` for errors (pino's serializer), the exit for ended scripts. */
export function failureFields(f: Failure): Record<string, unknown> {
  switch (f.kind) {
    case 'spawn':
      return { code: spawnCode(f.err), err: f.err };
    case 'exec-limits':
      return { variable: f.variable };
    case 'fastcgi':
      return { code: f.err.code, err: f.err };
    case 'malformed':
      return { malformed: f.reason, line: f.line, exitCode: f.exit?.code, signal: f.exit?.signal ?? undefined };
    case 'no-output':
    case 'unsettled':
      return { exitCode: f.exit.code, signal: f.exit.signal ?? undefined };
    case 'short-body':
      return { outcome: 'short', contentLength: f.contentLength };
    case 'timeout':
      return { reason: f.reason };
  }
}

/**
 * What an ended child that wrote nothing tells us: Node's unsettled-await exit for a handler
 * module, else the exit status or the signal; a kill of ours is a timeout.
 */
export function silentExitFailure(exit: ChildExit, handlerModule: boolean): Failure {
  if (exit.reason === 'timeout' || exit.reason === 'idle-timeout') return { kind: 'timeout', reason: exit.reason };
  if (handlerModule && exit.code === NODE_UNSETTLED_TLA) return { kind: 'unsettled', exit };
  return { kind: 'no-output', exit };
}
