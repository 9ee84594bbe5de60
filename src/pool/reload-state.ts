// The reload state a master keeps next to its pid file, so that `forkfast reload` can tell when
// the reload it asked for is done (or why it failed) without talking to the process.
//
// Why a file and not /proc: a reload that fails (a module that no longer imports) leaves the old
// workers serving, which /proc cannot tell from a reload still booting; the master knows, and
// says why. The file is written whole to a temporary name and renamed over the old one, so a
// reader never sees half of it.
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';

/** Where the state of the master whose pid file is `pidFile` lives. */
export function stateFileOf(pidFile: string): string {
  return `${pidFile}.state`;
}

/** What a module that no longer loads looks like in logs, status and the state file. */
export interface ImportFailure {
  readonly file: string;
  /** 0 when the error names no line. */
  readonly line: number;
  readonly message: string;
}

export interface ReloadState {
  readonly pid: number;
  /** The generation of workers serving now. */
  readonly generation: number;
  /** Reloads asked for so far (signals, edits, the API), numbered from 1; 0: none yet. */
  readonly requested: number;
  /** The highest request number whose reload is done (its generation serves). */
  readonly completed: number;
  /** The highest request number whose reload was abandoned (the old generation kept serving). */
  readonly failed: number;
  /** Why the last reload was abandoned, while no later one completed. */
  readonly error: string | null;
  readonly importFailure: ImportFailure | null;
}

export async function writeReloadState(path: string, state: ReloadState): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify(state) + '\n', { mode: 0o644 });
    await rename(tmp, path);
  } catch {
    // A read-only or vanished directory: `forkfast reload` then says it cannot confirm.
    await unlink(tmp).catch(() => {});
  }
}

export async function readReloadState(path: string): Promise<ReloadState | null> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as ReloadState;
    return typeof parsed.requested === 'number' ? parsed : null;
  } catch {
    return null;
  }
}

export async function removeReloadState(path: string, pid: number): Promise<void> {
  const state = await readReloadState(path);
  if (state !== null && state.pid === pid) await unlink(path).catch(() => {});
}
