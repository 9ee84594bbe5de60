// The FastCGI mounts of the HTTP front: /fcgi-bin/ (scripts of cgi-bin/, run by the resident pool)
// and --fastcgi /prefix/=addr (any FastCGI application, scripts in --docroot, like php-fpm).
//
// Exports: createFastcgiMount(opts) -> Mount, FastcgiMountOptions.
//
// The same story as the CGI mount with the fork replaced by a FastCGI request: resolve the script,
// prepare the body, build the meta-variables (cgi/env, shared with CGI), send them as PARAMS
// (FastCGI §5.2), and answer the STDOUT stream with the CGI response writer (cgi/answer): a
// Responder's FCGI_STDOUT is a CGI response (§6.2). Upstream failures map to 502/503/504.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { realpathSync } from 'node:fs';
import { resolve, relative } from 'node:path';
import type { Logger } from '../log.js';
import type { Mount, RequestContext, RouteKind } from '../http/route.js';
import { sendError } from '../errors.js';
import { ScriptCache, logScriptRefusal } from '../cgi/script.js';
import { prepareBody, type PreparedBody } from '../cgi/body.js';
import type { MetaVariables, ScriptTarget } from '../cgi/env.js';
import { answerCgiBuffer, answerCgiResponse } from '../cgi/answer.js';
import { createFastcgiClient, type AbortSignalLike, type FastcgiClient, type FastcgiClientOptions, type FastcgiResponse } from './client.js';
import { isFastcgiError } from './errors.js';
import { resolveDocrootScript } from './docroot.js';
import { requestMetaVariables, type GatewaySettings } from '../cgi/env-http.js';

export interface FastcgiMountOptions {
  /** '/fcgi-bin/' or an operator's '/php/'; ends with '/'. */
  readonly prefix: string;
  /** Where scripts live: cgi-bin/ rules (programs and handler modules) or a docroot (any file). */
  readonly scripts: { readonly kind: 'cgi-bin'; readonly dir: string } | { readonly kind: 'docroot'; readonly dir: string; readonly index?: string };
  /** A client to share, or the options to create one that this mount owns and closes. */
  readonly client: FastcgiClient | Omit<FastcgiClientOptions, 'log'>;
  readonly log: Logger;
  /** DOCUMENT_ROOT (RFC 3875 common extension); default the scripts' directory. */
  readonly documentRoot?: string;
  readonly limits: {
    readonly maxBodySize: number;
    readonly maxHeaderBytes: number;
  };
  readonly passAuthorization: boolean;
  readonly serverSoftware: string;
  readonly spoolDir?: string;
  /** The route kind for the access log; default 'fastcgi'. */
  readonly kind?: RouteKind;
  /**
   * Send SCRIPT_FILENAME relative to the scripts' directory (cgi-bin kind only). For pools on other
   * machines (--upstream): their --cgi-bin need not sit at the same path as ours, and a forkfast
   * pool resolves a relative SCRIPT_FILENAME inside its own --cgi-bin.
   */
  readonly relativeScriptFilename?: boolean;
}

type Target = ScriptTarget & { readonly nph: boolean };

const NO_BODY: PreparedBody = { ok: true, length: null, stream: null, dispose: async () => {} };
const PROTECTED_FIELDS: ReadonlySet<string> = new Set(['x-request-id']);

/**
 * The abort switch handed to the client for one request: it does the one thing needed, where an
 * AbortController and its EventTarget listeners cost ~2 % of the front's CPU.
 */
class ClientGone implements AbortSignalLike {
  aborted = false;
  private listener: (() => void) | null = null;

  addEventListener(_type: 'abort', listener: () => void): void {
    this.listener = listener;
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    if (this.listener === listener) this.listener = null;
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const l = this.listener;
    this.listener = null;
    l?.();
  }
}

export function createFastcgiMount(opts: FastcgiMountOptions): Mount {
  const prefix = opts.prefix;
  const root = realpathSync(opts.scripts.dir);
  const documentRoot = resolve(opts.documentRoot ?? root);
  const owned = !('request' in opts.client);
  const client: FastcgiClient = 'request' in opts.client ? opts.client : createFastcgiClient({ ...opts.client, log: opts.log });
  const scripts = opts.scripts;
  const cache = new ScriptCache(root, prefix);

  function locate(rawPath: string): Target | { ok: false; code: 'FF_BAD_REQUEST' | 'FF_FORBIDDEN' | 'FF_NOT_FOUND'; reason: string } {
    if (scripts.kind === 'docroot') {
      const r = resolveDocrootScript(root, prefix, rawPath, scripts.index);
      return r.ok ? { scriptName: r.scriptName, pathInfo: r.pathInfo, filename: r.filename, nph: false } : r;
    }
    const r = cache.resolve(rawPath);
    if (!r.ok) return r;
    const filename = opts.relativeScriptFilename === true ? relative(root, r.filename) : r.filename;
    return { scriptName: r.scriptName, pathInfo: r.pathInfo, filename, nph: r.nph };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const script = locate(ctx.rawPath);
    if (!('scriptName' in script)) {
      logScriptRefusal(ctx.log, ctx.rawPath, script);
      sendError(res, script.code, ctx.id);
      return;
    }
    // RFC 3875 §6.2.2: after a local redirect the request is a GET without the body. A request
    // without body framing (RFC 9112 §6.3) has none: no await for it.
    const framed = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    const body = ctx.redirectDepth === 0 && framed ? await prepareBody(req, { maxBodySize: opts.limits.maxBodySize, spoolDir: opts.spoolDir }) : NO_BODY;
    if (!body.ok) {
      ctx.log.info({ script: script.scriptName, reason: body.reason }, 'request body refused');
      res.shouldKeepAlive = false;
      sendError(res, body.code, ctx.id, { connection: 'close' });
      return;
    }
    if (body === NO_BODY) return forward(req, res, ctx, script, body);
    try {
      await forward(req, res, ctx, script, body);
    } finally {
      await body.dispose();
    }
  }

  const settings: GatewaySettings = { documentRoot, serverSoftware: opts.serverSoftware, passAuthorization: opts.passAuthorization };
  const metaVariables = (req: IncomingMessage, ctx: RequestContext, script: Target, length: number | null): MetaVariables =>
    requestMetaVariables(req, ctx, script, length, settings);

  async function forward(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, script: Target, body: PreparedBody): Promise<void> {
    const name = script.scriptName;
    const aborted = new ClientGone();
    // The HTTP client went away before the answer was complete: ABORT_REQUEST (§5.4).
    const onClose = (): void => {
      if (!res.writableFinished) aborted.abort();
    };
    res.once('close', onClose);
    const detach = (): void => {
      res.off('close', onClose);
    };
    let response: FastcgiResponse;
    try {
      response = await client.request({
        params: metaVariables(req, ctx, script, body.length),
        body: body.stream,
        signal: aborted,
        onStderr: (chunk) => ctx.log.warn({ script: name, stderr: chunk.toString('utf8', 0, Math.min(chunk.length, 4096)) }, 'script stderr'),
      });
    } catch (err) {
      detach();
      if (aborted.aborted) return;
      if (!isFastcgiError(err)) throw err;
      ctx.log.warn({ script: name, code: err.code, why: err.message }, 'FastCGI upstream failed');
      sendError(res, err.errorCode, ctx.id, err.errorCode === 'FF_OVERLOADED' ? { 'retry-after': '1' } : undefined);
      return;
    }
    // The usual resident answer came whole with its END_REQUEST: one write, no stream.
    const whole = script.nph ? null : response.takeComplete();
    if (whole !== null) {
      detach();
      const result = await answerCgiBuffer(res, ctx, whole, { maxHeaderBytes: opts.limits.maxHeaderBytes, protectedFields: PROTECTED_FIELDS });
      if (result.kind === 'malformed') {
        ctx.log.warn({ script: name, malformed: result.reason, line: result.line }, 'malformed script response');
        sendError(res, 'FF_BAD_SCRIPT_RESPONSE', ctx.id);
      } else if (result.kind === 'written' && result.outcome !== 'complete' && result.outcome !== 'no-body') {
        ctx.log.warn({ script: name, outcome: result.outcome }, 'script body did not match its response');
      }
      return;
    }
    const { ended } = response;
    void ended.then(detach, detach);
    const result = await answerCgiResponse(res, ctx, response.stdout, {
      maxHeaderBytes: opts.limits.maxHeaderBytes,
      nph: script.nph,
      protectedFields: PROTECTED_FIELDS,
      complete: () => ended.then(() => true, () => false),
      beforeRedirect: detach,
    });
    if (result.kind === 'malformed') {
      // The head is bad: if the exchange already failed, its error says why (504 on a timeout).
      const why = await Promise.race([ended.then(() => null, (e: unknown) => e), new Promise<null>((r) => setImmediate(r, null))]);
      aborted.abort();
      if (isFastcgiError(why) && why.code === 'FCGI_ABORTED') return;
      if (isFastcgiError(why)) {
        ctx.log.warn({ script: name, code: why.code, why: why.message }, 'FastCGI upstream failed before the response head');
        sendError(res, why.errorCode, ctx.id);
        return;
      }
      ctx.log.warn({ script: name, malformed: result.reason, line: result.line }, 'malformed script response');
      sendError(res, 'FF_BAD_SCRIPT_RESPONSE', ctx.id);
    } else if (result.kind === 'written' && result.outcome !== 'complete' && result.outcome !== 'no-body' && result.outcome !== 'client-gone') {
      ctx.log.warn({ script: name, outcome: result.outcome }, 'script body did not match its response');
    }
  }

  return {
    prefix,
    kind: opts.kind ?? 'fastcgi',
    handle,
    async close() {
      if (owned) await client.close();
    },
  };
}
