// The /cgi-bin/ mount: CGI/1.1 (RFC 3875), one child per request: where scripts are and how they start.
//
// Exports: createCgiMount(opts) -> Mount, CgiMountOptions.
//
// The mount keeps what is CGI's own: the script resolution (cgi/script) and the start of a child
// (spawn/spawner): programs are exec'd directly, handler modules run in a fresh Node child
// through app/cgi-main. Everything else (body, meta-variables, the answer, failures) is the
// gateway flow's (gateway/flow), the same as for /fcgi-bin/.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import type { Mount, RequestContext } from '../http/route.js';
import { sendError } from '../errors.js';
import { ScriptCache, logScriptRefusal, type ScriptResolution } from './script.js';
import type { PreparedBody } from './body.js';
import { checkExecLimits, type MetaVariables } from './env.js';
import type { Spawner } from '../spawn/types.js';
import { DEFAULT_PATH } from './env-rule.js';
import { ClientGone, Gateway, StartFailed, type ScriptRun, type ScriptStarter } from '../gateway/flow.js';
import { childRun, spawnFailed } from '../gateway/child-run.js';

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

/** The runner of handler modules, next to this file once compiled (dist/src/app/cgi-main.js). */
const CGI_MAIN = fileURLToPath(new URL('../app/cgi-main.js', import.meta.url));

/** Forks the child: a program exec'd directly, or a handler module under cgi-main. */
class ChildStarter implements ScriptStarter<ScriptResolution> {
  constructor(
    private readonly spawner: Spawner,
    private readonly limits: CgiMountOptions['limits'],
  ) {}

  async start(script: ScriptResolution, env: MetaVariables, body: PreparedBody, gone: ClientGone, ctx: RequestContext): Promise<ScriptRun> {
    const tooBig = checkExecLimits(env);
    if (tooBig !== null) throw new StartFailed({ kind: 'exec-limits', variable: tooBig });
    const program = script.kind === 'program';
    const name = script.scriptName;
    try {
      const child = await this.spawner.spawn(
        {
          file: program ? script.filename : process.execPath,
          args: program ? [] : [CGI_MAIN, script.filename],
          cwd: script.dir,
          env,
          stdin: body.stream,
          idleTimeoutMs: this.limits.idleTimeoutMs,
          timeoutMs: this.limits.timeoutMs,
          onStderrLine: (line) => ctx.log.warn({ script: name, line }, 'script stderr'),
        },
        gone,
      );
      return childRun(child, !program);
    } catch (err) {
      throw spawnFailed(err, gone.aborted);
    }
  }
}

export function createCgiMount(opts: CgiMountOptions): Mount {
  const prefix = opts.mountPrefix ?? '/cgi-bin/';
  const root = realpathSync(opts.cgiBin);
  const extra: Record<string, string> = { ...opts.passEnv, PATH: opts.passEnv['PATH'] ?? opts.path ?? DEFAULT_PATH };
  // Successful resolutions are remembered 1 s: a statx, a realpath (one readlink per path
  // component) and an access() per request were ~2 % of the front's CPU on /cgi-bin/hello.sh.
  const scripts = new ScriptCache(root, prefix);
  const gateway = new Gateway<ScriptResolution>(
    {
      maxBodySize: opts.limits.maxBodySize,
      maxHeaderBytes: opts.limits.maxHeaderBytes,
      spoolDir: opts.spoolDir,
      settings: { documentRoot: resolve(opts.publicDir), serverSoftware: opts.serverSoftware, passAuthorization: opts.passAuthorization, extra },
    },
    new ChildStarter(opts.spawner, opts.limits),
  );
  opts.log.debug({ cgiBin: root, prefix }, 'cgi mount ready');

  async function handle(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const script = scripts.resolve(ctx.rawPath);
    if (!script.ok) {
      logScriptRefusal(ctx.log, ctx.rawPath, script);
      sendError(res, script.code, ctx.id);
      return;
    }
    return gateway.serve(req, res, ctx, script);
  }

  return {
    prefix,
    kind: 'cgi',
    handle,
    // No close(): the spawner is shared (the embedded pool may use it too); its owner closes it
    // after the front has stopped, which kills and reaps every child still running.
  };
}
