// The FastCGI client (web-server side): persistent, multiplexing connections to one or more upstreams.
//
//   const client = createFastcgiClient({ upstreams: ['127.0.0.1:9000', 'unix:/run/app.sock'], log });
//   const res = await client.request({ params, body, signal });   // rejects with FastcgiError
//   res.stdout.pipe(...);                                          // the CGI response (FCGI_STDOUT)
//   const { appStatus, protocolStatus } = await res.ended;
//   await client.close();
//
// request() resolves at the first STDOUT byte (or at END_REQUEST for an empty response), so every
// failure before the response started is a rejection the caller maps to 502/503/504 through
// err.errorCode; a failure after it destroys `stdout` with the error and rejects `ended`.
// Per upstream, the first need opens a probe connection that asks GET_VALUES (§4.1): with
// FCGI_MPXS_CONNS=1 requests share connections (up to FCGI_MAX_REQS each), else one request per
// connection at a time. KEEP_CONN is always set, so connections are reused.
import type { Readable } from 'node:stream';
import type { Logger } from '../log.js';
import { FastcgiError } from './errors.js';
import { ClientConnection, type ConnOwner, type FastcgiEnd, type Job, type UpstreamAddress, type UpstreamValues } from './client-conn.js';
import { encodeNameValuePairs, encodeNameValueRecord, type Role } from './protocol.js';
import { newJob, type JobOwner } from './client-job.js';

export type { FastcgiEnd } from './client-conn.js';

export interface FastcgiClientOptions {
  /** 'host:port', '[v6]:port', 'unix:/path' or an absolute path. */
  readonly upstreams: readonly string[];
  readonly log: Logger;
  /** Connections per upstream (default 16; lowered to the upstream's FCGI_MAX_CONNS). */
  readonly maxConnsPerUpstream?: number;
  /** Requests in flight over all upstreams; more wait in a queue (default 1024). */
  readonly maxRequestsInFlight?: number;
  /** Requests allowed to wait; past it request() rejects with FCGI_OVERLOADED (default 1024). */
  readonly maxQueued?: number;
  /** Requests per multiplexed connection (default 100; lowered to FCGI_MAX_REQS). */
  readonly maxRequestsPerConn?: number;
  /**
   * Connections to keep open per multiplexing upstream once requests overlap (default 1). A pool
   * of N workers sharing one listening socket sees only the workers that accepted a connection:
   * with one multiplexed connection, one worker does all the work. Opening about 2N connections
   * lets the kernel spread them over the workers; requests then go to the least busy connection.
   */
  readonly spreadConns?: number;
  readonly connectTimeoutMs?: number; // default 5000
  /** Fails a request when its upstream sends nothing for this long (default 60000; 0 disables). */
  readonly idleTimeoutMs?: number;
  /** How long an upstream that refused a connection is skipped (default 5000). */
  readonly downForMs?: number;
  /** STDOUT buffered per request before the connection stops reading (default 256 KiB). */
  readonly stdoutHighWaterMark?: number;
}

/**
 * What request() needs of an AbortSignal. Node's AbortSignal fits; so does a small object of the
 * caller's (an AbortController per request was ~2 % of the front's CPU: docs/performance.md).
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface FastcgiRequest {
  readonly params: Iterable<readonly [string, string]> | Readonly<Record<string, string>>;
  /** The request body, streamed as FCGI_STDIN with backpressure; null sends an empty STDIN. */
  readonly body: Readable | null;
  /** Fires ABORT_REQUEST (§5.4) and fails the request with FCGI_ABORTED. */
  readonly signal?: AbortSignalLike;
  /** FCGI_STDERR content; default: one warn log line per chunk. */
  readonly onStderr?: (chunk: Buffer) => void;
  /** FCGI_RESPONDER (default) or FCGI_AUTHORIZER (§6.3: send no body). */
  readonly role?: Role;
}

export interface FastcgiResponse {
  /** The CGI response as a stream (built on first access). */
  readonly stdout: Readable;
  /** Settles at END_REQUEST (built on first access). */
  readonly ended: Promise<FastcgiEnd>;
  readonly upstream: string;
  /**
   * The whole STDOUT, when END_REQUEST (FCGI_REQUEST_COMPLETE) already arrived and `stdout` was
   * never read; null otherwise. The common small resident response is answered from this in
   * one write, without a stream.
   */
  takeComplete(): Buffer | null;
}

export interface FastcgiClientStats {
  readonly inFlight: number;
  readonly queued: number;
  readonly upstreams: ReadonlyArray<{ address: string; connections: number; outstanding: number; mpxs: boolean | null; down: boolean }>;
}

export interface FastcgiClient {
  request(req: FastcgiRequest): Promise<FastcgiResponse>;
  stats(): FastcgiClientStats;
  /** Fails queued and in-flight requests with FCGI_CLOSED and closes every connection. */
  close(): Promise<void>;
}

/** Parses an upstream address; throws on a malformed one (configuration error). */
export function parseUpstream(s: string): UpstreamAddress {
  if (s.startsWith('unix:')) return { path: s.slice(5) };
  if (s.startsWith('/')) return { path: s };
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || !(port > 0 && port < 65536)) throw new RangeError(`bad FastCGI upstream address: ${s}`);
  return { host: m[1] ?? m[2]!, port };
}

class Upstream {
  readonly conns = new Set<ClientConnection>();
  values: UpstreamValues | null = null;
  probing = false;
  downUntil = 0;
  lastError: FastcgiError | null = null;
  outstanding = 0;
  constructor(readonly name: string, readonly addr: UpstreamAddress) {}
}

export function createFastcgiClient(opts: FastcgiClientOptions): FastcgiClient {
  return new Client(opts);
}

class Client implements FastcgiClient, ConnOwner, JobOwner {
  readonly idleTimeoutMs: number;
  readonly stdoutHighWaterMark: number;
  private readonly ups: Upstream[];
  private readonly log: Logger;
  private readonly maxConns: number;
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  private readonly maxPerConn: number;
  private readonly spreadConns: number;
  private readonly connectTimeoutMs: number;
  private readonly downForMs: number;
  private readonly queue: Job[] = [];
  private readonly byConn = new Map<ClientConnection, Upstream>();
  private inFlight = 0;
  private closed = false;

  constructor(o: FastcgiClientOptions) {
    if (o.upstreams.length === 0) throw new RangeError('FastCGI client needs at least one upstream');
    this.ups = o.upstreams.map((s) => new Upstream(s, parseUpstream(s)));
    this.log = o.log;
    this.maxConns = o.maxConnsPerUpstream ?? 16;
    this.maxInFlight = o.maxRequestsInFlight ?? 1024;
    this.maxQueued = o.maxQueued ?? 1024;
    this.maxPerConn = o.maxRequestsPerConn ?? 100;
    this.spreadConns = Math.max(1, o.spreadConns ?? 1);
    this.connectTimeoutMs = o.connectTimeoutMs ?? 5000;
    this.idleTimeoutMs = o.idleTimeoutMs ?? 60_000;
    this.downForMs = o.downForMs ?? 5000;
    this.stdoutHighWaterMark = o.stdoutHighWaterMark ?? 256 * 1024;
  }

  request(req: FastcgiRequest): Promise<FastcgiResponse> {
    if (this.closed) return Promise.reject(new FastcgiError('FCGI_CLOSED', 'FastCGI client closed'));
    if (this.queue.length >= this.maxQueued) return Promise.reject(new FastcgiError('FCGI_OVERLOADED', 'too many FastCGI requests waiting'));
    if (req.signal?.aborted === true) return Promise.reject(new FastcgiError('FCGI_ABORTED', 'FastCGI request aborted by the caller'));
    const params = req.params;
    const encoded = Symbol.iterator in params ? encodeNameValuePairs(params as Iterable<readonly [string, string]>) : encodeNameValueRecord(params as Readonly<Record<string, string>>);
    return new Promise<FastcgiResponse>((resolve, reject) => {
      const job = newJob(this, req, encoded, resolve, reject);
      this.queue.push(job);
      this.dispatch();
    });
  }

  logStderr(job: Job, chunk: Buffer): void {
    this.log.warn({ upstream: job.exchange?.conn.upstream, line: chunk.toString('utf8', 0, Math.min(chunk.length, 4096)) }, 'FastCGI upstream stderr');
  }

  /** Called by a job when it settled, so its slot goes to the next one. */
  jobSettled(job: Job, wasQueued: boolean): void {
    if (wasQueued) {
      const i = this.queue.indexOf(job);
      if (i >= 0) this.queue.splice(i, 1);
    }
  }

  /** Assigns queued jobs to connections with room, opening connections as needed. */
  private dispatch(): void {
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight && !this.closed) {
      const job = this.queue[0]!;
      const up = this.pick();
      if (up === null) {
        const err = this.ups.map((u) => u.lastError).find((e) => e !== null) ?? new FastcgiError('FCGI_CONNECT_REFUSED', 'no FastCGI upstream available');
        this.queue.shift();
        job.finish(err, null);
        continue;
      }
      if (up.values === null) {
        if (!up.probing) this.open(up, true);
        return; // wait for the probe's answer
      }
      // A retried job wants a fresh connection; at the connection limit it takes any.
      const conn = this.findConn(up, job.needFresh) ?? (job.needFresh && up.conns.size >= this.connLimit(up) ? this.findConn(up, false) : null);
      if (conn !== null) {
        this.queue.shift();
        this.inFlight++;
        up.outstanding++;
        conn.start(job);
        if (conn.active > 1 && this.shouldSpread(up)) this.open(up, false);
        continue;
      }
      if (this.connectingCount(up) < this.queue.length && up.conns.size < this.connLimit(up)) this.open(up, false);
      return;
    }
  }

  /** Least outstanding requests among upstreams not marked down; if all are down, the one down longest. */
  private pick(): Upstream | null {
    const now = Date.now();
    let best: Upstream | null = null;
    for (const u of this.ups) {
      if (u.downUntil > now) continue;
      if (best === null || u.outstanding < best.outstanding) best = u;
    }
    if (best !== null) return best;
    // All down: a single upstream keeps being tried after its pause, never spun on.
    return null;
  }

  /** Overlapping requests and fewer connections than spreadConns, none of them still connecting. */
  private shouldSpread(up: Upstream): boolean {
    if (up.values?.mpxs !== true || this.connectingCount(up) > 0) return false;
    let open = 0;
    for (const c of up.conns) if (!c.probe) open++;
    return open < Math.min(this.spreadConns, this.connLimit(up));
  }

  private connLimit(up: Upstream): number {
    const theirs = up.values?.maxConns ?? 0;
    return theirs > 0 ? Math.min(this.maxConns, theirs) : this.maxConns;
  }

  private connectingCount(up: Upstream): number {
    let n = 0;
    for (const c of up.conns) if (c.state === 'connecting') n += up.values?.mpxs === true ? this.perConn(up) : 1;
    return n;
  }

  private perConn(up: Upstream): number {
    if (up.values?.mpxs !== true) return 1;
    const theirs = up.values.maxReqs;
    return theirs > 0 ? Math.min(this.maxPerConn, theirs) : this.maxPerConn;
  }

  /** A ready connection with room: the least busy one, so multiplexed load spreads. */
  private findConn(up: Upstream, fresh: boolean): ClientConnection | null {
    const limit = this.perConn(up);
    let best: ClientConnection | null = null;
    for (const c of up.conns) {
      if (c.state !== 'ready' || c.probe || c.active >= limit || (fresh && c.served > 0)) continue;
      if (best === null || c.active < best.active) best = c;
    }
    return best;
  }

  private open(up: Upstream, probe: boolean): void {
    if (probe) up.probing = true;
    const c = new ClientConnection(up.name, up.addr, this, this.connectTimeoutMs, probe);
    up.conns.add(c);
    this.byConn.set(c, up);
  }

  connReady(c: ClientConnection): void {
    const up = this.byConn.get(c);
    if (up !== undefined) up.lastError = null;
    this.dispatch();
  }

  probeResult(c: ClientConnection, values: UpstreamValues | null): void {
    const up = this.byConn.get(c);
    if (up === undefined) return;
    up.probing = false;
    up.values = values ?? { mpxs: false, maxReqs: 0, maxConns: 0 };
    this.log.debug({ upstream: up.name, ...up.values }, 'FastCGI upstream values');
  }

  exchangeDone(c: ClientConnection): void {
    const up = this.byConn.get(c);
    this.inFlight--;
    if (up !== undefined) up.outstanding--;
    this.dispatch();
  }

  /**
   * §5.5 FCGI_OVERLOADED before any STDOUT byte: the application never saw the request (a draining
   * pool worker refuses new ones). Queued again once, for a fresh connection (another worker).
   */
  retryRefused(job: Job): boolean {
    if (job.retried || job.settled || this.closed) return false;
    job.retried = true;
    job.needFresh = true;
    job.exchange = null;
    this.queue.unshift(job);
    return true;
  }

  connClosed(c: ClientConnection, err: FastcgiError | null, unanswered: Job[], lost: number): void {
    const up = this.byConn.get(c);
    this.byConn.delete(c);
    if (up === undefined) return;
    up.conns.delete(c);
    this.inFlight -= lost;
    up.outstanding -= lost;
    if (c.probe && up.values === null) {
      up.probing = false;
      // Refused or timed out: skip this upstream for a while. Closed without answering GET_VALUES:
      // a server that does not multiplex.
      if (err !== null && (err.code === 'FCGI_CONNECT_REFUSED' || err.code === 'FCGI_CONNECT_TIMEOUT')) this.markDown(up, err);
      else up.values = { mpxs: false, maxReqs: 0, maxConns: 0 };
    } else if (c.served === 0 && err !== null && (err.code === 'FCGI_CONNECT_REFUSED' || err.code === 'FCGI_CONNECT_TIMEOUT')) {
      this.markDown(up, err);
    }
    for (const job of unanswered) {
      job.exchange = null;
      // Retry once, on a fresh connection, a request that a reused connection dropped unanswered.
      if (!job.retried && c.served > 0 && !job.settled) {
        job.retried = true;
        job.needFresh = true;
        this.queue.unshift(job);
      } else job.finish(err ?? new FastcgiError('FCGI_CONN_RESET', 'FastCGI connection closed'), null);
    }
    this.dispatch();
  }

  private markDown(up: Upstream, err: FastcgiError): void {
    up.lastError = err;
    up.downUntil = Date.now() + this.downForMs;
    this.log.warn({ upstream: up.name, code: err.code, downForMs: this.downForMs }, 'FastCGI upstream unavailable: skipping it for a while');
  }

  stats(): FastcgiClientStats {
    const now = Date.now();
    return {
      inFlight: this.inFlight,
      queued: this.queue.length,
      upstreams: this.ups.map((u) => ({ address: u.name, connections: u.conns.size, outstanding: u.outstanding, mpxs: u.values?.mpxs ?? null, down: u.downUntil > now })),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const err = new FastcgiError('FCGI_CLOSED', 'FastCGI client closed');
    for (const job of this.queue.splice(0)) job.finish(err, null);
    for (const up of this.ups) for (const c of [...up.conns]) c.fail(err);
  }
}

