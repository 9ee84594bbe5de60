// The incremental FastCGI 1.0 record decoder: bytes in at any chunk boundary, records out, bounded.
import {
  FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_GET_VALUES, FCGI_GET_VALUES_RESULT, FCGI_HEADER_LEN,
  FCGI_NULL_REQUEST_ID, FCGI_UNKNOWN_TYPE, FCGI_VERSION_1, decodeNameValuePairs, isStreamType,
} from './protocol.js';
import { FastcgiError } from './errors.js';

/** Where decoded records go. Callbacks run synchronously inside push(). */
export interface RecordSink {
  /**
   * A piece of a stream record's content (PARAMS, STDIN, STDOUT, STDERR, DATA; §3.3), as a view
   * into the pushed chunk (no copy): keep it only as long as needed. Content pieces are never
   * empty: an empty `data` is the empty record that ends the stream.
   */
  onStream(type: number, requestId: number, data: Buffer): void;
  /**
   * A whole discrete record (BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, management, unknown types).
   * `content` may be a reused scratch buffer: read it before returning.
   */
  onRecord(type: number, requestId: number, content: Buffer): void;
}

/** Told of every record header as it is read: the lab's trace of one request (ops/trace). */
export interface RecordTap {
  header(type: number, requestId: number, contentLength: number, paddingLength: number): void;
}

const EMPTY = Buffer.alloc(0);

const enum State { Header, Content, Padding }

/**
 * A `consume(n)`-style parser: `push(chunk)` walks the chunk with an offset and never copies the
 * rest of it; only a header split across chunks (8 bytes) and a discrete record split across
 * chunks (≤ 65535 bytes, in practice ≤ a few hundred) are assembled. Memory is bounded by the
 * 16-bit contentLength. After the first error every push returns that error (the caller closes
 * the connection); push() itself never throws, but a sink callback's exception propagates.
 */
export class RecordDecoder {
  private state = State.Header;
  private readonly head = Buffer.alloc(FCGI_HEADER_LEN);
  private headFill = 0;
  private type = 0;
  private requestId = 0;
  private contentLeft = 0;
  private paddingLeft = 0;
  private stream = false;
  private body: Buffer = EMPTY;
  private bodyFill = 0;
  private failed: FastcgiError | null = null;
  /** Stops the current push() loop: set by stop() from inside a callback (connection closed). */
  private stopped = false;
  /** null unless a traced request is on this connection: one branch per record otherwise. */
  tap: RecordTap | null = null;

  constructor(private readonly sink: RecordSink) {}

  /** The error that ended decoding, if any. */
  get error(): FastcgiError | null {
    return this.failed;
  }

  /** No part of a record is held: the bytes so far were whole records. */
  get atBoundary(): boolean {
    return this.state === State.Header && this.headFill === 0;
  }

  /** Ignore the rest of this chunk and all later ones (the owner is closing the connection). */
  stop(): void {
    this.stopped = true;
  }

  push(chunk: Buffer): FastcgiError | null {
    if (this.failed !== null || this.stopped) return this.failed;
    let off = 0;
    const end = chunk.length;
    while (off < end && !this.stopped) {
      if (this.state === State.Header) {
        if (this.headFill === 0 && end - off >= FCGI_HEADER_LEN) {
          if (!this.header(chunk, off)) return this.failed;
          off += FCGI_HEADER_LEN;
        } else {
          const n = Math.min(FCGI_HEADER_LEN - this.headFill, end - off);
          chunk.copy(this.head, this.headFill, off, off + n);
          this.headFill += n;
          off += n;
          if (this.headFill < FCGI_HEADER_LEN) break;
          this.headFill = 0;
          if (!this.header(this.head, 0)) return this.failed;
        }
      } else if (this.state === State.Content) {
        const n = Math.min(this.contentLeft, end - off);
        this.contentLeft -= n;
        if (this.stream) {
          this.sink.onStream(this.type, this.requestId, chunk.subarray(off, off + n));
        } else if (this.bodyFill === 0 && this.contentLeft === 0) {
          this.sink.onRecord(this.type, this.requestId, chunk.subarray(off, off + n)); // whole in this chunk
        } else {
          chunk.copy(this.body, this.bodyFill, off, off + n);
          this.bodyFill += n;
          if (this.contentLeft === 0) this.sink.onRecord(this.type, this.requestId, this.body.subarray(0, this.bodyFill));
        }
        off += n;
        if (this.contentLeft === 0) this.state = this.paddingLeft > 0 ? State.Padding : State.Header;
      } else {
        const n = Math.min(this.paddingLeft, end - off);
        this.paddingLeft -= n;
        off += n;
        if (this.paddingLeft === 0) this.state = State.Header;
      }
    }
    return null;
  }

  /** §3.3: validates one FCGI_Header; emits empty records at once. False on a protocol error. */
  private header(b: Buffer, o: number): boolean {
    const version = b[o]!;
    const type = b[o + 1]!;
    const requestId = (b[o + 2]! << 8) | b[o + 3]!;
    const contentLength = (b[o + 4]! << 8) | b[o + 5]!;
    if (version !== FCGI_VERSION_1) return this.fail('FCGI_BAD_VERSION', `FastCGI version ${version}, expected 1`);
    if (!recordShapeOk(type, requestId, contentLength)) {
      return this.fail('FCGI_BAD_RECORD', `FastCGI record type ${type} with request id ${requestId} and length ${contentLength}`);
    }
    this.type = type;
    this.requestId = requestId;
    this.contentLeft = contentLength;
    this.paddingLeft = b[o + 6]!;
    if (this.tap !== null) this.tap.header(type, requestId, contentLength, this.paddingLeft);
    this.stream = isStreamType(type);
    this.bodyFill = 0;
    if (contentLength === 0) {
      if (this.stream) this.sink.onStream(type, requestId, EMPTY);
      else this.sink.onRecord(type, requestId, EMPTY);
      this.state = this.paddingLeft > 0 ? State.Padding : State.Header;
    } else {
      if (!this.stream && this.body.length < contentLength) this.body = Buffer.allocUnsafe(Math.max(contentLength, 64));
      this.state = State.Content;
    }
    return true;
  }

  private fail(code: 'FCGI_BAD_VERSION' | 'FCGI_BAD_RECORD', message: string): false {
    this.failed = new FastcgiError(code, message);
    return false;
  }
}

/**
 * Lengths and request ids that the spec fixes: fixed-size bodies (§5.1, §5.5, §4.2) and the
 * management records on request id 0 (§3.3). Anything else (unknown types included) is the
 * receiver's business: §4.2 wants UNKNOWN_TYPE answers, not a dropped connection.
 */
function recordShapeOk(type: number, requestId: number, contentLength: number): boolean {
  switch (type) {
    case FCGI_BEGIN_REQUEST:
    case FCGI_END_REQUEST:
      return contentLength === 8 && requestId !== FCGI_NULL_REQUEST_ID;
    case FCGI_UNKNOWN_TYPE:
      return contentLength === 8 && requestId === FCGI_NULL_REQUEST_ID;
    case FCGI_GET_VALUES:
    case FCGI_GET_VALUES_RESULT:
      return requestId === FCGI_NULL_REQUEST_ID;
    default:
      return isStreamType(type) ? requestId !== FCGI_NULL_REQUEST_ID : true;
  }
}

/**
 * Collects one request's PARAMS stream (§5.2) up to a byte bound and decodes the pairs at its end,
 * so a pair split across records (or across TCP chunks) is read whole. Each piece is copied once
 * as it arrives (see add) and the copies are joined at the end; a stream that arrived in one
 * piece is not copied a second time.
 */
export class ParamsCollector {
  private pieces: Buffer[] = [];
  private size = 0;

  constructor(private readonly maxBytes: number) {}

  /** Adds a piece; an error once the total passes the bound. */
  add(piece: Buffer): FastcgiError | null {
    this.size += piece.length;
    if (this.size > this.maxBytes) {
      this.pieces = [];
      return new FastcgiError('FCGI_PARAMS_TOO_LARGE', `FastCGI PARAMS over ${this.maxBytes} bytes`);
    }
    // Copied, not kept as a view: node hands out a fresh chunk per read, so a view would be safe,
    // but it would keep a whole 64 KiB chunk alive for a few bytes and defeat the bound.
    this.pieces.push(Buffer.from(piece));
    return null;
  }

  /** Decodes the whole stream into a Map; an error when a pair runs past the end. */
  finish(): Map<string, string> | FastcgiError {
    const all = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.size);
    this.pieces = [];
    const params = new Map<string, string>();
    if (!decodeNameValuePairs(all, params)) return new FastcgiError('FCGI_BAD_PARAMS', 'FastCGI name-value pairs run past the end of PARAMS');
    return params;
  }
}
