// A worker's own stderr, where handler modules' console.error goes: tagged and capped.
//
// Programs' stderr is capped at 64 KiB per run (spawn/child.ts). A handler module shares its
// worker's process, so its writes cannot be told apart per request; the same 64 KiB applies per
// second of the worker instead: two 100 MB floods can no longer grow the log by 200 MB. What is
// kept becomes log lines of the worker (so it carries `worker` and `pid`), not raw bytes between
// JSON lines.
import type { Logger } from '../log.js';

export function capModuleStderr(log: Logger, limitBytes = 64 * 1024, windowMs = 1000): void {
  let used = 0;
  let dropped = 0;
  let windowStart = Date.now();
  const write = (chunk: unknown, encoding?: unknown, cb?: unknown): boolean => {
    const now = Date.now();
    if (now - windowStart >= windowMs) {
      if (dropped > 0) log.warn({ droppedBytes: dropped, limitBytes, windowMs }, 'handler module stderr over its limit: the rest was dropped');
      used = 0;
      dropped = 0;
      windowStart = now;
    }
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) || chunk instanceof Uint8Array ? Buffer.from(chunk).toString('utf8') : String(chunk);
    const len = Buffer.byteLength(text);
    if (used + len > limitBytes) {
      if (dropped === 0) log.warn({ limitBytes, windowMs }, 'handler module stderr over its limit: dropping the rest of this window');
      dropped += len;
    } else {
      used += len;
      log.warn({ stderr: text.endsWith('\n') ? text.slice(0, -1) : text }, 'handler module wrote to stderr');
    }
    const callback = typeof encoding === 'function' ? encoding : cb;
    if (typeof callback === 'function') queueMicrotask(() => (callback as () => void)());
    return true;
  };
  process.stderr.write = write as typeof process.stderr.write;
}
