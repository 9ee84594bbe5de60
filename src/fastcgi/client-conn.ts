// One client connection to a FastCGI upstream: sends requests, demultiplexes the responses by id.
//
// The connection decides nothing about other connections or upstreams. It tells its client what
// happened through one function that takes facts (ConnEvent) and returns nothing; retries,
// balancing and down-marking are the client's (client.ts).
import { connect, type Socket } from 'node:net';
import { RecordDecoder, type RecordSink } from './decoder.js';
import { FastcgiError } from './errors.js';
import {
  FCGI_ABORT_REQUEST, FCGI_AUTHORIZER, FCGI_CANT_MPX_CONN, FCGI_END_REQUEST, FCGI_GET_VALUES_RESULT,
  FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS, FCGI_OVERLOADED, FCGI_REQUEST_COMPLETE,
  FCGI_RESPONDER, FCGI_STDERR, FCGI_STDIN, FCGI_STDOUT, FCGI_UNKNOWN_ROLE, FORKFAST_PID, type ProtocolStatus,
  decodeNameValuePairs, encodeGetValues, encodeRecord, encodeRequestHead,
} from './protocol.js';
import { RecordOutput, RecordWriter, type ReadGate } from './streams.js';
import { StdoutHolder } from './client-stdout.js';
import { RequestTable } from './request-table.js';
import type { ClientJob, SentRequest } from './client-job.js';
import type { FastcgiEnd, UpstreamAddress, UpstreamValues } from './client-types.js';

/** The first contact with an upstream asks §4.1's three variables, and whether it names workers. */
const PROBE = encodeGetValues([FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS, FORKFAST_PID]);
/** On a forkfast pool's connection: which worker is this, and has it read what came before. */
const PING = encodeGetValues([FORKFAST_PID]);

/**
 * probe: asks GET_VALUES and closes (php-fpm closes after answering anyway). plain: requests.
 * named: requests, on an upstream that answers FORKFAST_PID, so each batch of requests is
 * followed by a ping (see `confirmed`).
 */
export type ConnKind = 'probe' | 'plain' | 'named';

export interface ConnSettings {
  readonly connectTimeoutMs: number;
  /** Fails a request whose upstream sent nothing for this long; 0: never. */
  readonly readTimeoutMs: number;
  readonly stdoutHighWaterMark: number;
}

/** What a connection tells its client. Facts only: the client decides what follows. */
export type ConnEvent =
  | { readonly kind: 'ready'; readonly conn: ClientConnection }
  /** A probe's answer; null when the upstream gave none (it does not multiplex). */
  | { readonly kind: 'values'; readonly conn: ClientConnection; readonly values: UpstreamValues | null }
  /** A named connection's ping came back: its worker is known and read every earlier request. */
  | { readonly kind: 'confirmed'; readonly conn: ClientConnection }
  /** An exchange ended. `refused`: §5.5 FCGI_OVERLOADED before any byte either way; the job is not settled. */
  | { readonly kind: 'done'; readonly conn: ClientConnection; readonly refused: { readonly job: ClientJob; readonly err: FastcgiError } | null }
  /** The connection is gone. `unanswered`: jobs that got no byte back and sent no body byte (unsettled). */
  | { readonly kind: 'closed'; readonly conn: ClientConnection; readonly err: FastcgiError; readonly connected: boolean; readonly unanswered: readonly ClientJob[]; readonly lost: number };

/** One request in flight on a connection. */
class Exchange implements SentRequest {
  readonly stdout: StdoutHolder;
  stdin: RecordWriter | null = null;
  /** Date.now() of the last record (or the start): the connection's sweep fails it when idle. */
  lastActive = Date.now();
  gotRecord = false;
  aborted = false;

  constructor(readonly conn: ClientConnection, readonly id: number, readonly job: ClientJob, hwm: number) {
    this.stdout = new StdoutHolder(conn, hwm);
  }

  cancel(err: FastcgiError): void {
    this.conn.abortExchange(this, err);
  }
}

export class ClientConnection implements RecordSink, ReadGate {
  state: 'connecting' | 'ready' | 'closed' = 'connecting';
  /** Requests completed on this connection: a fresh one has 0. */
  served = 0;
  /**
   * The worker process behind a named connection (its pid); 0 until its first ping came back (the
   * first ping leaves with the first request, not alone: a connection costs no extra round trip).
   */
  worker = 0;
  /** Requests started on this connection, and how many of them a ping answer confirmed read. */
  started = 0;
  confirmed = 0;
  /** The client's dispatch pass that last used this connection, and its counts before that pass. */
  pass = 0;
  startedBeforePass = 0;
  activeBeforePass = 0;
  private readonly exchanges = new RequestTable<Exchange>();
  private readonly socket: Socket;
  private readonly out: RecordOutput;
  private readonly decoder: RecordDecoder;
  /** `started` at each ping sent and not yet answered, oldest first (answers come in order). */
  private readonly pings: number[] = [];
  /** Date.now() when the oldest unanswered ping left; 0 when none is unanswered. */
  private pingSince = 0;
  private pingScheduled = false;
  private connectTimer: NodeJS.Timeout | null;
  private sweeper: NodeJS.Timeout | null = null;
  private holds = 0;
  private connected = false;
  private closeErr: FastcgiError | null = null;

  constructor(
    readonly upstream: string,
    /** The client's index of the upstream: how it finds the upstream of a reported connection. */
    readonly slot: number,
    addr: UpstreamAddress,
    readonly kind: ConnKind,
    private readonly settings: ConnSettings,
    private readonly report: (e: ConnEvent) => void,
  ) {
    this.socket = connect(addr);
    this.out = new RecordOutput(this.socket);
    this.decoder = new RecordDecoder(this);
    this.connectTimer = setTimeout(() => this.fail(new FastcgiError('FCGI_CONNECT_TIMEOUT', `FastCGI connect to ${upstream} timed out`)), settings.connectTimeoutMs);
    this.socket.once('connect', () => this.onConnect());
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.onError(err));
    this.socket.on('end', () => this.fail(null));
    this.socket.on('close', () => this.onClose());
  }

  get active(): number {
    return this.exchanges.size;
  }

  get probe(): boolean {
    return this.kind === 'probe';
  }

  /** Marks the first use of this connection in a dispatch pass: what it held before stays visible. */
  enterPass(pass: number): void {
    if (this.pass === pass) return;
    this.pass = pass;
    this.startedBeforePass = this.started;
    this.activeBeforePass = this.active;
  }

  /** How long the oldest unanswered ping has been out (0: none). */
  pingWaitMs(now: number): number {
    return this.pingSince === 0 ? 0 : now - this.pingSince;
  }

  /** Requests sent that no ping answer covers yet (always 0 on a plain connection). */
  get unconfirmed(): number {
    return this.started - this.confirmed;
  }

  private onConnect(): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.connected = true;
    if (this.kind === 'probe') {
      // §4.1: ask whether the application multiplexes. Requests wait for the answer, so it is
      // bounded: an application that accepted but does not read (every php-fpm child busy, the
      // connection still in its backlog) or ignores management records counts as one that does
      // not multiplex, and requests go on; a hung one then fails them by its own read timeout.
      this.out.write(PROBE);
      this.connectTimer = setTimeout(() => {
        this.connectTimer = null;
        this.report({ kind: 'values', conn: this, values: null });
        this.close();
      }, this.settings.connectTimeoutMs);
      return;
    }
    this.state = 'ready';
    this.report({ kind: 'ready', conn: this });
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
    if (type === FCGI_GET_VALUES_RESULT) return this.onValues(content);
    if (type !== FCGI_END_REQUEST) return; // UNKNOWN_TYPE answers and stray records: nothing to do
    const ex = this.exchanges.get(requestId);
    if (ex === undefined) return;
    const appStatus = content.readUInt32BE(0);
    const protocolStatus = content[4]! as ProtocolStatus;
    this.complete(ex, { appStatus, protocolStatus });
  }

  private onValues(content: Buffer): void {
    const m = new Map<string, string>();
    const ok = decodeNameValuePairs(content, m);
    if (this.kind === 'probe') {
      if (this.connectTimer !== null) clearTimeout(this.connectTimer);
      this.connectTimer = null;
      const num = (k: string): number => Number.parseInt(m.get(k) ?? '', 10) || 0;
      const values = ok ? { mpxs: m.get(FCGI_MPXS_CONNS) === '1', maxReqs: num(FCGI_MAX_REQS), maxConns: num(FCGI_MAX_CONNS), names: m.has(FORKFAST_PID) } : null;
      this.report({ kind: 'values', conn: this, values });
      this.close();
      return;
    }
    if (this.kind !== 'named' || this.pings.length === 0) return;
    this.confirmed = this.pings.shift()!;
    this.pingSince = this.pings.length > 0 ? Date.now() : 0;
    this.worker = Number.parseInt(m.get(FORKFAST_PID) ?? '', 10) || -1; // -1: named but unnamed: its own worker
    this.report({ kind: 'confirmed', conn: this });
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
  start(job: ClientJob): void {
    // A named connection asks "read so far?" after this turn's requests: the ping is scheduled
    // before the first write of the turn, so its setImmediate runs before RecordOutput's uncork
    // and the ping leaves in the same writev, behind every request of the turn.
    if (this.kind === 'named' && !this.pingScheduled) {
      this.pingScheduled = true;
      setImmediate(sendPing, this);
    }
    this.started++;
    // Ids are reused once their END_REQUEST arrived, the last freed first (§3.3: "tightly packed").
    const ex = this.exchanges.claim((id) => new Exchange(this, id, job, this.settings.stdoutHighWaterMark));
    const id = ex.id;
    job.bind(ex, this.upstream);
    if (job.trace !== undefined) job.trace.attach(id, this.out, this.decoder);
    this.out.write(encodeRequestHead(id, job.params, job.body === null, job.authorizer ? FCGI_AUTHORIZER : FCGI_RESPONDER));
    if (job.body !== null) {
      const w = new RecordWriter(this.out, FCGI_STDIN, id, 64 * 1024, null);
      ex.stdin = w;
      job.body.on('error', (err) => this.abortExchange(ex, new FastcgiError('FCGI_ABORTED', 'request body failed', { cause: err })));
      job.body.pipe(w);
    }
    if (this.settings.readTimeoutMs > 0 && this.sweeper === null) this.startSweeper();
  }

  /** @internal (setImmediate) */
  sendPing(): void {
    this.pingScheduled = false;
    if (this.state === 'closed') return;
    if (this.pings.length === 0) this.pingSince = Date.now();
    this.pings.push(this.started);
    this.out.write(PING);
  }

  /** §5.4: the caller went away. The id stays reserved until END_REQUEST (or the read timeout). */
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
   * request fails between 1 and 1.25 read timeouts after its last record.
   */
  private startSweeper(): void {
    const idle = this.settings.readTimeoutMs;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const ex of this.exchanges.values()) if (now - ex.lastActive >= idle) this.onIdle(ex);
    }, Math.max(5, Math.floor(idle / 4)));
    this.sweeper.unref();
  }

  private onIdle(ex: Exchange): void {
    const err = new FastcgiError('FCGI_IDLE_TIMEOUT', `FastCGI upstream ${this.upstream} sent nothing for ${this.settings.readTimeoutMs} ms`);
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
    let refused: { job: ClientJob; err: FastcgiError } | null = null;
    if (!ex.aborted) {
      const err = refusalError(end.protocolStatus, this.upstream);
      const untouched = !ex.job.responded && (ex.stdin === null || ex.stdin.bytes === 0);
      if (err !== null && end.protocolStatus === FCGI_OVERLOADED && untouched) {
        // The application never saw the request: the client may send it elsewhere.
        ex.stdout.discard();
        ex.job.bind(null, '');
        refused = { job: ex.job, err };
      } else if (err !== null) {
        ex.stdout.discard();
        ex.job.finish(err, null);
      } else {
        ex.stdout.finish();
        if (!ex.job.responded) ex.job.respond(ex.stdout);
        ex.job.finish(null, end);
      }
    }
    this.report({ kind: 'done', conn: this, refused });
  }

  close(): void {
    if (this.state === 'closed') return;
    this.fail(new FastcgiError('FCGI_CLOSED', `FastCGI connection to ${this.upstream} closed by us`));
  }

  /** Ends the connection; requests in flight that got an answer or sent a body fail with `err`. */
  fail(err: FastcgiError | null): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeErr = err;
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.decoder.stop();
    this.socket.destroy();
    const unanswered: ClientJob[] = [];
    const reason = err ?? new FastcgiError(this.connected ? 'FCGI_CONN_RESET' : 'FCGI_CONNECT_REFUSED', `FastCGI upstream ${this.upstream} closed the connection`);
    for (const ex of this.exchanges.values()) {
      this.stopBody(ex);
      if (ex.aborted) continue;
      if (!ex.gotRecord && (ex.stdin === null || ex.stdin.bytes === 0)) {
        ex.job.bind(null, '');
        unanswered.push(ex.job);
      } else {
        ex.stdout.discard(ex.job.responded ? reason : undefined);
        ex.job.finish(reason, null);
      }
    }
    const lost = this.exchanges.size;
    this.exchanges.clear();
    this.report({ kind: 'closed', conn: this, err: reason, connected: this.connected, unanswered, lost });
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

function sendPing(c: ClientConnection): void {
  c.sendPing();
}

function refusalError(status: ProtocolStatus, upstream: string): FastcgiError | null {
  if (status === FCGI_REQUEST_COMPLETE) return null;
  if (status === FCGI_OVERLOADED) return new FastcgiError('FCGI_OVERLOADED', `FastCGI upstream ${upstream} is overloaded`);
  if (status === FCGI_UNKNOWN_ROLE) return new FastcgiError('FCGI_UNKNOWN_ROLE', `FastCGI upstream ${upstream} refused the role`);
  if (status === FCGI_CANT_MPX_CONN) return new FastcgiError('FCGI_CANT_MPX_CONN', `FastCGI upstream ${upstream} cannot multiplex`);
  return null;
}
