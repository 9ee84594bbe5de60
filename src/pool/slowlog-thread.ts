// The slow log's watcher thread: when the worker's event loop stops beating past the threshold,
// it has the main thread report the JavaScript stack through the inspector (slowlog.ts says how).
//
// The log line is written straight to file descriptor 1 with writeSync, in pino's JSON shape: a
// worker thread's process.stdout is relayed by the main thread, which is exactly the thread that
// is not running.
import { writeSync } from 'node:fs';
import { Session } from 'node:inspector';
import { workerData } from 'node:worker_threads';

interface Data {
  readonly beat: Int32Array;
  readonly pid: number;
  readonly everyMs: number;
}

const data = workerData as Data;
const WARN = 40;

let lastBeat = Atomics.load(data.beat, 0);
let lastChange = performance.now();
/** The beat count whose stall was already reported: one line per stall. */
let reported = -1;
let busy = false;

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    session.post(method, params ?? {}, (err: Error | null, result?: unknown) => (err ? reject(err) : resolve(result as T)));
  });
}

function write(fields: Record<string, unknown>): void {
  const line = JSON.stringify({ level: WARN, time: Date.now(), pid: data.pid, component: 'slowlog', ...fields, msg: 'slow request' }) + '\n';
  try {
    writeSync(1, line);
  } catch {
    // stdout closed: nothing to report to.
  }
}

/** Has the main thread run the slow log's hook in an interrupt (slowlog.ts), and logs its answer. */
async function capture(): Promise<void> {
  const session = new Session();
  session.connectToMainThread();
  try {
    const r = await post<{ result: { value?: unknown } }>(session, 'Runtime.evaluate', { expression: `globalThis[Symbol.for('forkfast.slowRequest')]?.() ?? null`, silent: true });
    // null: no unreported request past the threshold, or the loop was free again by then.
    if (typeof r.result.value === 'string') write(JSON.parse(r.result.value) as Record<string, unknown>);
  } finally {
    session.disconnect();
  }
}

setInterval(() => {
  const beat = Atomics.load(data.beat, 0);
  const now = performance.now();
  if (beat !== lastBeat) {
    lastBeat = beat;
    lastChange = now;
    return;
  }
  const threshold = Atomics.load(data.beat, 1);
  // The sweep beats every everyMs: silence past the threshold means the loop is held.
  if (busy || reported === beat || now - lastChange < threshold + data.everyMs) return;
  reported = beat;
  busy = true;
  capture().then(
    () => (busy = false),
    (err: unknown) => {
      busy = false;
      write({ error: err instanceof Error ? err.message : String(err), note: 'could not take the stack' });
    },
  );
}, Math.max(10, Math.floor(data.everyMs / 2)));
