// Static files: validators (ETag, Last-Modified) and conditional requests (RFC 9110 §8.8, §13).
//
// The ETag is strong: "<size hex>-<mtime µs base36>", the same idea as nginx. The bytes we send are
// the file's bytes (no compression, no transformation), and size+mtime changes on every write
// except a same-size rewrite inside one mtime tick (nanoseconds on ext4/xfs). A strong tag is what
// makes resumable downloads work: If-Range only accepts a strong validator (RFC 9110 §13.1.5), and
// `send`'s weak W/"…" tags make every If-Range fall back to a full 200. The inode is left out so
// that replicas serving the same deploy agree (the reason Apache dropped it from FileETag).
import type { IncomingHttpHeaders } from 'node:http';

export interface Validators {
  /** Quoted entity-tag, strong. */
  readonly etag: string;
  /** The file's mtime in whole seconds since the epoch (HTTP-date resolution). */
  readonly mtimeSec: number;
  /** The HTTP-date of mtimeSec (IMF-fixdate, RFC 9110 §5.6.7). */
  readonly lastModified: string;
}

export function makeValidators(size: number, mtimeMs: number): Validators {
  const mtimeSec = Math.floor(mtimeMs / 1000);
  return {
    etag: `"${size.toString(16)}-${Math.round(mtimeMs * 1000).toString(36)}"`,
    mtimeSec,
    lastModified: new Date(mtimeSec * 1000).toUTCString(),
  };
}

/** What the preconditions decided, in the order of RFC 9110 §13.2.2. */
export type Precondition = 'proceed' | 'not-modified' | 'failed';

/**
 * Evaluates If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since for a GET or HEAD
 * of a representation that exists. If-None-Match wins over If-Modified-Since (§13.1.3: a recipient
 * MUST ignore If-Modified-Since when If-None-Match is present), likewise If-Match over
 * If-Unmodified-Since (§13.1.4).
 */
export function evaluatePreconditions(h: IncomingHttpHeaders, v: Validators): Precondition {
  const ifMatch = h['if-match'];
  if (ifMatch !== undefined) {
    if (!matchesList(ifMatch, v.etag, 'strong')) return 'failed';
  } else {
    const ius = parseHttpDate(h['if-unmodified-since']);
    if (ius !== undefined && v.mtimeSec > ius) return 'failed';
  }
  const ifNoneMatch = h['if-none-match'];
  if (ifNoneMatch !== undefined) return matchesList(ifNoneMatch, v.etag, 'weak') ? 'not-modified' : 'proceed';
  const ims = parseHttpDate(h['if-modified-since']);
  if (ims !== undefined && v.mtimeSec <= ims) return 'not-modified';
  return 'proceed';
}

/**
 * If-Range (RFC 9110 §13.1.5): true when the Range header may be honoured. An entity-tag must match
 * strongly; a date must equal Last-Modified exactly, and only counts when Last-Modified is itself
 * strong: at least one second older than now (§8.8.2.2), so a file written this second cannot
 * be confused with the next write in the same second.
 */
export function ifRangeAllows(h: IncomingHttpHeaders, v: Validators, nowMs: number): boolean {
  const ifRange = h['if-range'];
  if (ifRange === undefined) return true;
  if (typeof ifRange !== 'string') return false; // repeated: not a valid single validator
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return !value.startsWith('W/') && value === v.etag;
  const date = parseHttpDate(value);
  if (date === undefined) return false;
  return date === v.mtimeSec && v.mtimeSec * 1000 <= nowMs - 1000;
}

/** Entity-tag list membership, `*` included (RFC 9110 §8.8.3.2 comparison functions). */
function matchesList(header: string, etag: string, comparison: 'strong' | 'weak'): boolean {
  const value = header.trim();
  if (value === '*') return true;
  const ours = etag; // always strong, see above
  for (const raw of value.split(',')) {
    let tag = raw.trim();
    const weak = tag.startsWith('W/');
    if (weak) {
      if (comparison === 'strong') continue;
      tag = tag.slice(2);
    }
    if (tag === ours) return true;
  }
  return false;
}

/** An HTTP-date in whole seconds, or undefined when absent or invalid (then it is ignored). */
function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}
