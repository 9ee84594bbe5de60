// What a spawn backend (node's child_process or the native clone addon) hands the spawner.
import type { Readable, Writable } from 'node:stream';
import type { SpawnRequest } from './types.js';

/** How the kernel ended the process, as waitid(2) reports it. */
export interface RawExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A started child, before the spawner adds timeouts, kill escalation and stderr lines. */
export interface RawChild {
  /** Also the id of its process group: every backend makes the child a group leader. */
  readonly pid: number;
  /** Null when the request has no body: the child's stdin is then /dev/null (EOF at once). */
  readonly stdin: Writable | null;
  /** A net.Socket over the pipe: `bytesRead` tells the idle timer whether output moved. */
  readonly stdout: Readable & { readonly bytesRead?: number };
  readonly stderr: Readable;
  /**
   * Ends stdout where it stands (EOF after the bytes already read) and closes our end of the
   * pipe: the script is gone and a descendant that escaped its group still holds the pipe.
   */
  endStdout(): void;
  /** Resolves once the child was reaped (never rejects). */
  readonly reaped: Promise<RawExit>;
}

/** Starts one child or rejects with a SpawnError that says why it could not. */
export type StartChild = (request: SpawnRequest) => Promise<RawChild>;
