// One upstream as the FastCGI client sees it: its connections, what it said of itself (§4.1),
// its failed connects, and which of its connections the next request should take.
//
// Bookkeeping only: no I/O, no timers, nothing that calls anyone. The client (client.ts) owns
// every decision and uses these answers.
import type { FastcgiError } from './errors.js';
import type { ClientConnection, ConnKind } from './client-conn.js';
import type { UpstreamAddress, UpstreamValues } from './client-types.js';

export interface UpstreamLimits {
  /** Connections per upstream (lowered to its FCGI_MAX_CONNS). */
  readonly maxConns: number;
  /** Requests per multiplexed connection (lowered to its FCGI_MAX_REQS). */
  readonly maxPerConn: number;
  /** Connections to open per multiplexing upstream once requests overlap. */
  readonly spreadConns: number;
}

/**
 * How long a worker's unanswered ping keeps requests waiting for that worker rather than going to
 * a busy one. A worker answers in well under a millisecond unless a handler holds its event loop.
 */
export const PING_PATIENCE_MS = 20;

/** Why an upstream is skipped: refused connects are retried soon, a connect that hung is not. */
export type DownCause = 'refused' | 'timeout';

export class Upstream {
  readonly conns: ClientConnection[] = [];
  values: UpstreamValues | null = null;
  probing = false;
  /** Requests sent to this upstream and not ended. */
  outstanding = 0;
  /** Consecutive failed connects, when the last one failed, and why. */
  failures = 0;
  failedAt = 0;
  downUntil = 0;
  downCause: DownCause | null = null;
  lastError: FastcgiError | null = null;
  /** The last pick() returned null to wait for a ping: the client looks again after PING_PATIENCE_MS. */
  patient = false;

  constructor(
    readonly name: string,
    readonly addr: UpstreamAddress,
    readonly slot: number,
    private readonly limits: UpstreamLimits,
  ) {}

  /** What kind of connection requests use here, once the probe answered. */
  get connKind(): ConnKind {
    return this.values?.names === true && this.values.mpxs ? 'named' : 'plain';
  }

  /** A connect succeeded: forget the failures. */
  reachable(): void {
    this.failures = 0;
    this.downUntil = 0;
    this.downCause = null;
    this.lastError = null;
  }

  /** A connect failed; the caller says for how long to skip the upstream. */
  failed(err: FastcgiError, cause: DownCause, now: number, skipMs: number): void {
    this.failures++;
    this.failedAt = now;
    this.lastError = err;
    this.downCause = cause;
    this.downUntil = now + skipMs;
  }

  remove(c: ClientConnection): void {
    const i = this.conns.indexOf(c);
    if (i >= 0) this.conns.splice(i, 1);
  }

  connLimit(): number {
    const theirs = this.values?.maxConns ?? 0;
    return theirs > 0 ? Math.min(this.limits.maxConns, theirs) : this.limits.maxConns;
  }

  perConn(): number {
    if (this.values?.mpxs !== true) return 1;
    const theirs = this.values.maxReqs;
    return theirs > 0 ? Math.min(this.limits.maxPerConn, theirs) : this.limits.maxPerConn;
  }

  /** Requests that the connections still connecting will take. */
  connectingRoom(): number {
    let n = 0;
    for (const c of this.conns) if (c.state === 'connecting') n += this.perConn();
    return n;
  }

  /** Overlapping requests on a plain multiplexed upstream, and room to spread them. */
  shouldSpread(): boolean {
    if (this.values?.mpxs !== true || this.connectingRoom() > 0) return false;
    let open = 0;
    for (const c of this.conns) if (!c.probe) open++;
    return open < Math.min(this.limits.spreadConns, this.connLimit());
  }

  /** Connections a named upstream keeps: enough to reach each of its workers. */
  namedCap(expectedWorkers: number): number {
    return Math.min(Math.max(this.limits.spreadConns, expectedWorkers), this.connLimit());
  }

  /**
   * A connection is still connecting: open no other until it is up (it may land on the same worker).
   * One that is up but whose worker is not named yet does not count: its first ping may be stuck
   * behind a handler that spins, and the next connection is what reaches a free worker.
   */
  connecting(): boolean {
    for (const c of this.conns) if (!c.probe && c.state === 'connecting') return true;
    return false;
  }

  /** Distinct workers this upstream's named connections reach. */
  workersReached(): number {
    let n = 0;
    for (let i = 0; i < this.conns.length; i++) {
      const w = this.conns[i]!.worker;
      if (w === 0) continue;
      let seen = false;
      for (let j = 0; j < i && !seen; j++) seen = this.conns[j]!.worker === w;
      if (!seen || w < 0) n++;
    }
    return n;
  }

  /** An idle connection to a worker that another connection reaches too: the one to trade. */
  idleDuplicate(): ClientConnection | null {
    for (const c of this.conns) {
      if (c.probe || c.state !== 'ready' || c.worker <= 0 || c.active > 0) continue;
      for (const d of this.conns) if (d !== c && d.worker === c.worker) return c;
    }
    return null;
  }

  /**
   * The connection for the next request, or null when none should take it now.
   *
   * Plain upstreams: the ready connection with the fewest requests. Named ones (a forkfast pool)
   * are balanced by worker process, and a request never waits behind another in a worker while a
   * worker may be free:
   *
   * 1. a worker with no request in flight that read everything sent to it (its last ping came
   *    back: a worker spinning in a handler answers nothing, so it gets nothing more);
   * 2. else nothing, while a worker's ping is out for less than PING_PATIENCE_MS (it is likely
   *    free again in a moment), or while the pool has workers no connection reaches yet (the
   *    caller opens one: a busy worker does not accept, so it reaches a free one);
   * 3. else the responsive worker with the fewest requests (every worker is busy: handlers that
   *    await I/O take many requests each).
   *
   * A connection whose worker is not known yet (no ping came back) counts as a worker of its own.
   * Counts are taken as they were when the dispatch `pass` began: what queued while every worker
   * was busy goes as one batch to the first one free, rather than one request per round trip.
   */
  pick(fresh: boolean, pass: number, now: number, expectedWorkers: number): ClientConnection | null {
    const limit = this.perConn();
    if (this.connKind === 'plain') {
      let best: ClientConnection | null = null;
      for (const c of this.conns) {
        if (c.state !== 'ready' || c.probe || c.active >= limit || (fresh && c.served > 0)) continue;
        if (best === null || c.active < best.active) best = c;
      }
      return best;
    }
    let idle: ClientConnection | null = null;
    let busy: ClientConnection | null = null;
    let busyLoad = 0;
    let patience = false;
    for (const c of this.conns) {
      if (c.state !== 'ready' || c.probe) continue;
      const wait = this.unconfirmedWait(c, pass, now);
      if (wait >= 0) {
        if (wait < PING_PATIENCE_MS) patience = true;
        continue;
      }
      if (c.active >= limit || (fresh && c.served > 0)) continue;
      const load = this.load(c, pass);
      if (load === 0) {
        if (idle === null || c.active < idle.active) idle = c;
      } else if (busy === null || load < busyLoad) {
        busy = c;
        busyLoad = load;
      }
    }
    this.patient = idle === null && patience;
    if (idle !== null) return idle;
    if (patience) return null;
    if (expectedWorkers > 0 ? this.workersReached() < expectedWorkers : this.conns.length < this.namedCap(0)) return null;
    return busy;
  }

  /**
   * -1 when c's worker read every request sent before this pass (as ping answers prove), else how
   * long the oldest unanswered ping of its connections has been out.
   */
  private unconfirmedWait(c: ClientConnection, pass: number, now: number): number {
    let wait = -1;
    for (const d of this.conns) {
      if (d !== c && (c.worker <= 0 || d.worker !== c.worker)) continue;
      const sentBefore = d.pass === pass ? d.startedBeforePass : d.started;
      if (sentBefore > d.confirmed) wait = Math.max(wait, d.pingWaitMs(now));
    }
    return wait;
  }

  /** Requests in flight on c's worker, over all its connections, as the pass began. */
  private load(c: ClientConnection, pass: number): number {
    const of = (d: ClientConnection): number => (d.pass === pass ? d.activeBeforePass : d.active);
    if (c.worker <= 0) return of(c);
    let n = 0;
    for (const d of this.conns) if (d.worker === c.worker) n += of(d);
    return n;
  }
}
