// Worker side: handler modules, imported once per worker and called for every request (resident).
//
// Module state survives between requests (cgi-bin/counter.mjs counts up), which is the point of
// /fcgi-bin/. A handler that throws, rejects, returns something other than a Response, or takes
// longer than the script timeout answers 500/504 with one log line; other requests go on.
import type { Logger } from '../log.js';
import type { ResponderRequest } from '../fastcgi/server.js';
import { loadHandler, requestFromCgi, writeCgiResponse, type CgiEnv, type FetchFunction } from '../app/handler.js';
import { writeCgiError } from './cgi-error.js';
import type { LocatedScript } from './script.js';

/** A call waiting for its handler, with the time after which it answers 504. */
interface Pending {
  readonly deadline: number;
  readonly expire: (v: 'timeout') => void;
}

export class ModuleRunner {
  /** One import per file per worker; a failed import stays failed until a reload (ESM caches it too). */
  private readonly handlers = new Map<string, Promise<FetchFunction>>();
  /** One coarse sweep instead of a timer per request: timers were ~5 % of a worker's CPU. */
  private readonly pending = new Set<Pending>();
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  private limit(): { promise: Promise<'timeout'>; done: () => void } {
    let entry: Pending | undefined;
    const promise = new Promise<'timeout'>((resolve) => {
      entry = { deadline: Date.now() + this.timeoutMs, expire: resolve };
    });
    this.pending.add(entry!);
    if (this.sweeper === null) {
      this.sweeper = setInterval(() => this.sweep(), Math.min(250, Math.max(10, this.timeoutMs / 4)));
      this.sweeper.unref();
    }
    return { promise, done: () => this.pending.delete(entry!) };
  }

  private sweep(): void {
    const now = Date.now();
    for (const p of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(p);
      p.expire('timeout');
    }
  }

  /** How many handler modules this worker has loaded (for logs and status). */
  get loaded(): number {
    return this.handlers.size;
  }

  async run(r: ResponderRequest, script: LocatedScript): Promise<void> {
    const env: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [k, v] of r.params) env[k] = v;
    delete env['HTTP_PROXY']; // CVE-2016-5385
    env['SCRIPT_FILENAME'] = script.file;
    let handler: FetchFunction;
    try {
      handler = await this.load(script.file);
    } catch (err) {
      this.log.error({ script: script.file, err: stackOf(err) }, 'handler module could not be loaded');
      return writeCgiError(r, 'FF_HANDLER_ERROR', 1);
    }
    const frozen: CgiEnv = Object.freeze(env);
    let response: unknown;
    const limit = this.timeoutMs > 0 ? this.limit() : null;
    let onAbort: (() => void) | undefined;
    try {
      const call = Promise.resolve().then(() => handler(requestFromCgi(frozen, r.stdin), frozen));
      const aborted = new Promise<'aborted'>((resolve) => {
        onAbort = () => resolve('aborted');
        r.signal.addEventListener('abort', onAbort, { once: true });
      });
      response = await Promise.race(limit ? [call, limit.promise, aborted] : [call, aborted]);
      // A late rejection of an abandoned call must not become an unhandled rejection.
      if (response === 'timeout' || response === 'aborted') call.catch(() => {});
    } catch (err) {
      this.log.error({ script: script.file, uri: env['REQUEST_URI'], err: stackOf(err) }, 'handler threw');
      return writeCgiError(r, 'FF_HANDLER_ERROR', 1);
    } finally {
      limit?.done();
      if (onAbort) r.signal.removeEventListener('abort', onAbort);
    }
    if (response === 'aborted') return;
    if (response === 'timeout') {
      this.log.warn({ script: script.file, timeoutMs: this.timeoutMs }, 'handler did not answer in time');
      return writeCgiError(r, 'FF_SCRIPT_TIMEOUT', 1);
    }
    if (!(response instanceof Response)) {
      this.log.error({ script: script.file, got: typeof response }, 'handler did not return a Response');
      return writeCgiError(r, 'FF_HANDLER_ERROR', 1);
    }
    try {
      await writeCgiResponse(response, r.stdout, { head: env['REQUEST_METHOD'] === 'HEAD' });
    } catch (err) {
      // Headers may be out already: end what we can; the web server sees a short body.
      if (!r.aborted) this.log.warn({ script: script.file, err: stackOf(err) }, 'handler response body failed');
      return r.end(1);
    }
    r.end(0);
  }

  private load(file: string): Promise<FetchFunction> {
    let p = this.handlers.get(file);
    if (p === undefined) {
      p = loadHandler(file);
      this.handlers.set(file, p);
      p.then(
        () => this.log.info({ script: file }, 'handler module loaded'),
        () => {},
      );
    }
    return p;
  }
}

export function stackOf(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
