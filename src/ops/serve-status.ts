// `serve`'s status document: the embedded pool's PHP-FPM fields, its own /cgi-bin/ children added
// to the pool's forked programs, and the HTTP front's figures.
import type { EmbeddedPool } from '../pool/master.js';
import { cgiStatus, EXIT_CAUSES, type CgiStatus, type ExitCause, type PoolStatus } from '../pool/pool-status.js';
import type { Spawner } from '../spawn/types.js';
import type { RequestCounts } from './request-counts.js';

export interface FrontFigures {
  inFlight(): number;
}

export interface ServeStatusSources {
  readonly version: string;
  readonly poolName: string;
  /** Absent with --upstream: the workers are another process's (read its own status). */
  readonly pool: EmbeddedPool | undefined;
  readonly spawner: Spawner;
  readonly front: FrontFigures;
  readonly counts: RequestCounts;
}

const startedAt = Date.now();

export interface ServeStatus extends PoolStatus {
  readonly http: { readonly 'in flight': number; readonly requests: number };
  readonly forkfast: { readonly version: string; readonly pid: number; readonly 'spawn backend': string };
}

function emptyPool(name: string): PoolStatus {
  const now = Date.now();
  return {
    pool: name,
    'process manager': 'static',
    'start time': Math.floor(startedAt / 1000),
    'start since': Math.floor((now - startedAt) / 1000),
    'accepted conn': 0,
    'listen queue': 0,
    'max listen queue': 0,
    'listen queue len': 0,
    'idle processes': 0,
    'active processes': 0,
    'total processes': 0,
    'max active processes': 0,
    'max children reached': 0,
    'slow requests': 0,
    generation: 0,
    'worker exits': Object.fromEntries(EXIT_CAUSES.map((c) => [c, 0])) as Record<ExitCause, number>,
    cgi: cgiStatus({ running: 0, queued: 0, spawned: 0, maxChildrenReached: 0, refused: 0, timedOut: 0, killed: 0 }),
  };
}

export async function serveStatus(src: ServeStatusSources, full: boolean): Promise<ServeStatus> {
  const pool = src.pool ? await src.pool.status(full) : { ...emptyPool(src.poolName), ...(full ? { processes: [] } : {}) };
  const front = cgiStatus(src.spawner.stats());
  const cgi = Object.fromEntries(Object.entries(pool.cgi).map(([k, v]) => [k, v + front[k as keyof CgiStatus]])) as CgiStatus;
  return {
    ...pool,
    'max children reached': cgi['max children reached'],
    cgi,
    http: { 'in flight': src.front.inFlight(), requests: src.counts.total() },
    forkfast: { version: src.version, pid: process.pid, 'spawn backend': src.spawner.backend },
  };
}
