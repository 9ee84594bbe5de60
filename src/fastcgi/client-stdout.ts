// A client request's FCGI_STDOUT: held as the socket's pieces until someone asks for a stream.
//
// Most resident responses are a few hundred bytes that arrive with their END_REQUEST in one
// socket read (FastCGI 1.0 §5.3, §5.5). For those the caller takes the whole body at once
// (takeComplete) and no Readable is ever built: a Readable per request, its events and its async
// iteration were a measurable share of the front's CPU (docs/performance.md). A caller that wants
// a stream (large or slow responses, NPH, tests) gets the same bytes through `stream`, with the
// connection-level backpressure of InboundStream.
import { InboundStream, type ReadGate } from './streams.js';

export class StdoutHolder {
  private readonly gate: ReadGate;
  private readonly highWaterMark: number;
  private live: InboundStream | null = null;
  private pieces: Buffer[] = [];
  private size = 0;
  private ended = false;
  /** discard() was called before the stream existed: undefined (no error) or the error. */
  private dropped: { readonly err: Error | undefined } | null = null;

  constructor(gate: ReadGate, highWaterMark: number) {
    this.gate = gate;
    this.highWaterMark = highWaterMark;
  }

  /** The bytes as a Readable; built on first use from what arrived so far. */
  get stream(): InboundStream {
    if (this.live !== null) return this.live;
    const s = new InboundStream(this.gate, this.highWaterMark);
    this.live = s;
    if (this.dropped !== null) {
      s.discard(this.dropped.err);
      return s;
    }
    for (const p of this.pieces) s.feed(p);
    this.pieces = [];
    this.size = 0;
    if (this.ended) s.finish();
    return s;
  }

  /** A piece of content (a view of the socket chunk: node allocates a fresh chunk per read). */
  feed(piece: Buffer): void {
    if (this.live !== null) return this.live.feed(piece);
    if (this.ended || this.dropped !== null) return;
    this.pieces.push(piece);
    this.size += piece.length;
    // Nobody reads yet and the response keeps coming: a stream holds the connection past its bound.
    if (this.size > this.highWaterMark) void this.stream;
  }

  /** END_REQUEST arrived: no more bytes. */
  finish(): void {
    if (this.live !== null) return this.live.finish();
    this.ended = true;
  }

  /** Stops accepting bytes; a stream (now or later) is destroyed with `err`. */
  discard(err?: Error): void {
    if (this.live !== null) return this.live.discard(err);
    this.pieces = [];
    this.size = 0;
    this.dropped ??= { err };
  }

  /**
   * The whole STDOUT when END_REQUEST already came and no stream was asked for; null otherwise.
   * Taking it leaves an empty, ended stream behind.
   */
  takeComplete(): Buffer | null {
    if (this.live !== null || !this.ended || this.dropped !== null) return null;
    const all = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.size);
    this.pieces = [];
    this.size = 0;
    return all;
  }
}
