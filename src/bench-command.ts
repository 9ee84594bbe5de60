// `forkfast bench`: fork cost against the resident pool (the options of the CLI, turned into BenchOptions).
import { UsageError } from './errors.js';
import { createLogger } from './log.js';
import { parseInteger } from './config-parse.js';
import { runBench } from './bench/run.js';
import type { BenchOptions } from './bench/types.js';

function seconds(value: unknown, what: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`invalid ${what}: "${String(value)}" (expected seconds)`);
  return n;
}

export async function runBenchCommand(scripts: string[], flags: Record<string, unknown>): Promise<number> {
  const options: BenchOptions = {
    scripts,
    duration: seconds(flags['duration'], 'duration'),
    warmup: seconds(flags['warmup'], 'warm-up'),
    connections: parseInteger(flags['connections'], 'connection count', 1, 10_000),
    ...(flags['url'] !== undefined ? { url: String(flags['url']) } : {}),
    ...(flags['out'] !== undefined ? { out: String(flags['out']) } : {}),
    ...(flags['json'] !== undefined ? { json: String(flags['json']) } : {}),
    ...(flags['cgiBin'] !== undefined ? { cgiBin: String(flags['cgiBin']) } : {}),
    ...(flags['workers'] !== undefined ? { workers: parseInteger(flags['workers'], 'worker count', 1, 1024) } : {}),
  };
  // The bench talks to the user on stdout/stderr; its own log is for warnings only.
  const log = createLogger({ level: 'warn', destination: process.stderr });
  return runBench(options, log);
}
