// Byte streams over FastCGI records, shared by both sides: batched socket output, a record
// Writable (STDOUT, STDERR, STDIN), and an inbound Readable with connection-level backpressure.
import type { Socket } from 'node:net';
import { Readable, Writable } from 'node:stream';
import type { RecordDecoder } from './decoder.js';
import { FCGI_HEADER_LEN, encodeRecord, encodeStream, paddingFor, writeHeader } from './protocol.js';

/**
 * A connection's outgoing side. Every write of one event-loop turn goes out in one writev: the
 * socket is corked at the first write and uncorked in setImmediate, after the I/O callbacks of
 * this turn (the records of every multiplexed request) were queued.
 *
 * TCP_NODELAY is set before the second flush, not at connect: Nagle's algorithm only holds back a
 * segment while earlier data is unacknowledged, so the first flush of a connection always leaves
 * at once, and a connection that carries one response (nginx without fastcgi_keep_conn) never
 * pays the setsockopt (~7 % of a worker's CPU per connection: docs/performance.md). Later
 * flushes (streamed bodies, kept connections) are never delayed.
 */
export class RecordOutput {
  private corked = false;
  private flushes = 0;
  private waiters: Array<() => void> = [];
  /** null unless a traced request is on this connection (ops/trace): told of every write. */
  tap: { wrote(buf: Buffer): void } | null = null;

  constructor(readonly socket: Socket) {
    socket.on('drain', () => this.release());
    socket.once('close', () => this.release());
  }

  write(buf: Buffer): void {
    const s = this.socket;
    if (s.destroyed || s.writableEnded) return;
    if (this.tap !== null) this.tap.wrote(buf);
    if (!this.corked) {
      this.corked = true;
      s.cork();
      setImmediate(uncork, this);
    }
    s.write(buf);
  }

  writeMany(bufs: readonly Buffer[]): void {
    for (const b of bufs) this.write(b);
  }

  /** True while the socket holds more than its highWaterMark: producers should wait. */
  get congested(): boolean {
    return this.socket.writableNeedDrain && !this.socket.destroyed;
  }

  /** Calls `cb` once the socket drained (or closed). */
  whenDrained(cb: () => void): void {
    if (!this.congested) cb();
    else this.waiters.push(cb);
  }

  /**
   * Ends the socket after the queued records are flushed; with `close`, also closes it once they
   * were written, instead of waiting for the peer's end (the caller knows nothing is unread).
   */
  end(close = false): void {
    if (this.corked) {
      this.corked = false;
      this.beforeFlush();
      this.socket.uncork();
    }
    const s = this.socket;
    if (s.destroyed) return;
    // Every byte already handed to the kernel: close(2) alone ends the connection after them (the
    // peer reads the response, then EOF). No shutdown(2), no 'finish' round: a connection per
    // request (nginx without fastcgi_keep_conn) pays one syscall and one stream event less.
    if (close && s.writableLength === 0) return void s.destroy();
    s.end();
    if (close) {
      if (s.writableFinished) s.destroy();
      else s.once('finish', () => s.destroy());
    }
  }

  private release(): void {
    const w = this.waiters;
    if (w.length === 0) return;
    this.waiters = [];
    for (const cb of w) cb();
  }

  private beforeFlush(): void {
    if (++this.flushes === 2) this.socket.setNoDelay(true); // a no-op on unix sockets
  }

  /** @internal */
  uncorkNow(): void {
    if (!this.corked) return;
    this.corked = false;
    if (this.socket.destroyed) return;
    this.beforeFlush();
    this.socket.uncork();
  }
}

function uncork(out: RecordOutput): void {
  out.uncorkNow();
}

/**
 * A request someone watches (the lab, ops/trace): told its request id, the connection's output
 * and its decoder when the request is sent, so that it can see the records of that id cross.
 */
export interface WireTrace {
  attach(requestId: number, out: RecordOutput, decoder: RecordDecoder): void;
}

/** Told when a RecordWriter wrote its terminator record (after every byte before it). */
export interface StreamOwner {
  streamFinished(w: RecordWriter): void;
}

/** Writes below this size are gathered (per turn) into one record; bigger ones go out as views. */
const GATHER_LIMIT = 16 * 1024;

/**
 * A Writable that turns bytes into stream records of one type and request id (§3.3). Small writes
 * of one turn are copied into one record (no 1-byte records); large writes are framed without a
 * copy. Nothing is held past the current turn. The write callback waits for the socket to drain,
 * which is the backpressure a producer sees. The owner is told after the empty terminator record.
 */
export class RecordWriter extends Writable {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private dead = false;
  /** Content bytes accepted so far. */
  bytes = 0;

  constructor(
    private readonly out: RecordOutput,
    private readonly type: number,
    private readonly requestId: number,
    highWaterMark: number,
    private readonly owner: StreamOwner | null,
  ) {
    super({ highWaterMark });
  }

  /** Drops everything from now on (request aborted): writes succeed and go nowhere. */
  kill(): void {
    this.dead = true;
    this.pending = [];
    this.pendingBytes = 0;
  }

  get killed(): boolean {
    return this.dead;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.add(chunk);
    if (this.dead) cb();
    else this.out.whenDrained(cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    for (const c of chunks) this.add(c.chunk);
    if (this.dead) cb();
    else this.out.whenDrained(cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.flush();
    if (!this.dead) this.out.write(encodeRecord(this.type, this.requestId));
    if (this.owner !== null) this.owner.streamFinished(this);
    cb();
  }

  private add(chunk: Buffer): void {
    if (this.dead || chunk.length === 0) return;
    this.bytes += chunk.length;
    if (chunk.length >= GATHER_LIMIT) {
      this.flush();
      const parts: Buffer[] = [];
      encodeStream(this.type, this.requestId, chunk, parts);
      this.out.writeMany(parts);
      return;
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= GATHER_LIMIT) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(flushWriter, this);
    }
  }

  /** One record holding every gathered chunk (< 2 × GATHER_LIMIT ≤ 65535 bytes). */
  flush(): void {
    this.scheduled = false;
    const len = this.pendingBytes;
    if (len === 0 || this.dead) return;
    const pad = paddingFor(len);
    const rec = Buffer.allocUnsafe(FCGI_HEADER_LEN + len + pad);
    writeHeader(rec, 0, this.type, this.requestId, len, pad);
    let off = FCGI_HEADER_LEN;
    for (const c of this.pending) {
      rec.set(c, off);
      off += c.length;
    }
    rec.fill(0, off);
    this.pending = [];
    this.pendingBytes = 0;
    this.out.write(rec);
  }
}

function flushWriter(w: RecordWriter): void {
  w.flush();
}

/** Connection-level reading control: FastCGI has no per-request flow control (§3.3). */
export interface ReadGate {
  /** One more request cannot take more bytes: stop reading the socket. */
  hold(): void;
  /** That request's consumer caught up. */
  release(): void;
}

/**
 * The receiving end of a stream (STDIN on the responder, STDOUT on the client). Pieces are pushed
 * as views of the socket chunk. The Readable's highWaterMark is the per-request buffer bound:
 * past it the connection stops reading until this consumer reads again; that is the only
 * backpressure FastCGI allows, and it stalls the other requests of the connection, so the bound is
 * generous and a request that ends without reading its stream simply discards the rest.
 */
export class InboundStream extends Readable {
  private holding = false;
  private done = false;

  constructor(private readonly gate: ReadGate, highWaterMark: number) {
    super({ highWaterMark });
  }

  override _read(): void {
    if (this.holding) {
      this.holding = false;
      this.gate.release();
    }
  }

  feed(piece: Buffer): void {
    if (this.destroyed || this.done) return;
    if (!this.push(piece) && !this.holding) {
      this.holding = true;
      this.gate.hold();
    }
  }

  finish(): void {
    if (this.destroyed || this.done) return;
    this.done = true;
    this.push(null);
  }

  /** Stops accepting bytes, frees the connection if this stream was holding it. */
  discard(err?: Error): void {
    if (this.holding) {
      this.holding = false;
      this.gate.release();
    }
    this.done = true;
    if (!this.destroyed) this.destroy(err);
  }
}
