// Worker side: a short error answered as a CGI response on FCGI_STDOUT (RFC 3875 §6.3.3 Status).
import { ERRORS, type ErrorCode } from '../errors.js';
import type { ResponderRequest } from '../fastcgi/server.js';

/**
 * Writes `Status: <code>` and the catalogue message, then ends the request. The web server turns
 * the Status header field into its status line; a request already aborted is left alone.
 */
export function writeCgiError(r: ResponderRequest, code: ErrorCode, appStatus = 0): void {
  if (r.aborted) return;
  const { status, message } = ERRORS[code];
  const body = `${status} ${message}\n`;
  r.endWith(`Status: ${status} ${message}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\n\r\n${body}`, appStatus);
}
