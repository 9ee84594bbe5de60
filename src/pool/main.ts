// A bare entry for the pool until `forkfast pool` is wired: `node main.js '<json PoolOptions>'`.
// Tests use it to run a master as a real process; missing fields take the CLI's defaults.
import { resolve } from 'node:path';
import { createLogger, type LogLevel } from '../log.js';
import { runPool } from './master.js';
import type { PoolOptions } from './types.js';

interface PartialOptions {
  listen?: string;
  cgiBin?: string;
  workers?: number;
  maxRequests?: number;
  maxRequestsJitter?: number;
  workerTimeoutMs?: number;
  shutdownTimeoutMs?: number;
  cgiTimeoutMs?: number;
  pidFile?: string;
  logLevel?: LogLevel;
}

function listenAddress(text: string): PoolOptions['listen'] {
  if (text.includes('/')) return { kind: 'unix', path: resolve(text) };
  const i = text.lastIndexOf(':');
  return i < 0 ? { kind: 'tcp', host: '127.0.0.1', port: Number(text) } : { kind: 'tcp', host: text.slice(0, i), port: Number(text.slice(i + 1)) };
}

const o = JSON.parse(process.argv[2] ?? '{}') as PartialOptions;
const options: PoolOptions = {
  listen: listenAddress(o.listen ?? '127.0.0.1:9000'),
  logLevel: o.logLevel ?? 'info',
  scripts: {
    cgiBin: resolve(o.cgiBin ?? 'cgi-bin'),
    cgiTimeoutMs: o.cgiTimeoutMs ?? 60_000,
    cgiIdleTimeoutMs: 30_000,
    maxChildren: 16,
    queueSize: 256,
    spawnBackend: 'auto',
    passEnv: {},
    passAuthorization: false,
  },
  pool: {
    workers: o.workers ?? 2,
    maxRequests: o.maxRequests ?? 0,
    maxRequestsJitter: o.maxRequestsJitter ?? 0,
    workerTimeoutMs: o.workerTimeoutMs ?? 30_000,
  },
  shutdownTimeoutMs: o.shutdownTimeoutMs ?? 10_000,
  pidFile: o.pidFile,
};
const log = createLogger({ level: options.logLevel, pretty: false, destination: process.stdout });
process.exitCode = await runPool(options, log);
