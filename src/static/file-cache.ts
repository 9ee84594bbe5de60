// Static files: representation metadata with precomputed headers, and the small-file body cache.
//
// Why a cache: a miss costs realpath + open + fstat + read + close (five trips through libuv's
// thread pool); a hit costs a Map lookup and one writev. Invalidation is by a short revalidation
// window, not a stat per hit: an entry is trusted for `revalidateMs` (default 1 s), then the next
// request re-resolves the path (realpath, open, fstat) and keeps the entry only if size, mtime,
// inode and real path are unchanged. A stat per hit would cost a thread-pool round trip, as much as
// the rest of the hit; nginx's open_file_cache makes the same trade (open_file_cache_valid). So an
// edited, deleted or re-linked file shows within one window: documented in the README.
import { basename } from 'node:path';
import { contentType } from 'mime-types';
import { makeValidators, type Validators } from './conditional.js';

/** What a response about one file needs, computed once per file version. */
export interface Representation {
  readonly realPath: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  readonly validators: Validators;
  /** The media type (Content-Type value), repeated in each part of a multipart/byteranges 206. */
  readonly type: string;
  /** Flat [name, value, ...] list shared by 200, 206 and (minus the type) 304: see `headers304`. Starts with content-type. */
  readonly headers: readonly string[];
  /** The 200 list: `headers` plus Content-Length. */
  readonly headers200: readonly string[];
  /** RFC 9110 §15.4.5: a 304 carries the validators and Cache-Control a 200 would have. */
  readonly headers304: readonly string[];
}

export interface CachedFile extends Representation {
  readonly body: Buffer;
  /** When the file system last confirmed this entry (ms since epoch). */
  checkedAt: number;
}

const FALLBACK_TYPE = 'application/octet-stream';

/** The fields of fs.Stats that identify one version of a file. */
export interface FileVersion {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
}

export function buildRepresentation(realPath: string, stat: FileVersion, cacheControl: string): Representation {
  const validators = makeValidators(stat.size, stat.mtimeMs);
  // mime-types adds "; charset=utf-8" to text/* and to JSON/JavaScript (mime-db's charset field).
  const type = contentType(basename(realPath)) || FALLBACK_TYPE;
  const headers = [
    'content-type', type,
    'etag', validators.etag,
    'last-modified', validators.lastModified,
    'cache-control', cacheControl,
    'accept-ranges', 'bytes',
    // The type comes from the extension; stop browsers from guessing another (e.g. HTML in a .txt).
    'x-content-type-options', 'nosniff',
  ];
  return {
    realPath,
    size: stat.size,
    mtimeMs: stat.mtimeMs,
    ino: stat.ino,
    validators,
    type,
    headers,
    headers200: [...headers, 'content-length', String(stat.size)],
    headers304: ['etag', validators.etag, 'last-modified', validators.lastModified, 'cache-control', cacheControl],
  };
}

/** True when `stat` at `realPath` is the same file version as `rep`. */
export function sameVersion(rep: Representation, realPath: string, stat: FileVersion): boolean {
  return rep.realPath === realPath && rep.size === stat.size && rep.mtimeMs === stat.mtimeMs && rep.ino === stat.ino;
}

export interface FileCacheLimits {
  /** Files larger than this are streamed, never cached. */
  readonly maxFileBytes: number;
  /** Total body bytes held; the least recently used entries go first. */
  readonly maxTotalBytes: number;
}

/** A byte-bounded LRU keyed by the checked request path (see SafePath.key). */
export class FileCache {
  readonly #entries = new Map<string, CachedFile>();
  readonly #limits: FileCacheLimits;
  #bytes = 0;

  constructor(limits: FileCacheLimits) {
    this.#limits = limits;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  accepts(size: number): boolean {
    return size <= this.#limits.maxFileBytes && size <= this.#limits.maxTotalBytes;
  }

  get(key: string): CachedFile | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    // Map keeps insertion order: re-inserting makes this the most recently used.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry;
  }

  set(key: string, entry: CachedFile): void {
    if (!this.accepts(entry.body.length)) return;
    this.delete(key);
    this.#entries.set(key, entry);
    this.#bytes += entry.body.length;
    for (const [oldKey, old] of this.#entries) {
      if (this.#bytes <= this.#limits.maxTotalBytes) break;
      this.#entries.delete(oldKey);
      this.#bytes -= old.body.length;
    }
  }

  delete(key: string): void {
    const old = this.#entries.get(key);
    if (old === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= old.body.length;
  }
}
