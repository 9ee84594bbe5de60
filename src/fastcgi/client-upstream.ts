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

  /** A named connection is connecting, or carries requests before its worker is known. */
  namingUnderway(): boolean {
    for (const c of this.conns) if (!c.probe && (c.state === 'connecting' || (c.worker === 0 && c.started > c.confirmed))) return true;
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
   * The connection for the next request, or null when none may take it now.
   *
   * Plain upstreams: the ready connection with the fewest requests. Named ones (a forkfast pool):
   * the connection to the worker with the fewest requests among the workers that read everything
   * sent to them, as their last ping answer proves (a worker busy in a handler that spins answers
   * nothing, so it gets nothing more). A connection whose worker is not known yet (no ping came
   * back) counts as a worker of its own. Requests given to a worker in the same dispatch `pass` do
   * not count against it: what queued while every worker was busy goes to the first one free as
   * one batch, instead of one request per round trip.
   */
  pick(fresh: boolean, pass: number): ClientConnection | null {
    const limit = this.perConn();
    const named = this.connKind === 'named';
    let best: ClientConnection | null = null;
    let bestLoad = 0;
    for (const c of this.conns) {
      if (c.state !== 'ready' || c.probe || c.active >= limit || (fresh && c.served > 0)) continue;
      if (!named) {
        if (best === null || c.active < best.active) best = c;
        continue;
      }
      if (this.blocked(c, pass)) continue;
      const load = this.load(c);
      if (best === null || load < bestLoad || (load === bestLoad && c.active < best.active)) {
        best = c;
        bestLoad = load;
      }
    }
    return best;
  }

  /** Some connection to c's worker carries requests sent before this pass that no ping confirmed. */
  private blocked(c: ClientConnection, pass: number): boolean {
    for (const d of this.conns) {
      if (d !== c && (c.worker <= 0 || d.worker !== c.worker)) continue;
      const sentBefore = d.pass === pass ? d.startedBeforePass : d.started;
      if (sentBefore > d.confirmed) return true;
    }
    return false;
  }

  /** Requests in flight on c's worker, over all its connections. */
  private load(c: ClientConnection): number {
    if (c.worker <= 0) return c.active;
    let n = 0;
    for (const d of this.conns) if (d.worker === c.worker) n += d.active;
    return n;
  }
}
