// CGI response -> HTTP response (RFC 3875 §6.3): status, fields, body streamed with backpressure; NPH passthrough.
//
// Exports:
//   writeDocument(res, head, body, opts) -> Promise<BodyOutcome>   document and client-redirect forms
//   writeDocumentBuffer(res, head, body, opts) -> BodyOutcome     the same from a complete body, one write
//   writeNph(res, body)                  -> Promise<void>          nph- scripts: bytes go out as written
//   responseStatus(head)                                           status the client will see
//
// Used by the CGI mount and the FastCGI client (a FastCGI STDOUT stream is a CGI response).
// Decisions (issue 3):
// - No Content-Type on a document: sent without one, plus `X-Content-Type-Options: nosniff`, so a
//   browser cannot sniff script output into HTML. (Go answers 500; Apache sends text/plain, which
//   is a guess.) RFC 9110 §8.3 allows a response without Content-Type.
// - Hop-by-hop fields (RFC 9110 §7.6.1) from the script are dropped, with those its Connection names.
// - A script's Content-Length is enforced: extra bytes are not sent; a short body aborts the
//   connection, so the client never takes a truncated body for a whole one. When nothing was
//   sent yet, nothing is written at all: the caller answers 502 instead.
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { classify, type CgiHead } from './response.js';

/** What happened to the body: how it ended, for the caller's log line. */
export type BodyOutcome = 'complete' | 'no-body' | 'client-gone' | 'short' | 'too-long' | 'body-error';

export interface WriteOptions {
  /** HEAD: headers only; the script's body is read and dropped. */
  readonly head: boolean;
  /** Fields set by the front (x-request-id...) that a script may not override. */
  readonly protectedFields?: ReadonlySet<string>;
  /**
   * Asked when the body ended without a Content-Length: false means the producer was cut off
   * (killed on timeout), so the response is aborted instead of ended as if complete.
   */
  readonly complete?: () => Promise<boolean>;
}

const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-authorization',
]);

/** Status of a parsed head: the script's, else 302 for a client redirect (§6.2.3), else 200. */
export function responseStatus(head: CgiHead): number {
  if (head.status !== null) return head.status;
  return classify(head) === 'client-redirect' ? 302 : 200;
}

/** Lower-cased field names listed in the script's own Connection field: also hop-by-hop. */
function connectionTokens(head: CgiHead): Set<string> | null {
  let out: Set<string> | null = null;
  for (const [name, value] of head.fields) {
    if (name.toLowerCase() !== 'connection') continue;
    out ??= new Set();
    for (const t of value.split(',')) out.add(t.trim().toLowerCase());
  }
  return out;
}

/** Sets status and fields; throws only if node refuses a value (the parser already screened them). */
function writeHead(res: ServerResponse, head: CgiHead, opts: WriteOptions): void {
  const status = responseStatus(head);
  res.statusCode = status;
  if (head.reason !== null) res.statusMessage = head.reason;
  const extra = connectionTokens(head);
  for (const [name, value] of head.fields) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || extra?.has(lower) || opts.protectedFields?.has(lower)) continue;
    res.appendHeader(name, value);
  }
  if (head.location !== null) res.setHeader('location', head.location);
  if (head.contentType !== null) res.setHeader('content-type', head.contentType);
  else if (status !== 204 && status !== 304) res.setHeader('x-content-type-options', 'nosniff');
  if (head.contentLength !== null) res.setHeader('content-length', head.contentLength);
}

/** Resolves when `res` can take more data, or false when the client went away first. */
function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = (): void => {
      res.off('close', onClose);
      resolve(true);
    };
    const onClose = (): void => {
      res.off('drain', onDrain);
      resolve(false);
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

/** Reads and drops the rest of a body, so the script is never blocked on a full pipe. */
function discard(body: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (body.readableEnded || body.destroyed) return resolve();
    body.on('error', () => resolve());
    body.once('end', () => resolve());
    body.once('close', () => resolve());
    body.resume();
  });
}

/**
 * Writes a document or client-redirect response and streams the body. The caller handled local
 * redirects (classify) and malformed heads. Never throws for a client that went away.
 */
export async function writeDocument(res: ServerResponse, head: CgiHead, body: Readable, opts: WriteOptions): Promise<BodyOutcome> {
  writeHead(res, head, opts);
  const status = res.statusCode;
  if (opts.head || status === 204 || status === 304) {
    res.end();
    await discard(body);
    return 'no-body';
  }
  const limit = head.contentLength;
  let sent = 0;
  let outcome: BodyOutcome = 'complete';
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (res.destroyed) {
        outcome = 'client-gone';
        break;
      }
      let piece = chunk;
      if (limit !== null && sent + piece.length > limit) {
        piece = piece.subarray(0, limit - sent);
        outcome = 'too-long';
      }
      sent += piece.length;
      if (piece.length > 0 && !res.write(piece) && !(await drained(res))) {
        outcome = 'client-gone';
        break;
      }
      if (outcome === 'too-long') break;
    }
  } catch {
    outcome = 'body-error';
  }
  if (outcome === 'too-long') void discard(body);
  if (outcome === 'complete' && limit !== null && sent < limit) outcome = 'short';
  if (outcome === 'complete' && limit === null && opts.complete && !(await opts.complete())) outcome = 'body-error';
  if (outcome === 'complete' || outcome === 'too-long') {
    res.end();
  } else if (outcome === 'short' && !res.headersSent) {
    // Not a byte went out: the caller can still answer with an error status.
  } else if (!res.destroyed) {
    // A body that cannot be completed must not look complete: abort the connection.
    res.destroy();
  }
  return outcome;
}

/**
 * writeDocument for a body that is already complete in memory (a resident FastCGI response that
 * came with its END_REQUEST): the head and the body leave in one write, and a body without a
 * script Content-Length gets one (we know it), so the client sees no chunked framing.
 */
export function writeDocumentBuffer(res: ServerResponse, head: CgiHead, body: Buffer, opts: WriteOptions): BodyOutcome {
  writeHead(res, head, opts);
  const status = res.statusCode;
  if (opts.head || status === 204 || status === 304) {
    res.end();
    return 'no-body';
  }
  const limit = head.contentLength;
  if (limit === null) {
    res.setHeader('content-length', body.length);
    res.end(body);
    return 'complete';
  }
  if (body.length >= limit) {
    res.end(body.length === limit ? body : body.subarray(0, limit));
    return body.length === limit ? 'complete' : 'too-long';
  }
  // Short of its own Content-Length, and nothing sent yet: the caller answers 502 instead.
  return 'short';
}

/** Peeks the status code of an NPH status line ("HTTP/1.1 200 OK"), for the access log only. */
function nphStatus(chunk: Buffer): number | null {
  if (chunk.length < 12 || chunk.toString('latin1', 0, 5) !== 'HTTP/') return null;
  const sp = chunk.indexOf(0x20);
  const code = Number(chunk.toString('latin1', sp + 1, sp + 4));
  return sp > 0 && code >= 100 && code <= 599 ? code : null;
}

/**
 * NPH (RFC 3875 §5): the script's bytes go to the client socket as written; the connection is
 * closed after it, since we cannot know where such a response ends.
 */
export async function writeNph(res: ServerResponse, body: Readable): Promise<void> {
  const socket = res.socket;
  if (socket === null) {
    await discard(body);
    return;
  }
  let first = true;
  body.on('data', (chunk: Buffer) => {
    if (!first) return;
    first = false;
    const code = nphStatus(chunk);
    if (code !== null) res.statusCode = code;
  });
  try {
    await pipeline(body, socket);
  } catch {
    socket.destroy();
  }
}
