// URL -> script in cgi-bin/: SCRIPT_NAME, PATH_INFO, and whether it is a program or a handler module.
//
// Exports:
//   resolveScript(root, mountPrefix, rawPath) -> Promise<ScriptResolution | ScriptRefusal>
//   resolveScriptSync(root, mountPrefix, rawPath) -> ScriptResolution | ScriptRefusal
//   ScriptCache: resolveScriptSync behind a short-lived memo (the resident /fcgi-bin/ path)
//   ScriptMemo: that memo, shared with the pool's locator (pool/script)
//   scriptKind(realPath, mode) -> ScriptKind | ScriptRefusal   the one rule for "is this a script"
//   logScriptRefusal(log, script, refusal)                      the one log line of a refusal
//   ScriptKind, ScriptResolution, ScriptRefusal
//
// The first path segment that names a regular file is the script; the rest is PATH_INFO
// (ARCHITECTURE.md). Percent-decoding happens once. Everything that could reach outside
// cgi-bin/ or disclose a source fails closed: '..', NUL, backslash, an encoded '/' in the script
// part, dotfiles, directories, symlinks leading out of the root.
//
// The file system calls are synchronous on purpose: a stat of a cached inode costs ~2 µs of CPU,
// while a promise round trip through libuv's thread pool costs ~30-150 µs of latency per call
// under load (measured), and the resident /fcgi-bin/ path has a ~100 µs budget per request.
// nginx's open_file_cache and Apache make the same trade.
import { statSync, realpathSync, accessSync, constants, type Stats } from 'node:fs';
import { join, sep, basename } from 'node:path';
import type { ScriptTarget } from './env.js';
import type { ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * program: execute bit, run directly; module: .js/.mjs without it, run by our CGI runner (a fresh
 * Node child under /cgi-bin/, resident in the pool's workers under /fcgi-bin/).
 */
export type ScriptKind = 'program' | 'module';

export interface ScriptResolution extends ScriptTarget {
  readonly ok: true;
  readonly kind: ScriptKind;
  /** NPH script (RFC 3875 §5: name starts with "nph-"): its output goes out as written. */
  readonly nph: boolean;
  /** The script's directory: the child's working directory (RFC 3875 §9.4 leaves it open; Apache does this). */
  readonly dir: string;
}

export interface ScriptRefusal {
  readonly ok: false;
  readonly code: Extract<ErrorCode, 'FF_BAD_REQUEST' | 'FF_FORBIDDEN' | 'FF_NOT_FOUND'>;
  /** Why, for the log line (never sent to the client). */
  readonly reason: string;
  /** What the operator can do about it, when it is the operator's to fix (a file that is not a script). */
  readonly hint?: string;
}

/** The refusal of a regular file inside cgi-bin/ that is not a script, on every mount. */
export const NOT_A_SCRIPT: ScriptRefusal = {
  ok: false,
  code: 'FF_FORBIDDEN',
  reason: 'neither executable nor a .js/.mjs handler module',
  hint: 'chmod +x it, or name it .mjs',
};

const MODULE_EXTENSIONS = ['.mjs', '.js'] as const;

function refuse(code: ScriptRefusal['code'], reason: string): ScriptRefusal {
  return { ok: false, code, reason };
}

function isModuleName(name: string): boolean {
  return MODULE_EXTENSIONS.some((ext) => name.endsWith(ext));
}

/** Decodes one segment; null when the escape is malformed. */
function decodeSegment(seg: string): string | null {
  if (!seg.includes('%')) return seg;
  try {
    return decodeURIComponent(seg);
  } catch {
    return null;
  }
}

/** Script-part segments may not hide a separator, a NUL or a dot-name (.., .htaccess, .git). */
function badSegment(decoded: string): string | null {
  if (decoded.length === 0) return 'empty segment';
  if (decoded.charCodeAt(0) === 0x2e) return 'dot segment';
  if (decoded.includes('/')) return 'encoded slash';
  if (decoded.includes('\\')) return 'backslash';
  if (decoded.includes('\0')) return 'NUL';
  return null;
}

/**
 * Resolves `rawPath` (percent-encoded, starting with `mountPrefix`, which ends with '/') against
 * `root`, the real path of cgi-bin/. Only the script part touches the file system.
 */
export async function resolveScript(root: string, mountPrefix: string, rawPath: string): Promise<ScriptResolution | ScriptRefusal> {
  return resolveScriptSync(root, mountPrefix, rawPath);
}

/** The same resolution, synchronously (every file system call in it is synchronous anyway). */
export function resolveScriptSync(root: string, mountPrefix: string, rawPath: string): ScriptResolution | ScriptRefusal {
  if (!rawPath.startsWith(mountPrefix)) return refuse('FF_NOT_FOUND', 'outside the mount');
  const segments = rawPath.slice(mountPrefix.length).split('/');
  let dir = root;
  const scriptParts: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const decoded = decodeSegment(segments[i] as string);
    if (decoded === null) return refuse('FF_BAD_REQUEST', 'malformed percent-encoding');
    const bad = badSegment(decoded);
    if (bad !== null) return refuse(bad === 'empty segment' ? 'FF_NOT_FOUND' : 'FF_FORBIDDEN', bad);
    const path = join(dir, decoded);
    let st: Stats | undefined;
    try {
      st = statSync(path, { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    if (st === undefined) {
      return refuse('FF_NOT_FOUND', 'no such script');
    }
    scriptParts.push(decoded);
    if (st.isDirectory()) {
      dir = path;
      continue;
    }
    if (!st.isFile()) return refuse('FF_FORBIDDEN', 'not a regular file');
    return finish(root, mountPrefix, path, scriptParts, segments.slice(i + 1), st.mode);
  }
  return refuse('FF_FORBIDDEN', 'a directory');
}

function finish(root: string, mountPrefix: string, path: string, scriptParts: string[], rest: string[], mode: number): ScriptResolution | ScriptRefusal {
  // A symlink may point anywhere: the real path must stay under the root (fail closed).
  let real: string;
  try {
    real = realpathSync.native(path);
  } catch {
    return refuse('FF_NOT_FOUND', 'no such script');
  }
  if (!real.startsWith(root.endsWith(sep) ? root : root + sep)) return refuse('FF_FORBIDDEN', 'symlink out of cgi-bin');

  let pathInfo = '';
  if (rest.length > 0) {
    // PATH_INFO is decoded once (RFC 3875 §4.1.5); here an encoded '/' is just data.
    const rawInfo = '/' + rest.join('/');
    try {
      pathInfo = decodeURIComponent(rawInfo);
    } catch {
      return refuse('FF_BAD_REQUEST', 'malformed percent-encoding');
    }
    if (pathInfo.includes('\0')) return refuse('FF_BAD_REQUEST', 'NUL in PATH_INFO');
  }
  const name = basename(real);
  const kind = scriptKind(real, mode);
  if (typeof kind !== 'string') return kind;
  const lastDir = real.slice(0, real.length - name.length - 1);
  return {
    ok: true,
    kind,
    nph: basename(path).startsWith('nph-'),
    scriptName: mountPrefix + scriptParts.join('/'),
    pathInfo,
    filename: real,
    dir: lastDir,
  };
}

/**
 * The one rule for "is this a script" (ARCHITECTURE: the execute bit makes a program; .js/.mjs
 * without it is a handler module), for /cgi-bin/, /fcgi-bin/ and the pool alike. Anything else is
 * refused, never read: sending a non-executable file's source is the classic disclosure.
 */
export function scriptKind(realPath: string, mode: number): ScriptKind | ScriptRefusal {
  if ((mode & 0o111) !== 0) {
    try {
      accessSync(realPath, constants.X_OK);
    } catch {
      return refuse('FF_FORBIDDEN', 'not executable by the server');
    }
    return 'program';
  }
  return isModuleName(realPath) ? 'module' : NOT_A_SCRIPT;
}

/**
 * The one log line of a refused script. A file that is there but is not a script is the
 * operator's to fix: a warning with the hint. A client asking for what is not there (a missing
 * name, a dotfile, '..') is the client's business: debug, as the access log has the status.
 */
export function logScriptRefusal(log: Logger, script: string, refusal: Pick<ScriptRefusal, 'reason' | 'hint'>): void {
  if (refusal.hint !== undefined) log.warn({ script, reason: refusal.reason, hint: refusal.hint }, 'file in cgi-bin is not a script');
  else log.debug({ script, reason: refusal.reason }, 'script refused');
}

/**
 * Values remembered for `ttlMs` by key, the script caches of the front and of the pool's workers:
 * bounded (cleared when it reaches `maxEntries`), and a stale entry is dropped on its next read.
 */
export class ScriptMemo<V> {
  private readonly memo = new Map<string, { readonly until: number; readonly value: V }>();

  constructor(
    private readonly ttlMs = 1000,
    private readonly maxEntries = 1024,
  ) {}

  /** The value remembered for `key`, or undefined when there is none or it is stale. */
  get(key: string, now: number): V | undefined {
    const hit = this.memo.get(key);
    if (hit === undefined) return undefined;
    if (hit.until > now) return hit.value;
    this.memo.delete(key);
    return undefined;
  }

  set(key: string, value: V, now: number): void {
    if (this.ttlMs <= 0) return;
    if (this.memo.size >= this.maxEntries) this.memo.clear();
    this.memo.set(key, { until: now + this.ttlMs, value });
  }
}

/**
 * Successful resolutions remembered for `ttlMs` (default 1 s), keyed by the raw path: a statx and
 * four readlink calls per request were ~8 % of the front's CPU on /fcgi-bin/hello.mjs
 * (docs/performance.md). nginx's open_file_cache makes the same trade. Refusals are not cached,
 * so a script that appears is served at once; one that disappears or changes mode is noticed
 * within the TTL (the worker, which runs it, checks again with its own cache). Bounded: the
 * memo is cleared when it reaches `maxEntries`.
 */
export class ScriptCache {
  private readonly memo: ScriptMemo<ScriptResolution>;

  constructor(
    private readonly root: string,
    private readonly mountPrefix: string,
    ttlMs = 1000,
    maxEntries = 1024,
  ) {
    this.memo = new ScriptMemo(ttlMs, maxEntries);
  }

  resolve(rawPath: string): ScriptResolution | ScriptRefusal {
    const now = Date.now();
    const hit = this.memo.get(rawPath, now);
    if (hit !== undefined) return hit;
    const r = resolveScriptSync(this.root, this.mountPrefix, rawPath);
    if (r.ok) this.memo.set(rawPath, r, now);
    return r;
  }
}
