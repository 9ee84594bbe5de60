// CGI response parser (RFC 3875 §6): the header block of a script's stdout, for CGI and FastCGI STDOUT alike.
//
// Exports:
//   CgiHeadParser            byte parser, push(chunk) at any chunk boundary (even one byte at a time)
//   readCgiHead(stream, max) -> Promise<HeadResult>: parses from a Readable, leaves the body in it
//   classify(head)           -> 'document' | 'local-redirect' | 'client-redirect' (§6.2)
//   CgiHead, HeadResult, MalformedReason
//
// Lines end with LF or CRLF. Anything that could split or inject into the HTTP response is
// refused as malformed: a CR or NUL or other control byte inside a line, obsolete line folding,
// a field without a colon or with a bad name, a bad Status, a bad Content-Length, a block over
// the size limit, or a stream that ends before the blank line. The writer answers 502.
import type { Readable } from 'node:stream';

export type MalformedReason =
  | 'no-header-end'
  | 'headers-too-large'
  | 'header-without-colon'
  | 'bad-header-name'
  | 'control-character'
  | 'obsolete-line-folding'
  | 'invalid-status'
  | 'invalid-content-length'
  | 'duplicate-field';

export interface CgiHead {
  /** From the Status field (§6.3.3), or null when the script did not set one. */
  readonly status: number | null;
  readonly reason: string | null;
  /** Location (§6.3.2), or null. */
  readonly location: string | null;
  /** Content-Type (§6.3.1), or null: see the writer for what happens then. */
  readonly contentType: string | null;
  /** Content-Length from the script, or null; the writer enforces it. */
  readonly contentLength: number | null;
  /** Every other field in order (names as the script wrote them), CGI fields removed. */
  readonly fields: ReadonlyArray<readonly [string, string]>;
}

export type HeadResult =
  | { readonly ok: true; readonly head: CgiHead }
  | { readonly ok: false; readonly reason: MalformedReason; readonly line?: string };

/** RFC 9110 §5.6.2 tchar, as a lookup table (no regex on the hot path). */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TCHAR[c] !== 1) return false;
  }
  return true;
}

function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Incremental parser of the header block; safe at every chunk boundary. */
export class CgiHeadParser {
  private readonly maxBytes: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private consumed = 0;
  private status: number | null = null;
  private reason: string | null = null;
  private location: string | null = null;
  private contentType: string | null = null;
  private contentLength: number | null = null;
  private readonly fields: Array<readonly [string, string]> = [];
  /** Set once the blank line was seen or the block was refused. */
  result: HeadResult | null = null;
  /** Bytes after the blank line in the chunk that finished the block: the start of the body. */
  rest: Buffer = Buffer.alloc(0);

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Feeds bytes; returns true once `result` is set. */
  push(chunk: Buffer): boolean {
    if (this.result !== null) return true;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      const line = this.pendingBytes === 0 ? piece : Buffer.concat([...this.pending, piece]);
      this.pending = [];
      this.pendingBytes = 0;
      this.consumed += line.length + 1;
      if (this.consumed > this.maxBytes) return this.fail('headers-too-large');
      start = nl + 1;
      if (this.line(line)) {
        if (this.result === null) this.result = { ok: true, head: this.head() };
        if (this.result.ok) this.rest = chunk.subarray(start);
        return true;
      }
    }
    if (start < chunk.length) {
      this.pending.push(chunk.subarray(start));
      this.pendingBytes += chunk.length - start;
      if (this.consumed + this.pendingBytes > this.maxBytes) return this.fail('headers-too-large');
    }
    return false;
  }

  /** The stream ended: a header block without its blank line is malformed (§6.2). */
  end(): HeadResult {
    if (this.result === null) this.fail('no-header-end');
    return this.result as HeadResult;
  }

  private fail(reason: MalformedReason, line?: string): true {
    this.result = line === undefined ? { ok: false, reason } : { ok: false, reason, line };
    return true;
  }

  /** One line without its LF; returns true when the block is over (blank line or refusal). */
  private line(buf: Buffer): boolean {
    let len = buf.length;
    if (len > 0 && buf[len - 1] === 0x0d) len--;
    if (len === 0) return true;
    const first = buf[0] as number;
    if (first === 0x20 || first === 0x09) return this.fail('obsolete-line-folding');
    for (let i = 0; i < len; i++) {
      const c = buf[i] as number;
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) return this.fail('control-character', buf.toString('latin1', 0, Math.min(len, 80)));
    }
    const text = buf.toString('latin1', 0, len);
    const colon = text.indexOf(':');
    if (colon < 0) return this.fail('header-without-colon', text.slice(0, 80));
    const name = text.slice(0, colon);
    if (!isToken(name)) return this.fail('bad-header-name', text.slice(0, 80));
    const value = text.slice(colon + 1).trim();
    return this.field(name, value, text);
  }

  private field(name: string, value: string, text: string): boolean {
    switch (name.toLowerCase()) {
      case 'status': {
        // §6.3.3: Status = "Status:" status-code SP reason-phrase; we accept a missing reason.
        if (this.status !== null) return this.fail('duplicate-field', text);
        const code = value.slice(0, 3);
        const after = value.charCodeAt(3);
        if (!isDigits(code) || (value.length > 3 && after !== 0x20 && after !== 0x09)) return this.fail('invalid-status', text);
        const n = Number(code);
        if (n < 200 || n > 599) return this.fail('invalid-status', text);
        this.status = n;
        const reason = value.slice(4).trim();
        this.reason = reason === '' ? null : reason;
        return false;
      }
      case 'location':
        if (this.location !== null) return this.fail('duplicate-field', text);
        this.location = value;
        return false;
      case 'content-type':
        if (this.contentType !== null) return this.fail('duplicate-field', text);
        this.contentType = value;
        return false;
      case 'content-length': {
        if (!isDigits(value) || value.length > 15) return this.fail('invalid-content-length', text);
        const n = Number(value);
        if (this.contentLength !== null && this.contentLength !== n) return this.fail('invalid-content-length', text);
        this.contentLength = n;
        return false;
      }
      default:
        this.fields.push([name, value]);
        return false;
    }
  }

  private head(): CgiHead {
    return {
      status: this.status,
      reason: this.reason,
      location: this.location,
      contentType: this.contentType,
      contentLength: this.contentLength,
      fields: this.fields,
    };
  }
}

/**
 * Reads the header block from `stream` and puts the bytes after it back (stream.unshift), so the
 * caller reads the body from the same stream with its backpressure intact.
 */
export function readCgiHead(stream: Readable, maxBytes: number): Promise<HeadResult> {
  const parser = new CgiHeadParser(maxBytes);
  // A stream that already ended emits no more events: answer now instead of waiting forever.
  if (stream.readableEnded || stream.destroyed) {
    let chunk: Buffer | null;
    while ((chunk = stream.read() as Buffer | null) !== null) if (parser.push(chunk)) break;
    return Promise.resolve(parser.result ?? parser.end());
  }
  return new Promise<HeadResult>((resolve) => {
    const done = (result: HeadResult): void => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onEnd);
      stream.off('close', onEnd);
      resolve(result);
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = stream.read() as Buffer | null) !== null) {
        if (parser.push(chunk)) {
          const result = parser.result as HeadResult;
          if (result.ok && parser.rest.length > 0) stream.unshift(parser.rest);
          done(result);
          return;
        }
      }
    };
    const onEnd = (): void => done(parser.end());
    stream.on('readable', onReadable);
    stream.on('end', onEnd);
    stream.on('error', onEnd);
    stream.on('close', onEnd);
  });
}

export type ResponseForm = 'document' | 'local-redirect' | 'client-redirect';

/**
 * RFC 3875 §6.2: a Location that is a local path and nothing else (no Status, no other field, no
 * Content-Type) is a local redirect; any other Location is a client redirect (§6.2.3/§6.2.4);
 * the rest is a document response (§6.2.1).
 */
export function classify(head: CgiHead): ResponseForm {
  if (head.location === null) return 'document';
  const local = head.location.startsWith('/') && !head.location.startsWith('//');
  if (local && head.status === null && head.contentType === null && head.contentLength === null && head.fields.length === 0) return 'local-redirect';
  return 'client-redirect';
}
