// The FastCGI 1.0 wire format: spec constants and pure encoders (Buffers out, no I/O).
// Section numbers refer to the FastCGI Specification 1.0 (Open Market, 1996).
import { isAscii } from 'node:buffer';
import { addVar } from '../responder/head.js';

/** §8: the only version there is. */
export const FCGI_VERSION_1 = 1;
/** §8: every record starts with this many header bytes. */
export const FCGI_HEADER_LEN = 8;
/** §3.3: contentLength is 16 bits. */
export const FCGI_MAX_CONTENT_LENGTH = 0xffff;
/** §3.3: requestId 0 is for management records. */
export const FCGI_NULL_REQUEST_ID = 0;

// §8: values for the type component of the record header.
export const FCGI_BEGIN_REQUEST = 1;
export const FCGI_ABORT_REQUEST = 2;
export const FCGI_END_REQUEST = 3;
export const FCGI_PARAMS = 4;
export const FCGI_STDIN = 5;
export const FCGI_STDOUT = 6;
export const FCGI_STDERR = 7;
export const FCGI_DATA = 8;
export const FCGI_GET_VALUES = 9;
export const FCGI_GET_VALUES_RESULT = 10;
export const FCGI_UNKNOWN_TYPE = 11;
export const FCGI_MAXTYPE = FCGI_UNKNOWN_TYPE;

export type RecordType =
  | typeof FCGI_BEGIN_REQUEST | typeof FCGI_ABORT_REQUEST | typeof FCGI_END_REQUEST
  | typeof FCGI_PARAMS | typeof FCGI_STDIN | typeof FCGI_STDOUT | typeof FCGI_STDERR
  | typeof FCGI_DATA | typeof FCGI_GET_VALUES | typeof FCGI_GET_VALUES_RESULT | typeof FCGI_UNKNOWN_TYPE;

/** §3.3: stream records carry a byte stream ended by an empty record of the same type. */
export function isStreamType(type: number): boolean {
  return type >= FCGI_PARAMS && type <= FCGI_DATA;
}

/** §5.1: the flags component of FCGI_BeginRequestBody. */
export const FCGI_KEEP_CONN = 1;

// §5.1: roles.
export const FCGI_RESPONDER = 1;
export const FCGI_AUTHORIZER = 2;
export const FCGI_FILTER = 3;
export type Role = typeof FCGI_RESPONDER | typeof FCGI_AUTHORIZER | typeof FCGI_FILTER;

// §5.5: the protocolStatus component of FCGI_EndRequestBody.
export const FCGI_REQUEST_COMPLETE = 0;
export const FCGI_CANT_MPX_CONN = 1;
export const FCGI_OVERLOADED = 2;
export const FCGI_UNKNOWN_ROLE = 3;
export type ProtocolStatus =
  | typeof FCGI_REQUEST_COMPLETE | typeof FCGI_CANT_MPX_CONN | typeof FCGI_OVERLOADED | typeof FCGI_UNKNOWN_ROLE;

// §4.1: the variables of FCGI_GET_VALUES.
export const FCGI_MAX_CONNS = 'FCGI_MAX_CONNS';
export const FCGI_MAX_REQS = 'FCGI_MAX_REQS';
export const FCGI_MPXS_CONNS = 'FCGI_MPXS_CONNS';

/**
 * Ours, not the specification's: a forkfast responder answers it with its process id. §4.1 lets
 * an application leave out names it does not know, so asking it of any upstream is harmless; the
 * client uses it to balance requests over worker processes rather than over connections.
 */
export const FORKFAST_PID = 'FORKFAST_PID';

/** §3.4: a length that needs more than 31 bits cannot be encoded. */
export const FCGI_MAX_NAME_VALUE_LENGTH = 0x7fffffff;

/** Zero bytes for padding; records take subarrays of it (never written to). */
const ZEROS = Buffer.alloc(FCGI_HEADER_LEN);

/** §3.3: senders should align records on 8 bytes; this is the paddingLength that does it. */
export function paddingFor(contentLength: number): number {
  return (8 - (contentLength & 7)) & 7;
}

/** §3.3: writes FCGI_Header at `offset`. */
export function writeHeader(buf: Buffer, offset: number, type: number, requestId: number, contentLength: number, paddingLength: number): void {
  buf[offset] = FCGI_VERSION_1;
  buf[offset + 1] = type;
  buf[offset + 2] = requestId >>> 8;
  buf[offset + 3] = requestId & 0xff;
  buf[offset + 4] = contentLength >>> 8;
  buf[offset + 5] = contentLength & 0xff;
  buf[offset + 6] = paddingLength;
  buf[offset + 7] = 0; // reserved
}

/** One whole record in one Buffer (header, a copy of the content, padding). Content ≤ 65535 bytes. */
export function encodeRecord(type: number, requestId: number, content?: Uint8Array): Buffer {
  const len = content === undefined ? 0 : content.length;
  const pad = paddingFor(len);
  const out = Buffer.allocUnsafe(FCGI_HEADER_LEN + len + pad);
  writeHeader(out, 0, type, requestId, len, pad);
  if (content !== undefined && len > 0) out.set(content, FCGI_HEADER_LEN);
  out.fill(0, FCGI_HEADER_LEN + len);
  return out;
}

/**
 * §3.3: a stream of any length as records of at most 65535 content bytes, pushed onto `out` as
 * [header, content slice, padding] without copying the content (for writev). Appends nothing for
 * empty data: the terminator is a separate, explicit `encodeRecord(type, id)`.
 */
export function encodeStream(type: number, requestId: number, data: Buffer, out: Buffer[]): void {
  for (let off = 0; off < data.length; off += FCGI_MAX_CONTENT_LENGTH) {
    const len = Math.min(FCGI_MAX_CONTENT_LENGTH, data.length - off);
    const pad = paddingFor(len);
    const header = Buffer.allocUnsafe(FCGI_HEADER_LEN);
    writeHeader(header, 0, type, requestId, len, pad);
    out.push(header, off === 0 && len === data.length ? data : data.subarray(off, off + len));
    if (pad > 0) out.push(ZEROS.subarray(0, pad));
  }
}

/** §5.1: FCGI_BEGIN_REQUEST with FCGI_BeginRequestBody {role, flags}. */
export function encodeBeginRequest(requestId: number, role: Role, keepConn: boolean): Buffer {
  const out = Buffer.alloc(FCGI_HEADER_LEN + 8);
  writeHeader(out, 0, FCGI_BEGIN_REQUEST, requestId, 8, 0);
  out[8] = role >>> 8;
  out[9] = role & 0xff;
  out[10] = keepConn ? FCGI_KEEP_CONN : 0;
  return out;
}

/**
 * A request's opening in one Buffer, for one write (§5.1-5.3): BEGIN_REQUEST with KEEP_CONN, the
 * PARAMS stream holding `params` (encoded pairs, split at 65535 bytes), its empty terminator, and
 * with `noBody` the empty FCGI_STDIN record too.
 */
export function encodeRequestHead(requestId: number, params: Buffer, noBody: boolean, role: Role = FCGI_RESPONDER): Buffer {
  const total = FCGI_HEADER_LEN + 8 + streamLength(params.length) + FCGI_HEADER_LEN + (noBody ? FCGI_HEADER_LEN : 0);
  const out = Buffer.allocUnsafe(total);
  writeHeader(out, 0, FCGI_BEGIN_REQUEST, requestId, 8, 0);
  out[8] = role >>> 8;
  out[9] = role & 0xff;
  out[10] = FCGI_KEEP_CONN;
  out.fill(0, 11, 16);
  let at = writeStream(out, 16, FCGI_PARAMS, requestId, params);
  writeHeader(out, at, FCGI_PARAMS, requestId, 0, 0);
  at += FCGI_HEADER_LEN;
  if (noBody) writeHeader(out, at, FCGI_STDIN, requestId, 0, 0);
  return out;
}

/** Bytes that `len` content bytes take as stream records (§3.3: at most 65535 each, padded to 8). */
function streamLength(len: number): number {
  let total = 0;
  for (let off = 0; off < len; off += FCGI_MAX_CONTENT_LENGTH) {
    const n = Math.min(FCGI_MAX_CONTENT_LENGTH, len - off);
    total += FCGI_HEADER_LEN + n + paddingFor(n);
  }
  return total;
}

/**
 * Writes `data` as stream records of `type` into `out` at `at` (room sized by streamLength), and
 * returns the offset after them. A string is written as latin1, one byte per character.
 */
function writeStream(out: Buffer, at: number, type: number, requestId: number, data: string | Uint8Array): number {
  const len = data.length;
  for (let off = 0; off < len; off += FCGI_MAX_CONTENT_LENGTH) {
    const n = Math.min(FCGI_MAX_CONTENT_LENGTH, len - off);
    const pad = paddingFor(n);
    writeHeader(out, at, type, requestId, n, pad);
    at += FCGI_HEADER_LEN;
    if (typeof data === 'string') out.write(n === len ? data : data.slice(off, off + n), at, n, 'latin1');
    else out.set(n === len ? data : data.subarray(off, off + n), at);
    at += n;
    out.fill(0, at, at + pad);
    at += pad;
  }
  return at;
}

/** §5.5: FCGI_END_REQUEST with FCGI_EndRequestBody {appStatus, protocolStatus}. */
export function encodeEndRequest(requestId: number, appStatus: number, protocolStatus: ProtocolStatus): Buffer {
  const out = Buffer.alloc(FCGI_HEADER_LEN + 8);
  writeHeader(out, 0, FCGI_END_REQUEST, requestId, 8, 0);
  out.writeUInt32BE(appStatus >>> 0, 8);
  out[12] = protocolStatus;
  return out;
}

/**
 * A whole Responder answer in one Buffer, for one write: FCGI_STDOUT records holding `data`
 * (§5.3, split at 65535 bytes), the empty STDOUT record, the empty FCGI_STDERR record when that
 * stream was used, and FCGI_END_REQUEST {appStatus, FCGI_REQUEST_COMPLETE} (§5.5). A string is
 * written as latin1, one byte per character: a CGI header block is bytes (RFC 3875 §6).
 */
export function encodeResponse(requestId: number, data: string | Uint8Array, stderrUsed: boolean, appStatus: number): Buffer {
  const total = streamLength(data.length) + FCGI_HEADER_LEN + (stderrUsed ? FCGI_HEADER_LEN : 0) + FCGI_HEADER_LEN + 8;
  const out = Buffer.allocUnsafe(total);
  let at = writeStream(out, 0, FCGI_STDOUT, requestId, data);
  writeHeader(out, at, FCGI_STDOUT, requestId, 0, 0);
  at += FCGI_HEADER_LEN;
  if (stderrUsed) {
    writeHeader(out, at, FCGI_STDERR, requestId, 0, 0);
    at += FCGI_HEADER_LEN;
  }
  writeHeader(out, at, FCGI_END_REQUEST, requestId, 8, 0);
  out.writeUInt32BE(appStatus >>> 0, at + 8);
  out[at + 12] = FCGI_REQUEST_COMPLETE;
  out.fill(0, at + 13, at + 16);
  return out;
}

/** §4.2: FCGI_UNKNOWN_TYPE with FCGI_UnknownTypeBody {type}. */
export function encodeUnknownType(type: number): Buffer {
  const out = Buffer.alloc(FCGI_HEADER_LEN + 8);
  writeHeader(out, 0, FCGI_UNKNOWN_TYPE, FCGI_NULL_REQUEST_ID, 8, 0);
  out[8] = type;
  return out;
}

/** §3.4: bytes needed to encode one length. */
function lengthSize(n: number): number {
  return n < 128 ? 1 : 4;
}

/** §3.4: 1 byte below 128, else 4 bytes big-endian with the high bit set. Returns the new offset. */
export function writeNameValueLength(buf: Buffer, offset: number, n: number): number {
  if (n < 128) {
    buf[offset] = n;
    return offset + 1;
  }
  buf.writeUInt32BE((n | 0x80000000) >>> 0, offset);
  return offset + 4;
}

/**
 * §3.4: name-value pairs as one content buffer (a PARAMS stream or GET_VALUES[_RESULT] body).
 * Callers split it into records with encodeStream; lengths over 2^31-1 throw (a caller bug).
 * Fast path (CGI meta-variables are nearly always ASCII): characters are copied by a JS loop into
 * one buffer, which measured ~4x faster than a native write or byteLength call per string; the
 * first non-ASCII character switches to the UTF-8 path.
 */
export function encodeNameValuePairs(pairs: Iterable<readonly [string, string]>): Buffer {
  const list = Array.isArray(pairs) ? (pairs as ReadonlyArray<readonly [string, string]>) : [...pairs];
  let total = 0;
  for (let i = 0; i < list.length; i++) {
    const p = list[i]!;
    const nl = p[0].length;
    const vl = p[1].length;
    total += (nl < 128 ? 1 : 4) + (vl < 128 ? 1 : 4) + nl + vl;
  }
  const out = Buffer.allocUnsafe(total);
  let off = 0;
  for (let i = 0; i < list.length; i++) {
    const p = list[i]!;
    const name = p[0];
    const value = p[1];
    off = writeNameValueLength(out, off, name.length);
    off = writeNameValueLength(out, off, value.length);
    for (let j = 0; j < name.length; j++) {
      const c = name.charCodeAt(j);
      if (c > 127) return encodeNameValuePairsUtf8(list);
      out[off++] = c;
    }
    for (let j = 0; j < value.length; j++) {
      const c = value.charCodeAt(j);
      if (c > 127) return encodeNameValuePairsUtf8(list);
      out[off++] = c;
    }
  }
  return out;
}

/**
 * encodeNameValuePairs for a plain name -> value object (the meta-variables as cgi/env builds
 * them), without building an array of pairs first (~25 arrays per request on the front).
 */
export function encodeNameValueRecord(vars: Readonly<Record<string, string>>): Buffer {
  const keys = Object.keys(vars);
  let total = 0;
  for (let i = 0; i < keys.length; i++) {
    const nl = keys[i]!.length;
    const vl = vars[keys[i]!]!.length;
    total += (nl < 128 ? 1 : 4) + (vl < 128 ? 1 : 4) + nl + vl;
  }
  const out = Buffer.allocUnsafe(total);
  let off = 0;
  for (let i = 0; i < keys.length; i++) {
    const name = keys[i]!;
    const value = vars[name]!;
    off = writeNameValueLength(out, off, name.length);
    off = writeNameValueLength(out, off, value.length);
    for (let j = 0; j < name.length; j++) {
      const c = name.charCodeAt(j);
      if (c > 127) return encodeNameValuePairsUtf8(keys.map((k) => [k, vars[k]!] as const));
      out[off++] = c;
    }
    for (let j = 0; j < value.length; j++) {
      const c = value.charCodeAt(j);
      if (c > 127) return encodeNameValuePairsUtf8(keys.map((k) => [k, vars[k]!] as const));
      out[off++] = c;
    }
  }
  return out;
}

function encodeNameValuePairsUtf8(pairs: ReadonlyArray<readonly [string, string]>): Buffer {
  const list: Array<readonly [string, string, number, number]> = [];
  let total = 0;
  for (const [name, value] of pairs) {
    const nl = Buffer.byteLength(name);
    const vl = Buffer.byteLength(value);
    if (nl > FCGI_MAX_NAME_VALUE_LENGTH || vl > FCGI_MAX_NAME_VALUE_LENGTH) throw new RangeError('FastCGI name or value too long');
    total += lengthSize(nl) + lengthSize(vl) + nl + vl;
    list.push([name, value, nl, vl]);
  }
  const out = Buffer.allocUnsafe(total);
  let off = 0;
  for (const [name, value, nl, vl] of list) {
    off = writeNameValueLength(out, off, nl);
    off = writeNameValueLength(out, off, vl);
    off += out.write(name, off, nl, 'utf8');
    off += out.write(value, off, vl, 'utf8');
  }
  return out;
}

/** §4.1: a FCGI_GET_VALUES record asking for `names` (values are empty). */
export function encodeGetValues(names: readonly string[]): Buffer {
  return encodeRecord(FCGI_GET_VALUES, FCGI_NULL_REQUEST_ID, encodeNameValuePairs(names.map((n) => [n, ''] as const)));
}

/** §4.1: a FCGI_GET_VALUES_RESULT record with the values the application knows. */
export function encodeGetValuesResult(values: Iterable<readonly [string, string]>): Buffer {
  return encodeRecord(FCGI_GET_VALUES_RESULT, FCGI_NULL_REQUEST_ID, encodeNameValuePairs(values));
}

/**
 * §3.4: decodes a complete run of name-value pairs into `into` (later names win). Returns false
 * when a length runs past the end (a truncated or garbage body); never throws. Names and values
 * are UTF-8 both ways, as Node passes a child's environment (execve) and as process.env reads it.
 */
export function decodeNameValuePairs(buf: Buffer, into: Map<string, string>): boolean {
  // All-ASCII content (the usual PARAMS): one native decode of the whole buffer, then string
  // slices at the byte offsets, instead of two native calls per pair (~50 per request).
  const text = isAscii(buf) ? buf.toString('latin1') : null;
  let off = 0;
  const end = buf.length;
  while (off < end) {
    let nl = buf[off]!;
    if (nl >= 128) {
      if (off + 4 > end) return false;
      nl = buf.readUInt32BE(off) & 0x7fffffff;
      off += 4;
    } else off += 1;
    if (off >= end) return false;
    let vl = buf[off]!;
    if (vl >= 128) {
      if (off + 4 > end) return false;
      vl = buf.readUInt32BE(off) & 0x7fffffff;
      off += 4;
    } else off += 1;
    if (off + nl + vl > end) return false;
    // Repeated HTTP_* pairs (nginx before 1.23 sends one per header line) are combined: addVar.
    if (text !== null) addVar(into, text.slice(off, off + nl), text.slice(off + nl, off + nl + vl));
    else addVar(into, buf.toString('utf8', off, off + nl), buf.toString('utf8', off + nl, off + nl + vl));
    off += nl + vl;
  }
  return true;
}
