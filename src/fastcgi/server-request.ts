// One request of the responder (FastCGI 1.0 Responder role): its PARAMS, STDIN, STDOUT and end.
import type { Logger } from '../log.js';
import { ParamsCollector } from './decoder.js';
import {
  FCGI_REQUEST_COMPLETE, FCGI_RESPONDER, FCGI_STDERR, FCGI_STDOUT, type Role,
  encodeEndRequest, encodeRecord, encodeResponse, encodeStream,
} from './protocol.js';
import type { ResponderRequest } from './server.js';
import type { ResponderConnection } from './server-conn.js';
import { InboundStream, RecordWriter, type StreamOwner } from './streams.js';

const EMPTY = Buffer.alloc(0);
const FAILED_RESPONSE = Buffer.from('Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\n500 Internal Server Error\n');

/** One request in progress on a connection. */
export class RequestImpl implements ResponderRequest, StreamOwner {
  params: Map<string, string> = new Map();
  // The streams are built on first use (docs/performance.md): most resident requests have no body
  // and answer through endWith(), so neither a Readable nor a Writable is ever needed.
  private stdinStream: InboundStream | null = null;
  private stdinPieces: Buffer[] | null = null;
  private stdinEnded = false;
  private stdoutWriter: RecordWriter | null = null;
  private collector: ParamsCollector | null;
  private controller: AbortController | null = null;
  private abortListeners: Array<() => void> | null = null;
  private appStatus = 0;
  private stderrUsed = false;
  private state: 'params' | 'running' | 'done' = 'params';
  private abortedFlag = false;

  constructor(private readonly conn: ResponderConnection, readonly requestId: number, readonly keepConn: boolean, readonly role: Role = FCGI_RESPONDER) {
    this.collector = new ParamsCollector(conn.shared.maxParamsBytes);
  }

  get log(): Logger {
    return this.conn.shared.log;
  }

  get stdin(): InboundStream {
    if (this.stdinStream === null) {
      const s = new InboundStream(this.conn, this.conn.shared.stdinBufferBytes);
      this.stdinStream = s;
      if (this.stdinPieces !== null) for (const p of this.stdinPieces) s.feed(p);
      this.stdinPieces = null;
      if (this.stdinEnded) s.finish();
      if (this.state === 'done' || this.abortedFlag) s.discard();
    }
    return this.stdinStream;
  }

  get stdout(): RecordWriter {
    if (this.stdoutWriter === null) {
      this.stdoutWriter = new RecordWriter(this.conn.out, FCGI_STDOUT, this.requestId, this.conn.shared.stdoutHighWaterMark, this);
      if (this.abortedFlag) this.stdoutWriter.kill();
    }
    return this.stdoutWriter;
  }

  /** Created on first use: most handlers never look at it. */
  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.abortedFlag) this.controller.abort();
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.abortedFlag;
  }

  onAbort(listener: () => void): void {
    if (this.abortedFlag) return void queueMicrotask(listener);
    if (this.state === 'done') return;
    (this.abortListeners ??= []).push(listener);
  }

  /** A piece of FCGI_STDIN (§5.3); empty: the end of the body. */
  onStdin(data: Buffer): void {
    if (this.stdinStream !== null) {
      if (data.length === 0) this.stdinStream.finish();
      else this.stdinStream.feed(data);
      return;
    }
    if (data.length === 0) this.stdinEnded = true;
    // A body nobody asked for yet: a stream takes it, with its backpressure on the connection.
    else if (this.state === 'running') this.stdin.feed(data);
    else (this.stdinPieces ??= []).push(data);
  }

  onParams(piece: Buffer): void {
    if (this.collector === null) return;
    if (piece.length > 0) {
      const err = this.collector.add(piece);
      if (err !== null) return this.conn.protocolError(err.message);
      return;
    }
    const params = this.collector.finish();
    this.collector = null;
    if (!(params instanceof Map)) return this.conn.protocolError(params.message);
    // CVE-2016-5385 ("httpoxy"): a client's Proxy: header must never become HTTP_PROXY.
    params.delete('HTTP_PROXY');
    this.params = params;
    this.state = 'running';
    this.run();
  }

  private run(): void {
    let result: void | Promise<void>;
    try {
      result = this.conn.shared.onRequest(this);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (result !== undefined && typeof result.then === 'function') result.then(undefined, (err: unknown) => this.fail(err));
  }

  private fail(err: unknown): void {
    // After an abort, a handler that was reading stdin sees a premature close: not a failure.
    if (this.abortedFlag) {
      this.log.debug({ err, requestId: this.requestId }, 'FastCGI request handler ended after abort');
      return;
    }
    this.log.error({ err, requestId: this.requestId }, 'FastCGI request handler failed');
    if (this.state === 'done') return;
    const w = this.stdoutWriter;
    if (w === null) return this.endWith(FAILED_RESPONSE, 1);
    if (w.bytes === 0 && w.writableLength === 0 && !w.writableEnded) w.write(FAILED_RESPONSE);
    this.end(1);
  }

  writeStderr(chunk: string | Buffer): void {
    if (this.state === 'done' || this.abortedFlag) return;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (buf.length === 0) return;
    this.stderrUsed = true;
    const parts: Buffer[] = [];
    encodeStream(FCGI_STDERR, this.requestId, buf, parts);
    this.conn.out.writeMany(parts);
  }

  end(appStatus = 0): void {
    if (this.state === 'done' || this.abortedFlag) return;
    this.appStatus = appStatus;
    const w = this.stdoutWriter;
    if (w === null) return this.endWith(EMPTY, appStatus);
    if (!w.writableEnded) w.end();
  }

  endWith(data: string | Uint8Array, appStatus = 0): void {
    if (this.state === 'done' || this.abortedFlag) return;
    const w = this.stdoutWriter;
    if (w !== null) {
      // Already streaming: the bytes go after what was written, in order.
      this.appStatus = appStatus;
      if (!w.writableEnded) w.end(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
      return;
    }
    this.state = 'done';
    this.conn.out.write(encodeResponse(this.requestId, data, this.stderrUsed, appStatus));
    this.finished();
  }

  /** After the STDOUT terminator: §5.3 STDERR terminator (if used), then §5.5 END_REQUEST. */
  streamFinished(): void {
    if (this.state === 'done' || this.abortedFlag) return;
    this.state = 'done';
    const out = this.conn.out;
    if (this.stderrUsed) out.write(encodeRecord(FCGI_STDERR, this.requestId));
    out.write(encodeEndRequest(this.requestId, this.appStatus, FCGI_REQUEST_COMPLETE));
    this.finished();
  }

  private finished(): void {
    this.stdinStream?.discard();
    this.stdinPieces = null;
    this.abortListeners = null;
    this.conn.requestDone(this);
  }

  /** §5.4: stop the work, answer END_REQUEST at once, drop what the handler writes later. */
  abort(why: string): void {
    if (this.state === 'done' || this.abortedFlag) return;
    this.abortedFlag = true;
    this.conn.shared.aborted++;
    this.stdoutWriter?.kill();
    this.stdinStream?.discard();
    this.stdinPieces = null;
    if (!this.conn.socket.destroyed) this.conn.out.write(encodeEndRequest(this.requestId, 1, FCGI_REQUEST_COMPLETE));
    this.conn.requestDone(this);
    this.log.debug({ requestId: this.requestId, reason: why }, 'FastCGI request aborted');
    if (this.controller !== null) this.controller.abort();
    const listeners = this.abortListeners;
    this.abortListeners = null;
    if (listeners !== null) for (const l of listeners) l();
  }
}
