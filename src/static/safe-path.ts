// Static files: turns a raw, percent-encoded request path into safe path segments, failing closed.
//
// The path is decoded exactly once (RFC 3986 §2.4: decode after splitting on '/', so an encoded
// '/' stays inside its segment and is then refused). Everything that could climb out of the root
// or hide a second encoding layer is refused rather than "cleaned": a request that needs cleaning
// is not one a browser sends for a real file.

/** Why a path was refused; the caller maps it to a status and logs it. */
export type PathRefusal =
  /** Malformed percent-encoding, or not an origin-form path (RFC 9112 §3.2.1). */
  | 'bad-encoding'
  /** '.', '..', an encoded or raw separator ('/' inside a segment, '\'), NUL, or a second encoding layer. */
  | 'traversal'
  /** A segment that starts with '.' (.git, .env, .htaccess): never served. */
  | 'dotfile';

export type SafePath =
  | {
      readonly ok: true;
      /** Decoded segments, none empty, none starting with '.', none holding '/', '\' or NUL. */
      readonly segments: readonly string[];
      /** The request path ended with '/': a directory is asked for (its index.html). */
      readonly trailingSlash: boolean;
      /** A stable cache key for this request path: the segments joined, plus the trailing '/'. */
      readonly key: string;
    }
  | { readonly ok: false; readonly reason: PathRefusal };

// After one decoding, a '%XX' left in a segment means the client encoded twice (%252e%252e):
// refuse every such segment, whatever it would decode to, because some other layer (a proxy, a
// CGI script reading PATH_INFO) might decode it again. A file whose name really holds '%' plus
// two hex digits cannot be served: an accepted cost of failing closed.
const SECOND_ENCODING = /%[0-9a-f]{2}/i;

/**
 * Checks `rawPath` (the path part of the request-target, still percent-encoded, starting with '/').
 * Empty segments ('//') are skipped: they cannot climb and the file system would collapse them too.
 */
export function checkPath(rawPath: string): SafePath {
  if (rawPath.length === 0 || rawPath.charCodeAt(0) !== 0x2f /* / */) return refuse('bad-encoding');
  // A raw backslash is a separator on Windows and in some proxies: never part of a served name.
  if (rawPath.includes('\\')) return refuse('traversal');
  const raw = rawPath.split('/');
  const segments: string[] = [];
  for (const part of raw) {
    if (part.length === 0) continue;
    let seg: string;
    if (part.includes('%')) {
      try {
        seg = decodeURIComponent(part);
      } catch {
        return refuse('bad-encoding');
      }
      if (SECOND_ENCODING.test(seg)) return refuse('traversal');
    } else {
      seg = part;
    }
    if (seg === '.' || seg === '..') return refuse('traversal');
    if (seg.includes('/') || seg.includes('\\') || seg.includes('\0')) return refuse('traversal');
    if (seg.charCodeAt(0) === 0x2e /* . */) return refuse('dotfile');
    segments.push(seg);
  }
  const trailingSlash = rawPath.endsWith('/');
  const joined = segments.join('/');
  return { ok: true, segments, trailingSlash, key: trailingSlash && joined !== '' ? `${joined}/` : joined };
}

function refuse(reason: PathRefusal): SafePath {
  return { ok: false, reason };
}
