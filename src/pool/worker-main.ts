// Entry point of a pool worker process, forked by the master (node:cluster): read config, serve.
// The same entry runs the socket keeper (keeper.ts) when the master asks for one.
import { createLogger, openLogFileSync } from '../log.js';
import type { ListenAddress } from '../config-parse.js';
import { runWorker } from './worker.js';
import { KEEPER_ENV, runKeeper } from './keeper.js';
import { WORKER_CONFIG_ENV, isReopenLogMessage, type WorkerConfig } from './types.js';

const keeper = process.env[KEEPER_ENV];
const raw = process.env[WORKER_CONFIG_ENV];
if (keeper !== undefined && process.send !== undefined) {
  runKeeper(JSON.parse(keeper) as ListenAddress);
} else if (raw === undefined || process.send === undefined) {
  process.stderr.write(`forkfast pool worker: run by the pool master only (no ${WORKER_CONFIG_ENV} or IPC channel)\n`);
  process.exit(2);
} else {
  const config = JSON.parse(raw) as WorkerConfig;
  // Workers write JSON lines synchronously to the shared stdout: a worker may be SIGKILLed, and
  // its last lines (why it blocked, what it was doing) are the ones an operator needs.
  // With --log-file they append to it (O_APPEND: whole lines, never interleaved with the master's)
  // and reopen it when the master got SIGUSR1.
  const file = config.logFile === undefined ? undefined : openLogFileSync(config.logFile);
  if (file) process.on('message', (m: unknown) => isReopenLogMessage(m) && file.reopen());
  const base = file
    ? createLogger({ level: config.logLevel, pretty: false, destination: file })
    : createLogger(config.pretty ? { level: config.logLevel, pretty: true } : { level: config.logLevel, pretty: false, destination: process.stdout });
  runWorker(config, base.child({ component: 'worker', worker: config.id, generation: config.generation }));
}
