// FastCGI failure modes: one error class with a stable code, mapped onto the forkfast catalogue.
import type { ErrorCode } from '../errors.js';

/**
 * Why a FastCGI exchange failed. Protocol codes come from the decoder (a peer sent bytes that are
 * not FastCGI 1.0); the others from the client's connection handling.
 */
export type FastcgiErrorCode =
  | 'FCGI_BAD_VERSION' // §3.3: version byte is not FCGI_VERSION_1 (often: an HTTP client on the port)
  | 'FCGI_BAD_RECORD' // a record whose length or request id is impossible for its type
  | 'FCGI_PARAMS_TOO_LARGE' // a PARAMS stream over the configured bound
  | 'FCGI_BAD_PARAMS' // name-value pairs that run past the end of their stream (§3.4)
  | 'FCGI_UNEXPECTED_RECORD' // a record that the receiving side never expects (e.g. BEGIN twice)
  | 'FCGI_CONNECT_REFUSED' // ECONNREFUSED / ENOENT on a unix path
  | 'FCGI_CONNECT_TIMEOUT'
  | 'FCGI_IDLE_TIMEOUT' // no record for the request within idleTimeoutMs
  | 'FCGI_CONN_RESET' // the upstream closed or reset the connection mid-request
  | 'FCGI_OVERLOADED' // §5.5 FCGI_OVERLOADED, or our own limit on queued requests
  | 'FCGI_CANT_MPX_CONN' // §5.5
  | 'FCGI_UNKNOWN_ROLE' // §5.5
  | 'FCGI_ABORTED' // the caller's AbortSignal fired
  | 'FCGI_CLOSED'; // the client was closed

const CATALOGUE: Record<FastcgiErrorCode, ErrorCode> = {
  FCGI_BAD_VERSION: 'FF_UPSTREAM_FAILED',
  FCGI_BAD_RECORD: 'FF_UPSTREAM_FAILED',
  FCGI_PARAMS_TOO_LARGE: 'FF_UPSTREAM_FAILED',
  FCGI_BAD_PARAMS: 'FF_UPSTREAM_FAILED',
  FCGI_UNEXPECTED_RECORD: 'FF_UPSTREAM_FAILED',
  FCGI_CONNECT_REFUSED: 'FF_UPSTREAM_FAILED',
  FCGI_CONNECT_TIMEOUT: 'FF_UPSTREAM_TIMEOUT',
  FCGI_IDLE_TIMEOUT: 'FF_UPSTREAM_TIMEOUT',
  FCGI_CONN_RESET: 'FF_UPSTREAM_FAILED',
  FCGI_OVERLOADED: 'FF_OVERLOADED',
  FCGI_CANT_MPX_CONN: 'FF_UPSTREAM_FAILED',
  FCGI_UNKNOWN_ROLE: 'FF_UPSTREAM_FAILED',
  FCGI_ABORTED: 'FF_UPSTREAM_FAILED',
  FCGI_CLOSED: 'FF_UPSTREAM_FAILED',
};

export class FastcgiError extends Error {
  override readonly name = 'FastcgiError';
  readonly code: FastcgiErrorCode;
  /** The forkfast catalogue entry an HTTP front answers with (502, 503 or 504). */
  readonly errorCode: ErrorCode;
  constructor(code: FastcgiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.errorCode = CATALOGUE[code];
  }
}

export function isFastcgiError(err: unknown): err is FastcgiError {
  return err instanceof FastcgiError;
}
