// The SCGI request (server side), as nginx's scgi_pass sends it: a netstring of headers, then the body.
//
// SCGI 1.0 (Neil Schemenauer's specification): the headers are a netstring, "<length>:" then
// <length> bytes of NUL-terminated name and value strings, then ","; the first header is
// CONTENT_LENGTH (the body's length in bytes, which follows the comma raw) and a header
// "SCGI" "1" is required by the specification, but nginx sends it only through scgi_params, so
// its absence is accepted. Duplicate names are not allowed by the specification; nginx 1.22
// sends repeated request header lines so, and they are combined (responder/head addVar).
import { addVar, textOf, type DecodedHead, type HeadDecoder, type HeadError } from '../responder/head.js';

/** Digits of the netstring length we read before deciding it is not one (1e9 is already too big). */
const MAX_LENGTH_DIGITS = 10;
const COLON = 0x3a;
const COMMA = 0x2c;
const NUL = 0x00;

/** The headers block as pairs; a string says what is wrong with it. */
export function decodeScgiHeaders(buf: Buffer, start: number, end: number): Map<string, string> | string {
  const headers = new Map<string, string>();
  let off = start;
  let first = true;
  while (off < end) {
    const nameEnd = buf.indexOf(NUL, off);
    if (nameEnd < 0 || nameEnd >= end) return 'a header name is not NUL-terminated';
    const valueEnd = buf.indexOf(NUL, nameEnd + 1);
    if (valueEnd < 0 || valueEnd >= end) return 'a header value is not NUL-terminated';
    const name = textOf(buf, off, nameEnd);
    if (name === '') return 'a header name is empty';
    if (first && name !== 'CONTENT_LENGTH') return `the first header is ${name}, not CONTENT_LENGTH`;
    first = false;
    addVar(headers, name, textOf(buf, nameEnd + 1, valueEnd));
    off = valueEnd + 1;
  }
  if (first) return 'no CONTENT_LENGTH header';
  return headers;
}

/** A whole netstring of headers (for tests and clients). CONTENT_LENGTH must be the first pair. */
export function encodeScgiHeaders(pairs: ReadonlyArray<readonly [string, string]>): Buffer {
  const body = Buffer.concat(pairs.map(([k, v]) => Buffer.from(`${k}\0${v}\0`, 'utf8')));
  return Buffer.concat([Buffer.from(`${body.length}:`, 'latin1'), body, Buffer.from(',', 'latin1')]);
}

const enum State { Length, Headers, Comma }

/**
 * Incremental: the length digits, the headers and the comma may arrive split anywhere. Headers
 * whole in one chunk are decoded in place; a split block is assembled, up to `maxBytes`.
 */
export class ScgiDecoder implements HeadDecoder {
  private state = State.Length;
  private length = 0;
  private digits = 0;
  private block: Buffer | null = null;
  private fill = 0;
  private params: Map<string, string> | null = null;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): DecodedHead | HeadError | null {
    let off = 0;
    const end = chunk.length;
    while (off < end) {
      if (this.state === State.Length) {
        const c = chunk[off++]!;
        if (c === COLON && this.digits > 0) {
          if (this.length > this.maxBytes) {
            return { kind: 'too-large', message: `SCGI headers of ${this.length} bytes exceed the ${this.maxBytes}-byte bound` };
          }
          this.state = State.Headers;
          if (end - off >= this.length) {
            const parsed = this.parse(chunk, off, off + this.length);
            if (typeof parsed === 'string') return { kind: 'malformed', message: `SCGI headers: ${parsed}` };
            off += this.length;
            this.state = State.Comma;
          } else {
            this.block = Buffer.allocUnsafe(this.length);
            this.fill = 0;
          }
          continue;
        }
        if (c < 0x30 || c > 0x39 || this.digits === MAX_LENGTH_DIGITS) return { kind: 'malformed', message: 'SCGI request does not start with a netstring length' };
        this.length = this.length * 10 + (c - 0x30);
        this.digits++;
      } else if (this.state === State.Headers) {
        const block = this.block!;
        const n = Math.min(block.length - this.fill, end - off);
        chunk.copy(block, this.fill, off, off + n);
        this.fill += n;
        off += n;
        if (this.fill < block.length) return null;
        const parsed = this.parse(block, 0, block.length);
        this.block = null;
        if (typeof parsed === 'string') return { kind: 'malformed', message: `SCGI headers: ${parsed}` };
        this.state = State.Comma;
      } else {
        if (chunk[off] !== COMMA) return { kind: 'malformed', message: 'SCGI netstring does not end with ","' };
        return { params: this.params!, rest: chunk.subarray(off + 1) };
      }
    }
    return null;
  }

  private parse(buf: Buffer, start: number, end: number): string | null {
    const parsed = decodeScgiHeaders(buf, start, end);
    if (typeof parsed === 'string') return parsed;
    this.params = parsed;
    return null;
  }
}
