// Parent side of the load generator: forks load-worker, relays its progress, enforces a deadline.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadJob, LoadMessage } from './load-worker.js';
import type { LoadResult } from './types.js';
import type { LiveLatency } from './stats.js';

const WORKER = fileURLToPath(new URL('./load-worker.js', import.meta.url));

export interface LoadHooks {
  onStage?(stage: 'warmup' | 'measure'): void;
  /** `latency`: the last second's percentiles, each only when enough samples support it. */
  onProgress?(elapsedS: number, responses: number, latency?: LiveLatency): void;
}

/**
 * Runs one phase of load in its own process. Rejects if the worker fails, exits without a
 * result, or outlives warmup + duration + grace (it is then killed): a bench never hangs.
 */
export function runLoad(job: Omit<LoadJob, 'type'>, hooks: LoadHooks = {}, graceMs = 15000): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    // No inherited execArgv: a --cpu-prof or --inspect of the bench must not land on the load.
    const child = fork(WORKER, [], { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      stderr = (stderr + s).slice(-2000);
    });
    let settled = false;
    const settle = (err: Error | null, res?: LoadResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (err) reject(err);
      else resolve(res as LoadResult);
    };
    const deadline = setTimeout(
      () => settle(new Error(`the load generator did not finish within ${job.warmup + job.duration} s + ${graceMs / 1000} s`)),
      (job.warmup + job.duration) * 1000 + graceMs,
    );
    child.on('message', (msg: LoadMessage) => {
      if (msg.type === 'stage') hooks.onStage?.(msg.stage);
      else if (msg.type === 'progress') hooks.onProgress?.(msg.elapsedS, msg.responses, msg.latency);
      else if (msg.type === 'result') settle(null, msg.result);
      else if (msg.type === 'error') settle(new Error(msg.message));
    });
    child.once('error', (err) => settle(err));
    // 'close', not 'exit': by then every IPC message and stderr byte has been read.
    child.once('close', (code, signal) => {
      const why = signal ?? `code ${code}`;
      settle(new Error(`the load generator exited (${why}) without a result${stderr ? `: ${stderr.trim()}` : ''}`));
    });
    child.send({ type: 'run', ...job } satisfies LoadJob);
  });
}
