// Pool side: an NPH script's output (RFC 3875 §5) turned into a CGI response a web server parses.
//
// FastCGI, uwsgi and SCGI have no NPH: the web server parses what the application sends as a CGI
// response (§6), so an `nph-` script's "HTTP/1.1 203 Non-Authoritative Information" line would
// reach the client as body text under a 200. The pool rewrites that one line into
// "Status: 203 Non-Authoritative Information" (§6.3.3, reason phrase kept) and passes every other
// byte as written: the header fields and the body are already in the form the web server expects.
import { basename } from 'node:path';
import { Transform, pipeline, type TransformCallback } from 'node:stream';
import type { SpawnedChild } from '../spawn/types.js';

/** A status line longer than this is not one: the output passes unchanged. */
const MAX_STATUS_LINE = 1024;
const EMPTY = Buffer.alloc(0);
const LF = 0x0a;
/** HTTP-version SP status-code [SP reason-phrase] (RFC 9112 §4; the reason may be empty). */
const STATUS_LINE = /^HTTP\/\d\.\d (\d{3})(?: ([^\r\n]*))?$/;

/** RFC 3875 §5: a script whose name starts with "nph-" writes the whole HTTP response itself. */
export function isNphScript(file: string): boolean {
  return basename(file).startsWith('nph-');
}

/**
 * "HTTP/1.1 203 Non-Authoritative" (without its line end) as "Status: 203 Non-Authoritative";
 * null when `line` is not a status line (the script wrote CGI header fields after all).
 */
export function statusFieldOf(line: string): string | null {
  const m = STATUS_LINE.exec(line);
  if (m === null) return null;
  const reason = m[2]?.trim() ?? '';
  return reason === '' ? `Status: ${m[1]}` : `Status: ${m[1]} ${reason}`;
}

/**
 * The incremental rewrite: bytes in at any chunk boundary, the same bytes out except the first
 * line. Only the first line is ever held back (≤ MAX_STATUS_LINE bytes); after it every chunk
 * passes through as the same Buffer.
 */
export class NphHead {
  private held: Buffer = EMPTY;
  private done = false;

  /** The bytes to send for `chunk` (maybe none yet: the first line is incomplete). */
  push(chunk: Buffer): Buffer {
    if (this.done) return chunk;
    const all = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
    const lf = all.indexOf(LF);
    if (lf < 0) {
      if (all.length <= MAX_STATUS_LINE) {
        this.held = all;
        return EMPTY;
      }
      this.done = true;
      this.held = EMPTY;
      return all;
    }
    this.done = true;
    this.held = EMPTY;
    if (lf > MAX_STATUS_LINE) return all;
    const cr = lf > 0 && all[lf - 1] === 0x0d ? 1 : 0;
    const field = statusFieldOf(all.toString('latin1', 0, lf - cr));
    if (field === null) return all;
    return Buffer.concat([Buffer.from(field, 'latin1'), all.subarray(lf - cr)]);
  }

  /** At the end of the output: a first line that never ended goes out as it was. */
  end(): Buffer {
    const rest = this.held;
    this.held = EMPTY;
    this.done = true;
    return rest;
  }
}

/** NphHead as a stream, for the program runner's stdout. */
export class NphToCgi extends Transform {
  private readonly head = new NphHead();

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const out = this.head.push(chunk);
    if (out.length > 0) this.push(out);
    cb();
  }

  override _flush(cb: TransformCallback): void {
    const rest = this.head.end();
    if (rest.length > 0) this.push(rest);
    cb();
  }
}

/**
 * The program runner's hook: for an `nph-` script, the same child with its stdout rewritten;
 * any other child unchanged. Killing or reaping goes to the real child.
 */
export function asCgiResponse(file: string, child: SpawnedChild): SpawnedChild {
  if (!isNphScript(file)) return child;
  const stdout = new NphToCgi();
  // pipeline: a destroyed stdout (aborted request) destroys the child's pipe too, and back.
  pipeline(child.stdout, stdout, () => {});
  return { pid: child.pid, stdout, exited: child.exited, kill: (reason) => child.kill(reason) };
}
