// A pool worker: a FastCGI responder on the pool's shared listening socket, dispatching each
// request to a resident handler module or a forked program, with heartbeat, recycling and drain.
import { realpathSync } from 'node:fs';
import net from 'node:net';
import type { Logger } from '../log.js';
import { createResponder, type ResponderRequest } from '../fastcgi/server.js';
import { createUwsgiResponder } from '../uwsgi/server.js';
import { createScgiResponder } from '../scgi/server.js';
import { createSpawner, type SpawnedChild, type SpawnRequest } from '../spawn/spawner.js';
import { writeCgiError } from './cgi-error.js';
import { requestFromCgi } from '../app/handler.js';
import { installLightRequest, lightRequestFromCgi } from '../app/light-request.js';
import { installLightResponse } from '../app/light-response.js';
import { ModuleRunner } from './module.js';
import { asError } from '../errors.js';
import { runProgram } from './program.js';
import { FCGI_ROLE_AUTHORIZER, loadAuthorizer, sendAuthorizerResponse } from './authorize.js';
import { FCGI_AUTHORIZER } from '../fastcgi/protocol.js';
import { ScriptLocator, logScriptMiss, type LocatedScript, type ScriptMiss } from './script.js';
import { LiveSet } from '../live-set.js';
import { DEFAULT_PATH } from '../cgi/env-rule.js';
import type { ImportFailure } from './reload-state.js';
import { allowedClients } from './listen-access.js';
import { capModuleStderr } from './module-stderr.js';
import { WORKER_BOOT_ERROR, isMasterMessage, type InFlightRequest, type WorkerConfig, type WorkerMessage } from './types.js';
import { Scoreboard, type LiveRequest } from './worker-state.js';
import { StatusRoute } from './status-route.js';
import { Slowlog } from './slowlog.js';

/** booting -> serving -> (retiring: asked to be replaced, still serving) -> draining -> exiting. */
export type WorkerLifecycle = 'booting' | 'serving' | 'retiring' | 'draining' | 'exiting';

/** Grace between SIGTERM and SIGKILL for forked programs. */
const KILL_GRACE_MS = 2000;
/** SIGINT/SIGQUIT: children get this long before the worker exits anyway. */
const FAST_EXIT_MS = 500;
/** Draining: an idle kept connection is closed once it has been quiet this long. */
const DRAIN_QUIET_MS = 1000;

interface Tracked {
  readonly r: ResponderRequest;
  readonly at: number;
  readonly seq: number;
}

/** The shortest gap between two reports sent because a request started. */
const REPORT_GAP_MS = 20;
/** At most this many in-progress requests ride on a heartbeat (the log line stays one line). */
const REPORTED_REQUESTS = 16;

/** The heartbeat's view of the requests in progress (the oldest first, capped). */
function inProgress(running: Iterable<Tracked>): InFlightRequest[] {
  const now = Date.now();
  const all = [...running].sort((a, b) => a.at - b.at).slice(0, REPORTED_REQUESTS);
  return all.map(({ r, at, seq }) => ({
    // The front's request id when it passes one (X-Request-Id), else this worker's own count.
    reqId: r.params.get('HTTP_X_REQUEST_ID') ?? `${process.pid}.${seq}`,
    script: r.params.get('SCRIPT_NAME') ?? r.params.get('SCRIPT_FILENAME') ?? '',
    method: r.params.get('REQUEST_METHOD') ?? '',
    uri: r.params.get('REQUEST_URI') ?? '',
    ms: now - at,
  }));
}

export function runWorker(config: WorkerConfig, log: Logger): void {
  let state: WorkerLifecycle = 'booting';
  let inFlight = 0;
  let served = 0;
  // The requests in progress, reported with each heartbeat so that the master's line for a
  // worker that dies (or is killed at --worker-timeout) names what it cut.
  const running = new LiveSet<Tracked>();
  let seq = 0;
  let lastReport = 0;
  const beat = (): void => {
    lastReport = Date.now();
    const groups = spawner.stats().running > 0 ? spawner.groups() : undefined;
    send({ type: 'ff:heartbeat', inFlight, served, requests: inFlight > 0 ? inProgress(running) : undefined, groups });
  };
  const track = (r: ResponderRequest): Tracked => {
    const entry: Tracked = { r, at: Date.now(), seq: ++seq };
    running.add(entry);
    // Reported before the handler runs: a handler that blocks the event loop stops the
    // heartbeat, and the master's timeout line must still name it. Rate-limited, so a busy worker
    // sends at most one such report per REPORT_GAP_MS.
    if (entry.at - lastReport >= REPORT_GAP_MS) beat();
    return entry;
  };
  const send = (m: WorkerMessage, cb?: () => void): void => {
    if (process.connected && process.send) process.send(m, undefined, {}, () => cb?.());
    else cb?.();
  };

  capModuleStderr(log);
  // The caller's umask for what scripts create (the master narrows its own to bind the socket).
  process.umask(config.umask);
  let cgiBin: string;
  try {
    cgiBin = realpathSync(config.scripts.cgiBin);
  } catch (err) {
    return bootFailed(`cgi-bin directory ${config.scripts.cgiBin} is not usable: ${(err as Error).message}`);
  }
  const { scripts } = config;
  const spawner = createSpawner(
    { maxChildren: scripts.maxChildren, queueSize: scripts.queueSize, killGraceMs: KILL_GRACE_MS, stderrLimit: 64 * 1024, backend: scripts.spawnBackend },
    log,
  );
  // Before any handler module is imported: the modules see the light Request and Response.
  const light = config.fetchObjects === 'light';
  if (light) {
    installLightResponse();
    installLightRequest();
  }
  const locator = new ScriptLocator(cgiBin);
  const modules = new ModuleRunner(scripts.cgiTimeoutMs, log, light ? lightRequestFromCgi : requestFromCgi, scripts.passAuthorization, (file) => send({ type: 'ff:loaded', file }));
  // The Authorizer's job is the credentials: HTTP_AUTHORIZATION reaches its env (FastCGI 1.0 §6.3).
  const authorizers = new ModuleRunner(scripts.cgiTimeoutMs, log, light ? lightRequestFromCgi : requestFromCgi, true, () => {}, loadAuthorizer, sendAuthorizerResponse);
  const programOpts = {
    // Each program's process group reaches the master as soon as it runs, so that the master
    // can end it if this worker dies without its own cleanup (SIGKILL at --worker-timeout).
    spawner: { ...spawner, spawn: (req: SpawnRequest, signal?: AbortSignal) => spawner.spawn(req, signal).then(reported) },
    extraEnv: { ...scripts.passEnv, PATH: scripts.passEnv['PATH'] ?? DEFAULT_PATH },
    passAuthorization: scripts.passAuthorization,
    timeoutMs: scripts.cgiTimeoutMs,
    idleTimeoutMs: scripts.cgiIdleTimeoutMs,
  };
  // --authorizer-script: one script answers every Authorizer request, whatever the web server
  // names in SCRIPT_FILENAME (lighttpd sends the protected file's path there).
  const authorizerParams = scripts.authorizerScript === undefined ? null : new Map([['SCRIPT_FILENAME', scripts.authorizerScript]]);
  const authorizerProgramOpts = { ...programOpts, passAuthorization: true, extraEnv: { ...programOpts.extraEnv, ...FCGI_ROLE_AUTHORIZER } };

  function reported(child: SpawnedChild): SpawnedChild {
    beat();
    return child;
  }

  // --status off: nothing is counted per request (the master then shows the heartbeat's figures).
  const board = config.status?.enabled === false ? null : new Scoreboard();
  const status = board === null ? null : new StatusRoute(config.status, board, () => spawner.stats(), (m) => send(m));
  if (board !== null && config.status !== undefined && config.status.slowRequestMs > 0) new Slowlog(config.status.slowRequestMs, config.status.poolName, board, log);

  function dispatch(r: ResponderRequest): Promise<void> | void {
    if (status?.matches(r) === true) return status.serve(r);
    const found = locator.locate(r.role === FCGI_AUTHORIZER && authorizerParams !== null ? authorizerParams : r.params);
    return found instanceof Promise ? found.then((script) => runScript(r, script)) : runScript(r, found);
  }

  function runScript(r: ResponderRequest, script: LocatedScript | ScriptMiss): Promise<void> | void {
    if (!script.ok) {
      // What PHP-FPM calls "Primary script unknown", said in full.
      logScriptMiss(r.log, script, r.params.get('REQUEST_URI'));
      return writeCgiError(r, script.status === 403 ? 'FF_FORBIDDEN' : 'FF_NOT_FOUND');
    }
    // FastCGI 1.0 §6.3: an Authorizer request calls the module's authorize(), or the program with FCGI_ROLE=AUTHORIZER.
    const authorizer = r.role === FCGI_AUTHORIZER;
    if (script.kind === 'module') return (authorizer ? authorizers : modules).run(r, script);
    return runProgram(r, script, authorizer ? authorizerProgramOpts : programOpts, r.log);
  }

  function onRequest(r: ResponderRequest): Promise<void> | void {
    inFlight += 1;
    const entry = track(r);
    const live = board === null ? null : board.begin(r);
    let pending: Promise<void> | void = undefined;
    try {
      pending = dispatch(r);
    } catch (err) {
      failed(r, err);
    }
    if (pending === undefined) return settled(entry, live);
    return pending.then(
      () => settled(entry, live),
      (err: unknown) => {
        failed(r, err);
        settled(entry, live);
      },
    );
  }

  function failed(r: ResponderRequest, err: unknown): void {
    r.log.error({ reqId: r.params.get('REQUEST_ID'), err: asError(err) }, 'request failed inside the worker');
    writeCgiError(r, 'FF_INTERNAL', 1);
  }

  function settled(entry: Tracked, live: LiveRequest | null): void {
    running.delete(entry);
    if (live !== null) board!.end(live);
    inFlight -= 1;
    served += 1;
    // --max-requests: ask for a replacement; keep serving until the master says stop, so the
    // socket never lacks a listener and no connection is reset (issue 5).
    if (config.maxRequests > 0 && served === config.maxRequests && state === 'serving') {
      state = 'retiring';
      send({ type: 'ff:retire', served });
    }
  }

  const allowClient = allowedClients(config.allowedClients);
  const responder = (config.protocol === 'uwsgi' ? createUwsgiResponder : config.protocol === 'scgi' ? createScgiResponder : createResponder)({ log, onRequest, authorizer: true, allowClient });
  const server = net.createServer();
  responder.attach(server);
  server.once('error', (err) => {
    if (state === 'booting') bootFailed(`cannot listen on the pool socket: ${err.message}`);
    else log.error({ err }, 'listening socket error');
  });
  const listenOpts = config.listen.kind === 'unix' ? { path: config.listen.path } : { host: config.listen.host, port: config.listen.port };
  void preload().then((ok) => {
    if (!ok || state !== 'booting') return;
    server.listen(listenOpts, () => {
      // Told to stop while the master was still handing over the socket: do not start accepting.
      if (state !== 'booting') return void server.close();
      state = 'serving';
      send({ type: 'ff:ready' });
      log.debug({ cgiBin }, 'worker listening');
    });
  });

  /** A reload's worker imports the modules the old generation served before it listens. */
  async function preload(): Promise<boolean> {
    for (const file of config.preload) {
      const failure = await modules.preload(file);
      if (failure === null) continue;
      // The master logs it once, as the reason the reload is abandoned.
      bootFailed(`${file} does not import`, failure);
      return false;
    }
    return true;
  }

  const heartbeat = setInterval(beat, config.heartbeatMs);

  /** Graceful: stop accepting, finish in-flight requests, close idle connections, exit 0. */
  async function drain(why: string): Promise<void> {
    if (state === 'draining' || state === 'exiting') return;
    state = 'draining';
    log.info({ reason: why, inFlight, served }, 'worker draining');
    server.close();
    // Kept connections close between requests only (see ResponderConnection): right after a
    // response, or once quiet for DRAIN_QUIET_MS, which also covers a connection accepted just
    // before the close whose first record is still on its way.
    await responder.close(config.gracefulTimeoutMs, DRAIN_QUIET_MS);
    await spawner.close();
    exit(0);
  }

  /** Fast: kill the children, exit without waiting for requests. */
  function quit(why: string): void {
    if (state === 'exiting') return;
    state = 'exiting';
    log.info({ reason: why, inFlight }, 'worker quitting');
    server.close();
    const timer = setTimeout(() => exit(0), FAST_EXIT_MS);
    void spawner.close().then(() => {
      clearTimeout(timer);
      exit(0);
    });
  }

  function exit(code: number): void {
    clearInterval(heartbeat);
    // A last heartbeat carries the final count for the master's exit log line.
    const timer = setTimeout(() => process.exit(code), 200);
    send({ type: 'ff:heartbeat', inFlight, served, requests: inProgress(running) }, () => {
      clearTimeout(timer);
      process.exit(code);
    });
  }

  process.on('message', (m: unknown) => {
    if (status?.onMessage(m) === true) return;
    if (!isMasterMessage(m)) return;
    if (m.type === 'ff:stop') void drain('master asked');
    if (m.type === 'ff:quit') fastStop(m.deadlineMs);
  });

  /** The master's fast stop: in-flight requests get `deadlineMs`, then whatever is left is cut. */
  function fastStop(deadlineMs: number): void {
    setTimeout(() => quit('fast stop deadline'), deadlineMs).unref();
    void drain('master asked to stop fast');
  }
  // The master is gone (IPC closed): finish what we have and leave, never run unsupervised.
  process.on('disconnect', () => void drain('master gone'));
  // systemd's default KillMode sends SIGTERM to every process of the unit: drain as asked.
  process.on('SIGTERM', () => void drain('SIGTERM'));
  // Sent to the whole process group by a terminal (Ctrl-C, Ctrl-\, a closed terminal, job
  // control): only the master acts on these, and tells its workers what to do over IPC.
  for (const sig of ['SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGTTIN', 'SIGTTOU'] as const) process.on(sig, () => {});
  // A handler's stray callback or promise must not take the other requests down with it.
  // After an uncaught exception the process state is unknown: finish the requests in progress,
  // and ask to be replaced as --max-requests does (no request is cut).
  process.on('uncaughtException', (err) => {
    log.error({ err: asError(err) }, 'uncaught exception (a handler callback?); the worker finishes its requests and is replaced');
    if (state === 'serving') {
      state = 'retiring';
      send({ type: 'ff:retire', served });
    }
  });
  process.on('unhandledRejection', (err) => log.error({ err: asError(err) }, 'unhandled rejection (a handler promise?); the worker keeps serving'));

  function bootFailed(message: string, importFailure?: ImportFailure): void {
    if (importFailure === undefined) log.fatal({ reason: message }, 'worker cannot boot');
    const timer = setTimeout(() => process.exit(WORKER_BOOT_ERROR), 1000);
    send(importFailure === undefined ? { type: 'ff:boot-error', message } : { type: 'ff:boot-error', message, importFailure }, () => {
      clearTimeout(timer);
      process.exit(WORKER_BOOT_ERROR);
    });
  }
}
