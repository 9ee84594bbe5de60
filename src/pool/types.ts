// The pool's shared vocabulary: options, lifecycle states and the master <-> worker IPC messages.
import type { PoolConfig, PoolProtocol, ScriptOptions, WorkerOptions } from '../config.js';
import type { ListenAddress } from '../config-parse.js';
import type { LogLevel } from '../log.js';
import type { ImportFailure } from './reload-state.js';
import type { StatusOptions } from '../ops/status-options.js';
import type { StatusWorkerMessage } from './status-messages.js';

/** What `forkfast pool` needs: the lead's PoolConfig satisfies it as is. */
export type PoolOptions = Pick<PoolConfig, 'listen' | 'logLevel' | 'scripts' | 'pool' | 'shutdownTimeoutMs' | 'pidFile'> & Partial<Pick<PoolConfig, 'protocol' | 'access'>> & { readonly logFile?: string | undefined; readonly status?: StatusOptions };

/** What `forkfast serve` needs for its embedded pool (the listen address is a private socket). */
export interface EmbeddedPoolOptions {
  readonly logLevel: LogLevel;
  /** --log-file: workers append their lines to it (and reopen it when the master says so). */
  readonly logFile?: string | undefined;
  readonly scripts: ScriptOptions;
  readonly pool: WorkerOptions;
  readonly shutdownTimeoutMs: number;
  /**
   * Told each time a worker listens (a one-way notice, nothing is expected back): the front's
   * FastCGI client then connects at once instead of waiting out a refused-connect back-off.
   */
  readonly onWorkerReady?: () => void;
  readonly status?: StatusOptions;
}

/**
 * Pool states only escalate, as in PHP-FPM's fpm_pctl: a reload is not a pool state but a new
 * generation of workers that replaces the old one while the pool keeps running.
 */
export type PoolState = 'running' | 'stopping' | 'halted';

/**
 * A worker as the master sees it. booting: forked, not listening yet; ready: accepting;
 * retiring: reached max-requests (or belongs to an old generation), still accepting until its
 * replacement is ready; stopping: told to stop accepting and drain; killed: SIGKILL sent.
 */
export type WorkerState = 'booting' | 'ready' | 'retiring' | 'stopping' | 'killed';

/** Why the master ended a worker's life, for the exit log line and the restart decision. */
export type ExitKind = 'planned' | 'crash' | 'boot-failure' | 'timeout';

/** Everything a worker process needs, passed once by the master at fork (JSON in its env). */
export interface WorkerConfig {
  readonly id: number;
  readonly generation: number;
  readonly listen: ListenAddress;
  readonly scripts: ScriptOptions;
  readonly logLevel: LogLevel;
  readonly pretty: boolean;
  /** --log-file, else undefined: stdout. */
  readonly logFile?: string | undefined;
  /** Requests after which this worker asks to be replaced (jitter already added); 0: never. */
  readonly maxRequests: number;
  /** How often the worker proves its event loop turns (ms). */
  readonly heartbeatMs: number;
  /** Drain deadline of a graceful stop, enforced by the master too. */
  readonly gracefulTimeoutMs: number;
  /** light: handler modules get the light Response (app/light-response.ts). */
  readonly fetchObjects: 'light' | 'standard';
  /**
   * Handler modules to import before listening: those the previous generation had loaded. A
   * reload whose code no longer imports then fails before it serves, and the old workers stay.
   */
  readonly preload: readonly string[];
  /** What the listening socket speaks (absent: FastCGI). */
  readonly protocol?: PoolProtocol;
  /** TCP peers allowed to connect; empty: any. */
  readonly allowedClients: readonly string[];
  /** The umask the pool was started with: the master narrows its own while it binds the socket. */
  readonly umask: number;
  /** Status and ping paths, slow log (ops/status-options.ts); absent: none. */
  readonly status?: StatusOptions;
}

/** Master -> worker, apart from the lifecycle: reopen the log file (SIGUSR1 on the master). */
export const REOPEN_LOG_MESSAGE = { type: 'ff:reopen-log' } as const;

export function isReopenLogMessage(m: unknown): boolean {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === REOPEN_LOG_MESSAGE.type;
}

/** The environment variable that carries WorkerConfig to a forked worker. */
export const WORKER_CONFIG_ENV = 'FORKFAST_POOL_WORKER';

/** Master -> worker. */
export type MasterMessage =
  /** Stop accepting, finish in-flight requests, close idle connections between requests, exit 0. */
  | { readonly type: 'ff:stop' }
  /** Fast stop (SIGINT/SIGQUIT to the master): the same, with a short deadline. */
  | { readonly type: 'ff:quit'; readonly deadlineMs: number };

/** A request in progress, as a worker reports it with its heartbeat (names what a death cut). */
export interface InFlightRequest {
  readonly reqId: string;
  readonly script: string;
  readonly method: string;
  readonly uri: string;
  readonly ms: number;
}

/** Worker -> master. Any message also counts as a heartbeat. */
export type WorkerMessage =
  | { readonly type: 'ff:ready' }
  | { readonly type: 'ff:heartbeat'; readonly inFlight: number; readonly served: number; readonly requests?: readonly InFlightRequest[]; readonly groups?: readonly number[] }
  /** max-requests reached, or an uncaught exception: replace me; I serve until told to stop. */
  | { readonly type: 'ff:retire'; readonly served: number }
  /** The worker cannot start (bad listen address, port in use...): the reason, before exit 3. */
  | { readonly type: 'ff:boot-error'; readonly message: string; readonly importFailure?: ImportFailure }
  /** A handler module imported: the next generation preloads it. */
  | { readonly type: 'ff:loaded'; readonly file: string }
  /** Status pages (status-messages.ts). */
  | StatusWorkerMessage;

/** Exit code of a worker that failed to boot (gunicorn's WORKER_BOOT_ERROR). */
export const WORKER_BOOT_ERROR = 3;

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string' && (m as { type: string }).type.startsWith('ff:');
}

export function isMasterMessage(m: unknown): m is MasterMessage {
  const type = typeof m === 'object' && m !== null ? (m as { type?: unknown }).type : undefined;
  return type === 'ff:stop' || type === 'ff:quit';
}
