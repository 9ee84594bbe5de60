// What the master remembers about each worker process, and its restart policy (back-off).
import type { Worker } from 'node:cluster';
import type { WorkerState } from './types.js';
import type { ImportFailure } from './reload-state.js';

export interface WorkerRecord {
  /** The pool's own worker number (increasing, never reused), as in the logs. */
  readonly id: number;
  readonly worker: Worker;
  readonly pid: number;
  /** Bumped by each reload: workers of an older generation are outgoing. */
  readonly generation: number;
  state: WorkerState;
  readonly spawnedAt: number;
  /** 0 until the worker said it listens. */
  readyAt: number;
  /** Last message of any kind: the heartbeat (gunicorn touches a temp file; we use the IPC). */
  lastBeat: number;
  served: number;
  inFlight: number;
  /** booting: boot deadline; stopping: drain deadline; killed: unused. */
  deadline: number;
  /** Set when the master decided to end the worker (why), so reap tells planned from crash. */
  endedBy: 'stop' | 'timeout' | 'boot-timeout' | null;
  /** The reason a worker sent before exiting with WORKER_BOOT_ERROR. */
  bootError: string | null;
  /** Set when that reason is a handler module that does not import (a reload then gives up). */
  importFailure: ImportFailure | null;
  /** Set by the 'exit' event; reap() removes the record. */
  exit: { readonly code: number | null; readonly signal: string | null } | null;
}

/** Consecutive boot failures (no worker became ready in between) before the master gives up. */
export const MAX_BOOT_FAILURES = 5;

/** Crashes counted for the back-off are those of the last CRASH_WINDOW_MS. */
export const CRASH_WINDOW_MS = 10_000;

/**
 * Delay before the next spawn. The first crash in a window is replaced at once (a kill -9 must
 * not cost capacity); repeated crashes and boot failures back off exponentially, up to 5 s, so
 * a broken deploy does not become a fork bomb (PHP-FPM's emergency_restart_threshold idea).
 */
export function backoffMs(recentCrashes: number, bootFailures: number): number {
  const n = Math.max(recentCrashes - 1, bootFailures);
  return n <= 0 ? 0 : Math.min(100 * 2 ** (n - 1), 5000);
}

/** A short human description of an exit for log lines. */
export function describeExit(exit: { code: number | null; signal: string | null }): string {
  return exit.signal !== null ? `killed by ${exit.signal}` : `exit code ${exit.code ?? '?'}`;
}

/** Serving or about to: counts toward the target number of workers of its generation. */
export function isActive(r: WorkerRecord): boolean {
  return r.state === 'booting' || r.state === 'ready';
}
