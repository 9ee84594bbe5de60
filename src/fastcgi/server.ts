// The FastCGI 1.0 responder (application side): accepts connections, demultiplexes requests.
//
// API (the pool worker codes against this):
//
//   const responder = createResponder({ log, onRequest, maxConns, maxReqs });
//   responder.attach(netServer);      // or responder.handle(socket) for sockets accepted elsewhere
//   ...
//   await responder.close(5000);      // graceful: finish requests, then close connections
//
//   onRequest(r) is called once a request's PARAMS stream is complete (§5.2), with:
//     r.params   Map of CGI meta-variables (HTTP_PROXY removed: CVE-2016-5385)
//     r.stdin    Readable: the request body (FCGI_STDIN, §5.3), ends at the empty STDIN record
//     r.stdout   Writable: the CGI response (FCGI_STDOUT); ending it ends the request
//     r.writeStderr(chunk)   FCGI_STDERR, no backpressure (logs)
//     r.end(appStatus = 0)   ends stdout, then sends FCGI_END_REQUEST {appStatus, REQUEST_COMPLETE}
//     r.endWith(data, appStatus = 0)   the whole (rest of the) response and the end, in one write
//     r.onAbort(listener)    a cheap alternative to r.signal (no AbortController per request)
//     r.signal   aborts on FCGI_ABORT_REQUEST (§5.4) or when the connection is lost: stop work,
//                kill the child; later writes are dropped and END_REQUEST was already sent.
//   A throw or rejection from onRequest is logged; the request ends with appStatus 1 (and a
//   "Status: 500" CGI response when nothing was written yet).
//
// Behaviour: Responder role, Authorizer with `authorizer: true` (§6.3; else, and Filter, get
// FCGI_UNKNOWN_ROLE, §5.1); KEEP_CONN
// honoured (without it the connection closes after END_REQUEST, §5.1); requests are multiplexed
// and GET_VALUES answers FCGI_MPXS_CONNS=1 (§4.1); unknown management records get UNKNOWN_TYPE
// (§4.2); FCGI_OVERLOADED past maxReqs requests in progress (§5.5); a protocol error closes that
// connection with one log line.
import type { Server, Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../log.js';
import { FORKFAST_PID, type Role } from './protocol.js';
import { ResponderConnection } from './server-conn.js';
import { LiveSet } from '../live-set.js';

export interface ResponderRequest {
  /** §3.3: the request id on its connection (unique among that connection's active requests). */
  readonly requestId: number;
  /** FCGI_RESPONDER, or FCGI_AUTHORIZER when the responder was created with `authorizer`. */
  readonly role: Role;
  /** §5.1 FCGI_KEEP_CONN: false when the web server wants the connection closed afterwards. */
  readonly keepConn: boolean;
  readonly params: Map<string, string>;
  readonly stdin: Readable;
  readonly stdout: Writable;
  writeStderr(chunk: string | Buffer): void;
  /** Ends the request: ends stdout (flushing it) and sends END_REQUEST. Idempotent. */
  end(appStatus?: number): void;
  /**
   * Writes `data` as the last of FCGI_STDOUT and ends the request. When stdout was never used,
   * the STDOUT records, the terminators and END_REQUEST go out as one buffer (strings as latin1).
   */
  endWith(data: string | Uint8Array, appStatus?: number): void;
  /** Called once if the request is aborted (ABORT_REQUEST or a lost connection); never after it ended. */
  onAbort(listener: () => void): void;
  /** Aborted by ABORT_REQUEST or a lost connection. */
  readonly signal: AbortSignal;
  readonly aborted: boolean;
  readonly log: Logger;
}

export type RequestListener = (r: ResponderRequest) => void | Promise<void>;

export interface ResponderOptions {
  readonly log: Logger;
  readonly onRequest: RequestListener;
  /** FCGI_MAX_CONNS: connections served at once; more are closed at accept (default 1024). */
  readonly maxConns?: number;
  /** FCGI_MAX_REQS: requests in progress over all connections; more get FCGI_OVERLOADED (default 1024). */
  readonly maxReqs?: number;
  /** Bound on one request's PARAMS stream, bytes (default 256 KiB). */
  readonly maxParamsBytes?: number;
  /** Unread STDIN buffered per request before the connection stops reading (default 256 KiB). */
  readonly stdinBufferBytes?: number;
  /** STDOUT buffered per request before writes wait for the socket (default 64 KiB). */
  readonly stdoutHighWaterMark?: number;
  /** Serve FCGI_AUTHORIZER requests too (§6.3); r.role tells them apart (default: refused). */
  readonly authorizer?: boolean;
  /**
   * A connection with no request for this long is closed (default 120 s: longer than a web
   * server's own keep-alive timeout, nginx's is 60 s, so the web server closes first). 0: never.
   */
  readonly idleTimeoutMs?: number;
  /** TCP peers allowed to connect (others are closed at accept with one log line); default any. */
  readonly allowClient?: (remoteAddress: string | undefined) => boolean;
}

export interface ResponderStats {
  readonly connections: number;
  readonly connectionsTotal: number;
  readonly requestsActive: number;
  readonly requestsTotal: number;
  readonly aborted: number;
  readonly overloaded: number;
  readonly protocolErrors: number;
}

export interface Responder {
  /** Serves one accepted socket (TCP or unix). */
  handle(socket: Socket): void;
  /** Serves every connection `server` accepts (the server may be shared with other processes). */
  attach(server: Server): void;
  /**
   * Stops taking connections and requests, waits for requests in progress up to graceMs, then
   * aborts. Kept connections close between requests: right after their last response, or when
   * idle for quietMs (0: idle ones at once).
   */
  close(graceMs?: number, quietMs?: number): Promise<void>;
  stats(): ResponderStats;
}

/** Settings and counters that every connection of one responder shares. */
export interface ResponderShared {
  readonly log: Logger;
  readonly onRequest: RequestListener;
  readonly maxConns: number;
  readonly maxReqs: number;
  readonly maxParamsBytes: number;
  readonly stdinBufferBytes: number;
  readonly stdoutHighWaterMark: number;
  readonly authorizer: boolean;
  /** The GET_VALUES_RESULT record, built once. */
  readonly valuesResult: Map<string, string>;
  closing: boolean;
  requestsActive: number;
  requestsTotal: number;
  aborted: number;
  overloaded: number;
  protocolErrors: number;
  /** Called by a connection when it closed. */
  connectionClosed(c: ResponderConnection): void;
  /** Called when a request ended, so close() can finish. */
  requestEnded(): void;
}

export function createResponder(opts: ResponderOptions): Responder {
  const conns = new LiveSet<ResponderConnection>();
  const servers = new Set<Server>();
  let connectionsTotal = 0;
  let idleWaiter: (() => void) | null = null;
  let idleTimer: NodeJS.Timeout | null = null;
  let shed = 0;
  const idleTimeoutMs = opts.idleTimeoutMs ?? 120_000;
  const maxConns = opts.maxConns ?? 1024;
  const maxReqs = opts.maxReqs ?? 1024;
  const shared: ResponderShared = {
    log: opts.log,
    onRequest: opts.onRequest,
    maxConns,
    maxReqs,
    maxParamsBytes: opts.maxParamsBytes ?? 256 * 1024,
    stdinBufferBytes: opts.stdinBufferBytes ?? 256 * 1024,
    stdoutHighWaterMark: opts.stdoutHighWaterMark ?? 64 * 1024,
    authorizer: opts.authorizer ?? false,
    valuesResult: new Map([
      ['FCGI_MAX_CONNS', String(maxConns)],
      ['FCGI_MAX_REQS', String(maxReqs)],
      ['FCGI_MPXS_CONNS', '1'],
      [FORKFAST_PID, String(process.pid)], // lets a forkfast client balance by worker process
    ]),
    closing: false,
    requestsActive: 0,
    requestsTotal: 0,
    aborted: 0,
    overloaded: 0,
    protocolErrors: 0,
    connectionClosed(c) {
      conns.delete(c);
      if (conns.size === 0 && idleWaiter !== null) idleWaiter();
    },
    requestEnded() {
      // Connections close themselves when idle and closing; nothing to do here yet.
    },
  };

  function handle(socket: Socket): void {
    if (opts.allowClient !== undefined && socket.remoteAddress !== undefined && !opts.allowClient(socket.remoteAddress)) {
      opts.log.warn({ remote: socket.remoteAddress }, 'FastCGI connection refused: peer not in --allowed-clients');
      socket.destroy();
      return;
    }
    if (shared.closing || (conns.size >= maxConns && !shedOldestIdle())) {
      opts.log.warn({ connections: conns.size, maxConns }, 'FastCGI connection refused: FCGI_MAX_CONNS reached or closing');
      socket.destroy();
      return;
    }
    connectionsTotal++;
    conns.add(new ResponderConnection(socket, shared));
    if (idleTimer === null && idleTimeoutMs > 0) {
      idleTimer = setInterval(closeIdle, Math.max(100, Math.floor(idleTimeoutMs / 4)));
      idleTimer.unref();
    }
  }

  /**
   * At FCGI_MAX_CONNS: the connection idle the longest makes room for the new peer, so that idle
   * connections (a client that opened many and went quiet) cannot lock every new client out.
   * O(connections), only when full.
   */
  function shedOldestIdle(): boolean {
    let oldest: ResponderConnection | null = null;
    for (const c of conns) if (c.idle && (oldest === null || c.idleSince < oldest.idleSince)) oldest = c;
    if (oldest === null) return false;
    shed++;
    if (shed === 1 || shed % 100 === 0) opts.log.warn({ connections: conns.size, maxConns, shed }, 'FastCGI connections at FCGI_MAX_CONNS: closing the longest idle one for a new peer');
    conns.delete(oldest);
    oldest.destroy('shed at FCGI_MAX_CONNS');
    return true;
  }

  function closeIdle(): void {
    const now = Date.now();
    for (const c of conns) if (c.idle && now - c.idleSince >= idleTimeoutMs) c.destroy('idle timeout');
    if (conns.size === 0 && idleTimer !== null) {
      clearInterval(idleTimer);
      idleTimer = null;
    }
  }

  function attach(server: Server): void {
    servers.add(server);
    server.on('connection', handle);
  }

  async function close(graceMs = 10_000, quietMs = 0): Promise<void> {
    shared.closing = true;
    for (const s of servers) s.off('connection', handle);
    servers.clear();
    if (idleTimer !== null) clearInterval(idleTimer);
    idleTimer = null;
    if (quietMs <= 0) for (const c of conns) c.closeWhenIdle();
    const sweep = (): void => {
      const now = Date.now();
      for (const c of conns) c.closeIfQuiet(now, quietMs);
    };
    if (quietMs > 0) sweep();
    if (conns.size === 0) return;
    const sweeper = quietMs > 0 ? setInterval(sweep, Math.min(100, quietMs)) : null;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const c of conns) c.destroy('responder closed');
      }, graceMs);
      timer.unref();
      idleWaiter = () => {
        clearTimeout(timer);
        if (sweeper !== null) clearInterval(sweeper);
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
      overloaded: shared.overloaded,
      protocolErrors: shared.protocolErrors,
    };
  }

  return { handle, attach, close, stats };
}
