// The master's account of reloads (asked, done, abandoned and why), for status and `forkfast reload`.
import type { Logger } from '../log.js';
import { writeReloadState, type ImportFailure, type ReloadState } from './reload-state.js';
import { watchModules, type ModuleWatcher } from './watch.js';

export class ReloadTracker {
  private requested = 0;
  private completed = 0;
  private failed = 0;
  /** The request number the booting generation answers. */
  private current = 0;
  private error: string | null = null;
  private importFailure: ImportFailure | null = null;
  private writing: Promise<void> = Promise.resolve();
  private watcher: ModuleWatcher | null = null;

  /** `stateFile`: where to keep the state for `forkfast reload` (none: status only). */
  constructor(private readonly stateFile: string | undefined) {}

  /** A reload was asked for: a new generation starts for it. */
  begin(generation: number): void {
    this.requested += 1;
    this.current = this.requested;
    this.save(generation);
  }

  done(generation: number): void {
    this.completed = this.current;
    this.error = null;
    this.importFailure = null;
    this.save(generation);
  }

  abandoned(generation: number, reason: string, importFailure: ImportFailure | null): void {
    this.failed = this.current;
    this.error = reason;
    this.importFailure = importFailure;
    this.save(generation);
  }

  snapshot(generation: number): ReloadState {
    const { requested, completed, failed, error, importFailure } = this;
    return { pid: process.pid, generation, requested, completed, failed, error, importFailure };
  }

  /** Writes the state file, one write after the other (a rename never lands out of order). */
  save(generation: number): void {
    const path = this.stateFile;
    if (path === undefined) return;
    const state = this.snapshot(generation);
    this.writing = this.writing.then(() => writeReloadState(path, state));
  }

  /** Edits go live: `onEdit(files)` after each burst of edits under `cgiBin`. */
  watch(cgiBin: string, log: Logger, onEdit: (files: string[]) => void): void {
    this.watcher = watchModules(cgiBin, log, onEdit);
    log.info({ cgiBin }, 'watching cgi-bin: an edited handler module rolls a new generation of workers');
  }

  /** Stops watching and waits for the last state write. */
  async close(): Promise<void> {
    this.watcher?.close();
    await this.writing;
  }
}
