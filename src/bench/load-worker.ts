// The load generator process: forked by the bench, runs autocannon, reports over IPC (never shares the server's CPU accounting).
import type { LoadResult } from './types.js';
import { liveLatency, summarizeLatencies, type LiveLatency } from './stats.js';

/** Parent → worker: the one job of this process. */
export interface LoadJob {
  type: 'run';
  url: string;
  connections: number;
  duration: number;
  warmup: number;
  /** Per-request timeout, seconds: a hung request counts as an error, it does not stall the run. */
  timeoutS: number;
}

/** Worker → parent. */
export type LoadMessage =
  | { type: 'stage'; stage: 'warmup' | 'measure' }
  | { type: 'progress'; elapsedS: number; responses: number; latency?: LiveLatency }
  | { type: 'result'; result: LoadResult }
  | { type: 'error'; message: string };

// The subset of autocannon's API we use (the package ships no types).
interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
}
interface AutocannonInstance {
  on(event: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): void;
  stop(): void;
}
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, res: AutocannonResult) => void) => AutocannonInstance;

async function loadAutocannon(): Promise<Autocannon> {
  const specifier = 'autocannon';
  try {
    const mod = (await import(specifier)) as { default: Autocannon };
    return mod.default;
  } catch (err) {
    throw new Error(`the load generator needs the autocannon package (npm install autocannon): ${(err as Error).message}`);
  }
}

function send(msg: LoadMessage): void {
  if (process.connected && process.send) process.send(msg);
}

/** The last message, then leave: disconnect only once it was handed to the channel. */
function finish(msg: LoadMessage): void {
  if (!process.connected || !process.send) return;
  process.send(msg, () => process.disconnect());
}

/** Grows like a vector; latencies of one run, in ms. */
class Samples {
  private buf = new Float64Array(1 << 16);
  length = 0;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  view(): Float64Array {
    return this.buf.subarray(0, this.length);
  }
}

function runOnce(ac: Autocannon, job: LoadJob, seconds: number, samples: Samples | null): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const opts = { url: job.url, connections: job.connections, duration: seconds, pipelining: 1, timeout: job.timeoutS };
    const instance = ac(opts, (err, res) => {
      clearInterval(tick);
      if (err) reject(err);
      else resolve(res);
    });
    let responses = 0;
    instance.on('response', (_client, _status, _bytes, ms) => {
      responses++;
      samples?.push(ms);
    });
    // Each tick: the latencies of the last second (four ticks), for live charts (the lab).
    const marks = [0, 0, 0, 0];
    let ticks = 0;
    const tick = setInterval(() => {
      const from = marks[ticks % 4]!;
      const latency = samples === null ? undefined : liveLatency(samples.view().subarray(from));
      marks[ticks++ % 4] = samples?.length ?? 0;
      send({ type: 'progress', elapsedS: (Date.now() - started) / 1000, responses, ...(latency === undefined ? {} : { latency }) });
    }, 250);
  });
}

async function run(job: LoadJob): Promise<void> {
  const ac = await loadAutocannon();
  if (job.warmup > 0) {
    send({ type: 'stage', stage: 'warmup' });
    await runOnce(ac, job, job.warmup, null);
  }
  send({ type: 'stage', stage: 'measure' });
  const samples = new Samples();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const res = await runOnce(ac, job, job.duration, samples);
  const cpu = process.cpuUsage(cpu0);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  const result: LoadResult = {
    durationS: res.duration,
    responses: samples.length,
    ok: res['2xx'],
    non2xx: res.non2xx,
    errors: res.errors,
    timeouts: res.timeouts,
    latency: summarizeLatencies(samples.view()),
    generatorCpuPercent: wallUs > 0 ? (100 * (cpu.user + cpu.system)) / wallUs : 0,
  };
  finish({ type: 'result', result });
}

// The parent going away (crash, Ctrl-C) ends this process too: no orphaned load.
process.on('disconnect', () => process.exit(0));
process.once('message', (msg: LoadJob) => {
  run(msg).catch((err: unknown) => finish({ type: 'error', message: err instanceof Error ? err.message : String(err) }));
});
