// The request body for a CGI child: streamed when its length is known, spooled when chunked (exact CONTENT_LENGTH).
//
// Exports:
//   prepareBody(req, opts) -> Promise<PreparedBody | BodyRefusal>
//
// RFC 3875 §4.1.2 wants CONTENT_LENGTH before the script starts, and a chunked request
// (RFC 9112 §7.1) has none: we de-chunk (node's parser does) and spool the body, in memory up to
// `memoryLimit`, then in a temp file. The file is unlinked right after it is opened, so it is
// removed even if this process dies. Past `maxBodySize`: 413 (Go answers 400 here, which breaks
// `git push` through git-http-backend).
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface BodyOptions {
  /** Largest body accepted (bytes); over it: 413. */
  readonly maxBodySize: number;
  /** Spool in memory up to this many bytes, then in a temp file. */
  readonly memoryLimit?: number;
  /** Directory of the temp files; default os.tmpdir(). */
  readonly spoolDir?: string;
}

export interface PreparedBody {
  readonly ok: true;
  /** Exact length for CONTENT_LENGTH, or null when the request has no body. */
  readonly length: number | null;
  /** What to pipe to the child's stdin; null closes stdin at once. */
  readonly stream: Readable | null;
  /** Releases the spool (closes the temp file); idempotent, call it when the child is done. */
  dispose(): Promise<void>;
}

export interface BodyRefusal {
  readonly ok: false;
  readonly code: 'FF_BODY_TOO_LARGE' | 'FF_BAD_REQUEST' | 'FF_INSUFFICIENT_STORAGE' | 'FF_INTERNAL';
  readonly reason: string;
}

const DEFAULT_MEMORY_LIMIT = 256 * 1024;
const noop = async (): Promise<void> => {};

/** A request body is framed by Content-Length or Transfer-Encoding (RFC 9112 §6.3). */
export async function prepareBody(req: IncomingMessage, opts: BodyOptions): Promise<PreparedBody | BodyRefusal> {
  const te = req.headers['transfer-encoding'];
  const cl = req.headers['content-length'];
  if (te === undefined) {
    if (cl === undefined) return { ok: true, length: null, stream: null, dispose: noop };
    const length = Number(cl);
    if (!Number.isSafeInteger(length) || length < 0) return { ok: false, code: 'FF_BAD_REQUEST', reason: 'bad Content-Length' };
    if (length > opts.maxBodySize) return { ok: false, code: 'FF_BODY_TOO_LARGE', reason: 'Content-Length over the limit' };
    // Known length: stream straight to stdin, with the socket's backpressure.
    return { ok: true, length, stream: length === 0 ? null : req, dispose: noop };
  }
  return spool(req, opts);
}

async function spool(req: IncomingMessage, opts: BodyOptions): Promise<PreparedBody | BodyRefusal> {
  const memoryLimit = opts.memoryLimit ?? DEFAULT_MEMORY_LIMIT;
  const chunks: Buffer[] = [];
  let length = 0;
  let file: FileHandle | null = null;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > opts.maxBodySize) {
        await file?.close();
        return { ok: false, code: 'FF_BODY_TOO_LARGE', reason: 'chunked body over the limit' };
      }
      if (file === null) {
        chunks.push(chunk);
        if (length <= memoryLimit) continue;
        file = await openSpoolFile(opts.spoolDir ?? tmpdir());
        for (const c of chunks) await file.write(c);
        chunks.length = 0;
      } else {
        // Awaiting each write pauses the socket: the spool has backpressure too.
        await file.write(chunk);
      }
    }
  } catch (err) {
    await file?.close().catch(() => undefined);
    return spoolRefusal(err);
  }
  if (file === null) {
    return { ok: true, length, stream: length === 0 ? null : Readable.from(chunks, { objectMode: false }), dispose: noop };
  }
  const fh = file;
  const stream = fh.createReadStream({ start: 0, autoClose: true });
  let disposed = false;
  return {
    ok: true,
    length,
    stream,
    async dispose() {
      if (disposed) return;
      disposed = true;
      stream.destroy();
      await fh.close().catch(() => undefined);
    },
  };
}

/** Errors of the spool file itself: the server's fault, not the client's (RFC 9110 §15.6). */
const NO_ROOM: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT']);

/**
 * A failed spool: the client's body (aborted, malformed chunk: 400) or our disk (full: 507,
 * RFC 4918 §11.5; any other file error: 500). Errors from the file carry a syscall; the
 * request stream's do not.
 */
function spoolRefusal(err: unknown): BodyRefusal {
  const e = err as NodeJS.ErrnoException;
  const message = e instanceof Error ? e.message : String(err);
  if (e?.syscall === undefined) return { ok: false, code: 'FF_BAD_REQUEST', reason: `request body aborted: ${message}` };
  if (NO_ROOM.has(e.code ?? '')) return { ok: false, code: 'FF_INSUFFICIENT_STORAGE', reason: `no room to spool the body: ${message}` };
  return { ok: false, code: 'FF_INTERNAL', reason: `cannot spool the body: ${message}` };
}

/** Opens a private temp file and unlinks it at once: the open handle keeps the data. */
async function openSpoolFile(dir: string): Promise<FileHandle> {
  const path = join(dir, `forkfast-body-${process.pid}-${randomBytes(8).toString('hex')}`);
  const fh = await open(path, 'wx+', 0o600);
  await unlink(path).catch(() => undefined);
  return fh;
}
