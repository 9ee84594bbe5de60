// The IPC messages of the status pages: the master asks each worker for its scoreboard.
import type { SpawnerStats } from '../spawn/types.js';
import type { WorkerReport } from './worker-state.js';

/** A worker's report with its forked programs' counts (the pool forks programs per request). */
export interface WorkerReportWithCgi extends WorkerReport {
  readonly cgi: SpawnerStats;
}

/** Master -> worker: send your scoreboard now. */
export interface ReportQuery {
  readonly type: 'ff:report?';
}

/** Master -> worker: the answer to a worker's StatusQuery (the whole pool's status, rendered there). */
export interface StatusAnswer {
  readonly type: 'ff:status';
  readonly id: number;
  readonly status: unknown;
}

/** Worker -> master: the scoreboard, answering ReportQuery (and carried by no other message). */
export interface ReportMessage {
  readonly type: 'ff:report';
  readonly report: WorkerReportWithCgi;
}

/** Worker -> master: a request for the status path arrived here; send the pool's status. */
export interface StatusQuery {
  readonly type: 'ff:status?';
  readonly id: number;
  readonly full: boolean;
}

export type StatusMasterMessage = ReportQuery | StatusAnswer;
export type StatusWorkerMessage = ReportMessage | StatusQuery;

export function isStatusMasterMessage(m: unknown): m is StatusMasterMessage {
  const type = typeof m === 'object' && m !== null ? (m as { type?: unknown }).type : undefined;
  return type === 'ff:report?' || type === 'ff:status';
}
