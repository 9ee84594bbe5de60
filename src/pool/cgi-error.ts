// Worker side: a short error answered as a CGI response on FCGI_STDOUT (RFC 3875 §6.3.3 Status).
import type { Logger } from '../log.js';
import { ERRORS, type ErrorCode } from '../errors.js';
import type { ResponderRequest } from '../fastcgi/server.js';
import { describeFailure, failureFields, type Failure } from '../gateway/failure.js';

/** The front's request id (forkfast's front sends it; nginx may: `fastcgi_param REQUEST_ID $request_id`). */
export function requestIdOf(r: ResponderRequest): string | undefined {
  return r.params.get('REQUEST_ID');
}

/**
 * Writes `Status: <code>` and the catalogue message, then ends the request. The web server turns
 * the Status header field into its status line; a request already aborted is left alone. The
 * body carries the request id as the front's own error bodies do.
 */
export function writeCgiError(r: ResponderRequest, code: ErrorCode, appStatus = 0, extraFields = ''): void {
  if (r.aborted) return;
  const { status, message } = ERRORS[code];
  const id = requestIdOf(r);
  const body = id === undefined ? `${status} ${message}\n` : `${status} ${message}\nrequest-id: ${id}\n`;
  r.endWith(`Status: ${status} ${message}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\n${extraFields}\r\n${body}`, appStatus);
}

/** The pool's end of the one failure table (gateway/failure): one log line, one CGI error. */
export function answerFailure(r: ResponderRequest, log: Logger, script: string, failure: Failure, appStatus = 0): void {
  const entry = describeFailure(failure);
  log[entry.level]({ reqId: requestIdOf(r), script, ...failureFields(failure) }, entry.msg);
  writeCgiError(r, entry.code, appStatus, entry.retryAfter ? 'Retry-After: 1\r\n' : '');
}
