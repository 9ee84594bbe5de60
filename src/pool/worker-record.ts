// What the master remembers about each worker process, and its restart policy (back-off).
import type { Worker } from 'node:cluster';
import type { InFlightRequest, WorkerState } from './types.js';
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
  /** What was in progress at the last heartbeat (capped), for the log line if the worker dies. */
  requests: readonly InFlightRequest[];
  /** Process groups of the programs it runs (last report): killed if the worker dies. */
  groups: readonly number[];
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

/** Consecutive boot failures (no worker became ready in between) before a pool that never served gives up. */
export const MAX_BOOT_FAILURES = 5;

/** Crashes counted for the back-off are those of the last CRASH_WINDOW_MS. */
export const CRASH_WINDOW_MS = 10_000;

/**
 * Why a worker the master did not end has died, which decides what happens next:
 * - killed: a signal from outside (kill -9, the OOM killer, a chaos test). Not the code's fault
 *   and not a boot failure: it is replaced at once, booting or not (gunicorn and PHP-FPM respawn
 *   such children at once too).
 * - boot-failure: the worker exited (or crashed natively) before it listened: its code or
 *   configuration cannot start. Repeated, these back off, and stop a pool that never served.
 * - crash: it exited or crashed natively after it listened (process.exit in a handler, SIGSEGV,
 *   SIGABRT of a V8 out-of-memory). Replaced; repeated crashes back off.
 */
export type DeathKind = 'killed' | 'boot-failure' | 'crash';

/** Signals a worker never sends itself: someone else ended it. */
const OUTSIDE_SIGNALS = new Set(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGPIPE', 'SIGALRM']);

export function classifyDeath(r: Pick<WorkerRecord, 'readyAt' | 'exit' | 'endedBy'>): DeathKind {
  // The master's own SIGKILL at the boot deadline: the worker did not start listening.
  if (r.endedBy === 'boot-timeout') return 'boot-failure';
  if (r.exit?.signal != null && OUTSIDE_SIGNALS.has(r.exit.signal)) return 'killed';
  return r.readyAt === 0 ? 'boot-failure' : 'crash';
}

/**
 * Delay before the next spawn. The first crash in a window is replaced at once (a crash must
 * not cost capacity); repeated crashes and boot failures back off exponentially, up to 5 s, so
 * a broken deploy does not become a fork bomb (PHP-FPM's emergency_restart_threshold idea).
 * Workers killed from outside are not counted: each kill is paid for by whoever sent it.
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

/**
 * The programs of a worker that died without its cleanup (SIGKILL, a crash): each led its own
 * process group, and the group outlives its leader (a background grandchild). The leader itself
 * got SIGKILL from the kernel (PR_SET_PDEATHSIG, native spawner); this ends the rest. A group id
 * is not reused while any process of the group lives, so a group still there is still ours.
 */
export function killOrphans(r: WorkerRecord): void {
  for (const pgid of r.groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // ESRCH: the group is already empty.
    }
  }
}
