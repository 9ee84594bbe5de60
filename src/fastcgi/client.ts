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
//
// This file owns every decision: which upstream and connection a request goes to, when to open or
// trade a connection, what a failed connect means, which request is sent again. The parts below it
// only report: client-conn.ts (one connection), client-upstream.ts (one upstream's bookkeeping),
// client-job.ts (one request's promises).
//
// Per upstream, the first need opens a probe connection that asks GET_VALUES (§4.1): with
// FCGI_MPXS_CONNS=1 requests share connections (up to FCGI_MAX_REQS each), else one request per
// connection at a time. KEEP_CONN is always set, so connections are reused. An upstream that also
// answers FORKFAST_PID (a forkfast pool) is balanced by worker process: see Upstream.pick.
import type { Logger } from '../log.js';
import { FastcgiError } from './errors.js';
import { ClientConnection, type ConnEvent, type ConnSettings } from './client-conn.js';
import { ClientJob } from './client-job.js';
import { PING_PATIENCE_MS, Upstream } from './client-upstream.js';
import type { FastcgiRequest, FastcgiResponse, UpstreamAddress } from './client-types.js';
import { encodeNameValuePairs, encodeNameValueRecord } from './protocol.js';

export type { AbortSignalLike, FastcgiEnd, FastcgiRequest, FastcgiResponse, UpstreamAddress } from './client-types.js';

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
   * lets the kernel spread them over the workers.
   */
  readonly spreadConns?: number;
  /**
   * Worker processes behind each upstream, when known (the embedded pool). A forkfast pool whose
   * connections reach fewer workers than this trades an idle duplicate connection for a new one
   * when every reached worker is busy.
   */
  readonly workers?: number;
  readonly connectTimeoutMs?: number; // default 5000
  /** Fails a request when its upstream sends nothing for this long (default 60000; 0 disables). */
  readonly idleTimeoutMs?: number;
  /**
   * How long an upstream is skipped after a connect timed out, or, when other upstreams can
   * serve, after a refused connect (default 5000).
   */
  readonly downForMs?: number;
  /** STDOUT buffered per request before the connection stops reading (default 256 KiB). */
  readonly stdoutHighWaterMark?: number;
}

export interface FastcgiClientStats {
  readonly inFlight: number;
  readonly queued: number;
  /** `workers`: distinct worker processes the connections reach (a forkfast pool; else 0). */
  readonly upstreams: ReadonlyArray<{ address: string; connections: number; outstanding: number; mpxs: boolean | null; down: boolean; workers: number }>;
}

export interface FastcgiClient {
  request(req: FastcgiRequest): Promise<FastcgiResponse>;
  stats(): FastcgiClientStats;
  /**
   * The upstream (all of them without an address) accepts connections again: a pool master says
   * so when a worker listens. Refused-connect pauses end and waiting requests go at once.
   */
  upstreamReady(address?: string): void;
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

export function createFastcgiClient(opts: FastcgiClientOptions): FastcgiClient {
  return new Client(opts);
}

/** The pause between connects to a refused upstream: 25 ms doubling, at most 500 ms. */
function refusedBackoffMs(failures: number): number {
  return Math.min(25 * 2 ** Math.min(failures - 1, 5), 500);
}

const NO_VALUES = { mpxs: false, maxReqs: 0, maxConns: 0, names: false } as const;

class Client implements FastcgiClient {
  private readonly ups: Upstream[];
  private readonly log: Logger;
  private readonly settings: ConnSettings;
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  private readonly workers: number;
  private readonly downForMs: number;
  private queue: ClientJob[] = [];
  private inFlight = 0;
  private closed = false;
  /** Dispatch passes so far (see Upstream.pick), and re-entry while one runs. */
  private passes = 0;
  private dispatching = false;
  private dispatchAgain = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private patienceTimer: NodeJS.Timeout | null = null;
  private retryAt = 0;
  private readonly report = (e: ConnEvent): void => this.onConnEvent(e);

  constructor(o: FastcgiClientOptions) {
    if (o.upstreams.length === 0) throw new RangeError('FastCGI client needs at least one upstream');
    const limits = { maxConns: o.maxConnsPerUpstream ?? 16, maxPerConn: o.maxRequestsPerConn ?? 100, spreadConns: Math.max(1, o.spreadConns ?? 1) };
    this.ups = o.upstreams.map((s, i) => new Upstream(s, parseUpstream(s), i, limits));
    this.log = o.log;
    this.settings = { connectTimeoutMs: o.connectTimeoutMs ?? 5000, readTimeoutMs: o.idleTimeoutMs ?? 60_000, stdoutHighWaterMark: o.stdoutHighWaterMark ?? 256 * 1024 };
    this.maxInFlight = o.maxRequestsInFlight ?? 1024;
    this.maxQueued = o.maxQueued ?? 1024;
    this.workers = o.workers ?? 0;
    this.downForMs = o.downForMs ?? 5000;
  }

  request(req: FastcgiRequest): Promise<FastcgiResponse> {
    if (this.closed) return Promise.reject(new FastcgiError('FCGI_CLOSED', 'FastCGI client closed'));
    if (this.queue.length >= this.maxQueued) this.queue = this.queue.filter((j) => !j.settled); // aborted while queued
    if (this.queue.length >= this.maxQueued) return Promise.reject(new FastcgiError('FCGI_OVERLOADED', 'too many FastCGI requests waiting'));
    if (req.signal?.aborted === true) return Promise.reject(new FastcgiError('FCGI_ABORTED', 'FastCGI request aborted by the caller'));
    const params = req.params;
    const encoded = Symbol.iterator in params ? encodeNameValuePairs(params as Iterable<readonly [string, string]>) : encodeNameValueRecord(params as Readonly<Record<string, string>>);
    return new Promise<FastcgiResponse>((resolve, reject) => {
      this.queue.push(new ClientJob(req, encoded, this.log, resolve, reject));
      this.dispatch();
    });
  }

  /** Assigns queued jobs to connections with room, opening connections as needed. */
  private dispatch(): void {
    if (this.dispatching) {
      this.dispatchAgain = true;
      return;
    }
    this.dispatching = true;
    try {
      do {
        this.dispatchAgain = false;
        this.dispatchPass();
      } while (this.dispatchAgain);
    } finally {
      this.dispatching = false;
    }
  }

  private dispatchPass(): void {
    const pass = ++this.passes;
    const now = Date.now();
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight && !this.closed) {
      const job = this.queue[0]!;
      if (job.settled) {
        this.queue.shift(); // aborted while it waited
        continue;
      }
      const up = this.pickUpstream(now);
      if (up === 'wait') return this.waitForRetry(now);
      if (up === null) {
        this.queue.shift();
        job.finish(this.lastError(), null);
        continue;
      }
      if (up.values === null) {
        if (!up.probing) this.open(up, true);
        return; // wait for the probe's answer
      }
      // A retried job wants a fresh connection; with no room for one it takes any.
      const full = up.conns.length >= (up.connKind === 'named' ? up.namedCap(this.workers) : up.connLimit());
      const conn = up.pick(job.needFresh, pass, now, this.workers) ?? (job.needFresh && full ? up.pick(false, pass, now, this.workers) : null);
      if (conn === null) {
        if (up.patient) this.lookAgainSoon();
        return this.openMore(up);
      }
      this.queue.shift();
      this.inFlight++;
      up.outstanding++;
      conn.enterPass(pass);
      conn.start(job);
      if (up.connKind === 'plain' && conn.active > 1 && up.shouldSpread()) this.open(up, false);
    }
  }

  /**
   * The least loaded upstream that is not down. When every one is down: the one down longest if
   * it was down for refusing (after a short back-off: 'wait' until then), none if every one timed
   * out (requests then fail at once rather than each waiting for a connect timeout).
   */
  private pickUpstream(now: number): Upstream | 'wait' | null {
    let best: Upstream | null = null;
    for (const u of this.ups) {
      if (u.downUntil > now) continue;
      if (best === null || u.outstanding < best.outstanding) best = u;
    }
    if (best !== null) return best;
    let longest: Upstream | null = null;
    for (const u of this.ups) if (u.downCause === 'refused' && (longest === null || u.failedAt < longest.failedAt)) longest = u;
    if (longest === null) return null;
    const at = longest.failedAt + refusedBackoffMs(longest.failures);
    if (at > now) {
      this.retryAt = at;
      return 'wait';
    }
    return longest;
  }

  /**
   * Every upstream refused its last connect. Queued requests wait for the next try (or for
   * upstreamReady), each at most connectTimeoutMs from when it started waiting, then fail.
   */
  private waitForRetry(now: number): void {
    const limit = this.settings.connectTimeoutMs;
    let expired = false;
    for (const job of this.queue) {
      if (job.waitingSince === 0) job.waitingSince = now;
      else if (now - job.waitingSince >= limit) expired = true;
    }
    if (expired) {
      const err = this.lastError();
      const keep: ClientJob[] = [];
      for (const job of this.queue) {
        if (job.settled) continue;
        if (now - job.waitingSince >= limit) job.finish(err, null);
        else keep.push(job);
      }
      this.queue = keep;
    }
    if (this.queue.length === 0) return;
    let at = this.retryAt;
    for (const job of this.queue) at = Math.min(at, job.waitingSince + limit);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.dispatch();
    }, Math.max(1, at - now));
  }

  /** A request waits for a worker's ping; if none comes back, it goes to a busy worker then. */
  private lookAgainSoon(): void {
    if (this.patienceTimer !== null) return;
    this.patienceTimer = setTimeout(() => {
      this.patienceTimer = null;
      this.dispatch();
    }, PING_PATIENCE_MS + 1);
  }

  /** No connection may take the next request: open one, or trade an idle duplicate (named). */
  private openMore(up: Upstream): void {
    if (up.connKind === 'plain') {
      if (up.connectingRoom() < this.queue.length && up.conns.length < up.connLimit()) this.open(up, false);
      return;
    }
    if (up.connecting()) return;
    if (up.conns.length < up.namedCap(this.workers)) return this.open(up, false);
    // Every connection reaches a busy worker. A worker busy in a handler does not accept, so a new
    // connection reaches a free one, if the pool has workers this client never reached.
    if (up.workersReached() >= this.workers) return;
    const dup = up.idleDuplicate();
    if (dup === null) return;
    dup.close();
    this.open(up, false);
  }

  private open(up: Upstream, probe: boolean): void {
    if (probe) up.probing = true;
    up.conns.push(new ClientConnection(up.name, up.slot, up.addr, probe ? 'probe' : up.connKind, this.settings, this.report));
  }

  /** Everything a connection reports comes here, and only here are its consequences decided. */
  private onConnEvent(e: ConnEvent): void {
    const up = this.ups[e.conn.slot]!;
    switch (e.kind) {
      case 'ready':
        up.reachable();
        return this.dispatch();
      case 'values':
        up.reachable();
        up.probing = false;
        up.values = e.values ?? NO_VALUES;
        this.log.debug({ upstream: up.name, ...up.values }, 'FastCGI upstream values');
        return; // the probe closes next, and that dispatches
      case 'confirmed':
        return this.dispatch();
      case 'done':
        this.inFlight--;
        up.outstanding--;
        // §5.5 FCGI_OVERLOADED before any byte: the application never saw the request (a draining
        // pool worker refuses new ones). Sent again once, on a fresh connection (another worker).
        if (e.refused !== null) this.retryOrFail(e.refused.job, e.refused.err, true);
        return this.dispatch();
      case 'closed':
        return this.connClosed(up, e);
    }
  }

  private connClosed(up: Upstream, e: Extract<ConnEvent, { kind: 'closed' }>): void {
    const c = e.conn;
    up.remove(c);
    this.inFlight -= e.lost;
    up.outstanding -= e.lost;
    const code = e.err.code;
    const connectFailed = !e.connected && (code === 'FCGI_CONNECT_REFUSED' || code === 'FCGI_CONNECT_TIMEOUT');
    if (c.probe) up.probing = false;
    if (connectFailed) this.markFailed(up, e.err);
    else if (c.probe && up.values === null) up.values = NO_VALUES; // closed without answering GET_VALUES: does not multiplex
    // A reused connection that dropped requests unanswered (the server closed an idle kept
    // connection as we sent): each is sent once more, on a fresh connection.
    for (const job of e.unanswered) this.retryOrFail(job, e.err, c.served > 0);
    this.dispatch();
  }

  private retryOrFail(job: ClientJob, err: FastcgiError, mayRetry: boolean): void {
    if (mayRetry && !job.retried && !job.settled && !this.closed) {
      job.retried = true;
      job.needFresh = true;
      this.queue.unshift(job);
    } else job.finish(err, null);
  }

  /**
   * A connect failed. A hung connect skips the upstream for downForMs; a refused one too when
   * other upstreams can serve, else only for a short back-off (a pool between two workers).
   */
  private markFailed(up: Upstream, err: FastcgiError): void {
    const now = Date.now();
    const cause = err.code === 'FCGI_CONNECT_TIMEOUT' ? 'timeout' : 'refused';
    const skip = cause === 'timeout' || this.ups.length > 1 ? this.downForMs : refusedBackoffMs(up.failures + 1);
    if (up.failures === 0) this.log.warn({ upstream: up.name, code: err.code, skipMs: skip }, 'FastCGI upstream unavailable');
    up.failed(err, cause, now, skip);
  }

  private lastError(): FastcgiError {
    let latest: Upstream | null = null;
    for (const u of this.ups) if (u.lastError !== null && (latest === null || u.failedAt > latest.failedAt)) latest = u;
    return latest?.lastError ?? new FastcgiError('FCGI_CONNECT_REFUSED', 'no FastCGI upstream available');
  }

  upstreamReady(address?: string): void {
    for (const u of this.ups) if (address === undefined || u.name === address) u.reachable();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.dispatch();
  }

  stats(): FastcgiClientStats {
    const now = Date.now();
    return {
      inFlight: this.inFlight,
      queued: this.queue.length,
      upstreams: this.ups.map((u) => ({ address: u.name, connections: u.conns.length, outstanding: u.outstanding, mpxs: u.values?.mpxs ?? null, down: u.downUntil > now, workers: u.workersReached() })),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.patienceTimer !== null) clearTimeout(this.patienceTimer);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const err = new FastcgiError('FCGI_CLOSED', 'FastCGI client closed');
    for (const job of this.queue.splice(0)) job.finish(err, null);
    for (const up of this.ups) for (const c of [...up.conns]) c.fail(err);
  }
}
