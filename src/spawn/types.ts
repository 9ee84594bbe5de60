// The contract between the gateways (CGI, pool worker) and the process spawner (`spawn/spawner`).
import type { Readable } from 'node:stream';

export interface SpawnRequest {
  /** Absolute real path of the program; run with execve semantics, never through a shell. */
  readonly file: string;
  /** argv after argv[0]; the gateways pass [] (never the query string: CVE-2012-1823). */
  readonly args: readonly string[];
  /** Working directory: the script's directory. */
  readonly cwd: string;
  /** The complete environment of the child: nothing else is inherited. */
  readonly env: Readonly<Record<string, string>>;
  /** The request body, piped to stdin with backpressure; null closes stdin at once. */
  readonly stdin: Readable | null;
  /** Kill the child if it produces no stdout for this long (ms); 0 disables. */
  readonly idleTimeoutMs: number;
  /** Kill the child after this long in all (ms); 0 disables. */
  readonly timeoutMs: number;
  /** Called with each complete stderr line (capped per child by the spawner). */
  readonly onStderrLine?: (line: string) => void;
}

export type ExitReason = 'exited' | 'killed' | 'timeout' | 'idle-timeout' | 'aborted';

export interface ChildExit {
  /** Exit code, or null when a signal ended it. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Why it ended: by itself, or killed by us for a timeout or an abort. */
  readonly reason: ExitReason;
}

export interface SpawnedChild {
  readonly pid: number;
  /** The child's stdout: the CGI response. Ends when the child closes it. */
  readonly stdout: Readable;
  /**
   * Resolves once the child was reaped and its stderr read to EOF, so every onStderrLine call
   * came before it (the EOF wait is bounded: a grandchild may hold stderr open). Never rejects.
   */
  readonly exited: Promise<ChildExit>;
  /** SIGTERM to the child's process group, SIGKILL after the grace period; idempotent. */
  kill(reason: ExitReason): void;
}

/** Thrown (rejected) by spawn() when the program cannot be started at all. */
export class SpawnError extends Error {
  override readonly name = 'SpawnError';
  /** errno code such as ENOENT, EACCES, ENOEXEC, or 'EQUEUEFULL' when the queue is full. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * What spawn() needs of an abort signal: an AbortSignal, or the front's lighter per-request
 * switch (gateway/flow ClientGone), which holds one listener at a time.
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface Spawner {
  /** Which mechanism runs children: the native clone helper or node's child_process. */
  readonly backend: 'native' | 'node';
  /** Starts a child, waiting in the bounded queue if maxChildren are running. */
  spawn(request: SpawnRequest, signal?: AbortSignalLike): Promise<SpawnedChild>;
  /** Children running now, and requests waiting for a slot. */
  stats(): SpawnerStats;
  /** Process group ids of the children running now (each child leads its own group). */
  groups(): number[];
  /** Kills every child (TERM, grace, KILL) and waits until all are reaped. */
  close(): Promise<void>;
}

export interface SpawnerOptions {
  /** Children running at once; more wait in the queue. */
  readonly maxChildren: number;
  /** Requests allowed to wait; past it spawn() rejects with SpawnError('EQUEUEFULL'). */
  readonly queueSize: number;
  /** Grace between SIGTERM and SIGKILL (ms). */
  readonly killGraceMs: number;
  /** Per-child cap on stderr bytes passed to onStderrLine. */
  readonly stderrLimit: number;
  /** 'auto' uses the native helper when it was built, 'node' forces child_process. */
  readonly backend: 'auto' | 'native' | 'node';
}

/** Counts for status pages: children now, and since start. */
export interface SpawnerStats {
  readonly running: number;
  readonly queued: number;
  readonly spawned: number;
  /** Requests that found every child slot taken (queued or refused): PHP-FPM's "max children reached". */
  readonly maxChildrenReached: number;
  /** Requests refused with 503 because the wait queue was full too. */
  readonly refused: number;
  /** Children killed for --cgi-timeout or --cgi-idle-timeout. */
  readonly timedOut: number;
  /** Children killed for another reason: client gone, shutdown. */
  readonly killed: number;
}
