// One client connection to a FastCGI upstream: sends requests, demultiplexes the responses by id.
import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { RecordDecoder, type RecordSink } from './decoder.js';
import { FastcgiError } from './errors.js';
import {
  FCGI_ABORT_REQUEST, FCGI_END_REQUEST, FCGI_GET_VALUES_RESULT, FCGI_MAX_CONNS, FCGI_MAX_REQS,
  FCGI_MPXS_CONNS, FCGI_OVERLOADED, FCGI_REQUEST_COMPLETE, FCGI_STDERR,
  FCGI_STDIN, FCGI_STDOUT, FCGI_UNKNOWN_ROLE, FCGI_CANT_MPX_CONN, type ProtocolStatus,
  decodeNameValuePairs, encodeGetValues, encodeRecord, encodeRequestHead,
  type Role,
} from './protocol.js';
import { RecordOutput, RecordWriter, type ReadGate } from './streams.js';
import { StdoutHolder } from './client-stdout.js';
import { RequestTable } from './request-table.js';
import type { AbortSignalLike } from './client.js';

/** Where to connect: a TCP host and port, or a unix socket path. */
export type UpstreamAddress = { readonly host: string; readonly port: number } | { readonly path: string };

/** What the upstream said in GET_VALUES_RESULT (§4.1), learned once per upstream. */
export interface UpstreamValues {
  mpxs: boolean;
  maxReqs: number;
  maxConns: number;
}

export interface FastcgiEnd {
  readonly appStatus: number;
  readonly protocolStatus: ProtocolStatus;
}

/** A request waiting for, or bound to, a connection. */
export interface Job {
  readonly params: Buffer; // encoded name-value pairs (§3.4), ready to frame
  readonly role: Role | undefined;
  readonly body: Readable | null;
  readonly signal: AbortSignalLike | undefined;
  readonly onStderr: (chunk: Buffer) => void;
  /** Resolves the caller's request() promise with the response body (a stream on demand). */
  respond(stdout: StdoutHolder): void;
  /** Settles the request: before respond() it rejects request(), after it rejects `ended` too. */
  finish(err: FastcgiError | null, end: FastcgiEnd | null): void;
  responded: boolean;
  settled: boolean;
  retried: boolean;
  /** Retry only on a connection that never served a request. */
  needFresh: boolean;
  exchange: Exchange | null;
}

export interface ConnOwner {
  readonly idleTimeoutMs: number;
  readonly stdoutHighWaterMark: number;
  connReady(c: ClientConnection): void;
  /** `lost`: exchanges that were in flight (answered, aborted or `unanswered`). */
  connClosed(c: ClientConnection, err: FastcgiError | null, unanswered: Job[], lost: number): void;
  exchangeDone(c: ClientConnection): void;
  /** Queue a refused job again (FCGI_OVERLOADED before any STDOUT); false when it may not be. */
  retryRefused(job: Job): boolean;
  probeResult(c: ClientConnection, values: UpstreamValues | null): void;
}


/** One request in flight on a connection. */
export class Exchange {
  readonly stdout: StdoutHolder;
  stdin: RecordWriter | null = null;
  /** Date.now() of the last record (or the start): the connection's sweep fails it when idle. */
  lastActive = Date.now();
  gotRecord = false;
  aborted = false;

  constructor(readonly conn: ClientConnection, readonly id: number, readonly job: Job, hwm: number) {
    this.stdout = new StdoutHolder(conn, hwm);
  }
}

export class ClientConnection implements RecordSink, ReadGate {
  state: 'connecting' | 'ready' | 'closed' = 'connecting';
  /** Requests completed on this connection: a fresh one has 0. */
  served = 0;
  readonly exchanges = new RequestTable<Exchange>();
  private readonly socket: Socket;
  private readonly out: RecordOutput;
  private readonly decoder: RecordDecoder;
  private connectTimer: NodeJS.Timeout | null;
  private sweeper: NodeJS.Timeout | null = null;
  private holds = 0;
  private connected = false;
  private closeErr: FastcgiError | null = null;

  constructor(readonly upstream: string, addr: UpstreamAddress, private readonly owner: ConnOwner, private readonly connectTimeoutMs: number, readonly probe: boolean) {
    this.socket = connect(addr);
    this.out = new RecordOutput(this.socket);
    this.decoder = new RecordDecoder(this);
    this.connectTimer = setTimeout(() => this.fail(new FastcgiError('FCGI_CONNECT_TIMEOUT', `FastCGI connect to ${upstream} timed out`)), connectTimeoutMs);
    this.socket.once('connect', () => this.onConnect());
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.onError(err));
    this.socket.on('end', () => this.fail(null));
    this.socket.on('close', () => this.onClose());
  }

  get active(): number {
    return this.exchanges.size;
  }

  private onConnect(): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.connected = true;
    if (this.probe) {
      // §4.1: ask whether the application multiplexes. php-fpm answers and then closes. Requests
      // wait for the answer, so it is bounded: an application that accepted but does not read
      // (every php-fpm child busy, the connection still in its backlog) or ignores management
      // records counts as one that does not multiplex, and requests go on; a hung one then
      // fails them by its own idle timeout, not by waiting forever here.
      this.out.write(encodeGetValues([FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS]));
      this.connectTimer = setTimeout(() => {
        this.connectTimer = null;
        this.owner.probeResult(this, null);
        this.close();
      }, this.connectTimeoutMs);
      return;
    }
    this.state = 'ready';
    this.owner.connReady(this);
  }

  private onData(chunk: Buffer): void {
    let err: FastcgiError | null;
    try {
      err = this.decoder.push(chunk);
    } catch (e) {
      err = new FastcgiError('FCGI_UNEXPECTED_RECORD', 'FastCGI response handling failed', { cause: e });
    }
    if (err !== null) this.fail(err);
  }

  private onError(err: NodeJS.ErrnoException): void {
    if (!this.connected) {
      const code = err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'FCGI_CONNECT_REFUSED' : 'FCGI_CONN_RESET';
      this.fail(new FastcgiError(code, `FastCGI connect to ${this.upstream} failed: ${err.code ?? err.message}`, { cause: err }));
    } else {
      this.fail(new FastcgiError('FCGI_CONN_RESET', `FastCGI connection to ${this.upstream} failed: ${err.code ?? err.message}`, { cause: err }));
    }
  }

  onRecord(type: number, requestId: number, content: Buffer): void {
    if (type === FCGI_GET_VALUES_RESULT) {
      const m = new Map<string, string>();
      const ok = decodeNameValuePairs(content, m);
      const num = (k: string): number => Number.parseInt(m.get(k) ?? '', 10) || 0;
      if (this.probe) {
        if (this.connectTimer !== null) clearTimeout(this.connectTimer);
        this.connectTimer = null;
        this.owner.probeResult(this, ok ? { mpxs: m.get(FCGI_MPXS_CONNS) === '1', maxReqs: num(FCGI_MAX_REQS), maxConns: num(FCGI_MAX_CONNS) } : null);
        this.close();
      }
      return;
    }
    if (type !== FCGI_END_REQUEST) return; // UNKNOWN_TYPE answers and stray records: nothing to do
    const ex = this.exchanges.get(requestId);
    if (ex === undefined) return;
    const appStatus = content.readUInt32BE(0);
    const protocolStatus = content[4]! as ProtocolStatus;
    this.complete(ex, { appStatus, protocolStatus });
  }

  onStream(type: number, requestId: number, data: Buffer): void {
    const ex = this.exchanges.get(requestId);
    if (ex === undefined) return;
    ex.gotRecord = true;
    ex.lastActive = Date.now();
    if (ex.aborted) return;
    if (type === FCGI_STDOUT) {
      if (data.length === 0) return; // the end of STDOUT is END_REQUEST (php-cgi omits the empty record)
      if (!ex.job.responded) ex.job.respond(ex.stdout);
      ex.stdout.feed(data);
    } else if (type === FCGI_STDERR && data.length > 0) {
      ex.job.onStderr(data);
    }
  }

  /** Binds a job to a fresh request id and sends BEGIN_REQUEST, PARAMS and the body (§5.1-5.3). */
  start(job: Job): void {
    // Ids are reused once their END_REQUEST arrived, the last freed first (§3.3: "tightly packed").
    const ex = this.exchanges.claim((id) => new Exchange(this, id, job, this.owner.stdoutHighWaterMark));
    const id = ex.id;
    job.exchange = ex;
    this.out.write(encodeRequestHead(id, job.params, job.body === null, job.role));
    if (job.body !== null) {
      const w = new RecordWriter(this.out, FCGI_STDIN, id, 64 * 1024, null);
      ex.stdin = w;
      job.body.on('error', (err) => this.abortExchange(ex, new FastcgiError('FCGI_ABORTED', 'request body failed', { cause: err })));
      job.body.pipe(w);
    }
    if (this.owner.idleTimeoutMs > 0 && this.sweeper === null) this.startSweeper();
  }

  /** §5.4: the caller went away. The id stays reserved until END_REQUEST (or the idle timer). */
  abortExchange(ex: Exchange, err: FastcgiError): void {
    if (ex.aborted || this.exchanges.get(ex.id) !== ex) return;
    ex.aborted = true;
    this.stopBody(ex);
    ex.stdout.discard(ex.job.responded ? err : undefined);
    ex.job.finish(err, null);
    this.out.write(encodeRecord(FCGI_ABORT_REQUEST, ex.id));
  }

  /**
   * One coarse timer per connection instead of one per request (a setTimeout, its refresh on
   * every record and its clearTimeout were ~2 % of the front: docs/performance.md). A silent
   * request fails between 1 and 1.25 idle periods after its last record.
   */
  private startSweeper(): void {
    const idle = this.owner.idleTimeoutMs;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const ex of this.exchanges.values()) if (now - ex.lastActive >= idle) this.onIdle(ex);
    }, Math.max(5, Math.floor(idle / 4)));
    this.sweeper.unref();
  }

  private onIdle(ex: Exchange): void {
    const err = new FastcgiError('FCGI_IDLE_TIMEOUT', `FastCGI upstream ${this.upstream} sent nothing for ${this.owner.idleTimeoutMs} ms`);
    if (ex.aborted) return this.fail(err); // no END_REQUEST after our ABORT_REQUEST: give up on the connection
    this.abortExchange(ex, err);
    ex.lastActive = Date.now();
  }

  private stopBody(ex: Exchange): void {
    if (ex.stdin !== null) {
      ex.job.body?.unpipe(ex.stdin);
      ex.stdin.kill();
    }
  }

  /** §5.5: END_REQUEST ends the exchange; a refusal status becomes a typed error. */
  private complete(ex: Exchange, end: FastcgiEnd): void {
    this.exchanges.delete(ex.id);
    this.stopBody(ex);
    this.served++;
    if (!ex.aborted) {
      const refusal = refusalError(end.protocolStatus, this.upstream);
      const untouched = !ex.job.responded && (ex.stdin === null || ex.stdin.bytes === 0);
      if (refusal !== null && end.protocolStatus === FCGI_OVERLOADED && untouched && this.owner.retryRefused(ex.job)) {
        ex.stdout.discard();
      } else if (refusal !== null) {
        ex.stdout.discard();
        ex.job.finish(refusal, null);
      } else {
        ex.stdout.finish();
        if (!ex.job.responded) ex.job.respond(ex.stdout);
        ex.job.finish(null, end);
      }
    }
    this.owner.exchangeDone(this);
  }

  close(): void {
    if (this.state === 'closed') return;
    this.fail(new FastcgiError('FCGI_CLOSED', `FastCGI connection to ${this.upstream} closed by us`));
  }

  /** Ends the connection; requests still in flight fail with `err` (or a reset error). */
  fail(err: FastcgiError | null): void {
    if (this.state === 'closed') return;
    const wasConnecting = !this.connected;
    this.state = 'closed';
    this.closeErr = err;
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.decoder.stop();
    this.socket.destroy();
    const unanswered: Job[] = [];
    const reason = err ?? new FastcgiError(wasConnecting ? 'FCGI_CONNECT_REFUSED' : 'FCGI_CONN_RESET', `FastCGI upstream ${this.upstream} closed the connection`);
    for (const ex of this.exchanges.values()) {
      this.stopBody(ex);
      if (ex.aborted) continue;
      if (!ex.gotRecord && (ex.stdin === null || ex.stdin.bytes === 0)) unanswered.push(ex.job);
      else {
        ex.stdout.discard(ex.job.responded ? reason : undefined);
        ex.job.finish(reason, null);
      }
    }
    const lost = this.exchanges.size;
    this.exchanges.clear();
    // The owner retries or fails the jobs that got no answer and sent no body byte.
    this.owner.connClosed(this, reason, unanswered, lost);
  }

  private onClose(): void {
    this.fail(this.closeErr);
  }

  hold(): void {
    if (this.holds++ === 0) this.socket.pause();
  }

  release(): void {
    if (--this.holds === 0 && this.state !== 'closed') this.socket.resume();
  }
}

function refusalError(status: ProtocolStatus, upstream: string): FastcgiError | null {
  if (status === FCGI_REQUEST_COMPLETE) return null;
  if (status === FCGI_OVERLOADED) return new FastcgiError('FCGI_OVERLOADED', `FastCGI upstream ${upstream} is overloaded`);
  if (status === FCGI_UNKNOWN_ROLE) return new FastcgiError('FCGI_UNKNOWN_ROLE', `FastCGI upstream ${upstream} refused the Responder role`);
  if (status === FCGI_CANT_MPX_CONN) return new FastcgiError('FCGI_CANT_MPX_CONN', `FastCGI upstream ${upstream} cannot multiplex`);
  return null;
}

