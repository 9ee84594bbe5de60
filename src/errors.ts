// One catalogue of every error forkfast answers with: a stable code, an HTTP status, a message.
import type { ServerResponse } from 'node:http';

export const ERRORS = {
  FF_BAD_REQUEST: { status: 400, message: 'Bad Request' },
  FF_FORBIDDEN: { status: 403, message: 'Forbidden' },
  FF_NOT_FOUND: { status: 404, message: 'Not Found' },
  FF_METHOD_NOT_ALLOWED: { status: 405, message: 'Method Not Allowed' },
  FF_REQUEST_TIMEOUT: { status: 408, message: 'Request Timeout' },
  FF_PRECONDITION_FAILED: { status: 412, message: 'Precondition Failed' },
  FF_BODY_TOO_LARGE: { status: 413, message: 'Content Too Large' },
  FF_RANGE_NOT_SATISFIABLE: { status: 416, message: 'Range Not Satisfiable' },
  FF_HEADERS_TOO_LARGE: { status: 431, message: 'Request Header Fields Too Large' },
  FF_INTERNAL: { status: 500, message: 'Internal Server Error' },
  FF_REDIRECT_LOOP: { status: 500, message: 'Internal Server Error: local redirect loop' },
  FF_HANDLER_ERROR: { status: 500, message: 'Internal Server Error: the handler failed' },
  FF_HANDLER_UNSETTLED: { status: 500, message: 'Internal Server Error: the handler never settled its response' },
  FF_NOT_IMPLEMENTED: { status: 501, message: 'Not Implemented' },
  FF_BAD_SCRIPT_RESPONSE: { status: 502, message: 'Bad Gateway: the script sent a malformed response' },
  FF_SCRIPT_START_FAILED: { status: 502, message: 'Bad Gateway: the script could not be started' },
  FF_SCRIPT_NO_OUTPUT: { status: 502, message: 'Bad Gateway: the script ended without writing a response' },
  FF_UPSTREAM_FAILED: { status: 502, message: 'Bad Gateway: the FastCGI upstream failed' },
  FF_OVERLOADED: { status: 503, message: 'Service Unavailable: too many requests, retry later' },
  FF_SCRIPT_TIMEOUT: { status: 504, message: 'Gateway Timeout: the script did not answer in time' },
  FF_UPSTREAM_TIMEOUT: { status: 504, message: 'Gateway Timeout: the FastCGI upstream did not answer in time' },
  FF_HTTP_VERSION_NOT_SUPPORTED: { status: 505, message: 'HTTP Version Not Supported' },
  FF_INSUFFICIENT_STORAGE: { status: 507, message: 'Insufficient Storage: no room to spool the request body' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** An error that carries its catalogue code, so a handler can throw it and the front answers it. */
export class ForkfastError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ?? ERRORS[code].message, options);
    this.name = 'ForkfastError';
    this.code = code;
    this.status = ERRORS[code].status;
  }
}

export function isForkfastError(err: unknown): err is ForkfastError {
  return err instanceof ForkfastError;
}

/**
 * Writes the short, uniform error body: status line text and the request id, never a stack.
 * Does nothing to the body if headers already went out (the caller then destroys the socket).
 */
export function sendError(res: ServerResponse, code: ErrorCode, requestId: string, extraHeaders?: Record<string, string>): void {
  // Already answered in full (the front answered a malformed request body first): leave it.
  if (res.writableEnded) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { status, message } = ERRORS[code];
  const body = `${status} ${message}\nrequest-id: ${requestId}\n`;
  res.statusCode = status;
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.setHeader('x-request-id', requestId);
  res.setHeader('cache-control', 'no-store');
  if (extraHeaders) for (const [k, v] of Object.entries(extraHeaders)) res.setHeader(k, v);
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

/** Usage errors end the CLI with exit code 2 and a one-line reason. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Anything thrown, as an Error for the log's `err` field (pino's serializer prints its stack). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
