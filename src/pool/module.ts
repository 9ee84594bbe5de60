// Worker side: handler modules, imported once per worker and called for every request (resident).
//
// Module state survives between requests (cgi-bin/counter.mjs counts up), which is the point of
// /fcgi-bin/. A handler that throws, rejects, returns something other than a Response, or takes
// longer than the script timeout answers 500/504 with one log line; other requests go on.
import type { Readable } from 'node:stream';
import type { Logger } from '../log.js';
import type { ResponderRequest } from '../fastcgi/server.js';
import { hasRequestBody, isForbiddenMethod, loadHandler, requestFromCgi, sendCgiResponse, type CgiEnv, type FetchFunction } from '../app/handler.js';
import { requestIdOf, writeCgiError } from './cgi-error.js';
import { asError } from '../errors.js';
import type { LocatedScript } from './script.js';
import { scriptEnv } from './script-env.js';
import { LiveSet } from '../live-set.js';
import { stat } from 'node:fs/promises';
import { describeImportError } from './import-error.js';
import type { ImportFailure } from './reload-state.js';

/** A call waiting for its handler, with the time after which it answers 504. */
interface Pending {
  readonly deadline: number;
  expire(): void;
}

/** The handler's `env`: what a program would see (pool/script-env) without PATH, frozen. */
function envOf(params: ReadonlyMap<string, string>, script: LocatedScript, passAuthorization: boolean): CgiEnv {
  return Object.freeze(scriptEnv(params, script, passAuthorization));
}

export class ModuleRunner {
  /** One import per file per worker (a failed one is retried once the file changed: see load). */
  private readonly handlers = new Map<string, Promise<FetchFunction>>();
  /** The modification time of a file whose import failed: the same file fails the same way. */
  private readonly failedAt = new Map<string, { readonly mtime: number; readonly err: unknown }>();
  /** The imports that succeeded: a request for a loaded module calls it without awaiting. */
  private readonly ready = new Map<string, FetchFunction>();
  /** One coarse sweep instead of a timer per request: timers were ~5 % of a worker's CPU. */
  private readonly pending = new LiveSet<Pending>();
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly timeoutMs: number,
    private readonly log: Logger,
    /** requestFromCgi (the platform Request) or lightRequestFromCgi (--fetch-objects light). */
    private readonly makeRequest: (env: CgiEnv, body: Readable | null) => Request = requestFromCgi,
    /** --pass-authorization: HTTP_AUTHORIZATION may reach the handler's env. */
    private readonly passAuthorization = false,
    /** Told once per module imported (the master has the next generation import it first). */
    private readonly onLoaded: (file: string) => void = () => {},
    /** loadHandler (fetch), or pool/authorize's loadAuthorizer and sendAuthorizerResponse (§6.3). */
    private readonly loader: (file: string, version?: string) => Promise<FetchFunction> = loadHandler,
    private readonly send: typeof sendCgiResponse = sendCgiResponse,
  ) {}

  /**
   * Imports a module before the worker listens (a reload's new generation): the failure, with
   * its file and line, or null. A module that no longer exists is skipped, not a failure.
   */
  async preload(file: string): Promise<ImportFailure | null> {
    try {
      await stat(file);
    } catch {
      return null;
    }
    try {
      await this.load(file);
      return null;
    } catch (err) {
      return await describeImportError(err, file);
    }
  }

  private watch(entry: Pending): void {
    this.pending.add(entry);
    if (this.sweeper === null) {
      this.sweeper = setInterval(() => this.sweep(), Math.min(250, Math.max(10, this.timeoutMs / 4)));
      this.sweeper.unref();
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const p of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(p);
      p.expire();
    }
  }

  /** How many handler modules this worker has loaded (for logs and status). */
  get loaded(): number {
    return this.handlers.size;
  }

  /** Resolves when the request was answered (or abandoned: timeout, abort). Never rejects. */
  run(r: ResponderRequest, script: LocatedScript): Promise<void> {
    const env = envOf(r.params, script, this.passAuthorization);
    const handler = this.ready.get(script.file);
    if (handler !== undefined) return this.call(r, script, env, handler);
    return this.load(script.file).then(
      (h) => this.call(r, script, env, h),
      (err: unknown) => {
        this.log.error({ reqId: requestIdOf(r), script: script.file, err: asError(err) }, 'handler module could not be loaded');
        writeCgiError(r, 'FF_HANDLER_ERROR', 1);
      },
    );
  }

  /**
   * Calls the handler and answers. The timeout and an abort settle the call without a promise
   * race (a race, a timer promise and an AbortSignal per request cost more than the handler):
   * the sweep or the abort hook marks the call over, and a late result is dropped.
   */
  private call(r: ResponderRequest, script: LocatedScript, env: CgiEnv, handler: FetchFunction): Promise<void> {
    const method = env['REQUEST_METHOD'] ?? 'GET';
    const hasBody = hasRequestBody(env);
    let result: Response | Promise<Response>;
    try {
      result = handler(this.makeRequest(env, hasBody ? r.stdin : null), env);
    } catch (err) {
      // TRACE, CONNECT, TRACK: Request refuses them (Fetch: forbidden methods), so no handler
      // can be called with one. The server does not implement it for handlers (RFC 9110 §15.6.2).
      if (isForbiddenMethod(method)) {
        this.log.info({ reqId: requestIdOf(r), script: script.file, method }, 'method not supported for handler modules');
        writeCgiError(r, 'FF_NOT_IMPLEMENTED');
        return Promise.resolve();
      }
      return this.threw(r, script, env, err);
    }
    if (!isThenable(result)) return this.answer(r, script, result, method);
    return new Promise<void>((resolve) => {
      let over = false;
      const entry: Pending | null = this.timeoutMs > 0
        ? {
            deadline: Date.now() + this.timeoutMs,
            expire: () => {
              if (over) return;
              over = true;
              this.log.warn({ reqId: requestIdOf(r), script: script.file, timeoutMs: this.timeoutMs }, 'handler did not answer in time');
              writeCgiError(r, 'FF_SCRIPT_TIMEOUT', 1);
              resolve();
            },
          }
        : null;
      if (entry !== null) this.watch(entry);
      r.onAbort(() => {
        if (over) return;
        over = true;
        if (entry !== null) this.pending.delete(entry);
        resolve();
      });
      result.then(
        (response) => {
          if (over) return;
          over = true;
          if (entry !== null) this.pending.delete(entry);
          this.answer(r, script, response, method).then(resolve, resolve);
        },
        (err: unknown) => {
          if (over) return;
          over = true;
          if (entry !== null) this.pending.delete(entry);
          this.threw(r, script, env, err).then(resolve, resolve);
        },
      );
    });
  }

  private threw(r: ResponderRequest, script: LocatedScript, env: CgiEnv, err: unknown): Promise<void> {
    this.log.error({ reqId: requestIdOf(r), script: script.file, uri: env['REQUEST_URI'], err: asError(err) }, 'handler threw');
    writeCgiError(r, 'FF_HANDLER_ERROR', 1);
    return Promise.resolve();
  }

  private async answer(r: ResponderRequest, script: LocatedScript, response: unknown, method: string): Promise<void> {
    if (r.aborted) return;
    if (!(response instanceof Response)) {
      this.log.error({ reqId: requestIdOf(r), script: script.file, got: typeof response }, 'handler did not return a Response');
      return writeCgiError(r, 'FF_HANDLER_ERROR', 1);
    }
    try {
      await this.send(response, r, { head: method === 'HEAD' });
    } catch (err) {
      // Headers may be out already: end what we can; the web server sees a short body.
      if (!r.aborted) this.log.warn({ reqId: requestIdOf(r), script: script.file, err: asError(err) }, 'handler response body failed');
      return r.end(1);
    }
  }

  private load(file: string): Promise<FetchFunction> {
    const p = this.handlers.get(file);
    if (p !== undefined) return p;
    if (this.failedAt.has(file)) return this.retry(file);
    return this.importNow(file, undefined);
  }

  /**
   * A module that failed to import is imported again once its file changed (under a new URL:
   * the ESM loader keeps the failure of the old one). Until then the same error is answered
   * without a new import; this path costs a stat per request, only while the module is broken.
   */
  private async retry(file: string): Promise<FetchFunction> {
    const mtime = (await stat(file)).mtimeMs;
    const p = this.handlers.get(file);
    if (p !== undefined) return p;
    const failed = this.failedAt.get(file);
    if (failed !== undefined && mtime === failed.mtime) throw failed.err;
    return this.importNow(file, String(mtime));
  }

  private importNow(file: string, version: string | undefined): Promise<FetchFunction> {
    let mtime = 0;
    // The time is taken before the import: an edit that lands during it is seen as a change.
    const p = stat(file).then(
      (st) => {
        mtime = st.mtimeMs;
      },
      () => {},
    ).then(() => this.loader(file, version));
    this.handlers.set(file, p);
    p.then(
      (h) => {
        this.ready.set(file, h);
        this.failedAt.delete(file);
        this.log.info({ script: file }, 'handler module loaded');
        this.onLoaded(file);
      },
      (err: unknown) => {
        if (this.handlers.get(file) === p) this.handlers.delete(file);
        this.failedAt.set(file, { mtime, err });
        // Once per failed import, with the place (requests that meet it log their own line).
        void describeImportError(err, file).then((f) => this.log.error({ script: file, file: f.file, line: f.line, error: f.message }, 'handler module does not import'));
      },
    );
    return p;
  }
}

function isThenable(v: unknown): v is Promise<Response> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}
