// How the master forks one worker: node:cluster setup (SCHED_NONE), the fork, its record and events.
import cluster, { type Worker } from 'node:cluster';
import type { ListenAddress } from '../config-parse.js';
import { KEEPER_ENV } from './keeper.js';
import { WORKER_CONFIG_ENV, isWorkerMessage, type WorkerConfig, type WorkerMessage } from './types.js';
import type { WorkerRecord } from './worker-record.js';

export interface ForkEvents {
  onMessage(r: WorkerRecord, m: WorkerMessage): void;
  /** The process ended (the master's loop reaps it). */
  onExit(r: WorkerRecord): void;
  /** An IPC error (a send to a worker that just died). */
  onError(r: WorkerRecord, err: Error): void;
}

/**
 * One cluster setup per process; SCHED_NONE must be set before the first fork. With it, the
 * master creates the listening handle and passes it to each worker over IPC; the workers accept
 * (the kernel spreads the connections). Round-robin would have the master accept every
 * connection and hand it on: the master would sit on the request path.
 */
export function setupCluster(workerEntry: string): void {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  // Node's test runner flags must not leak into workers; keep the rest (e.g. --enable-source-maps).
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--test'));
  cluster.setupPrimary({ exec: workerEntry, args: [], execArgv, silent: false });
}

/** Forks a worker with its config (JSON in its environment) and wires its events to `events`. */
export function forkWorker(config: WorkerConfig, bootTimeoutMs: number, events: ForkEvents): WorkerRecord {
  const worker = cluster.fork({ [WORKER_CONFIG_ENV]: JSON.stringify(config) });
  const now = Date.now();
  const r: WorkerRecord = {
    id: config.id,
    worker,
    pid: worker.process.pid ?? 0,
    generation: config.generation,
    state: 'booting',
    spawnedAt: now,
    readyAt: 0,
    lastBeat: now,
    served: 0,
    inFlight: 0,
    requests: [],
    groups: [],
    deadline: now + bootTimeoutMs,
    endedBy: null,
    bootError: null,
    importFailure: null,
    exit: null,
  };
  worker.on('message', (m: unknown) => {
    if (isWorkerMessage(m)) events.onMessage(r, m);
  });
  worker.on('exit', (code: number | null, signal: string | null) => {
    r.exit = { code, signal };
    events.onExit(r);
  });
  worker.on('error', (err: Error) => {
    events.onError(r, err);
    // The fork itself failed (EAGAIN, ENOMEM): no process, no 'exit' to wait for.
    if (r.pid <= 0 && r.exit === null) {
      r.exit = { code: null, signal: null };
      events.onExit(r);
    }
  });
  return r;
}

/**
 * The socket keeper (keeper.ts) as the master runs it: one while the pool runs, a dead one
 * replaced at most once a second, ended last when the pool stops (its exit closes the socket).
 */
export class KeeperSlot {
  private keeper: Worker | null = null;
  private nextAt = 0;

  constructor(
    private readonly listen: ListenAddress,
    /** Called when the keeper exits (the master's loop acts on it). */
    private readonly onExit: () => void,
  ) {}

  get running(): boolean {
    return this.keeper !== null;
  }

  /** Forks a keeper if none runs (and the last one did not start within the second). */
  ensure(): void {
    if (this.keeper !== null || Date.now() < this.nextAt) return;
    this.nextAt = Date.now() + 1000;
    const keeper = cluster.fork({ [KEEPER_ENV]: JSON.stringify(this.listen) });
    keeper.on('error', () => {});
    keeper.on('exit', () => {
      if (this.keeper === keeper) this.keeper = null;
      this.onExit();
    });
    this.keeper = keeper;
  }

  /** SIGKILL: it runs no code of its own (its event loop is blocked). */
  drop(): void {
    const pid = this.keeper?.process.pid;
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone: its 'exit' event is on the way
    }
  }
}
