// Entry point of a pool worker process, forked by the master (node:cluster): read config, serve.
import { createLogger } from '../log.js';
import { runWorker } from './worker.js';
import { WORKER_CONFIG_ENV, type WorkerConfig } from './types.js';

const raw = process.env[WORKER_CONFIG_ENV];
if (raw === undefined || process.send === undefined) {
  process.stderr.write(`forkfast pool worker: run by the pool master only (no ${WORKER_CONFIG_ENV} or IPC channel)\n`);
  process.exit(2);
}
const config = JSON.parse(raw) as WorkerConfig;
// Workers write JSON lines synchronously to the shared stdout: a worker may be SIGKILLed, and
// its last lines (why it blocked, what it was doing) are the ones an operator needs.
const base = createLogger(config.pretty ? { level: config.logLevel, pretty: true } : { level: config.logLevel, pretty: false, destination: process.stdout });
runWorker(config, base.child({ component: 'worker', worker: config.id, generation: config.generation }));
