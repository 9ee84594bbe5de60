// The responder for protocols with one request per connection (uwsgi, SCGI): head, body, response, close.
//
// It gives the pool worker the same request object as the FastCGI responder (ResponderRequest):
// params are the decoded meta-variables, stdin is the raw body (CONTENT_LENGTH bytes, RFC 3875
// §4.1.2), stdout goes to the socket as it is written (the web server parses the CGI response,
// §6, as it does from FastCGI), and the response ends when the connection is closed: neither
// protocol frames it. There is no stderr channel: the worker logs a script's stderr itself.
import type { Server, Socket } from 'node:net';
import type { Writable } from 'node:stream';
import type { Logger } from '../log.js';
import { ERRORS } from '../errors.js';
import { FCGI_RESPONDER, type Role } from '../fastcgi/protocol.js';
import type { Responder, ResponderRequest, ResponderStats, RequestListener } from '../fastcgi/server.js';
import { InboundStream, type ReadGate } from '../fastcgi/streams.js';
import { LiveSet } from '../live-set.js';
import { isHeadError, type HeadDecoder, type HeadError } from './head.js';

export interface OneShotOptions {
  /** 'uwsgi' or 'SCGI': in log lines. */
  readonly protocol: string;
  readonly log: Logger;
  readonly onRequest: RequestListener;
  /** A new decoder for each connection. */
  readonly decoder: () => HeadDecoder;
  /** Connections served at once; more are closed at accept (default 1024). */
  readonly maxConns?: number;
  /** Unread body buffered before the socket stops reading (default 256 KiB). */
  readonly stdinBufferBytes?: number;
  /** --allowed-clients: a peer it refuses is closed at accept. */
  readonly allowClient?: ((remoteAddress: string) => boolean) | undefined;
}

interface Shared extends Required<Omit<OneShotOptions, 'decoder' | 'allowClient'>> {
  readonly decoder: () => HeadDecoder;
  requestsActive: number;
  requestsTotal: number;
  aborted: number;
  protocolErrors: number;
  closing: boolean;
  closed(c: OneShotConnection): void;
}

const DIGITS = /^\d+$/;

/** One connection and its one request. */
class OneShotConnection implements ResponderRequest, ReadGate {
  readonly requestId = 1;
  readonly role: Role = FCGI_RESPONDER;
  readonly keepConn = false;
  params: Map<string, string> = new Map();
  private decoder: HeadDecoder | null;
  private state: 'head' | 'running' | 'done' = 'head';
  private bodyLeft = 0;
  private body: InboundStream | null = null;
  private holds = 0;
  private abortedFlag = false;
  private controller: AbortController | null = null;
  private abortListeners: Array<() => void> | null = null;

  constructor(readonly socket: Socket, private readonly shared: Shared) {
    this.decoder = shared.decoder();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {}); // 'close' follows.
    socket.on('close', () => this.onClose());
  }

  get log(): Logger {
    return this.shared.log;
  }

  get hasStarted(): boolean {
    return this.state !== 'head' || this.socket.bytesRead > 0;
  }

  get stdin(): InboundStream {
    if (this.body === null) {
      this.body = new InboundStream(this, this.shared.stdinBufferBytes);
      if (this.bodyLeft === 0 || this.state === 'done') this.body.finish();
    }
    return this.body;
  }

  get stdout(): Writable {
    return this.socket;
  }

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

  private onData(chunk: Buffer): void {
    if (this.decoder !== null) {
      const head = this.decoder.push(chunk);
      if (head === null) return;
      this.decoder = null;
      if (isHeadError(head)) return this.refuse(head);
      const declared = head.params.get('CONTENT_LENGTH') ?? '';
      if (declared !== '' && !DIGITS.test(declared)) {
        return this.refuse({ kind: 'malformed', message: `CONTENT_LENGTH "${declared.slice(0, 40)}" is not a number` });
      }
      this.params = head.params;
      // CVE-2016-5385 ("httpoxy"): a client's Proxy: header must never become HTTP_PROXY.
      this.params.delete('HTTP_PROXY');
      this.bodyLeft = declared === '' ? 0 : Number(declared);
      this.start();
      if (head.rest.length > 0) this.onBody(head.rest);
      return;
    }
    this.onBody(chunk);
  }

  private onBody(piece: Buffer): void {
    if (this.bodyLeft === 0) return; // Bytes past CONTENT_LENGTH: not ours to read.
    const part = piece.length > this.bodyLeft ? piece.subarray(0, this.bodyLeft) : piece;
    this.bodyLeft -= part.length;
    if (this.state !== 'running') return;
    const body = this.stdin;
    body.feed(part);
    if (this.bodyLeft === 0) body.finish();
  }

  private start(): void {
    const shared = this.shared;
    this.state = 'running';
    shared.requestsActive++;
    shared.requestsTotal++;
    let result: void | Promise<void>;
    try {
      result = shared.onRequest(this);
    } catch (err) {
      return this.fail(err);
    }
    if (result !== undefined && typeof result.then === 'function') result.then(undefined, (err: unknown) => this.fail(err));
  }

  private fail(err: unknown): void {
    if (this.abortedFlag) return;
    this.log.error({ err, protocol: this.shared.protocol }, 'request handler failed');
    if (this.state === 'done') return;
    if (this.socket.bytesWritten === 0 && this.socket.writableLength === 0) this.endWith(errorResponse('FF_INTERNAL'));
    else this.end(1);
  }

  /** A head we cannot serve: one log line, a 431 answer when the head was too large, then close. */
  private refuse(e: HeadError): void {
    this.shared.protocolErrors++;
    this.log.warn({ protocol: this.shared.protocol, reason: e.message, remote: this.socket.remoteAddress }, 'request refused: bad request head');
    this.state = 'done';
    if (e.kind === 'too-large') this.socket.end(errorResponse('FF_HEADERS_TOO_LARGE'));
    else this.socket.destroy();
  }

  writeStderr(): void {
    // Neither protocol has a stderr stream: the program runner logs every line already.
  }

  end(_appStatus?: number): void {
    this.endWith('');
  }

  endWith(data: string | Uint8Array): void {
    if (this.state !== 'running' || this.abortedFlag) return;
    this.state = 'done';
    this.shared.requestsActive--;
    this.body?.discard();
    // The end of the response is the end of the connection (neither protocol frames it).
    if (typeof data === 'string') this.socket.end(data, 'latin1');
    else this.socket.end(data);
  }

  private onClose(): void {
    this.decoder = null;
    if (this.state === 'running') {
      this.state = 'done';
      this.abortedFlag = true;
      this.shared.requestsActive--;
      this.shared.aborted++;
      this.body?.discard();
      this.controller?.abort();
      const listeners = this.abortListeners;
      this.abortListeners = null;
      if (listeners !== null) for (const l of listeners) l();
    }
    this.shared.closed(this);
  }

  /** Draining: a connection that never sent a byte is closed; the others finish. */
  closeIfIdle(): void {
    if (!this.hasStarted) this.socket.destroy();
  }

  get idle(): boolean {
    return this.state === 'done';
  }

  hold(): void {
    if (this.holds++ === 0) this.socket.pause();
  }

  release(): void {
    if (--this.holds === 0 && !this.socket.destroyed) this.socket.resume();
  }
}

function errorResponse(code: 'FF_INTERNAL' | 'FF_HEADERS_TOO_LARGE'): string {
  const { status, message } = ERRORS[code];
  return `Status: ${status} ${message}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${status} ${message}\n`;
}

/** The uwsgi or SCGI responder: the same API as the FastCGI one (createResponder). */
export function createOneShotResponder(opts: OneShotOptions): Responder {
  const conns = new LiveSet<OneShotConnection>();
  const servers = new Set<Server>();
  let connectionsTotal = 0;
  let idleWaiter: (() => void) | null = null;
  const shared: Shared = {
    protocol: opts.protocol,
    log: opts.log,
    onRequest: opts.onRequest,
    decoder: opts.decoder,
    maxConns: opts.maxConns ?? 1024,
    stdinBufferBytes: opts.stdinBufferBytes ?? 256 * 1024,
    requestsActive: 0,
    requestsTotal: 0,
    aborted: 0,
    protocolErrors: 0,
    closing: false,
    closed(c) {
      conns.delete(c);
      if (conns.size === 0 && idleWaiter !== null) idleWaiter();
    },
  };

  function handle(socket: Socket): void {
    if (opts.allowClient !== undefined && socket.remoteAddress !== undefined && !opts.allowClient(socket.remoteAddress)) {
      opts.log.warn({ protocol: opts.protocol, remote: socket.remoteAddress }, 'connection refused: peer not in --allowed-clients');
      socket.destroy();
      return;
    }
    if (shared.closing || conns.size >= shared.maxConns) {
      opts.log.warn({ protocol: opts.protocol, connections: conns.size, maxConns: shared.maxConns }, 'connection refused: too many connections or closing');
      socket.destroy();
      return;
    }
    connectionsTotal++;
    conns.add(new OneShotConnection(socket, shared));
  }

  function attach(server: Server): void {
    servers.add(server);
    server.on('connection', handle);
  }

  async function close(graceMs = 10_000): Promise<void> {
    shared.closing = true;
    for (const s of servers) s.off('connection', handle);
    servers.clear();
    for (const c of conns) c.closeIfIdle();
    if (conns.size === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const c of conns) c.socket.destroy();
      }, graceMs);
      timer.unref();
      idleWaiter = () => {
        clearTimeout(timer);
        idleWaiter = null;
        resolve();
      };
    });
  }

  function stats(): ResponderStats {
    return {
      connections: conns.size,
      connectionsTotal,
      requestsActive: shared.requestsActive,
      requestsTotal: shared.requestsTotal,
      aborted: shared.aborted,
      overloaded: 0,
      protocolErrors: shared.protocolErrors,
    };
  }

  return { handle, attach, close, stats };
}
