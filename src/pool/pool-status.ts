// The master's view for status pages: workers' reports gathered on demand, exits counted by cause.
//
// Field names and units are PHP-FPM's (its status page in JSON: durations in microseconds, times
// in unix seconds, memory in bytes), so that dashboards and scripts written for PHP-FPM read a
// forkfast pool unchanged. Ours come after theirs, in the same spelling style.
import type { ReloadState } from './reload-state.js';
import type { ListenAddress } from '../config-parse.js';
import type { SpawnerStats } from '../spawn/types.js';
import type { WorkerRecord } from './worker-record.js';
import type { WorkerReportWithCgi } from './status-messages.js';
import { readListenQueue } from '../ops/listen-queue.js';

/** Why a worker ended, counted for status pages and metrics. */
export type ExitCause = 'crash' | 'timeout' | 'boot-failure' | 'recycled' | 'reload' | 'stopped';
export const EXIT_CAUSES: readonly ExitCause[] = ['crash', 'timeout', 'boot-failure', 'recycled', 'reload', 'stopped'];

/** PHP-FPM's process states, as it spells them. */
export type ProcessState = 'Starting' | 'Idle' | 'Running' | 'Finishing' | 'Ending';

export interface ProcessStatus {
  readonly pid: number;
  readonly state: ProcessState;
  readonly 'start time': number;
  readonly 'start since': number;
  readonly requests: number;
  readonly 'request duration': number;
  readonly 'request method': string;
  readonly 'request uri': string;
  readonly 'content length': number;
  readonly user: string;
  readonly script: string;
  readonly 'last request cpu': number;
  readonly 'last request memory': number;
  // Ours:
  readonly worker: number;
  readonly generation: number;
  readonly 'in flight': number;
  readonly rss: number;
  /** false: the worker did not answer in time (event loop busy); the figures are its last known. */
  readonly answered: boolean;
}

export type CgiStatus = Record<'children running' | 'children queued' | 'children spawned' | 'max children reached' | 'refused' | 'timed out' | 'killed', number>;

export interface PoolStatus {
  readonly pool: string;
  /** Ours: reloads asked, done, abandoned, and a module that no longer imports (reload-state.ts). */
  readonly reload?: ReloadState;
  readonly 'process manager': 'static';
  readonly 'start time': number;
  readonly 'start since': number;
  readonly 'accepted conn': number;
  readonly 'listen queue': number;
  readonly 'max listen queue': number;
  readonly 'listen queue len': number;
  readonly 'idle processes': number;
  readonly 'active processes': number;
  readonly 'total processes': number;
  readonly 'max active processes': number;
  readonly 'max children reached': number;
  readonly 'slow requests': number;
  // Ours:
  readonly generation: number;
  readonly 'worker exits': Record<ExitCause, number>;
  readonly cgi: CgiStatus;
  readonly processes?: ProcessStatus[];
}

const NO_CGI: SpawnerStats = { running: 0, queued: 0, spawned: 0, maxChildrenReached: 0, refused: 0, timedOut: 0, killed: 0 };

export function cgiStatus(s: SpawnerStats): CgiStatus {
  return {
    'children running': s.running,
    'children queued': s.queued,
    'children spawned': s.spawned,
    'max children reached': s.maxChildrenReached,
    refused: s.refused,
    'timed out': s.timedOut,
    killed: s.killed,
  };
}

function addCgi(a: SpawnerStats, b: SpawnerStats, withNow: boolean): SpawnerStats {
  return {
    running: a.running + (withNow ? b.running : 0),
    queued: a.queued + (withNow ? b.queued : 0),
    spawned: a.spawned + b.spawned,
    maxChildrenReached: a.maxChildrenReached + b.maxChildrenReached,
    refused: a.refused + b.refused,
    timedOut: a.timedOut + b.timedOut,
    killed: a.killed + b.killed,
  };
}

export class PoolScoreboard {
  private readonly startedAt = Date.now();
  private readonly reports = new WeakMap<WorkerRecord, { report: WorkerReportWithCgi; at: number }>();
  private readonly retired = new WeakSet<WorkerRecord>();
  private exitedRequests = 0;
  private exitedSlow = 0;
  private exitedCgi: SpawnerStats = NO_CGI;
  readonly exits: Record<ExitCause, number> = { crash: 0, timeout: 0, 'boot-failure': 0, recycled: 0, reload: 0, stopped: 0 };
  private maxActive = 0;
  /** Workers whose last heartbeat or report had requests in flight. */
  private readonly busy = new WeakSet<WorkerRecord>();
  private busyCount = 0;
  private maxListenQueue = 0;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly name: string,
    private readonly listen: ListenAddress,
  ) {}

  onReport(r: WorkerRecord, report: WorkerReportWithCgi): void {
    this.reports.set(r, { report, at: performance.now() });
    this.onHeartbeat(r, report.inFlight);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /**
   * A heartbeat's in-flight count: PHP-FPM samples `max active processes` on its maintenance
   * tick; the heartbeats are ours (about one a second per worker).
   */
  onHeartbeat(r: WorkerRecord, inFlight: number): void {
    const was = this.busy.has(r);
    if (inFlight > 0 && !was) {
      this.busy.add(r);
      this.busyCount += 1;
      this.maxActive = Math.max(this.maxActive, this.busyCount);
    } else if (inFlight === 0 && was) {
      this.busy.delete(r);
      this.busyCount -= 1;
    }
  }

  /** The worker asked to be replaced (max-requests, or an uncaught exception). */
  onRetire(r: WorkerRecord): void {
    this.retired.add(r);
  }

  /** Called by reap() for each worker that exited. */
  onExit(r: WorkerRecord, currentGeneration: number): ExitCause {
    const cause: ExitCause =
      r.endedBy === 'timeout' ? 'timeout'
      : r.readyAt === 0 ? 'boot-failure'
      : r.endedBy === null ? 'crash'
      : this.retired.has(r) ? 'recycled'
      : r.generation < currentGeneration ? 'reload'
      : 'stopped';
    this.exits[cause] += 1;
    if (this.busy.delete(r)) this.busyCount -= 1;
    const last = this.reports.get(r)?.report;
    this.exitedRequests += Math.max(r.served, last?.requests ?? 0);
    this.exitedSlow += last?.slowRequests ?? 0;
    if (last) this.exitedCgi = addCgi(this.exitedCgi, last.cgi, false);
    return cause;
  }

  /** Asks every live worker for its report; resolves when all answered or after timeoutMs. */
  async gather(records: readonly WorkerRecord[], timeoutMs: number): Promise<void> {
    const asked = performance.now();
    const live = records.filter((r) => r.state !== 'booting' && r.state !== 'killed' && r.exit === null && r.worker.isConnected());
    for (const r of live) r.worker.send({ type: 'ff:report?' }, () => {});
    const answered = (): boolean => live.every((r) => (this.reports.get(r)?.at ?? 0) >= asked || !r.worker.isConnected());
    const deadline = asked + timeoutMs;
    while (!answered()) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The pool's status from the last reports (call gather() first for fresh ones). */
  async snapshot(records: readonly WorkerRecord[], generation: number, full: boolean): Promise<PoolStatus> {
    const now = Date.now();
    const asked = performance.now();
    let accepted = this.exitedRequests;
    let slow = this.exitedSlow;
    let cgi = this.exitedCgi;
    let idle = 0;
    let active = 0;
    const processes: ProcessStatus[] = [];
    for (const r of records) {
      if (r.exit !== null) continue;
      const seen = this.reports.get(r);
      const rep = seen?.report;
      const inFlight = rep?.inFlight ?? r.inFlight;
      accepted += Math.max(rep?.requests ?? 0, r.served + r.inFlight);
      slow += rep?.slowRequests ?? 0;
      if (rep) cgi = addCgi(cgi, rep.cgi, true);
      const state: ProcessState =
        r.state === 'booting' ? 'Starting'
        : r.state === 'stopping' ? 'Finishing'
        : r.state === 'killed' ? 'Ending'
        : inFlight > 0 ? 'Running' : 'Idle';
      if (state === 'Running') active += 1;
      else if (state === 'Idle') idle += 1;
      if (!full) continue;
      const view = rep === undefined ? null : inFlight > 0 ? rep.current : rep.last;
      const startTime = rep?.startTime ?? Math.floor(r.spawnedAt / 1000);
      processes.push({
        pid: r.pid,
        state,
        'start time': startTime,
        'start since': Math.max(0, Math.floor(now / 1000) - startTime),
        requests: Math.max(rep?.requests ?? 0, r.served),
        'request duration': view?.durationUs ?? 0,
        'request method': view?.method ?? '-',
        'request uri': view?.uri ?? '-',
        'content length': view?.contentLength ?? 0,
        user: '-',
        script: view?.script ?? '-',
        'last request cpu': rep?.lastCpu ?? 0,
        'last request memory': rep?.heapUsed ?? 0,
        worker: r.id,
        generation: r.generation,
        'in flight': inFlight,
        rss: rep?.rss ?? 0,
        answered: seen !== undefined && asked - seen.at < 1000,
      });
    }
    this.maxActive = Math.max(this.maxActive, active);
    const queue = await readListenQueue(this.listen);
    this.maxListenQueue = Math.max(this.maxListenQueue, queue.queued);
    return {
      pool: this.name,
      'process manager': 'static',
      'start time': Math.floor(this.startedAt / 1000),
      'start since': Math.floor((now - this.startedAt) / 1000),
      'accepted conn': accepted,
      'listen queue': queue.queued,
      'max listen queue': this.maxListenQueue,
      'listen queue len': queue.backlog,
      'idle processes': idle,
      'active processes': active,
      'total processes': idle + active + records.filter((r) => r.exit === null && r.state !== 'ready' && r.state !== 'retiring').length,
      'max active processes': this.maxActive,
      'max children reached': cgi.maxChildrenReached,
      'slow requests': slow,
      generation,
      'worker exits': { ...this.exits },
      cgi: cgiStatus(cgi),
      ...(full ? { processes } : {}),
    };
  }
}
