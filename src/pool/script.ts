// Worker side: which file in --cgi-bin a FastCGI request names, by real path, failing closed.
//
// The web server names the script in PARAMS: SCRIPT_FILENAME (nginx's
// `$document_root$fastcgi_script_name`, forkfast's front), or DOCUMENT_ROOT + SCRIPT_NAME
// (RFC 3875 §4.1.13) when SCRIPT_FILENAME is absent. A relative SCRIPT_FILENAME is taken from
// --cgi-bin, so a front on another machine need not know this machine's paths. Whatever the
// name, its real path (symlinks resolved) must lie inside the real path of --cgi-bin. A name that
// goes on past a file (`sub/x.sh/extra`: nginx's whole path, not split) is walked as `serve` walks
// a URL: the first segment that names a regular file is the script, the rest is PATH_INFO.
// PHP-FPM answers all failures with "Primary script unknown"; we log what was looked for, where,
// and why it was refused.
import { realpath, stat } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { isAbsolute, join, relative, sep, dirname } from 'node:path';
import type { Logger } from '../log.js';
import { ScriptMemo, logScriptRefusal, scriptKind, type ScriptKind } from '../cgi/script.js';

export type { ScriptKind };

export interface LocatedScript {
  readonly ok: true;
  /** Real path of the script. */
  readonly file: string;
  /** Its directory: a program's working directory. */
  readonly dir: string;
  readonly kind: ScriptKind;
  /**
   * Set when the name went on past the script (`/srv/cgi-bin/sub/x.sh/extra`): that rest, the
   * request's PATH_INFO (RFC 3875 §4.1.5), which the web server left in SCRIPT_FILENAME and
   * SCRIPT_NAME. null when the name was the script itself.
   */
  readonly pathInfo: string | null;
}

export interface ScriptMiss {
  readonly ok: false;
  readonly status: 403 | 404;
  /** The path as the request named it. */
  readonly lookedFor: string;
  /** Where it was looked for. */
  readonly cgiBin: string;
  readonly reason: string;
  /** What the operator can do, when the file is there but is not a script (cgi/script NOT_A_SCRIPT). */
  readonly hint?: string;
}

export class ScriptLocator {
  /** A resolution stays valid 1 s: two stat calls per request are not free (the front's cache, the same rule). */
  private readonly cache = new ScriptMemo<LocatedScript | ScriptMiss>();

  /** `cgiBin` must already be a real path (the worker resolves it once at boot). */
  constructor(private readonly cgiBin: string) {}

  /** A cached answer comes back synchronously (no await on the resident hot path). */
  locate(params: ReadonlyMap<string, string>): LocatedScript | ScriptMiss | Promise<LocatedScript | ScriptMiss> {
    const named = this.named(params);
    if (named === null) return this.miss(404, '', 'the request has neither SCRIPT_FILENAME nor DOCUMENT_ROOT and SCRIPT_NAME');
    const now = Date.now();
    const hit = this.cache.get(named, now);
    if (hit !== undefined) return hit;
    return this.resolve(named).then((result) => {
      this.cache.set(named, result, now);
      return result;
    });
  }

  private named(params: ReadonlyMap<string, string>): string | null {
    const filename = params.get('SCRIPT_FILENAME');
    if (filename !== undefined && filename !== '') return isAbsolute(filename) ? filename : join(this.cgiBin, filename);
    const root = params.get('DOCUMENT_ROOT');
    const name = params.get('SCRIPT_NAME');
    if (root === undefined || root === '' || name === undefined || name === '') return null;
    return join(root, name);
  }

  private async resolve(named: string): Promise<LocatedScript | ScriptMiss> {
    if (named.includes('\0')) return this.miss(404, named, 'the name contains a NUL byte');
    let real: string;
    let pathInfo: string | null = null;
    try {
      real = await realpath(named);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      // ENOTDIR: a file stands where the name goes on, so the script is along the path.
      const along = code === 'ENOTDIR' ? splitAlong(named) : null;
      if (along === null) return this.miss(404, named, code === 'ENOENT' || code === 'ENOTDIR' ? 'no such file' : `cannot resolve it (${code})`);
      try {
        real = await realpath(along.file);
      } catch {
        return this.miss(404, named, 'no such file');
      }
      pathInfo = along.pathInfo;
    }
    const rel = relative(this.cgiBin, real);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return this.miss(404, named, `its real path ${real} is outside --cgi-bin`);
    // Dotfiles and dot-directories (.git, .env) are never scripts, as in cgi/script.
    if (rel.split(sep).some((seg) => seg.startsWith('.'))) return this.miss(404, named, 'hidden files are not served');
    let mode: number;
    try {
      const st = await stat(real);
      if (!st.isFile()) return this.miss(404, named, 'not a regular file');
      mode = st.mode;
    } catch (err) {
      return this.miss(404, named, `cannot stat it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const kind = scriptKind(real, mode);
    if (typeof kind !== 'string') return { ok: false, status: 403, lookedFor: named, cgiBin: this.cgiBin, reason: kind.reason, ...(kind.hint !== undefined ? { hint: kind.hint } : {}) };
    return { ok: true, file: real, dir: dirname(real), kind, pathInfo };
  }

  private miss(status: 403 | 404, lookedFor: string, reason: string): ScriptMiss {
    return { ok: false, status, lookedFor, cgiBin: this.cgiBin, reason };
  }
}

/**
 * The script along an absolute name that goes on past it, as `serve` resolves a URL: the first
 * segment that names a regular file is the script, the rest is PATH_INFO. nginx's
 * `$document_root$fastcgi_script_name` (and DOCUMENT_ROOT + SCRIPT_NAME) hold the whole path when
 * the location does not split it. null when a segment is missing or neither a file nor a directory.
 * Where the script lies is checked by the caller, on its real path.
 */
export function splitAlong(named: string): { readonly file: string; readonly pathInfo: string } | null {
  let at = 0;
  for (;;) {
    const next = named.indexOf('/', at + 1);
    const prefix = next < 0 ? named : named.slice(0, next);
    if (prefix !== '' && prefix !== '/') {
      const st = statSync(prefix, { throwIfNoEntry: false });
      if (st === undefined) return null;
      if (st.isFile()) return { file: prefix, pathInfo: next < 0 ? '' : named.slice(next) };
      if (!st.isDirectory()) return null;
    }
    if (next < 0) return null;
    at = next;
  }
}

/**
 * The one log line of a request the pool could not map to a script: what was looked for, where
 * and why (what PHP-FPM calls "Primary script unknown"); a file that is there but is not a
 * script gets the same warning and hint as on the front's mounts.
 */
export function logScriptMiss(log: Logger, miss: ScriptMiss, uri: string | undefined): void {
  if (miss.hint !== undefined) return logScriptRefusal(log, miss.lookedFor, miss);
  log.warn({ lookedFor: miss.lookedFor, cgiBin: miss.cgiBin, reason: miss.reason, uri }, 'script not found in --cgi-bin');
}
