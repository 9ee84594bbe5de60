// The /cgi-bin/ mount: CGI/1.1 (RFC 3875), one child per request: resolve, build env, spawn, answer.
//
// Exports: createCgiMount(opts) -> Mount, CgiMountOptions.
//
// One straight story per request: resolve the script (cgi/script), prepare the body (cgi/body),
// build the meta-variables (cgi/env), spawn (spawn/spawner), parse the response head (cgi/response)
// and write it (cgi/answer), or follow a local redirect (§6.2.2) through ctx.redirect().
// Programs are exec'd directly; handler modules run in a fresh Node child through app/cgi-main.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import type { Mount, RequestContext } from '../http/route.js';
import { sendError } from '../errors.js';
import { ScriptCache, logScriptRefusal, type ScriptResolution } from './script.js';
import { prepareBody, type PreparedBody } from './body.js';
import { checkExecLimits, type MetaVariables } from './env.js';
import { answerCgiBuffer, answerCgiResponse, type AnswerResult } from './answer.js';
import { collectSmall, SMALL_ANSWER } from './stdout-collect.js';
import { SpawnError, type ChildExit, type SpawnedChild, type Spawner } from '../spawn/types.js';
import { errorCodeForSpawnError } from '../spawn/spawner.js';
import { requestMetaVariables, type GatewaySettings } from './env-http.js';
import { DEFAULT_PATH } from './env-rule.js';

export interface CgiMountOptions {
  /** The cgi-bin/ directory. */
  readonly cgiBin: string;
  /** The public/ directory: DOCUMENT_ROOT and the base of PATH_TRANSLATED. */
  readonly publicDir: string;
  /** Shared; closed by its owner (buildMounts), not by this mount. */
  readonly spawner: Spawner;
  /** Mount-level events; per-request lines go to ctx.log (it carries the request id). */
  readonly log: Logger;
  readonly limits: {
    readonly maxBodySize: number;
    /** Total time a child may run (ms); 0 disables. */
    readonly timeoutMs: number;
    /** Time a child may stay silent on stdout (ms); 0 disables. */
    readonly idleTimeoutMs: number;
    /** Largest response header block a script may write. */
    readonly maxHeaderBytes: number;
  };
  readonly passAuthorization: boolean;
  /** Variables the operator passes to every child (--pass-env). */
  readonly passEnv: Readonly<Record<string, string>>;
  /** PATH of the children; default the conventional /usr/local/bin:/usr/bin:/bin. */
  readonly path?: string;
  /** Default '/cgi-bin/'. */
  readonly mountPrefix?: string;
  readonly serverSoftware: string;
  /** Where chunked bodies over the memory limit are spooled; default os.tmpdir(). */
  readonly spoolDir?: string;
}

const NO_BODY: PreparedBody = { ok: true, length: null, stream: null, dispose: async () => {} };
/** Fields the front owns: a script cannot add a second request id. */
const PROTECTED_FIELDS: ReadonlySet<string> = new Set(['x-request-id']);
/** The runner of handler modules, next to this file once compiled (dist/src/app/cgi-main.js). */
const CGI_MAIN = fileURLToPath(new URL('../app/cgi-main.js', import.meta.url));

export function createCgiMount(opts: CgiMountOptions): Mount {
  const prefix = opts.mountPrefix ?? '/cgi-bin/';
  const root = realpathSync(opts.cgiBin);
  const documentRoot = resolve(opts.publicDir);
  const extra: Record<string, string> = { ...opts.passEnv, PATH: opts.passEnv['PATH'] ?? opts.path ?? DEFAULT_PATH };
  // Successful resolutions are remembered 1 s: a statx, a realpath (one readlink per path
  // component) and an access() per request were ~2 % of the front's CPU on /cgi-bin/hello.sh.
  const scripts = new ScriptCache(root, prefix);
  opts.log.debug({ cgiBin: root, prefix }, 'cgi mount ready');

  async function handle(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const script = scripts.resolve(ctx.rawPath);
    if (!script.ok) {
      logScriptRefusal(ctx.log, ctx.rawPath, script);
      sendError(res, script.code, ctx.id);
      return;
    }
    // The request body belongs to the first dispatch only (RFC 3875 §6.2.2: a local redirect is a GET).
    const body = ctx.redirectDepth === 0 ? await prepareBody(req, { maxBodySize: opts.limits.maxBodySize, spoolDir: opts.spoolDir }) : NO_BODY;
    if (!body.ok) {
      ctx.log.info({ script: script.scriptName, reason: body.reason }, 'request body refused');
      res.shouldKeepAlive = false;
      sendError(res, body.code, ctx.id, { connection: 'close' });
      return;
    }
    try {
      await run(req, res, ctx, script, body);
    } catch (err) {
      await body.dispose();
      throw err;
    }
  }

  const settings: GatewaySettings = { documentRoot, serverSoftware: opts.serverSoftware, passAuthorization: opts.passAuthorization, extra };
  const metaVariables = (req: IncomingMessage, ctx: RequestContext, script: ScriptResolution, length: number | null): MetaVariables =>
    requestMetaVariables(req, ctx, script, length, settings);

  /** Spawns the child; `detach` stops watching the client for it (before a local redirect). */
  async function start(res: ServerResponse, ctx: RequestContext, script: ScriptResolution, env: MetaVariables, body: PreparedBody): Promise<{ child: SpawnedChild; detach: () => void } | null> {
    const aborted = new AbortController();
    const onClose = (): void => {
      // The client went away before the response was complete: the child must die (issue 3).
      if (!res.writableFinished) aborted.abort();
    };
    res.once('close', onClose);
    const name = script.scriptName;
    try {
      const child = await opts.spawner.spawn(
        {
          file: script.kind === 'program' ? script.filename : process.execPath,
          args: script.kind === 'program' ? [] : [CGI_MAIN, script.filename],
          cwd: script.dir,
          env,
          stdin: body.stream,
          idleTimeoutMs: opts.limits.idleTimeoutMs,
          timeoutMs: opts.limits.timeoutMs,
          onStderrLine: (line) => ctx.log.warn({ script: name, line }, 'script stderr'),
        },
        aborted.signal,
      );
      // Once reaped, nothing is left to abort (and local redirect chains must not pile up listeners).
      const detach = (): void => {
        res.off('close', onClose);
      };
      void child.exited.then(detach);
      return { child, detach };
    } catch (err) {
      res.off('close', onClose);
      if (aborted.signal.aborted) return null;
      const code = err instanceof SpawnError ? err.code : 'EUNKNOWN';
      const answer = err instanceof SpawnError ? errorCodeForSpawnError(err) : 'FF_SCRIPT_START_FAILED';
      if (answer === 'FF_OVERLOADED') {
        ctx.log.warn({ script: name, code }, 'too many scripts running: request refused');
        sendError(res, 'FF_OVERLOADED', ctx.id, { 'retry-after': '1' });
      } else if (answer === 'FF_HEADERS_TOO_LARGE') {
        ctx.log.info({ script: name, code }, 'meta-variables over the exec limits');
        sendError(res, answer, ctx.id);
      } else {
        ctx.log.error({ script: name, file: script.filename, code, why: (err as Error).message }, 'script could not be started');
        sendError(res, 'FF_SCRIPT_START_FAILED', ctx.id);
      }
      return null;
    }
  }

  async function run(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, script: ScriptResolution, body: PreparedBody): Promise<void> {
    const env = metaVariables(req, ctx, script, body.length);
    const tooBig = checkExecLimits(env);
    if (tooBig !== null) {
      ctx.log.info({ script: script.scriptName, variable: tooBig }, 'meta-variables over the exec limits');
      sendError(res, 'FF_HEADERS_TOO_LARGE', ctx.id);
      await body.dispose();
      return;
    }
    const started = await start(res, ctx, script, env, body);
    if (started === null) {
      await body.dispose();
      return;
    }
    const child = started.child;
    let ended: ChildExit | null = null;
    void child.exited.then((e) => {
      ended = e;
      void body.dispose();
      if (e.reason !== 'exited' || e.code !== 0) ctx.log.debug({ script: script.scriptName, childPid: child.pid, ...e }, 'script ended');
    });
    const complete = (): Promise<boolean> => (ended !== null ? Promise.resolve(endedNormally(ended)) : endedByItself(child));
    const whole = script.nph ? null : await collectSmall(child.stdout, SMALL_ANSWER);
    let result: AnswerResult;
    if (whole !== null && (await complete())) {
      // The whole response is here and the script ended by itself: one write, with a Content-Length.
      result = await answerCgiBuffer(res, ctx, whole, { maxHeaderBytes: opts.limits.maxHeaderBytes, protectedFields: PROTECTED_FIELDS, beforeRedirect: started.detach });
    } else {
      // Streamed; or collected from a script we cut off, which must not look complete.
      const stdout = whole === null ? child.stdout : Readable.from([whole]);
      result = await answerCgiResponse(res, ctx, stdout, {
        maxHeaderBytes: opts.limits.maxHeaderBytes,
        nph: script.nph,
        protectedFields: PROTECTED_FIELDS,
        complete: whole === null ? complete : () => Promise.resolve(false),
        beforeRedirect: started.detach,
      });
    }
    if (result.kind === 'malformed') {
      child.kill('killed');
      const exit = await child.exited;
      if (exit.reason === 'aborted') return;
      if (exit.reason === 'timeout' || exit.reason === 'idle-timeout') {
        ctx.log.warn({ script: script.scriptName, childPid: child.pid, reason: exit.reason }, 'script timed out before its headers');
        sendError(res, 'FF_SCRIPT_TIMEOUT', ctx.id);
        return;
      }
      ctx.log.warn({ script: script.scriptName, childPid: child.pid, malformed: result.reason, line: result.line, exitCode: exit.code, signal: exit.signal }, 'malformed script response');
      sendError(res, 'FF_BAD_SCRIPT_RESPONSE', ctx.id);
    } else if (result.kind === 'written' && result.outcome !== 'complete' && result.outcome !== 'no-body' && result.outcome !== 'client-gone') {
      ctx.log.warn({ script: script.scriptName, childPid: child.pid, outcome: result.outcome, contentLength: result.contentLength }, 'script body did not match its response');
    }
  }

  return {
    prefix,
    kind: 'cgi',
    handle,
    // No close(): the spawner is shared (the embedded pool may use it too); its owner closes it
    // after the front has stopped, which kills and reaps every child still running.
  };
}

/** Not cut off by us (timeout, idle timeout, client gone): its output is what it meant to write. */
function endedNormally(e: ChildExit): boolean {
  return e.reason !== 'timeout' && e.reason !== 'idle-timeout' && e.reason !== 'aborted';
}

/**
 * After stdout ended without a Content-Length: was that the script finishing, or our timeout
 * killing it? A killed script's body must not look complete. Waits for the reap briefly only.
 */
async function endedByItself(child: SpawnedChild): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(true), 200);
  });
  const exit = child.exited.then(endedNormally);
  const ok = await Promise.race([exit, late]);
  clearTimeout(timer);
  return ok;
}
