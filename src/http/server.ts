// The HTTP front: node:http with limits, request ids, the access log, the mount table and graceful stop.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ListenAddress } from '../config-parse.js';
import type { Limits } from '../config.js';
import type { Logger } from '../log.js';
import { Dispatcher } from './dispatch.js';
import { checkRequestHead } from './request-line.js';
import { clearStaleSocket } from '../unix-socket.js';
import { sendError } from '../errors.js';
import type { Mount, RouteKind } from './route.js';
import type { AccessLog } from './access-log.js';
import type { RequestCounts } from '../ops/request-counts.js';
import { TRACE_HEADER, type TraceRecorder } from '../ops/trace.js';

export interface FrontOptions {
  readonly mounts: readonly Mount[];
  readonly log: Logger;
  readonly limits: Limits;
  /** The access log; none: no line, and none of its inputs measured. */
  readonly access?: AccessLog | undefined;
  /** Per-request counts for /-/metrics (ops/request-counts.ts); absent with --status off. */
  readonly counts?: RequestCounts | undefined;
  /** The lab's tracer, and who may ask it for a trace (TRACE_HEADER); absent: no request is traced. */
  readonly tracing?: { readonly recorder: TraceRecorder; readonly allowed: (remote: string | undefined) => boolean };
}

export interface Front {
  readonly server: Server;
  listen(address: ListenAddress): Promise<{ address: string; port: number | undefined }>;
  /** Stops accepting, lets in-flight requests finish until the deadline, then closes mounts. */
  close(deadlineMs: number): Promise<'drained' | 'forced'>;
  inFlight(): number;
}

const STATUS_FOR_PARSE_ERROR: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

const REASON: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
  505: 'HTTP Version Not Supported',
};

/** llhttp's HPE_INVALID_VERSION covers a well-formed version it does not speak (RFC 9112 §2.3: 505) and garbage (400). */
function parseErrorStatus(err: NodeJS.ErrnoException & { reason?: string }): number {
  if (err.code === 'HPE_INVALID_VERSION' && /^Invalid HTTP version$/.test(err.reason ?? '')) return 505;
  return STATUS_FOR_PARSE_ERROR[err.code ?? ''] ?? 400;
}

export function createFront(opts: FrontOptions): Front {
  const { log, limits, access, counts } = opts;
  const dispatcher = new Dispatcher(opts.mounts);
  const tracing = opts.tracing;
  const prefix = process.pid.toString(36) + '-';
  let seq = 0;
  let inFlight = 0;

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const id = prefix + (++seq).toString(36);
    // The access line's inputs cost more than a small response when no line is written.
    const logging = access !== undefined;
    // performance.now(): a double, where hrtime.bigint() allocates two BigInts per request.
    const started = logging ? performance.now() : 0;
    const socket = req.socket;
    const counting = counts !== undefined;
    const bytesBefore = logging || counting ? socket.bytesWritten : 0;
    const t0 = counting ? performance.now() : 0;
    const readBefore = counting ? socket.bytesRead : 0;
    const route: { kind: RouteKind } = { kind: 'static' };
    inFlight++;
    res.setHeader('x-request-id', id);
    // A ServerResponse emits 'close' once, after 'finish' or when the connection went first.
    const done = (): void => {
      inFlight--;
      if (counting) counts.observe(route.kind, req.url ?? '/', res.statusCode, performance.now() - t0, socket.bytesRead - readBefore, socket.bytesWritten - bytesBefore);
      if (!logging) return;
      access.record(req, res, id, socket.bytesWritten - bytesBefore, Math.round((performance.now() - started) * 1000) / 1000, route.kind);
    };
    res.once('close', done);
    // What llhttp lets through and RFC 9112 refuses; an absolute-form target is rewritten here.
    const head = checkRequestHead(req);
    if (!head.ok) {
      log.warn({ reqId: id, code: head.code, reason: head.reason, remote: socket.remoteAddress }, 'malformed request');
      res.shouldKeepAlive = false;
      sendError(res, head.code, id, { connection: 'close' });
      return;
    }
    // A declared body over the limit is refused before any route sees it; chunked bodies are
    // counted by whoever reads them (the CGI spool, the FastCGI client).
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limits.maxBodySize) {
      res.shouldKeepAlive = false;
      sendError(res, 'FF_BODY_TOO_LARGE', id, { connection: 'close' });
      return;
    }
    // One header lookup per request; a trace only for a client the lab allows (ops/lab-allow).
    const traceId = tracing === undefined ? undefined : req.headers[TRACE_HEADER];
    const trace = traceId === undefined || !tracing!.allowed(socket.remoteAddress) ? undefined : tracing!.recorder.begin(traceId, id);
    if (trace !== undefined) res.once('close', () => trace.finish(res.statusCode));
    void dispatcher.run(req, res, id, log, req.method ?? 'GET', head.target, 0, route, undefined, trace);
  };

  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderSize,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // node checks the headers and request timeouts only this often (default 30 s), so a
      // slowloris client would hold its socket far past --headers-timeout without it.
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
      // Header names arrive as received; we never need node's joined-duplicate copies twice.
      joinDuplicateHeaders: false,
      // Host is checked with the request line (request-line.ts), so that the refusal is logged.
      requireHostHeader: false,
    },
    onRequest,
  );

  // A malformed or oversized request: answer it plainly, log one line, keep serving.
  server.on('clientError', (err: NodeJS.ErrnoException & { reason?: string }, socket: Socket) => {
    // A client that resets or times out an idle connection sent nothing malformed.
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
      socket.destroy();
      return;
    }
    const status = parseErrorStatus(err);
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    // A body that turned out malformed belongs to a request that has an id: the line names it.
    const reqId = inFlight ? inFlight.getHeader('x-request-id') : undefined;
    log.warn({ ...(reqId === undefined ? {} : { reqId }), code: err.code, reason: err.reason, remote: socket.remoteAddress, status }, 'malformed request');
    if (inFlight && socket.writable && !inFlight.headersSent) {
      // The request body turned out malformed (a bad chunk): answer the request in flight, so
      // the client and the access log both see the 400, then close (the parser cannot go on).
      inFlight.shouldKeepAlive = false;
      inFlight.once('finish', () => socket.destroySoon());
      sendError(inFlight, status === 431 ? 'FF_HEADERS_TOO_LARGE' : status === 408 ? 'FF_REQUEST_TIMEOUT' : 'FF_BAD_REQUEST', String(inFlight.getHeader('x-request-id') ?? ''), { connection: 'close' });
    } else if (socket.writable && !inFlight) {
      const reason = REASON[status] ?? 'Bad Request';
      const body = `${status} ${reason}\n`;
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    } else {
      socket.destroy();
    }
  });

  // CONNECT asks for a tunnel (RFC 9110 §9.3.6), which an origin server does not offer: without
  // a listener node would drop the socket unanswered.
  server.on('connect', (req: IncomingMessage, socket: Socket) => {
    log.warn({ method: req.method, remote: socket.remoteAddress, status: 501 }, 'malformed request');
    const body = '501 Not Implemented\n';
    socket.end(`HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  });

  const listen = (address: ListenAddress): Promise<{ address: string; port: number | undefined }> =>
    new Promise((resolveListen, rejectListen) => {
      server.once('error', rejectListen);
      const ready = (): void => {
        server.off('error', rejectListen);
        const a = server.address();
        if (typeof a === 'string' || a === null) resolveListen({ address: String(a ?? ''), port: undefined });
        else resolveListen({ address: a.address, port: a.port });
      };
      if (address.kind === 'unix') {
        void clearStaleSocket(address.path).then((live) => {
          if (live === null) server.listen(address.path, ready);
          else rejectListen(Object.assign(new Error(`${live} is in use`), { code: 'EADDRINUSE' }));
        });
      } else server.listen(address.port, address.host, ready);
    });

  const close = async (deadlineMs: number): Promise<'drained' | 'forced'> => {
    const closed = new Promise<void>((r) => server.close(() => r()));
    server.closeIdleConnections();
    // Keep-alive connections that become idle after their request must close too.
    const idleTimer = setInterval(() => server.closeIdleConnections(), 50);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'forced'>((r) => {
      timer = setTimeout(() => r('forced'), deadlineMs);
    });
    const outcome = await Promise.race([closed.then(() => 'drained' as const), deadline]);
    clearInterval(idleTimer);
    clearTimeout(timer);
    if (outcome === 'forced') server.closeAllConnections();
    await Promise.allSettled(opts.mounts.map((m) => m.close?.()));
    return outcome;
  };

  return { server, listen, close, inFlight: () => inFlight };
}
