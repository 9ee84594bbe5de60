// Static files: the fallback mount that serves `public/` (GET and HEAD only).
//
// One request reads top to bottom: method → lexical path check (safe-path.ts) → cache hit within
// its revalidation window, or file-system resolution (resolve.ts: realpath under the root, open
// with O_NOFOLLOW, fstat) → respond (respond.ts: preconditions, Range, HEAD, buffer or stream).
//
// Cache-Control defaults to "public, max-age=0": any cache may store the file but must revalidate
// before each reuse, which our strong ETag and Last-Modified make a cheap 304. Files under
// `public/` have no content hash in their names, so a longer max-age would serve stale pages
// after an edit; operators who fingerprint their assets can pass a longer `cacheControl`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Mount, RequestContext } from '../http/route.js';
import { buildRepresentation, FileCache, sameVersion, type CachedFile } from './file-cache.js';
import { closeFd, readSmall, Resolver } from './resolve.js';
import { respond } from './respond.js';
import { checkPath, type SafePath } from './safe-path.js';

export interface StaticOptions {
  /** The directory to serve; must exist (its realpath is taken once, here). */
  readonly root: string;
  readonly log: Logger;
  /** Cache-Control of every file response; default "public, max-age=0" (see above). */
  readonly cacheControl?: string;
  /** The small-file cache, or false to resolve and read every request. */
  readonly cache?: false | {
    /** Largest file kept in memory (and read whole rather than streamed); default 64 KiB. */
    readonly maxFileBytes?: number;
    /** Body bytes held in all; default 16 MiB. */
    readonly maxTotalBytes?: number;
    /** How long a cached file is trusted before the file system is asked again; default 1000 ms. */
    readonly revalidateMs?: number;
  };
}

export const DEFAULT_CACHE_CONTROL = 'public, max-age=0';
const ALLOW = { allow: 'GET, HEAD' };

export function createStaticMount(opts: StaticOptions): Mount {
  const server = new StaticFiles(opts);
  return { prefix: '', kind: 'static', handle: (req, res, ctx) => server.handle(req, res, ctx) };
}

export class StaticFiles {
  readonly #resolver: Resolver;
  readonly #log: Logger;
  readonly #cacheControl: string;
  readonly #cache: FileCache | undefined;
  readonly #revalidateMs: number;
  /** Files up to this size are read in one go; larger ones stream. */
  readonly #smallBytes: number;

  constructor(opts: StaticOptions) {
    this.#resolver = new Resolver(opts.root);
    this.#log = opts.log.child({ component: 'static' });
    this.#cacheControl = opts.cacheControl ?? DEFAULT_CACHE_CONTROL;
    const c = opts.cache === false ? undefined : (opts.cache ?? {});
    this.#smallBytes = (c && c.maxFileBytes) ?? 64 * 1024;
    this.#cache = c && new FileCache({ maxFileBytes: this.#smallBytes, maxTotalBytes: c.maxTotalBytes ?? 16 * 1024 * 1024 });
    this.#revalidateMs = c?.revalidateMs ?? 1000;
    this.#log.debug({ root: this.#resolver.rootReal }, 'static root resolved');
  }

  async handle(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    ctx.kind = 'static';
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      sendError(res, 'FF_METHOD_NOT_ALLOWED', ctx.id, ALLOW);
      return;
    }
    const path = checkPath(ctx.rawPath);
    if (!path.ok) {
      this.#refused(res, ctx, path.reason);
      return;
    }
    const now = Date.now();
    const hit = this.#cache?.get(path.key);
    if (hit !== undefined && now - hit.checkedAt < this.#revalidateMs) {
      await respond(req, res, ctx, hit, { kind: 'buffer', buffer: hit.body }, now);
      return;
    }
    await this.#miss(req, res, ctx, path, hit, now);
  }

  /** The file system path: resolve, then serve from a (re)filled cache entry or stream. */
  async #miss(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, path: SafePath & { ok: true }, hit: CachedFile | undefined, now: number): Promise<void> {
    const r = await this.#resolver.resolve(path.segments, path.trailingSlash);
    if (r.kind !== 'file') {
      this.#cache?.delete(path.key);
      switch (r.kind) {
        case 'add-slash':
          return addSlash(res, path.segments, ctx.query);
        case 'not-found':
          return sendError(res, 'FF_NOT_FOUND', ctx.id);
        case 'forbidden':
          return sendError(res, 'FF_FORBIDDEN', ctx.id);
        case 'outside-root':
          // A symlink out of the root (or onto a dotfile): answered like a missing file, logged.
          return this.#refused(res, ctx, 'outside-root');
      }
    }
    if (hit !== undefined && sameVersion(hit, r.realPath, r.stat)) {
      hit.checkedAt = now;
      await closeFd(r.fd);
      return respond(req, res, ctx, hit, { kind: 'buffer', buffer: hit.body }, now);
    }
    const rep = buildRepresentation(r.realPath, r.stat, this.#cacheControl);
    if (r.stat.size > this.#smallBytes) {
      this.#cache?.delete(path.key);
      return respond(req, res, ctx, rep, { kind: 'file', fd: r.fd }, now);
    }
    // A small file is read whole (one pread) even without the cache: cheaper than a stream.
    let body: Buffer;
    try {
      body = await readSmall(r.fd, r.stat.size);
    } finally {
      await closeFd(r.fd);
    }
    if (body.length !== rep.size) {
      // The file shrank between fstat and read: serve what we read, described as what it is.
      this.#cache?.delete(path.key);
      const fresh = buildRepresentation(r.realPath, { size: body.length, mtimeMs: now, ino: r.stat.ino }, this.#cacheControl);
      return respond(req, res, ctx, fresh, { kind: 'buffer', buffer: body }, now);
    }
    if (this.#cache === undefined) return respond(req, res, ctx, rep, { kind: 'buffer', buffer: body }, now);
    const entry: CachedFile = { ...rep, body, checkedAt: now };
    this.#cache.set(path.key, entry);
    return respond(req, res, ctx, entry, { kind: 'buffer', buffer: body }, now);
  }

  #refused(res: ServerResponse, ctx: RequestContext, reason: 'bad-encoding' | 'traversal' | 'dotfile' | 'outside-root'): void {
    // Climbing attempts are worth a warning; dotfiles are mostly scanners probing for .env/.git.
    if (reason === 'dotfile') ctx.log.debug({ path: ctx.rawPath, reason }, 'static path refused');
    else ctx.log.warn({ path: ctx.rawPath, reason }, 'static path refused');
    // A malformed or climbing path is a bad request; a hidden file is reported as absent, so its
    // existence does not leak.
    sendError(res, reason === 'bad-encoding' || reason === 'traversal' ? 'FF_BAD_REQUEST' : 'FF_NOT_FOUND', ctx.id);
  }
}

/**
 * 301 to the directory with its trailing '/', keeping the query (like nginx and Apache). The
 * Location is rebuilt from the checked segments, never echoed from the raw path, so "//host" can
 * not become a protocol-relative redirect to another site.
 */
function addSlash(res: ServerResponse, segments: readonly string[], query: string): void {
  const location = `/${segments.map(encodeURIComponent).join('/')}/${query === '' ? '' : `?${query}`}`;
  const body = `Moved Permanently: ${location}\n`;
  res.writeHead(301, {
    location,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-cache',
  });
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}
