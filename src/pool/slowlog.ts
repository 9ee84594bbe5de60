// --slow-request (PHP-FPM's request_slowlog_timeout): one log line per request that runs past the
// threshold, and for a handler that holds the event loop, the JavaScript stack it is running.
//
// A request that awaits (I/O, a timer) leaves the event loop free: a sweep here sees it and logs
// it; its stack is only the sweep's own, so none is logged. A handler that spins holds the loop:
// nothing on this thread runs until it returns. PHP-FPM ptraces its child from the master for
// this (and loses the ability in containers without CAP_SYS_PTRACE). Node can do it from inside:
// a watcher thread (slowlog-thread.ts) sees the loop's beat stop, connects an inspector session
// to this main thread (inspector.Session#connectToMainThread), and asks it to evaluate a call to
// a hook here (Runtime.evaluate). V8 runs that evaluation in an interrupt, on top of the
// spinning handler's frames: the hook captures the stack (the handler's, below it) and the
// request's details, in about 2 ms, without enabling the debugger. Nothing of this runs per
// request: the request path only writes two fields in the scoreboard.
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import type { LiveRequest, Scoreboard } from './worker-state.js';

/** The global the watcher thread calls while the main thread is paused (see slowlog-thread.ts). */
export const SLOW_HOOK = Symbol.for('forkfast.slowRequest');

/** Shared with the thread: [0] the loop's beat count, [1] the threshold (ms). */
export interface SlowlogShared {
  readonly beat: Int32Array;
}

export interface SlowFields {
  readonly pool: string;
  readonly script: string;
  readonly method: string;
  readonly uri: string;
  readonly durationMs: number;
}

function fieldsOf(pool: string, e: LiveRequest, now: number): SlowFields {
  const p = e.r.params;
  return {
    pool,
    script: p.get('SCRIPT_FILENAME') ?? p.get('SCRIPT_NAME') ?? '-',
    method: p.get('REQUEST_METHOD') ?? '-',
    uri: p.get('REQUEST_URI') ?? '-',
    durationMs: Math.round(now - e.started),
  };
}

/** Frames kept (PHP-FPM's request_slowlog_trace_depth defaults to 20). */
const DEPTH = 20;

/** The JavaScript frames under `fn`'s caller: the inspector's evaluation frame is dropped. */
function stackBelow(fn: (...args: never[]) => unknown): string[] {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = DEPTH + 1;
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, fn);
  Error.stackTraceLimit = limit;
  return (holder.stack ?? '')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().replace(/^at /, ''))
    .filter((l) => l !== '' && !/^<anonymous>:\d+:\d+$/.test(l))
    .slice(0, DEPTH);
}

export class Slowlog {
  private readonly sweeper: NodeJS.Timeout;
  private readonly thread: Worker | null = null;
  private readonly beat = new Int32Array(new SharedArrayBuffer(8));

  constructor(
    private readonly thresholdMs: number,
    private readonly pool: string,
    private readonly board: Scoreboard,
    private readonly log: Logger,
  ) {
    const every = Math.max(10, Math.min(250, Math.floor(thresholdMs / 4)));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
    Atomics.store(this.beat, 1, thresholdMs);
    // The thread's call into this isolate: it runs inside V8's interrupt, on top of the handler's
    // frames, so a stack captured here is the handler's. Claims the oldest unreported request.
    const hook = (): string | null => {
      const stack = stackBelow(hook);
      // An empty stack: the loop was free by the time the interrupt ran; the sweep reports it.
      if (stack.length === 0) return null;
      const now = performance.now();
      const e = this.claim(now - this.thresholdMs);
      return e === null ? null : JSON.stringify({ ...fieldsOf(this.pool, e, now), stack });
    };
    (globalThis as Record<symbol, unknown>)[SLOW_HOOK] = hook;
    try {
      this.thread = new Worker(new URL('./slowlog-thread.js', import.meta.url), { workerData: { beat: this.beat, pid: process.pid, everyMs: every } });
      this.thread.unref();
      this.thread.on('error', (err) => this.log.warn({ err }, 'slow log watcher thread failed; slow requests are still logged, without stacks'));
    } catch (err) {
      this.log.warn({ err }, 'cannot start the slow log watcher thread; slow requests are logged without stacks');
    }
  }

  /** The oldest in-flight request started before `before` and not reported yet; marks it. */
  private claim(before: number): LiveRequest | null {
    let found: LiveRequest | null = null;
    for (const e of this.board.live) if (!e.slow && e.started <= before && (found === null || e.started < found.started)) found = e;
    if (found !== null) {
      found.slow = true;
      this.board.slowRequests += 1;
    }
    return found;
  }

  private sweep(): void {
    Atomics.add(this.beat, 0, 1);
    const now = performance.now();
    for (let e = this.claim(now - this.thresholdMs); e !== null; e = this.claim(now - this.thresholdMs)) {
      // The loop is free, so the handler is waiting (I/O, a timer, a promise): no stack to show.
      this.log.warn({ ...fieldsOf(this.pool, e, now), waiting: true }, 'slow request');
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    void this.thread?.terminate();
  }
}
