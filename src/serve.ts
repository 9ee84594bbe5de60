// `forkfast serve`: builds the mounts, starts the HTTP front, and steers both with signals.
//
// The signals are those of `forkfast pool`, handled in the arbiter's manner: the handlers only
// queue (signals.ts), and one loop acts, in order. SIGHUP rolls a new generation of the embedded
// pool with the configuration file re-read; SIGTERM drains within --shutdown-timeout;
// SIGINT/SIGQUIT stop fast (in-flight requests get FAST_STOP_MS on both mounts); SIGTTIN/SIGTTOU
// resize the pool; a second stop signal kills what is left at once. Every way out goes through
// BuiltMounts.close or kill, so no script and no socket directory outlives the process.
import { VERSION as version } from './version.js';
import type { ServeConfig } from './config.js';
import { changedKeys } from './config-diff.js';
import { formatListen } from './config-parse.js';
import type { Logger } from './log.js';
import { openLogs, type LogOutputs } from './log-output.js';
import { createFront } from './http/server.js';
import { buildMounts, type BuiltMounts } from './mounts.js';
import { WakeQueue, type PoolEvent } from './pool/signals.js';
import { FAST_STOP_MS } from './pool/arbiter.js';
import { removePidFile, reopenWorkerLogs, writePidFile } from './pool/master.js';
import { stateFileOf } from './pool/reload-state.js';
import { ReloadTracker } from './pool/reload-tracker.js';
import { startBufferReclaim } from './http/buffer-reclaim.js';

type Front = ReturnType<typeof createFront>;

/** A second stop signal sooner than this after the first is the same stop, not "stop now". */
const SAME_SIGNAL_MS = 300;

export async function runServe(config: ServeConfig, reread?: () => ServeConfig): Promise<number> {
  const logs = openLogs({ level: config.logLevel, logFile: config.logFile, accessLog: config.accessLog, accessLogFile: config.accessLogFile });
  const log = logs.log;
  // SIGUSR1: flush and reopen the log files (logrotate's postrotate), the embedded pool's too.
  logs.onSigusr1(reopenWorkerLogs);
  // Every way out writes what the buffers hold (a fatal error, process.exit() on a second signal).
  process.once('exit', () => logs.flushSync());
  if (config.pidFile !== undefined) {
    const problem = await writePidFile(config.pidFile);
    if (problem !== null) return fail(log, problem, { pidFile: config.pidFile });
  }
  try {
    return await serve(config, log, logs.access, reread);
  } finally {
    if (config.pidFile !== undefined) await removePidFile(config.pidFile);
    log.flush?.();
  }
}

async function serve(config: ServeConfig, log: Logger, access: LogOutputs['access'], reread?: () => ServeConfig): Promise<number> {
  const stateFile = config.pidFile === undefined ? undefined : stateFileOf(config.pidFile);
  let built: BuiltMounts;
  try {
    built = await buildMounts(config, log, version, { reloadOnEdit: config.reload, stateFile });
  } catch (err) {
    // The embedded pool could not boot: it has already removed its socket directory.
    return fail(log, (err as Error).message, {});
  }
  startBufferReclaim();
  const front = createFront({ mounts: built.mounts, log, limits: config.limits, access, counts: built.counts, tracing: built.tracing });
  built.setFront(front);

  try {
    const where = await front.listen(config.listen);
    log.info({ address: where.address, port: where.port, public: config.publicDir, cgiBin: config.scripts.cgiBin, reloadOnEdit: built.pool !== undefined && config.reload, ...built.describe }, 'listening');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EADDRINUSE' ? 'address already in use' : e.code === 'EACCES' ? 'permission denied' : e.message;
    log.fatal({ code: e.code, listen: formatListen(config.listen) }, 'cannot listen');
    await built.close();
    log.flush?.();
    process.stderr.write(`forkfast: cannot listen on ${formatListen(config.listen)}: ${why}\n`);
    return 1;
  }
  return new ServeLoop(config, log, front, built, reread, stateFile).run();
}

function fail(log: Logger, message: string, fields: Record<string, unknown>): number {
  log.fatal(fields, message);
  log.flush?.();
  process.stderr.write(`forkfast: ${message}\n`);
  return 1;
}

/** The serve process's own arbiter: the loop that acts on queued signals. */
class ServeLoop {
  private readonly queue = new WakeQueue();
  private stopping = false;
  private stoppingSince = 0;
  private stoppedBy: NodeJS.Signals | null = null;
  private exitCode: number | null = null;
  /** Without an embedded pool (--upstream), a reload is only the configuration: done at once. */
  private readonly reloads: ReloadTracker;

  constructor(
    private config: ServeConfig,
    private readonly log: Logger,
    private readonly front: Front,
    private readonly built: BuiltMounts,
    private readonly reread: (() => ServeConfig) | undefined,
    stateFile: string | undefined,
  ) {
    this.reloads = new ReloadTracker(built.pool === undefined ? stateFile : undefined);
  }

  async run(): Promise<number> {
    this.queue.install();
    this.reloads.save(1);
    try {
      while (this.exitCode === null) {
        await this.queue.sleep(1000);
        for (const sig of this.queue.drain()) this.handle(sig);
      }
      return this.exitCode;
    } finally {
      this.queue.uninstall();
      await this.reloads.close();
    }
  }

  private handle(sig: PoolEvent): void {
    this.log.info({ signal: sig }, 'handling signal');
    switch (sig) {
      case 'SIGHUP':
        return this.reload();
      case 'SIGTERM':
        return this.stop('graceful', sig);
      case 'SIGINT':
      case 'SIGQUIT':
        return this.stop('fast', sig);
      case 'SIGTTIN':
      case 'SIGTTOU':
        if (this.built.pool === undefined) return this.log.warn({ signal: sig }, 'no embedded pool to resize (/fcgi-bin/ goes to --upstream)');
        return this.built.pool.signal(sig);
      case 'EDIT':
        return;
    }
  }

  /** SIGHUP: the configuration re-read (an invalid file keeps the current one), fresh pool code. */
  private reload(): void {
    if (this.stopping) return;
    let next = this.config;
    if (this.reread !== undefined) {
      try {
        next = this.reread();
      } catch (err) {
        this.log.error({ err: err as Error }, 'the configuration is invalid; reloading with the values in effect');
      }
    }
    // The embedded pool's worker settings apply to its new generation; everything else is bound
    // to the listening socket, the mounts or the process, and waits for a restart.
    const applied = changedKeys({ pool: this.config.pool }, { pool: next.pool });
    const needRestart = changedKeys({ ...this.config, pool: null }, { ...next, pool: null });
    if (applied.length > 0 || needRestart.length > 0) this.log.info({ applied, needRestart }, 'configuration re-read: the new workers take the applied values; the others need a restart');
    this.config = { ...this.config, pool: next.pool };
    const pool = this.built.pool;
    if (pool === undefined) {
      this.reloads.begin(1);
      this.reloads.done(1);
      return;
    }
    pool.reload({ pool: next.pool, scripts: this.config.scripts, shutdownTimeoutMs: this.config.limits.shutdownTimeoutMs });
  }

  /** Drains the front (both mounts), then stops the pool and kills what is left. */
  private stop(mode: 'graceful' | 'fast', sig: NodeJS.Signals): void {
    if (this.stopping) {
      // The same signal twice at once is one stop (GNU timeout signals the process and its group).
      if (sig === this.stoppedBy && Date.now() - this.stoppingSince < SAME_SIGNAL_MS) return;
      return this.killNow();
    }
    this.stopping = true;
    this.stoppedBy = sig;
    this.stoppingSince = Date.now();
    const deadlineMs = mode === 'graceful' ? this.config.limits.shutdownTimeoutMs : Math.min(FAST_STOP_MS, this.config.limits.shutdownTimeoutMs);
    this.log.info({ mode, inFlight: this.front.inFlight(), deadlineMs }, 'stopping: draining in-flight requests');
    // A fast stop reaches the workers at once: they give their in-flight requests the same deadline.
    if (mode === 'fast') this.built.pool?.signal('SIGQUIT');
    void this.front.close(deadlineMs).then(async (outcome) => {
      await this.built.close();
      this.log.info({ outcome }, 'stopped');
      // A stop that had to cut requests at its deadline is still the stop that was asked for.
      this.finish(0);
    });
  }

  /** A second stop signal while stopping: kill the pool and every script now, exit 1. */
  private killNow(): void {
    this.log.warn({}, 'second signal: stopping now');
    this.front.server.closeAllConnections();
    void this.built.kill().then(() => this.finish(1));
  }

  private finish(code: number): void {
    if (this.exitCode !== null) return;
    this.exitCode = code;
    this.queue.wake();
  }
}
