// One responder connection: decodes records, demultiplexes requests by id, answers management records.
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import { ParamsCollector, RecordDecoder, type RecordSink } from './decoder.js';
import {
  FCGI_ABORT_REQUEST, FCGI_BEGIN_REQUEST, FCGI_GET_VALUES, FCGI_KEEP_CONN, FCGI_NULL_REQUEST_ID,
  FCGI_OVERLOADED, FCGI_PARAMS, FCGI_REQUEST_COMPLETE, FCGI_RESPONDER, FCGI_STDERR, FCGI_STDIN,
  FCGI_STDOUT, FCGI_UNKNOWN_ROLE, type ProtocolStatus, type Role, decodeNameValuePairs,
  encodeEndRequest, encodeGetValuesResult, encodeRecord, encodeResponse, encodeStream, encodeUnknownType,
} from './protocol.js';
import type { ResponderRequest, ResponderShared } from './server.js';
import { InboundStream, RecordOutput, RecordWriter, type ReadGate, type StreamOwner } from './streams.js';
import type { FastcgiError } from './errors.js';

const EMPTY = Buffer.alloc(0);
const FAILED_RESPONSE = Buffer.from('Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\n500 Internal Server Error\n');

export class ResponderConnection implements RecordSink, ReadGate {
  readonly out: RecordOutput;
  private readonly decoder: RecordDecoder;
  private readonly requests = new Map<number, RequestImpl>();
  private holds = 0;
  private closed = false;
  private closeWhenDone = false;
  /** The first and only request of this connection came without KEEP_CONN (§5.1). */
  private oneShot = false;
  private servedAny = false;
  /** The last request's STDIN terminator arrived. */
  private inputDone = false;

  constructor(readonly socket: Socket, readonly shared: ResponderShared) {
    this.out = new RecordOutput(socket);
    this.decoder = new RecordDecoder(this);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {}); // 'close' follows: requests are aborted there.
    socket.on('end', () => this.onEnd());
    socket.on('close', () => this.onClose());
  }

  private onData(chunk: Buffer): void {
    let err: FastcgiError | null;
    try {
      err = this.decoder.push(chunk);
    } catch (e) {
      // A sink bug must cost one connection, not the process.
      this.shared.log.error({ err: e }, 'FastCGI connection handler failed');
      this.destroy('internal error');
      return;
    }
    if (err !== null) {
      this.shared.protocolErrors++;
      this.shared.log.warn({ code: err.code, detail: err.message, remote: this.socket.remoteAddress }, 'FastCGI protocol error: closing connection');
      this.destroy('protocol error');
    }
  }

  onRecord(type: number, requestId: number, content: Buffer): void {
    if (requestId === FCGI_NULL_REQUEST_ID) return this.onManagement(type, content);
    if (type === FCGI_BEGIN_REQUEST) return this.onBegin(requestId, content);
    const req = this.requests.get(requestId);
    // §3.3: records for request ids that are not active are ignored (e.g. after we ended one).
    if (req !== undefined && type === FCGI_ABORT_REQUEST) req.abort('FCGI_ABORT_REQUEST');
  }

  onStream(type: number, requestId: number, data: Buffer): void {
    const req = this.requests.get(requestId);
    if (req === undefined) return;
    if (type === FCGI_STDIN) {
      if (data.length === 0) this.inputDone = true;
      req.onStdin(data);
    } else if (type === FCGI_PARAMS) {
      req.onParams(data);
    }
    // FCGI_DATA is the Filter role's second stream; we refuse that role, so it is ignored.
  }

  /** §4: management records. GET_VALUES is answered from what we know; anything else is unknown. */
  private onManagement(type: number, content: Buffer): void {
    if (type !== FCGI_GET_VALUES) {
      this.out.write(encodeUnknownType(type));
      return;
    }
    const asked = new Map<string, string>();
    if (!decodeNameValuePairs(content, asked)) return this.protocolError('GET_VALUES with malformed name-value pairs');
    const answer: Array<[string, string]> = [];
    for (const name of asked.keys()) {
      const v = this.shared.valuesResult.get(name);
      if (v !== undefined) answer.push([name, v]);
    }
    this.out.write(encodeGetValuesResult(answer));
  }

  private onBegin(requestId: number, content: Buffer): void {
    if (this.requests.has(requestId)) return this.protocolError(`BEGIN_REQUEST for active request ${requestId}`);
    const role = (content[0]! << 8) | content[1]!;
    const keepConn = (content[2]! & FCGI_KEEP_CONN) !== 0;
    if (!keepConn) this.closeWhenDone = true;
    this.oneShot = !keepConn && this.requests.size === 0 && !this.servedAny;
    this.servedAny = true;
    this.inputDone = false;
    if (role !== FCGI_RESPONDER) return this.refuse(requestId, FCGI_UNKNOWN_ROLE);
    if (this.shared.closing || this.shared.requestsActive >= this.shared.maxReqs) {
      this.shared.overloaded++;
      return this.refuse(requestId, FCGI_OVERLOADED);
    }
    this.shared.requestsActive++;
    this.shared.requestsTotal++;
    this.requests.set(requestId, new RequestImpl(this, requestId, keepConn));
  }

  /** §5.5: a request we will not serve ends at once; its later records are ignored. */
  private refuse(requestId: number, status: ProtocolStatus): void {
    this.out.write(encodeEndRequest(requestId, 0, status));
    this.maybeClose();
  }

  protocolError(detail: string): void {
    this.shared.protocolErrors++;
    this.shared.log.warn({ code: 'FCGI_UNEXPECTED_RECORD', detail, remote: this.socket.remoteAddress }, 'FastCGI protocol error: closing connection');
    this.destroy('protocol error');
  }

  /** A request finished (END_REQUEST written) or was aborted. */
  requestDone(req: RequestImpl): void {
    if (this.requests.get(req.requestId) !== req) return;
    this.requests.delete(req.requestId);
    this.shared.requestsActive--;
    this.shared.requestEnded();
    this.maybeClose();
  }

  /** §5.1: without KEEP_CONN the application closes the connection after the response. */
  private maybeClose(): void {
    if (this.requests.size > 0 || this.closed) return;
    if (this.closeWhenDone || this.shared.closing) {
      this.closed = true;
      this.decoder.stop();
      // A one-request connection (no KEEP_CONN) whose STDIN was read to its end: nothing more
      // will come, so close as soon as the records are handed to the kernel, without waiting for
      // the web server's FIN (a read, a wakeup and the 'end' handling less per connection:
      // docs/performance.md). Otherwise end(): closing with unread bytes would reset the
      // connection and could drop a response the web server has not read yet.
      this.out.end(this.oneShot && this.inputDone && this.holds === 0);
    }
  }

  closeWhenIdle(): void {
    this.closeWhenDone = true;
    this.maybeClose();
  }

  destroy(why: string): void {
    this.decoder.stop();
    this.abortAll(why);
    this.socket.destroy();
  }

  private abortAll(why: string): void {
    for (const req of [...this.requests.values()]) req.abort(why);
  }

  private onEnd(): void {
    // The web server closed its side. Requests in progress may still answer if the socket allows
    // half-open connections (net.createServer({ allowHalfOpen: true })); 'close' aborts the rest.
    this.decoder.stop();
    this.closeWhenDone = true;
    this.maybeClose();
  }

  private onClose(): void {
    this.closed = true;
    this.decoder.stop();
    this.abortAll('connection closed');
    this.shared.connectionClosed(this);
  }

  hold(): void {
    if (this.holds++ === 0) this.socket.pause();
  }

  release(): void {
    if (--this.holds === 0 && !this.closed) this.socket.resume();
  }
}

/** One request in progress on a connection. */
class RequestImpl implements ResponderRequest, StreamOwner {
  readonly role: Role = FCGI_RESPONDER;
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

  constructor(private readonly conn: ResponderConnection, readonly requestId: number, readonly keepConn: boolean) {
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
    this.log.debug({ requestId: this.requestId, why }, 'FastCGI request aborted');
    if (this.controller !== null) this.controller.abort();
    const listeners = this.abortListeners;
    this.abortListeners = null;
    if (listeners !== null) for (const l of listeners) l();
  }
}
