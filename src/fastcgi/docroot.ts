// Which file in a --docroot a --fastcgi mount's URL names: SCRIPT_NAME, PATH_INFO, SCRIPT_FILENAME.
//
// nginx's fastcgi_params send `$document_root$fastcgi_script_name` and leave the existence check to
// the application ("Primary script unknown"), or to a `try_files $uri =404` that operators forget:
// CVE-2019-11043 needed exactly that gap. We resolve by the file system instead: the first path
// segment that names a regular file is the script, the rest is PATH_INFO (RFC 3875 §4.1.5,
// §4.1.13), and the script's real path must stay inside the real docroot (fail closed).
import { realpathSync, statSync, type Stats } from 'node:fs';
import { join, sep } from 'node:path';
import type { ScriptTarget } from '../cgi/env.js';

export type DocrootScript = (ScriptTarget & { readonly ok: true }) | { readonly ok: false; readonly code: 'FF_BAD_REQUEST' | 'FF_FORBIDDEN' | 'FF_NOT_FOUND'; readonly reason: string };

function decode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/** `root` is the docroot's real path; `rawPath` starts with `prefix` (which ends with '/'). */
export function resolveDocrootScript(root: string, prefix: string, rawPath: string, index = 'index.php'): DocrootScript {
  if (!rawPath.startsWith(prefix)) return { ok: false, code: 'FF_NOT_FOUND', reason: 'outside the mount' };
  const segments = rawPath.slice(prefix.length).split('/');
  let dir = root;
  const parts: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    // A trailing '/' after directories names the directory's index (nginx's fastcgi_index).
    const seg = segments[i] === '' && i === segments.length - 1 ? index : decode(segments[i]!);
    if (seg === null) return { ok: false, code: 'FF_BAD_REQUEST', reason: 'malformed percent-encoding' };
    if (seg === '' || seg.charCodeAt(0) === 0x2e || seg.includes('/') || seg.includes('\\') || seg.includes('\0') || seg.includes('\n')) {
      return { ok: false, code: seg === '' ? 'FF_NOT_FOUND' : 'FF_FORBIDDEN', reason: 'bad path segment' };
    }
    const path = join(dir, seg);
    let st: Stats | undefined;
    try {
      st = statSync(path, { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    if (st === undefined) return { ok: false, code: 'FF_NOT_FOUND', reason: 'no such script' };
    parts.push(seg);
    if (st.isDirectory()) {
      dir = path;
      continue;
    }
    if (!st.isFile()) return { ok: false, code: 'FF_FORBIDDEN', reason: 'not a regular file' };
    let real: string;
    try {
      real = realpathSync.native(path);
    } catch {
      return { ok: false, code: 'FF_NOT_FOUND', reason: 'no such script' };
    }
    if (!real.startsWith(root.endsWith(sep) ? root : root + sep)) return { ok: false, code: 'FF_FORBIDDEN', reason: 'symlink out of the docroot' };
    const rest = segments.slice(i + 1);
    const pathInfo = rest.length === 0 ? '' : decode('/' + rest.join('/'));
    if (pathInfo === null || pathInfo.includes('\0')) return { ok: false, code: 'FF_BAD_REQUEST', reason: 'malformed PATH_INFO' };
    return { ok: true, scriptName: prefix + parts.join('/'), pathInfo, filename: real };
  }
  return { ok: false, code: 'FF_FORBIDDEN', reason: 'a directory' };
}
