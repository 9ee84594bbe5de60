// A pool worker's own scoreboard: what it serves now and served last, read by the master on demand.
//
// PHP-FPM keeps a scoreboard in shared memory that each child writes per request. Node processes
// share no memory, and an IPC message per request start and end would cost more than a resident
// "hello" (measured: docs/performance.md). So the request path only writes a few fields here, and
// the master asks (`ff:report?`) when someone reads the status: the worker answers with a
// snapshot. A worker whose event loop is blocked cannot answer; the master then shows what the
// heartbeat last carried.
import { LiveSet } from '../live-set.js';
import type { ResponderRequest } from '../fastcgi/server.js';

/** One request in progress: when it started, and the request itself (its PARAMS are read lazily). */
export interface LiveRequest {
  readonly r: ResponderRequest;
  /** performance.now() at the start. */
  readonly started: number;
  /** Set once the slow log reported it, so it is reported (and counted) once. */
  slow: boolean;
}

/** What a request looked like, for status pages (PHP-FPM's per-process fields). */
export interface RequestView {
  readonly method: string;
  readonly uri: string;
  readonly script: string;
  readonly contentLength: number;
  /** Microseconds: so far for a running request, in all for the last one (PHP-FPM's unit). */
  readonly durationUs: number;
}

/** The worker's answer to `ff:report?`. */
export interface WorkerReport {
  readonly pid: number;
  /** Unix seconds when the worker started. */
  readonly startTime: number;
  /** Requests started since the worker started. */
  readonly requests: number;
  readonly inFlight: number;
  /** The oldest request in progress, or null when idle. */
  readonly current: RequestView | null;
  /** The last request that ended, or null. */
  readonly last: RequestView | null;
  /**
   * CPU % of the worker over the last second. PHP-FPM measures each request (one at a time per
   * child); a worker here runs many at once, and getrusage twice per request cost more than the
   * rest of the bookkeeping (about 10 µs per call on a loaded machine), so it is sampled.
   */
  readonly lastCpu: number;
  /** Bytes of JavaScript heap in use, sampled when asked. */
  readonly heapUsed: number;
  readonly rss: number;
  readonly slowRequests: number;
}

function viewOf(r: ResponderRequest, durationUs: number): RequestView {
  const p = r.params;
  const uri = p.get('REQUEST_URI') ?? `${p.get('SCRIPT_NAME') ?? ''}${p.get('PATH_INFO') ?? ''}`;
  return {
    method: p.get('REQUEST_METHOD') ?? '-',
    uri,
    script: p.get('SCRIPT_FILENAME') ?? p.get('SCRIPT_NAME') ?? '-',
    contentLength: Number(p.get('CONTENT_LENGTH') ?? 0) || 0,
    durationUs: Math.round(durationUs),
  };
}

const CPU_SAMPLE_MS = 1000;

export class Scoreboard {
  private readonly startTime = Math.floor(Date.now() / 1000);
  private requests = 0;
  readonly live = new LiveSet<LiveRequest>();
  private last: ResponderRequest | null = null;
  private lastDurationUs = 0;
  private lastCpu = 0;
  private cpuAt = performance.now();
  private cpu = process.cpuUsage();
  private readonly sampler: NodeJS.Timeout;
  slowRequests = 0;

  constructor() {
    this.sampler = setInterval(() => this.sampleCpu(), CPU_SAMPLE_MS);
    this.sampler.unref();
  }

  private sampleCpu(): void {
    const now = performance.now();
    const used = process.cpuUsage(this.cpu);
    const wallUs = (now - this.cpuAt) * 1000;
    this.lastCpu = wallUs > 0 ? Math.round(((used.user + used.system) / wallUs) * 10000) / 100 : 0;
    this.cpu = process.cpuUsage();
    this.cpuAt = now;
  }

  /** On the request path: one small object, an array push, a clock read. */
  begin(r: ResponderRequest): LiveRequest {
    this.requests += 1;
    const started = performance.now();
    const entry: LiveRequest = { r, started, slow: false };
    this.live.add(entry);
    return entry;
  }

  end(entry: LiveRequest): void {
    this.live.delete(entry);
    const now = performance.now();
    this.last = entry.r;
    this.lastDurationUs = (now - entry.started) * 1000;
  }

  oldest(): LiveRequest | null {
    let oldest: LiveRequest | null = null;
    for (const e of this.live) if (oldest === null || e.started < oldest.started) oldest = e;
    return oldest;
  }

  report(): WorkerReport {
    const now = performance.now();
    const cur = this.oldest();
    const mem = process.memoryUsage();
    return {
      pid: process.pid,
      startTime: this.startTime,
      requests: this.requests,
      inFlight: this.live.size,
      current: cur === null ? null : viewOf(cur.r, (now - cur.started) * 1000),
      last: this.last === null ? null : viewOf(this.last, this.lastDurationUs),
      lastCpu: this.lastCpu,
      heapUsed: mem.heapUsed,
      rss: mem.rss,
      slowRequests: this.slowRequests,
    };
  }
}
