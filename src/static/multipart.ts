// Static files: the multipart/byteranges body of a multi-range 206 (RFC 9110 §14.6, RFC 2046 §5.1.1).
//
// The framing is planned before anything is sent, so Content-Length is exact and the response is
// never chunked (nginx does the same). The body is
//
//   --B CRLF Content-Type: t CRLF Content-Range: bytes a-b/size CRLF CRLF <bytes a..b>
//   CRLF --B CRLF ... <bytes c..d>
//   CRLF --B-- CRLF
//
// The CRLF before each "--B" belongs to the delimiter (RFC 2046 §5.1.1), so the first part starts
// with "--B" (as in the RFC 9110 §14.6 example) and the part data needs no trailing CRLF of its own.
// The final CRLF after the close-delimiter is an (empty) epilogue line, as nginx and Apache send it.
import { randomBytes } from 'node:crypto';
import { read } from 'node:fs';
import { promisify } from 'node:util';
import type { ByteRange } from './range.js';

const readFd = promisify(read);

/** One body part: its header block (delimiter included) and the file bytes start..end. */
export interface Part extends ByteRange {
  readonly head: Buffer;
}

export interface MultipartPlan {
  /** The response's Content-Type: multipart/byteranges with the boundary parameter. */
  readonly contentType: string;
  readonly parts: readonly Part[];
  /** CRLF close-delimiter CRLF. */
  readonly tail: Buffer;
  /** Exact body length: every head, every range, the tail. */
  readonly length: number;
}

/**
 * A boundary that cannot plausibly occur in a file: 96 random bits as 24 hex digits (bchars of
 * RFC 2046 §5.1.1, a token, so the parameter needs no quotes). The body is never scanned for it:
 * with 2^96 possibilities a file that happens to contain "--" + it is not a practical concern.
 */
export function makeBoundary(): string {
  return randomBytes(12).toString('hex');
}

/** Plans the body for `ranges` of a representation of `size` bytes and media type `type`. */
export function planMultipart(ranges: readonly ByteRange[], type: string, size: number, boundary: string = makeBoundary()): MultipartPlan {
  let length = 0;
  const parts = ranges.map((r, i): Part => {
    // Each part says which bytes it carries (§14.4) and, as §14.6 asks, the representation's type.
    const head = Buffer.from(`${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${r.start}-${r.end}/${size}\r\n\r\n`, 'latin1');
    length += head.length + (r.end - r.start + 1);
    return { start: r.start, end: r.end, head };
  });
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  length += tail.length;
  return { contentType: `multipart/byteranges; boundary=${boundary}`, parts, tail, length };
}

/** The whole body from an in-memory representation (small files, cache hits). */
export function multipartBuffer(plan: MultipartPlan, body: Buffer): Buffer {
  const chunks: Buffer[] = [];
  for (const p of plan.parts) chunks.push(p.head, body.subarray(p.start, p.end + 1));
  chunks.push(plan.tail);
  return Buffer.concat(chunks, plan.length);
}

/** Thrown when the file ends before a planned range does: the promised length cannot be kept. */
export class FileShrankError extends Error {
  constructor(readonly expected: number, readonly sent: number) {
    super('static file shrank while streaming');
  }
}

/**
 * The body as a sequence of chunks read from `fd` with positional reads (pread: the descriptor's
 * offset is never used, so parts in any order are fine). Meant for stream.pipeline(), which writes
 * one chunk at a time and waits for 'drain': memory stays near one chunk whatever the file size.
 * Does not close `fd`.
 */
export async function* multipartChunks(plan: MultipartPlan, fd: number, chunkBytes: number): AsyncGenerator<Buffer> {
  let sent = 0;
  for (const p of plan.parts) {
    yield p.head;
    sent += p.head.length;
    let pos = p.start;
    while (pos <= p.end) {
      // A fresh buffer per chunk: the socket may still hold the previous one.
      const want = Math.min(chunkBytes, p.end - pos + 1);
      const { bytesRead, buffer } = await readFd(fd, Buffer.allocUnsafe(want), 0, want, pos);
      if (bytesRead === 0) throw new FileShrankError(plan.length, sent);
      yield bytesRead === want ? buffer : buffer.subarray(0, bytesRead);
      pos += bytesRead;
      sent += bytesRead;
    }
  }
  yield plan.tail;
}
