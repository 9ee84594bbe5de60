// `forkfast pool` and the embedded pool of `forkfast serve`: the process around the arbiter
// (pid file, listening address checks, signal handlers, private socket directory).
import cluster from 'node:cluster';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import type { ListenAddress } from '../config-parse.js';
import { Arbiter, type RereadOptions } from './arbiter.js';
import { clearStaleSocket } from '../unix-socket.js';
import type { PoolSignal } from './signals.js';
import { removeReloadState, stateFileOf } from './reload-state.js';
import { applySocketAccess, umaskFor } from './listen-access.js';
import type { ListenAccess } from '../config.js';
import { REOPEN_LOG_MESSAGE, type EmbeddedPoolOptions, type PoolOptions } from './types.js';
import type { PoolStatus } from './pool-status.js';
import { startStatsServer, type StatsServer } from '../ops/stats-server.js';
import { formatListen } from '../config-parse.js';

/** The compiled worker entry, next to this file (dist/src/pool/worker-main.js). */
const WORKER_ENTRY = fileURLToPath(new URL('./worker-main.js', import.meta.url));

/** What `forkfast pool` may change at SIGHUP, besides fresh code. */
export interface PoolReloadOptions {
  /** Roll a new generation when a handler module changes (off unless --reload). */
  readonly reloadOnEdit?: boolean;
  /** Re-reads the configuration (see Arbiter's `reread`). */
  readonly reread?: () => RereadOptions;
}

/** Runs the pool until SIGTERM/SIGINT/SIGQUIT or a fatal boot failure; resolves the exit code. */
export async function runPool(options: PoolOptions, log: Logger, reloads: PoolReloadOptions = {}): Promise<number> {
  const plog = log.child({ component: 'pool' });
  if (options.pidFile !== undefined) {
    const problem = await writePidFile(options.pidFile);
    if (problem !== null) {
      plog.fatal({ pidFile: options.pidFile }, problem);
      return 1;
    }
  }
  try {
    const busy = options.listen.kind === 'unix' ? await clearStaleSocket(options.listen.path) : null;
    if (busy !== null) {
      plog.fatal({ path: busy }, `another server is listening on ${busy}; not starting`);
      return 1;
    }
    const stateFile = options.pidFile === undefined ? undefined : stateFileOf(options.pidFile);
    const umask = process.umask();
    const arbiter = new Arbiter({ ...options, ...reloads, stateFile, workerEntry: WORKER_ENTRY, pretty: prettyLogs(), umask }, plog);
    if (options.listen.kind === 'unix' && options.access !== undefined) guardSocket(arbiter, options.listen.path, options.access, umask, plog);
    let stats: StatsServer | null = null;
    if (options.status?.enabled === true && options.status.stats !== undefined) {
      try {
        stats = await startStatsServer(options.status, arbiter, plog);
      } catch (err) {
        plog.fatal({ stats: formatListen(options.status.stats), err }, 'cannot listen for --stats');
        return 1;
      }
    }
    arbiter.queue.install();
    try {
      return await arbiter.run();
    } finally {
      arbiter.queue.uninstall();
      await stats?.close();
    }
  } finally {
    if (options.pidFile !== undefined) await removePidFile(options.pidFile);
  }
}

export interface EmbeddedPool {
  /** The private unix socket the workers listen on (give it to the FastCGI client). */
  readonly address: string;
  /** Resolves with the pool's exit code when it ends (after stop(), or 1 if it could not keep workers). */
  readonly done: Promise<number>;
  /** SIGHUP semantics: new workers with fresh code (and `next` options), then the old ones drain. */
  reload(next?: RereadOptions): void;
  /** The caller's signal, as `forkfast pool` would take it (TTIN/TTOU resize, INT/QUIT fast stop). */
  signal(sig: PoolSignal): void;
  stats(): ReturnType<Arbiter['stats']>;
  /** PHP-FPM's status fields (`full`: one entry per worker), asking each worker first. */
  status(full: boolean): Promise<PoolStatus>;
  /** Graceful stop (drain within shutdownTimeoutMs, then kill); removes the socket directory. */
  stop(): Promise<void>;
  /** Kills every worker now (a second signal); resolves once the socket directory is gone. */
  kill(): Promise<void>;
}

/** The embedding process's choices for its pool (none of them is a `forkfast pool` flag). */
export interface EmbeddedPoolExtras {
  readonly reloadOnEdit?: boolean;
  /** Where `forkfast reload` reads the reload state (next to the embedding process's pid file). */
  readonly stateFile?: string;
  readonly bootTimeoutMs?: number;
}

/**
 * Starts a pool inside the calling process (`forkfast serve`) on a unix socket in a fresh
 * private directory (mkdtemp: mode 0700, so only this user can connect). Signals stay with the
 * caller. Resolves once every worker listens; rejects if the workers cannot boot.
 */
export async function startEmbeddedPool(options: EmbeddedPoolOptions, log: Logger, extras: EmbeddedPoolExtras = {}): Promise<EmbeddedPool> {
  const plog = log.child({ component: 'pool' });
  const dir = await mkdtemp(join(tmpdir(), 'forkfast-pool-'));
  const address = join(dir, 'pool.sock');
  const listen: ListenAddress = { kind: 'unix', path: address };
  const arbiter = new Arbiter({ ...options, ...extras, listen, workerEntry: WORKER_ENTRY, pretty: prettyLogs() }, plog);
  const done = arbiter.run().finally(() => rm(dir, { recursive: true, force: true }));
  const ready = await Promise.race([arbiter.ready.then(() => true), done.then(() => false)]);
  if (!ready) throw new Error('the embedded FastCGI pool could not start its workers (see the log above)');
  return {
    address,
    done,
    reload: (next) => arbiter.requestReload(next),
    signal: (sig) => void arbiter.queue.push(sig),
    stats: () => arbiter.stats(),
    status: (full) => arbiter.status(full),
    async stop() {
      arbiter.queue.push('SIGTERM');
      await done;
    },
    async kill() {
      arbiter.killNow();
      await done;
    },
  };
}

/**
 * --listen-mode/owner/group: the socket is created under a narrowed umask (never wider than the
 * mode, even for a moment), then chmod/chown once the pool is ready; the umask is then restored.
 */
function guardSocket(arbiter: Arbiter, path: string, access: ListenAccess, umask: number, log: Logger): void {
  process.umask(umaskFor(access.mode));
  void arbiter.ready.then(async () => {
    process.umask(umask);
    try {
      await applySocketAccess(path, access);
      log.info({ path, mode: access.mode.toString(8).padStart(4, '0'), owner: access.owner, group: access.group }, 'socket permissions set');
    } catch (err) {
      log.error({ path, err }, 'cannot set the socket permissions (--listen-mode, --listen-owner, --listen-group)');
    }
  });
}

function prettyLogs(): boolean {
  return process.stdout.isTTY === true;
}

/** SIGUSR1 on the master: every worker reopens its --log-file (they append to it themselves). */
export function reopenWorkerLogs(): void {
  for (const worker of Object.values(cluster.workers ?? {})) {
    if (worker?.isConnected()) worker.send(REOPEN_LOG_MESSAGE, () => {});
  }
}

/** Refuses to start over a live master (gunicorn: "Already running on PID"); else (re)writes. */
export async function writePidFile(path: string): Promise<string | null> {
  try {
    const old = Number.parseInt(await readFile(path, 'utf8'), 10);
    if (Number.isInteger(old) && old > 0 && old !== process.pid && isAlive(old)) return `pid file ${path} names a running process (${old}); is forkfast already running?`;
  } catch {
    // No pid file, or unreadable: write ours.
  }
  try {
    await writeFile(path, `${process.pid}\n`, { mode: 0o644 });
    return null;
  } catch (err) {
    return `cannot write the pid file ${path}: ${(err as Error).message}`;
  }
}

export async function removePidFile(path: string): Promise<void> {
  await removeReloadState(stateFileOf(path), process.pid);
  try {
    // Only our own: a newer master may have taken the file over.
    if (Number.parseInt(await readFile(path, 'utf8'), 10) === process.pid) await unlink(path);
  } catch {
    // Gone already.
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
