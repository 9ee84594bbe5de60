// The pre-fork master (gunicorn's "arbiter"): spawn, reap, timeout, manage, reload, stop.
//
// The loop reads top to bottom: signal handlers and worker events only enqueue and wake it; each
// turn handles the signals, reaps exits, kills the late (timeout), then manages the count. The
// master binds the listening socket (see fork.ts) but never accepts on it: it never touches a
// request.
import { randomInt } from 'node:crypto';
import type { Logger } from '../log.js';
import { formatListen } from '../config-parse.js';
import { WakeQueue, type PoolEvent } from './signals.js';
import { formatImportFailure } from './import-error.js';
import type { ImportFailure, ReloadState } from './reload-state.js';
import { ReloadTracker } from './reload-tracker.js';
import { KeeperSlot, forkWorker, setupCluster } from './fork.js';
import type { PoolState, WorkerConfig, WorkerMessage } from './types.js';
import type { PoolOptions } from './types.js';
import { PoolScoreboard, type PoolStatus } from './pool-status.js';
import { CRASH_WINDOW_MS, MAX_BOOT_FAILURES, backoffMs, classifyDeath, describeExit, isActive, killOrphans, type WorkerRecord } from './worker-record.js';

export interface ArbiterOptions extends Omit<PoolOptions, 'pidFile'> {
  /** The compiled worker entry (worker-main.js). */
  readonly workerEntry: string;
  readonly pretty: boolean;
  /** A worker must listen this soon after fork (default 30 s). */
  readonly bootTimeoutMs?: number;
  /** Roll a new generation when a module under --cgi-bin changes (watch.ts). */
  readonly reloadOnEdit?: boolean;
  /** Where the reload state is kept for `forkfast reload` (next to the pid file). */
  readonly stateFile?: string;
  /**
   * Re-reads the configuration at each reload: what it returns applies to the new generation.
   * It throws when the file became invalid; the reload then goes on with the current values.
   */
  readonly reread?: () => RereadOptions;
  /** See EmbeddedPoolOptions.onWorkerReady. */
  readonly onWorkerReady?: () => void;
  /** The umask to give workers (the master's own may be narrowed while it binds a unix socket). */
  readonly umask?: number;
}

/** What a reload may change without a restart: everything a worker receives at fork. */
export type RereadOptions = Pick<ArbiterOptions, 'pool' | 'scripts' | 'shutdownTimeoutMs'>;

/** The loop's tick: resolution of deadlines and heartbeat checks (signals wake it at once). */
const TICK_MS = 100;
/** A worker must be listening this soon after fork. */
const BOOT_TIMEOUT_MS = 30_000;
/** SIGINT/SIGQUIT: in-flight requests get this long, then workers quit (SIGKILL a little later). */
export const FAST_STOP_MS = 1000;

export class Arbiter {
  state: PoolState = 'running';
  private target: number;
  private generation = 1;
  /** Generation numbers are never reused, even after an abandoned reload. */
  private lastGeneration = 1;
  private nextId = 1;
  private readonly workers = new Map<number, WorkerRecord>();
  readonly queue = new WakeQueue();
  private exitCode = 0;
  private bootFailures = 0;
  private lastBootError = '';
  private crashes: number[] = [];
  private nextSpawnAt = 0;
  private stopMode: 'graceful' | 'fast' | null = null;
  private reloading = false;
  private announced = false;
  private readonly reloads: ReloadTracker;
  /** Handler modules the workers imported: a reload's new workers import them before listening. */
  private readonly loadedModules = new Set<string>();
  private edited: string[] = [];
  /** Generations whose reload was abandoned: their workers' exits are planned. */
  private readonly abandoned = new Set<number>();
  /** The socket keeper (keeper.ts): holds the listening socket while no worker does. */
  private readonly keeper: KeeperSlot;
  private markReady: () => void = () => {};
  /** Resolves when the pool first reached its target of ready workers. */
  readonly ready: Promise<void> = new Promise((resolve) => (this.markReady = resolve));
  /** Workers' reports and exits, for status pages (pool-status.ts). */
  readonly board: PoolScoreboard;

  constructor(
    private opts: ArbiterOptions,
    private readonly log: Logger,
  ) {
    this.target = opts.pool.workers;
    this.reloads = new ReloadTracker(opts.stateFile);
    this.keeper = new KeeperSlot(opts.listen, () => this.queue.wake());
    this.board = new PoolScoreboard(opts.status?.poolName ?? 'forkfast', opts.listen);
  }

  /** The pool's status as PHP-FPM shows it: asks every worker for a fresh report first. */
  async status(full: boolean): Promise<PoolStatus> {
    const list = [...this.workers.values()];
    await this.board.gather(list, 250);
    // Ours beside PHP-FPM's fields: reloads asked, done, abandoned, and a module that no longer imports.
    return { ...(await this.board.snapshot(list, this.generation, full)), reload: this.reloads.snapshot(this.generation) };
  }

  /** Runs until every worker is gone after a stop, or the pool halted; resolves the exit code. */
  async run(): Promise<number> {
    setupCluster(this.opts.workerEntry);
    this.log.info({ listen: formatListen(this.opts.listen), protocol: this.opts.protocol ?? 'fastcgi', workers: this.target, cgiBin: this.opts.scripts.cgiBin }, 'pool master started');
    this.manage();
    if (this.opts.reloadOnEdit === true) {
      this.reloads.watch(this.opts.scripts.cgiBin, this.log, (files) => {
        for (const f of files) if (!this.edited.includes(f)) this.edited.push(f);
        this.queue.push('EDIT');
      });
    }
    this.reloads.save(this.generation);
    while (this.state !== 'halted') {
      await this.queue.sleep(TICK_MS);
      for (const sig of this.queue.drain()) this.handle(sig);
      this.reap();
      this.murder();
      this.manage();
    }
    await this.reloads.close();
    return this.exitCode;
  }

  /** Ready workers and the target, for status pages and tests. */
  stats(): { state: PoolState; target: number; ready: number; generation: number; reload: ReloadState; workers: { pid: number; state: string; generation: number; served: number; inFlight: number }[] } {
    const list = [...this.workers.values()];
    return {
      state: this.state,
      target: this.target,
      ready: list.filter((r) => r.state === 'ready').length,
      generation: this.generation,
      reload: this.reloads.snapshot(this.generation),
      workers: list.map((r) => ({ pid: r.pid, state: r.state, generation: r.generation, served: r.served, inFlight: r.inFlight })),
    };
  }

  private handle(sig: PoolEvent): void {
    if (sig !== 'EDIT') this.log.info({ signal: sig }, 'handling signal');
    switch (sig) {
      case 'SIGHUP':
        return this.reload('SIGHUP', []);
      case 'EDIT': {
        const files = this.edited;
        this.edited = [];
        return this.reload('edit', files);
      }
      case 'SIGTERM':
        return this.stop('graceful');
      case 'SIGINT':
      case 'SIGQUIT':
        return this.stop('fast');
      case 'SIGTTIN':
        this.target += 1;
        this.log.info({ target: this.target }, 'worker count raised');
        return;
      case 'SIGTTOU':
        if (this.target <= 1) {
          this.log.warn({ target: this.target }, 'worker count already at its minimum of 1');
          return;
        }
        this.target -= 1;
        this.log.info({ target: this.target }, 'worker count lowered');
        return;
    }
  }

  /**
   * SIGHUP or an edit: a new generation boots with fresh code; manage() retires the old one once
   * it is ready. A reload during a reload supersedes it: the workers still booting for the older
   * one serve nothing yet and stop now, so a storm of signals ends in one generation.
   */
  private reload(why: 'SIGHUP' | 'edit', files: readonly string[]): void {
    if (this.state !== 'running') return;
    this.reread();
    for (const r of this.workers.values()) if (r.generation === this.generation && r.state === 'booting') this.stopWorker(r);
    this.lastGeneration += 1;
    this.generation = this.lastGeneration;
    this.reloading = true;
    this.bootFailures = 0;
    this.log.info({ generation: this.generation, workers: this.target, reason: why, files: files.length > 0 ? files : undefined }, 'reloading: starting new workers before stopping the old ones');
    this.reloads.begin(this.generation);
  }

  /** The configuration file, re-read for the new generation; an invalid file keeps the current values. */
  private reread(): void {
    if (this.opts.reread === undefined) return;
    let next: RereadOptions;
    try {
      next = this.opts.reread();
    } catch (err) {
      this.log.error({ err: err as Error }, 'the configuration is invalid; reloading with the values in effect');
      return;
    }
    if (next.pool.workers !== this.opts.pool.workers) this.target = next.pool.workers;
    this.opts = { ...this.opts, ...next };
  }

  /** Asks for a reload from inside the process (the embedded pool's owner, or the edit watcher). */
  requestReload(next?: RereadOptions): void {
    if (next !== undefined) {
      if (next.pool.workers !== this.opts.pool.workers) this.target = next.pool.workers;
      this.opts = { ...this.opts, ...next };
    }
    this.queue.push('SIGHUP');
  }

  /**
   * A new generation that cannot serve the code it was started for gives up at once, instead of
   * retrying: a module that does not import (the same error each time) or one that never lets
   * the worker listen (a loop at import, past the boot timeout). The old workers keep serving.
   */
  private failsReload(r: WorkerRecord): boolean {
    if (!this.reloading || r.generation !== this.generation || r.readyAt !== 0) return false;
    if (r.importFailure === null && r.endedBy !== 'boot-timeout') return false;
    const reason = r.importFailure !== null ? formatImportFailure(r.importFailure) : `not listening after ${this.bootTimeoutMs()} ms`;
    return this.abandonReload(reason, r.importFailure);
  }

  /** Stops the new generation and keeps the old one; false when no old worker serves. */
  private abandonReload(reason: string, importFailure: ImportFailure | null): boolean {
    const old = [...this.workers.values()].filter((r) => r.generation < this.generation && r.state === 'ready');
    if (old.length === 0) return false;
    const fields = importFailure !== null ? { file: importFailure.file, line: importFailure.line, error: importFailure.message } : { reason };
    this.log.error({ ...fields, generation: this.generation }, 'reload failed: the new workers cannot serve; the old workers keep serving');
    for (const r of this.workers.values()) if (r.generation === this.generation) this.stopWorker(r);
    this.abandoned.add(this.generation);
    this.generation = Math.max(...old.map((r) => r.generation));
    this.reloading = false;
    this.bootFailures = 0;
    this.reloads.abandoned(this.generation, reason, importFailure);
    return true;
  }

  private bootTimeoutMs(): number {
    return this.opts.bootTimeoutMs ?? BOOT_TIMEOUT_MS;
  }


  private stop(mode: 'graceful' | 'fast'): void {
    if (this.state === 'halted' || this.stopMode === 'fast' || this.stopMode === mode) return;
    this.state = 'stopping';
    this.stopMode = mode;
    this.log.info({ mode, workers: this.workers.size, deadlineMs: mode === 'fast' ? FAST_STOP_MS : this.opts.shutdownTimeoutMs }, 'stopping the pool');
    for (const r of this.workers.values()) {
      if (r.state === 'killed') continue;
      if (mode === 'graceful') this.stopWorker(r);
      else this.quitWorker(r);
    }
  }

  /** reap: forget exited workers, and decide what their exit means for the restart policy. */
  private reap(): void {
    const now = Date.now();
    let reaped = 0;
    for (const r of this.workers.values()) {
      if (r.exit === null) continue;
      this.workers.delete(r.id);
      reaped += 1;
      this.board.onExit(r, this.generation);
      const fields = { worker: r.id, workerPid: r.pid, generation: r.generation, served: r.served, how: describeExit(r.exit), endedBy: r.endedBy };
      if (this.failsReload(r) || this.abandoned.has(r.generation)) {
        // The reason was logged once, when the reload was abandoned.
        this.log.info(fields, 'worker exited');
      } else if (r.endedBy === 'stop' || r.endedBy === 'timeout') {
        // A timed-out worker was already reported when it was killed; it still counts as a crash.
        if (r.endedBy === 'timeout') {
          this.crashes.push(now);
          killOrphans(r);
        }
        this.log.info(fields, 'worker exited');
      } else {
        this.died(r, fields, now);
      }
    }
    if (reaped === 0) return;
    this.crashes = this.crashes.filter((t) => now - t < CRASH_WINDOW_MS);
    const delay = backoffMs(this.crashes.length, this.bootFailures);
    if (delay > 0) this.nextSpawnAt = Math.max(this.nextSpawnAt, now + delay);
    if (this.bootFailures >= MAX_BOOT_FAILURES && this.state === 'running') this.bootFailed();
  }

  /**
   * The restart policy for a worker the master did not end (see classifyDeath): a kill from
   * outside is replaced at once and never counts as a boot failure; a boot failure and a crash
   * count toward the back-off.
   */
  private died(r: WorkerRecord, fields: Record<string, unknown>, now: number): void {
    killOrphans(r);
    const kind = classifyDeath(r);
    const inFlight = r.inFlight > 0 ? { inFlight: r.inFlight, requests: r.requests } : { inFlight: 0 };
    if (kind === 'boot-failure') {
      this.bootFailures += 1;
      this.lastBootError = r.bootError ?? (r.endedBy === 'boot-timeout' ? `not listening after ${this.bootTimeoutMs()} ms` : describeExit(r.exit!));
      this.log.error({ ...fields, reason: this.lastBootError, failures: this.bootFailures }, 'worker failed to boot');
      return;
    }
    if (kind === 'crash') this.crashes.push(now);
    this.log.error({ ...fields, death: kind, ...inFlight }, 'worker died unexpectedly; replacing it');
  }

  /** Repeated boot failures: abandon a reload (keep the old workers), or give up with exit 1. */
  private bootFailed(): void {
    if (this.reloading && this.abandonReload(this.lastBootError, null)) return;
    if (this.announced) {
      // A pool that has served keeps trying (PHP-FPM's master never gives up on a pool): its
      // clients are better served by a pool that comes back when the cause is fixed (a full
      // disk, a missing directory) than by no process; the back-off keeps the retries cheap.
      if (this.bootFailures % MAX_BOOT_FAILURES === 0) this.log.error({ failures: this.bootFailures, reason: this.lastBootError, retryMs: backoffMs(0, this.bootFailures) }, 'workers keep failing to boot; retrying with back-off');
      return;
    }
    // Never served (gunicorn's HaltServer on WORKER_BOOT_ERROR): exit 1 so a supervisor sees it.
    this.log.fatal({ failures: this.bootFailures, reason: this.lastBootError }, `workers failed to boot ${this.bootFailures} times in a row (${this.lastBootError}); the pool master exits`);
    this.halt(1);
  }

  /** timeout (gunicorn's murder_workers): blocked event loops, boot and drain deadlines. */
  private murder(): void {
    const now = Date.now();
    const timeout = this.opts.pool.workerTimeoutMs;
    for (const r of this.workers.values()) {
      if (r.state === 'killed' || r.exit !== null) continue;
      if (r.state === 'booting' && now > r.deadline) {
        this.log.error({ worker: r.id, workerPid: r.pid }, 'worker did not start listening in time; killing it');
        r.endedBy = 'boot-timeout';
        this.kill(r, 'SIGKILL');
        // A reload's worker that does not listen in time: the reload gives up now, before a
        // replacement of the same code is started.
        this.failsReload(r);
      } else if (r.state !== 'booting' && timeout > 0 && now - r.lastBeat > timeout) {
        this.log.error({ worker: r.id, workerPid: r.pid, silentMs: now - r.lastBeat, inFlight: r.inFlight, requests: r.requests }, 'worker timed out (event loop blocked past --worker-timeout); killing it');
        r.endedBy ??= 'timeout';
        this.kill(r, 'SIGKILL');
      } else if (r.state === 'stopping' && now > r.deadline) {
        this.log.warn({ worker: r.id, workerPid: r.pid, inFlight: r.inFlight, requests: r.requests }, 'worker did not finish in time; killing it');
        this.kill(r, 'SIGKILL');
      }
    }
  }

  /** manage: reach the target count of the current generation, then retire outgoing workers. */
  private manage(): void {
    if (this.state === 'halted') return;
    if (this.state === 'stopping') {
      if (this.workers.size === 0 && this.keeper.running) return this.keeper.drop();
      if (this.workers.size === 0) {
        this.log.info({}, 'pool stopped');
        this.state = 'halted';
      }
      return;
    }
    this.keeper.ensure();
    const current = [...this.workers.values()].filter((r) => r.generation === this.generation && isActive(r));
    const now = Date.now();
    for (let n = current.length; n < this.target && now >= this.nextSpawnAt; n += 1) this.spawn();
    // Scale down (SIGTTOU): booting workers first, then the oldest.
    for (let excess = current.length - this.target; excess > 0; excess -= 1) {
      const victim = current.find((r) => r.state === 'booting' && r.endedBy === null) ?? current.find((r) => r.endedBy === null);
      if (!victim) break;
      current.splice(current.indexOf(victim), 1);
      this.stopWorker(victim);
    }
    const ready = current.filter((r) => r.state === 'ready').length;
    // A worker past --max-requests stops at once while another worker still accepts: node:cluster
    // closes the master's copy of the socket when no worker holds it, so the last listener stays
    // until its replacement listens (it may then serve past its limit for the boot time).
    let listeners = [...this.workers.values()].filter((r) => r.state === 'ready' || r.state === 'retiring').length;
    for (const r of this.workers.values()) {
      if (listeners <= 1) break;
      if (r.state !== 'retiring' || r.generation !== this.generation) continue;
      this.stopWorker(r);
      listeners -= 1;
    }
    if (ready < this.target) return;
    if (!this.announced) {
      this.announced = true;
      this.log.info({ workers: ready }, 'pool ready');
      this.markReady();
    }
    // Outgoing workers (old generation, or past max-requests) stop only now that their
    // replacements accept: the listening socket never lacks a worker, so no request is refused.
    for (const r of this.workers.values()) {
      const outgoing = r.generation !== this.generation || r.state === 'retiring';
      if (outgoing && (r.state === 'ready' || r.state === 'retiring' || r.state === 'booting')) this.stopWorker(r);
    }
    if (this.reloading && [...this.workers.values()].every((r) => r.generation === this.generation)) {
      this.reloading = false;
      this.log.info({ generation: this.generation, workers: ready }, 'reload complete');
      this.reloads.done(this.generation);
    }
  }

  /** spawn: fork one worker of the current generation. */
  private spawn(): void {
    const id = this.nextId++;
    const { maxRequests, maxRequestsJitter, workerTimeoutMs } = this.opts.pool;
    const config: WorkerConfig = {
      id,
      generation: this.generation,
      listen: this.opts.listen,
      scripts: this.opts.scripts,
      logLevel: this.opts.logLevel,
      pretty: this.opts.pretty,
      logFile: this.opts.logFile,
      // Jitter spreads the recycling so that workers started together do not all restart at once.
      maxRequests: maxRequests > 0 ? maxRequests + randomInt(0, maxRequestsJitter + 1) : 0,
      heartbeatMs: workerTimeoutMs > 0 ? Math.max(50, Math.min(1000, Math.floor(workerTimeoutMs / 4))) : 1000,
      gracefulTimeoutMs: this.opts.shutdownTimeoutMs,
      fetchObjects: this.opts.pool.fetchObjects,
      // Only a reload's workers check the code before they serve: a replacement for a crashed
      // worker must not fail on a module that the serving generation never reloaded.
      preload: this.reloading ? [...this.loadedModules] : [],
      protocol: this.opts.protocol ?? 'fastcgi',
      allowedClients: this.opts.access?.allowedClients ?? [],
      umask: this.opts.umask ?? process.umask(),
      ...(this.opts.status ? { status: this.opts.status } : {}),
    };
    const r = forkWorker(config, this.bootTimeoutMs(), {
      onMessage: (rec, m) => this.onMessage(rec, m),
      onExit: () => this.queue.wake(),
      onError: (rec, err) => this.log.warn({ worker: rec.id, workerPid: rec.pid, err }, 'worker IPC error'),
    });
    this.workers.set(id, r);
    this.log.debug({ worker: id, workerPid: r.pid, generation: this.generation, maxRequests: config.maxRequests }, 'worker spawned');
  }

  private onMessage(r: WorkerRecord, m: WorkerMessage): void {
    r.lastBeat = Date.now();
    switch (m.type) {
      case 'ff:ready':
        if (r.state !== 'booting') return;
        r.state = 'ready';
        r.readyAt = r.lastBeat;
        this.bootFailures = 0;
        this.log.info({ worker: r.id, workerPid: r.pid, generation: r.generation, bootMs: r.readyAt - r.spawnedAt }, 'worker ready');
        this.opts.onWorkerReady?.();
        this.queue.wake();
        return;
      case 'ff:heartbeat':
        r.inFlight = m.inFlight;
        r.served = m.served;
        r.requests = m.requests ?? [];
        r.groups = m.groups ?? [];
        this.board.onHeartbeat(r, m.inFlight);
        return;
      case 'ff:report':
        this.board.onReport(r, m.report);
        return;
      case 'ff:status?':
        void this.status(m.full).then((status) => r.worker.isConnected() && r.worker.send({ type: 'ff:status', id: m.id, status }, () => {}));
        return;
      case 'ff:retire':
        this.board.onRetire(r);
        r.served = m.served;
        if (r.state !== 'ready') return;
        r.state = 'retiring';
        this.log.info({ worker: r.id, workerPid: r.pid, served: m.served }, 'worker retiring; replacing it');
        this.queue.wake();
        return;
      case 'ff:boot-error':
        r.bootError = m.message;
        r.importFailure = m.importFailure ?? null;
        return;
      case 'ff:loaded':
        this.loadedModules.add(m.file);
        return;
    }
  }

  /** Graceful stop of one worker: it stops accepting, drains, exits 0 (SIGKILL at the deadline). */
  private stopWorker(r: WorkerRecord): void {
    if (r.state === 'stopping' || r.state === 'killed') return;
    const wasBooting = r.state === 'booting';
    r.state = 'stopping';
    r.endedBy ??= 'stop';
    r.deadline = Date.now() + this.opts.shutdownTimeoutMs;
    // A booting worker has no requests yet: SIGTERM ends it (its default action, or its drain).
    if (wasBooting || !r.worker.isConnected()) return this.kill(r, 'SIGTERM');
    r.worker.send({ type: 'ff:stop' }, (err: Error | null) => {
      if (err) this.kill(r, 'SIGTERM');
    });
  }

  /**
   * Fast stop of one worker: told over IPC, not by a signal, because a worker ignores the
   * SIGINT/SIGQUIT a terminal sends to the whole process group (the master alone decides). It
   * stops accepting, gives in-flight requests FAST_STOP_MS, then quits; SIGKILL a little later.
   */
  private quitWorker(r: WorkerRecord): void {
    const wasBooting = r.state === 'booting';
    r.state = 'stopping';
    r.endedBy = 'stop';
    r.deadline = Date.now() + FAST_STOP_MS + 500;
    if (wasBooting || !r.worker.isConnected()) return this.kill(r, 'SIGTERM');
    r.worker.send({ type: 'ff:quit', deadlineMs: FAST_STOP_MS }, (err: Error | null) => {
      if (err) this.kill(r, 'SIGTERM');
    });
  }

  private kill(r: WorkerRecord, sig: NodeJS.Signals): void {
    if (sig === 'SIGKILL') r.state = 'killed';
    // A fork that failed has no pid: kill(0) would signal our own process group.
    if (r.pid <= 0) return;
    try {
      process.kill(r.pid, sig);
    } catch {
      // ESRCH: already gone; its 'exit' event is on the way.
    }
  }

  /** A second stop signal in the embedding process: every worker gets SIGKILL now. */
  killNow(): void {
    if (this.state === 'halted') return;
    this.log.warn({ workers: this.workers.size }, 'killing every worker now');
    this.halt(this.exitCode);
    this.queue.wake();
  }

  private halt(code: number): void {
    this.exitCode = code;
    this.state = 'halted';
    for (const r of this.workers.values()) this.kill(r, 'SIGKILL');
    this.keeper.drop();
  }
}
