// Static files: writes the response for one representation: 304/412, Range 206/416, HEAD, 200.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { sendError } from '../errors.js';
import type { RequestContext } from '../http/route.js';
import { evaluatePreconditions, ifRangeAllows } from './conditional.js';
import type { Representation } from './file-cache.js';
import { FileShrankError, multipartBuffer, multipartChunks, planMultipart } from './multipart.js';
import { parseRange, type ByteRange, type RangeResult } from './range.js';
import { closeFd } from './resolve.js';

/** The bytes of a representation: held in memory (cache hit) or an open file to stream. */
export type Body = { readonly kind: 'buffer'; readonly buffer: Buffer } | { readonly kind: 'file'; readonly fd: number };

const IGNORED: RangeResult = { kind: 'ignored' };

/** Chunk size for streamed files: large enough for few syscalls, small enough to bound memory. */
const STREAM_CHUNK = 64 * 1024;

/**
 * Answers a GET or HEAD for `rep`. Owns `body`: an open descriptor is closed on every path (streamed with
 * autoClose, closed after the last multipart part, or closed here when no body goes out). Resolves when the response is finished or the
 * client went away, so the front's access log sees the real duration.
 */
export async function respond(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, rep: Representation, body: Body, nowMs: number): Promise<void> {
  const head = ctx.method === 'HEAD';
  const pre = evaluatePreconditions(req.headers, rep.validators);
  if (pre !== 'proceed') {
    await release(body);
    if (pre === 'failed') {
      sendError(res, 'FF_PRECONDITION_FAILED', ctx.id);
      return;
    }
    res.writeHead(304, rep.headers304 as string[]);
    res.end();
    return;
  }
  // Range handling is defined for GET only; any other method ignores it (RFC 9110 §14.2). A failed
  // If-Range means "send me the whole new version" (§13.1.5).
  const range = !head && req.headers.range !== undefined && ifRangeAllows(req.headers, rep.validators, nowMs) ? parseRange(req.headers.range, rep.size) : IGNORED;
  if (range.kind === 'unsatisfiable') {
    await release(body);
    // §15.5.17: a 416 for byte ranges carries the current length as "bytes */length".
    sendError(res, 'FF_RANGE_NOT_SATISFIABLE', ctx.id, { 'content-range': `bytes */${rep.size}` });
    return;
  }
  if (range.kind === 'multiple') return multipart(res, ctx, rep, body, range.ranges);
  let start = 0;
  let end = rep.size - 1;
  if (range.kind === 'satisfiable') {
    ({ start, end } = range);
    res.writeHead(206, [...rep.headers, 'content-range', `bytes ${start}-${end}/${rep.size}`, 'content-length', String(end - start + 1)]);
  } else {
    res.writeHead(200, rep.headers200 as string[]);
  }
  if (head || rep.size === 0) {
    await release(body);
    res.end();
    return;
  }
  if (body.kind === 'buffer') {
    res.end(range.kind === 'satisfiable' ? body.buffer.subarray(start, end + 1) : body.buffer);
    return;
  }
  await stream(res, ctx, body.fd, start, end);
}

/**
 * Two or more ranges: 206 multipart/byteranges (RFC 9110 §14.6, §15.3.7.2). The header section is
 * what a 200 would carry (validators, Cache-Control: §15.3.7 asks for them) except Content-Type,
 * which becomes the multipart type; no top-level Content-Range (§14.4: only the parts have one).
 */
async function multipart(res: ServerResponse, ctx: RequestContext, rep: Representation, body: Body, ranges: readonly ByteRange[]): Promise<void> {
  const plan = planMultipart(ranges, rep.type, rep.size);
  const headers: string[] = ['content-type', plan.contentType];
  for (let i = 0; i + 1 < rep.headers.length; i += 2) {
    const name = rep.headers[i] as string;
    if (name !== 'content-type') headers.push(name, rep.headers[i + 1] as string);
  }
  headers.push('content-length', String(plan.length));
  res.writeHead(206, headers);
  if (body.kind === 'buffer') {
    res.end(multipartBuffer(plan, body.buffer));
    return;
  }
  const socket = res.socket;
  const chunks = multipartChunks(plan, body.fd, STREAM_CHUNK);
  try {
    await pipeline(chunks, res);
  } catch (err) {
    if (err instanceof FileShrankError) {
      ctx.log.warn({ expected: err.expected, sent: err.sent }, 'static file shrank while streaming');
      socket?.destroy();
    } else {
      streamFailed(res, ctx, err);
    }
  } finally {
    // pipeline() settles as soon as the client is gone, possibly with a pread still in flight:
    // return() queues behind that step, so the descriptor is closed only once nothing uses it.
    await chunks.return(undefined);
    await closeFd(body.fd);
  }
}

/**
 * Streams bytes start..end of an open file with backpressure: pipeline() pauses the file stream
 * while the socket's buffer is full, so memory stays near one chunk per response whatever the size.
 */
async function stream(res: ServerResponse, ctx: RequestContext, fd: number, start: number, end: number): Promise<void> {
  // With `fd` the path argument is ignored; autoClose closes the descriptor on end, error or destroy.
  const source = createReadStream('', { fd, start, end, highWaterMark: STREAM_CHUNK, autoClose: true });
  // Taken now: once the response finishes, node detaches the socket from `res` for the next request.
  const socket = res.socket;
  try {
    await pipeline(source, res);
    // The file shrank after fstat: fewer bytes than Content-Length went out, so the message framing
    // is broken and the connection cannot be reused (RFC 9112 §6.3): close it.
    if (source.bytesRead !== end - start + 1) {
      ctx.log.warn({ expected: end - start + 1, sent: source.bytesRead }, 'static file shrank while streaming');
      socket?.destroy();
    }
  } catch (err) {
    streamFailed(res, ctx, err);
  }
}

/** After pipeline() failed: it destroyed both streams; the status line is gone, so the socket is the only signal. */
function streamFailed(res: ServerResponse, ctx: RequestContext, err: unknown): void {
  // A client that goes away mid-file is ordinary (ERR_STREAM_PREMATURE_CLOSE); a read error is not.
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'EPIPE') ctx.log.debug({ code }, 'static client went away');
  else ctx.log.warn({ err, code }, 'static file read failed');
  if (!res.destroyed) res.destroy();
}

async function release(body: Body): Promise<void> {
  if (body.kind === 'file') await closeFd(body.fd);
}
