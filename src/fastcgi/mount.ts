// The FastCGI mounts of the HTTP front: /fcgi-bin/ (scripts of cgi-bin/, run by the resident pool)
// and --fastcgi /prefix/=addr (any FastCGI application, scripts in --docroot, like php-fpm).
//
// Exports: createFastcgiMount(opts) -> Mount, FastcgiMountOptions.
//
// The mount keeps what is FastCGI's own: where scripts are found (cgi-bin/ rules, or a docroot)
// and how a script is started: a FastCGI request whose PARAMS are the meta-variables (§5.2) and
// whose FCGI_STDOUT is a CGI response (§6.2). Everything else is the gateway flow's
// (gateway/flow), the same as for /cgi-bin/.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { realpathSync } from 'node:fs';
import { resolve, relative } from 'node:path';
import type { Logger } from '../log.js';
import type { Mount, RequestContext, RouteKind } from '../http/route.js';
import { sendError } from '../errors.js';
import { ScriptCache, logScriptRefusal } from '../cgi/script.js';
import type { PreparedBody } from '../cgi/body.js';
import type { MetaVariables } from '../cgi/env.js';
import { createFastcgiClient, type FastcgiClient, type FastcgiClientOptions, type FastcgiResponse } from './client.js';
import { isFastcgiError } from './errors.js';
import { resolveDocrootScript } from './docroot.js';
import { ClientGone, Gateway, StartFailed, type GatewayTarget, type ScriptRun, type ScriptStarter } from '../gateway/flow.js';
import type { Failure } from '../gateway/failure.js';

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
  /**
   * The upstream logs its scripts' stderr to our own log already (the embedded pool's workers
   * read it): FCGI_STDERR is then not logged a second time. Default false: logged here.
   */
  readonly stderrLoggedUpstream?: boolean;
  /** Send the front's request id as the REQUEST_ID parameter (the pool's log lines carry it). */
  readonly sendRequestId?: boolean;
  /** Counts an upstream failure by its FastcgiErrorCode, for /-/metrics. */
  readonly onUpstreamError?: (code: string) => void;
}

type Target = GatewayTarget;

const dropStderr = (): void => {};

/** A FastCGI request as a ScriptRun. */
class FastcgiRun implements ScriptRun {
  readonly over: Promise<unknown>;
  private done: Promise<boolean> | null = null;

  constructor(
    private readonly response: FastcgiResponse,
    private readonly gone: ClientGone,
    private readonly onUpstreamError: ((code: string) => void) | undefined,
  ) {
    this.over = response.ended.then(noop, noop);
  }

  get stdout(): FastcgiResponse['stdout'] {
    return this.response.stdout;
  }

  /** The usual resident answer came whole with its END_REQUEST: one write, no stream. */
  collect(): Buffer | null {
    const whole = this.response.takeComplete();
    if (whole !== null) this.done = COMPLETE;
    return whole;
  }

  complete(): Promise<boolean> {
    return (this.done ??= this.response.ended.then(yes, no));
  }

  async failure(malformed: Failure): Promise<Failure | null> {
    // The head is bad: if the exchange already failed, its error says why (504 on a timeout).
    const why = await Promise.race([this.response.ended.then(() => null, (e: unknown) => e), new Promise<null>((r) => setImmediate(r, null))]);
    this.gone.abort();
    if (isFastcgiError(why) && why.code !== 'FCGI_ABORTED') this.onUpstreamError?.(why.code);
    if (isFastcgiError(why)) return why.code === 'FCGI_ABORTED' ? null : { kind: 'fastcgi', err: why };
    return malformed;
  }
}

const noop = (): void => {};
const yes = (): boolean => true;
const no = (): boolean => false;
const COMPLETE = Promise.resolve(true);

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
    // The pool answers an nph- script as a CGI response ("Status: 203 …", pool/nph): parse it.
    return { scriptName: r.scriptName, pathInfo: r.pathInfo, filename, nph: false };
  }

  const onStderr = opts.stderrLoggedUpstream === true ? dropStderr : null;
  const sendRequestId = opts.sendRequestId === true;
  const starter: ScriptStarter<Target> = {
    async start(script: Target, env: MetaVariables, body: PreparedBody, gone: ClientGone, ctx: RequestContext): Promise<ScriptRun> {
      const name = script.scriptName;
      const params = sendRequestId ? { ...env, REQUEST_ID: ctx.id } : env;
      try {
        const response = await client.request({
          params,
          body: body.stream,
          signal: gone,
          trace: ctx.trace,
          onStderr: onStderr ?? ((chunk) => ctx.log.warn({ script: name, line: chunk.toString('utf8', 0, Math.min(chunk.length, 4096)) }, 'script stderr')),
        });
        return new FastcgiRun(response, gone, opts.onUpstreamError);
      } catch (err) {
        if (gone.aborted) throw new StartFailed(null);
        if (!isFastcgiError(err)) throw err;
        opts.onUpstreamError?.(err.code);
        throw new StartFailed({ kind: 'fastcgi', err });
      }
    },
  };
  const gateway = new Gateway<Target>(
    {
      maxBodySize: opts.limits.maxBodySize,
      maxHeaderBytes: opts.limits.maxHeaderBytes,
      spoolDir: opts.spoolDir,
      settings: { documentRoot, serverSoftware: opts.serverSoftware, passAuthorization: opts.passAuthorization },
    },
    starter,
  );

  async function handle(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const script = locate(ctx.rawPath);
    if (!('scriptName' in script)) {
      logScriptRefusal(ctx.log, ctx.rawPath, script);
      sendError(res, script.code, ctx.id);
      return;
    }
    return gateway.serve(req, res, ctx, script);
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
