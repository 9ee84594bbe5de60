// One responder connection: decodes records, demultiplexes requests by id, answers management records.
import type { Socket } from 'node:net';
import { RecordDecoder, type RecordSink } from './decoder.js';
import {
  FCGI_ABORT_REQUEST, FCGI_AUTHORIZER, FCGI_BEGIN_REQUEST, FCGI_GET_VALUES, FCGI_KEEP_CONN, FCGI_NULL_REQUEST_ID,
  FCGI_OVERLOADED, FCGI_PARAMS, FCGI_RESPONDER, FCGI_STDIN, FCGI_UNKNOWN_ROLE, type ProtocolStatus,
  decodeNameValuePairs, encodeEndRequest, encodeGetValuesResult, encodeUnknownType,
} from './protocol.js';
import type { ResponderShared } from './server.js';
import { RecordOutput, type ReadGate } from './streams.js';
import type { FastcgiError } from './errors.js';
import { RequestImpl } from './server-request.js';
import { RequestTable } from './request-table.js';

export class ResponderConnection implements RecordSink, ReadGate {
  readonly out: RecordOutput;
  private readonly decoder: RecordDecoder;
  private readonly requests = new RequestTable<RequestImpl>();
  private holds = 0;
  private closed = false;
  private closeWhenDone = false;
  /** The first and only request of this connection came without KEEP_CONN (§5.1). */
  private oneShot = false;
  private servedAny = false;
  /** The last request's STDIN terminator arrived. */
  private inputDone = false;
  /** When the last request ended (or the connection was accepted); 0 while a request runs. */
  idleSince = Date.now();

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
      this.shared.log.warn({ code: err.code, err, remote: this.socket.remoteAddress }, 'FastCGI protocol error: closing connection');
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
    this.idleSince = 0;
    if (role !== FCGI_RESPONDER && !(role === FCGI_AUTHORIZER && this.shared.authorizer)) return this.refuse(requestId, FCGI_UNKNOWN_ROLE);
    // Closing: a request on a connection with nothing else in progress is served, since the web
    // server may not be able to send it elsewhere (nginx never multiplexes, and retries no POST);
    // the connection closes after it. A multiplexing client gets FCGI_OVERLOADED for the extra
    // ones, which says the application never saw them (§5.5): it can retry them elsewhere.
    if ((this.shared.closing && this.requests.size > 0) || this.shared.requestsActive >= this.shared.maxReqs) {
      this.shared.overloaded++;
      return this.refuse(requestId, FCGI_OVERLOADED);
    }
    this.shared.requestsActive++;
    this.shared.requestsTotal++;
    this.requests.set(requestId, new RequestImpl(this, requestId, keepConn, role));
  }

  /** §5.5: a request we will not serve ends at once; its later records are ignored. */
  private refuse(requestId: number, status: ProtocolStatus): void {
    this.out.write(encodeEndRequest(requestId, 0, status));
    this.maybeClose();
  }

  protocolError(detail: string): void {
    this.shared.protocolErrors++;
    this.shared.log.warn({ code: 'FCGI_UNEXPECTED_RECORD', err: new Error(detail), remote: this.socket.remoteAddress }, 'FastCGI protocol error: closing connection');
    this.destroy('protocol error');
  }

  /** A request finished (END_REQUEST written) or was aborted. */
  requestDone(req: RequestImpl): void {
    if (this.requests.get(req.requestId) !== req) return;
    this.requests.delete(req.requestId);
    this.shared.requestsActive--;
    if (this.requests.size === 0) this.idleSince = Date.now();
    this.shared.requestEnded();
    if (this.shared.closing && this.requests.size === 0 && !this.closeWhenDone) return this.closeBetweenRequests();
    this.maybeClose();
  }

  /** No request in progress and no part of one received: closing now cuts nothing. */
  get idle(): boolean {
    return this.requests.size === 0 && this.decoder.atBoundary && !this.closed;
  }

  /**
   * Draining (§3.5: the application may close a kept connection only between requests), right
   * after a response. A bare close races with the web server reusing the connection: nginx puts a
   * connection back in its keep-alive cache when END_REQUEST ends what it read, and may write the
   * next request before it sees our FIN (a request lost, and nginx retries no POST). A record
   * after END_REQUEST in the same write (an FCGI_UNKNOWN_TYPE management record, §4.2, which
   * clients ignore) means the connection is not at a record boundary when the response ends, so
   * nginx does not keep it and closes it itself: nothing can be sent into our close.
   */
  private closeBetweenRequests(): void {
    if (!this.idle) return;
    this.out.write(encodeUnknownType(0));
    this.shutdown();
  }

  /** Sends FIN after what is queued; the peer's close (or the drain deadline) ends the socket. */
  private shutdown(): void {
    this.closed = true;
    this.decoder.stop();
    this.out.end(false);
  }

  /**
   * Draining: an idle connection quiet for `quietMs` is closed. A web server reuses its most
   * recently used connections first (nginx's keep-alive cache is a stack), so one unused for
   * that long is the least likely to be picked while our FIN is on its way.
   */
  closeIfQuiet(now: number, quietMs: number): void {
    if (this.idle && this.idleSince > 0 && now - this.idleSince >= quietMs) this.shutdown();
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
    for (const req of this.requests.values()) req.abort(why);
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
