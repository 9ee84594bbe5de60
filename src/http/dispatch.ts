// Picks the mount for a request-target and runs it, turning thrown errors into catalogue answers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ForkfastError, isForkfastError, sendError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Mount, RequestContext, RouteKind } from './route.js';

/** RFC 3875 §6.2.2 local redirects chain; past this many the request is a loop (500). */
export const MAX_REDIRECT_DEPTH = 10;

export class Dispatcher {
  /** Longest prefix first, the '' fallback last. */
  private readonly mounts: readonly Mount[];

  constructor(mounts: readonly Mount[]) {
    this.mounts = [...mounts].sort((a, b) => b.prefix.length - a.prefix.length);
  }

  find(rawPath: string): Mount | undefined {
    for (const m of this.mounts) {
      if (m.prefix === '' || rawPath.startsWith(m.prefix)) return m;
      // `/cgi-bin` without the slash belongs to the mount too (it answers 404/redirect itself).
      if (rawPath.length === m.prefix.length - 1 && m.prefix.startsWith(rawPath)) return m;
    }
    return undefined;
  }

  /** `previous` is the dispatch that redirected here (RFC 3875 §6.2.2), undefined at depth 0. */
  async run(req: IncomingMessage, res: ServerResponse, id: string, log: Logger, method: string, target: string, depth: number, kindOut: { kind: RouteKind }, previous?: RequestContext): Promise<void> {
    const q = target.indexOf('?');
    const rawPath = q < 0 ? target : target.slice(0, q);
    const query = q < 0 ? '' : target.slice(q + 1);
    const mount = this.find(rawPath);
    // The per-request child logger is made only when a handler logs: most requests never do,
    // and a pino child per request is a measurable share of a static hit.
    let reqLog: Logger | undefined;
    const ctx: RequestContext = {
      id,
      get log() {
        return (reqLog ??= log.child({ reqId: id }));
      },
      method,
      target,
      rawPath,
      query,
      redirectDepth: depth,
      previous,
      metaVariables: undefined,
      kind: mount?.kind ?? 'static',
      redirect: (next: string) => {
        if (depth + 1 > MAX_REDIRECT_DEPTH) return Promise.reject(new ForkfastError('FF_REDIRECT_LOOP', `more than ${MAX_REDIRECT_DEPTH} local redirects`));
        return this.run(req, res, id, log, 'GET', next, depth + 1, kindOut, ctx);
      },
    };
    kindOut.kind = ctx.kind;
    if (!mount || !rawPath.startsWith('/')) {
      sendError(res, mount ? 'FF_BAD_REQUEST' : 'FF_NOT_FOUND', id);
      return;
    }
    try {
      await mount.handle(req, res, ctx);
    } catch (err) {
      answerError(res, id, ctx.log, err);
    }
  }
}

/** A thrown error becomes its catalogue answer; anything else is a logged 500 without detail. */
export function answerError(res: ServerResponse, id: string, log: Logger, err: unknown): void {
  if (isForkfastError(err)) {
    if (err.status >= 500) log.error({ code: err.code, detail: err.message }, 'request failed');
    sendError(res, err.code, id);
    return;
  }
  log.error({ err }, 'unexpected error');
  sendError(res, 'FF_INTERNAL', id);
}
