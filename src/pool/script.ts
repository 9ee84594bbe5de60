// Worker side: which file in --cgi-bin a FastCGI request names, by real path, failing closed.
//
// The web server names the script in PARAMS: SCRIPT_FILENAME (nginx's
// `$document_root$fastcgi_script_name`, forkfast's front), or DOCUMENT_ROOT + SCRIPT_NAME
// (RFC 3875 §4.1.13) when SCRIPT_FILENAME is absent. A relative SCRIPT_FILENAME is taken from
// --cgi-bin, so a front on another machine need not know this machine's paths. Whatever the
// name, its real path (symlinks resolved) must lie inside the real path of --cgi-bin.
// PHP-FPM answers all failures with "Primary script unknown"; we log what was looked for, where,
// and why it was refused.
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep, dirname } from 'node:path';

export type ScriptKind = 'program' | 'module';

export interface LocatedScript {
  readonly ok: true;
  /** Real path of the script. */
  readonly file: string;
  /** Its directory: a program's working directory. */
  readonly dir: string;
  readonly kind: ScriptKind;
}

export interface ScriptMiss {
  readonly ok: false;
  readonly status: 403 | 404;
  /** The path as the request named it. */
  readonly lookedFor: string;
  /** Where it was looked for. */
  readonly cgiBin: string;
  readonly reason: string;
}

/** A resolution stays valid this long: two stat calls per request are not free (§ budget). */
const CACHE_MS = 1000;
const CACHE_MAX = 1024;

export class ScriptLocator {
  private readonly cache = new Map<string, { at: number; result: LocatedScript | ScriptMiss }>();

  /** `cgiBin` must already be a real path (the worker resolves it once at boot). */
  constructor(private readonly cgiBin: string) {}

  /** A cached answer comes back synchronously (no await on the resident hot path). */
  locate(params: ReadonlyMap<string, string>): LocatedScript | ScriptMiss | Promise<LocatedScript | ScriptMiss> {
    const named = this.named(params);
    if (named === null) return this.miss(404, '', 'the request has neither SCRIPT_FILENAME nor DOCUMENT_ROOT and SCRIPT_NAME');
    const now = Date.now();
    const hit = this.cache.get(named);
    if (hit && now - hit.at < CACHE_MS) return hit.result;
    return this.resolve(named).then((result) => {
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      this.cache.set(named, { at: now, result });
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
    try {
      real = await realpath(named);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      return this.miss(404, named, code === 'ENOENT' || code === 'ENOTDIR' ? 'no such file' : `cannot resolve it (${code})`);
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
    // ARCHITECTURE: the execute bit makes a program; .js/.mjs without it is a handler module.
    if ((mode & 0o111) !== 0) return { ok: true, file: real, dir: dirname(real), kind: 'program' };
    if (real.endsWith('.mjs') || real.endsWith('.js')) return { ok: true, file: real, dir: dirname(real), kind: 'module' };
    return this.miss(403, named, 'neither executable nor a .js/.mjs handler module');
  }

  private miss(status: 403 | 404, lookedFor: string, reason: string): ScriptMiss {
    return { ok: false, status, lookedFor, cgiBin: this.cgiBin, reason };
  }
}
