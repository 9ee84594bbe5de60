// Edits go live: watches --cgi-bin for changed handler modules and asks for a reload, once per
// burst of writes.
//
// One inotify watch per directory (fs.watch without `recursive`), not per file: editors and
// `sed -i` replace a file by renaming a new one over it, and a watch on the old file would go
// deaf after the first save (Node 20's recursive mode on Linux loses such files). A directory
// created later is watched from its first event. Editors also write several times (truncate,
// write, rename, touch), so the watcher waits for QUIET_MS without events before it reports,
// and at most MAX_WAIT_MS after the first one (a file rewritten in a loop must not postpone
// the reload forever). Only what a worker can import counts: .js, .mjs, .cjs and .json files,
// never hidden ones (swap files, .git). New and removed scripts need no reload (the script
// locator sees them within its cache time).
import { readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join, relative } from 'node:path';
import type { Logger } from '../log.js';

const QUIET_MS = 150;
const MAX_WAIT_MS = 1000;
const IMPORTABLE = /\.(?:m?js|cjs|json)$/;
/** A cgi-bin with more directories than this is watched only that far (inotify watches are a system-wide limit). */
const MAX_DIRS = 1000;

export interface ModuleWatcher {
  close(): void;
}

/** Calls `changed(files)` (paths relative to `root`) after each burst of edits. */
export function watchModules(root: string, log: Logger, changed: (files: string[]) => void): ModuleWatcher {
  const watchers = new Map<string, FSWatcher>();
  let files: string[] = [];
  let quiet: NodeJS.Timeout | null = null;
  let firstAt = 0;
  let closed = false;

  const flush = (): void => {
    quiet = null;
    const batch = files;
    files = [];
    firstAt = 0;
    if (batch.length > 0 && !closed) changed(batch);
  };

  const noted = (dir: string, name: string): void => {
    if (name.startsWith('.')) return;
    const path = join(dir, name);
    if (!IMPORTABLE.test(name)) {
      // Maybe a new directory: its modules count too.
      if (isDirectory(path)) add(path);
      return;
    }
    const rel = relative(root, path);
    if (!files.includes(rel)) files.push(rel);
    const now = Date.now();
    if (firstAt === 0) firstAt = now;
    if (quiet !== null) clearTimeout(quiet);
    quiet = setTimeout(flush, Math.max(0, Math.min(QUIET_MS, firstAt + MAX_WAIT_MS - now)));
  };

  function add(dir: string): void {
    if (closed || watchers.has(dir) || watchers.size >= MAX_DIRS) return;
    let w: FSWatcher;
    try {
      w = watch(dir, { persistent: false });
    } catch (err) {
      log.warn({ dir, err: err as Error }, 'cannot watch a cgi-bin directory for edits; reload with SIGHUP instead');
      return;
    }
    watchers.set(dir, w);
    w.on('change', (_event, name) => noted(dir, String(name ?? '')));
    w.on('error', () => {
      // The directory went away: forget it (a new one of the same name is seen by its parent).
      w.close();
      watchers.delete(dir);
    });
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of entries) if (!name.startsWith('.') && isDirectory(join(dir, name))) add(join(dir, name));
  }

  add(root);
  return {
    close: () => {
      closed = true;
      if (quiet !== null) clearTimeout(quiet);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
