// Assembles the mount table of `forkfast serve` from the config: static, cgi, fastcgi, ops.
import type { ServeConfig } from './config.js';
import type { Logger } from './log.js';
import type { Mount } from './http/route.js';
import { createStatusMount } from './ops/status.js';
import { allowList } from './ops/status-options.js';
import { createMetrics } from './ops/metrics.js';
import { RequestCounts } from './ops/request-counts.js';
import { serveStatus, type FrontFigures } from './ops/serve-status.js';
import { createStaticMount } from './static/serve.js';
import { createCgiMount } from './cgi/mount.js';
import { createSpawner, defaultSpawnerOptions } from './spawn/spawner.js';
import { availableParallelism } from 'node:os';
import { createFastcgiMount } from './fastcgi/mount.js';
import { startEmbeddedPool, type EmbeddedPool, type EmbeddedPoolExtras } from './pool/master.js';
import { withAuthorizers } from './http/authorizer.js';
import { createFastcgiClient } from './fastcgi/client.js';
import { TraceRecorder } from './ops/trace.js';
import { labAllow, type LabAllow } from './ops/lab-allow.js';
import { createLabMount } from './ops/lab.js';

export interface BuiltMounts {
  readonly mounts: Mount[];
  /** Fields for the 'listening' log line. */
  readonly describe: Record<string, unknown>;
  /** The front's request counts for /-/metrics (undefined with --status off). */
  readonly counts: RequestCounts | undefined;
  /** The front tells the status page its own figures (in-flight requests). */
  setFront(figures: FrontFigures): void;
  /** The lab's tracer and who may ask for a trace: handed to the front. */
  readonly tracing: { readonly recorder: TraceRecorder; readonly allowed: LabAllow };
  /** Releases the shared resources (spawner, embedded pool), after the front closed its mounts. */
  close(): Promise<void>;
  /** The same at once: every worker and every forked script killed (a second stop signal). */
  kill(): Promise<void>;
  /** The embedded pool (none with --upstream): reload, resize, status. */
  readonly pool: EmbeddedPool | undefined;
}

export async function buildMounts(config: ServeConfig, log: Logger, version: string, poolExtras: EmbeddedPoolExtras = {}): Promise<BuiltMounts> {
  const s = config.scripts;
  const spawner = createSpawner(
    { ...defaultSpawnerOptions(availableParallelism()), maxChildren: s.maxChildren, queueSize: s.queueSize, backend: s.spawnBackend },
    log,
  );
  // /fcgi-bin/: external pools when --upstream is given, else an embedded pool on a private socket.
  // The embedded pool tells the client when a worker listens, so requests that found no worker
  // listening (all of them restarting) go as soon as one is back.
  let workerReady = (): void => {};
  const pool = config.upstreams.length > 0
    ? undefined
    : await startEmbeddedPool({ logLevel: config.logLevel, logFile: config.logFile, scripts: s, pool: config.pool, shutdownTimeoutMs: config.limits.shutdownTimeoutMs, status: config.status, onWorkerReady: () => workerReady() }, log, poolExtras);
  const upstreams = pool ? [`unix:${pool.address}`] : [...config.upstreams];
  const serverSoftware = `forkfast/${version}`;
  const limits = { maxBodySize: config.limits.maxBodySize, maxHeaderBytes: 64 * 1024 };
  const fcgiLog = log.child({ component: 'fastcgi' });
  const readTimeout = { idleTimeoutMs: config.fastcgiReadTimeoutMs };
  // About two connections per worker, so the kernel spreads them over every worker.
  const fcgiClient = createFastcgiClient({ upstreams, spreadConns: Math.max(2, 2 * config.pool.workers), workers: pool ? config.pool.workers : undefined, ...readTimeout, log: fcgiLog });
  workerReady = () => fcgiClient.upstreamReady();
  const upstreamErrors: Record<string, number> = {};
  const onUpstreamError = (code: string): void => {
    upstreamErrors[code] = (upstreamErrors[code] ?? 0) + 1;
  };
  let front: FrontFigures = { inFlight: () => 0 };
  const ops = config.status.enabled ? (() => {
    const counts = new RequestCounts();
    const status = (full: boolean) => serveStatus({ version, pool, spawner, front, counts, poolName: config.status.poolName }, full);
    const pages = {
      allowed: allowList(config.status.allow),
      status,
      metrics: createMetrics({ counts, upstreamErrors, status: () => status(false) }),
      paths: { status: ['/-/status'], ping: '/-/ping', metrics: '/-/metrics' },
    };
    return { counts, pages };
  })() : undefined;
  const tracing = { recorder: new TraceRecorder(), allowed: labAllow(config.labAllow) };
  const unguarded: Mount[] = [
    createFastcgiMount({
      prefix: '/fcgi-bin/',
      scripts: { kind: 'cgi-bin', dir: s.cgiBin },
      documentRoot: config.publicDir,
      relativeScriptFilename: pool === undefined,
      // The embedded pool's workers log their programs' stderr where they read it, in our log.
      stderrLoggedUpstream: pool !== undefined,
      sendRequestId: true,
      client: fcgiClient,
      log: fcgiLog,
      limits,
      passAuthorization: s.passAuthorization,
      serverSoftware,
      onUpstreamError,
    }),
    ...config.fastcgiMounts.map((m) =>
      createFastcgiMount({
        prefix: m.prefix,
        scripts: { kind: 'docroot', dir: config.docroot! },
        client: { upstreams: [m.upstream], ...readTimeout },
        log: fcgiLog,
        limits,
        passAuthorization: s.passAuthorization,
        serverSoftware,
        onUpstreamError,
      }),
    ),
    ...(ops ? [createStatusMount(ops.pages)] : []),
    createLabMount({ publicDir: config.publicDir, ...tracing, pool: pool === undefined ? undefined : { stats: () => pool.stats(), reload: () => pool.reload() } }),
    createStaticMount({ root: config.publicDir, log: log.child({ component: 'static' }) }),
    createCgiMount({
      cgiBin: s.cgiBin,
      publicDir: config.publicDir,
      spawner,
      log: log.child({ component: 'cgi' }),
      limits: { maxBodySize: config.limits.maxBodySize, timeoutMs: s.cgiTimeoutMs, idleTimeoutMs: s.cgiIdleTimeoutMs, maxHeaderBytes: 64 * 1024 },
      passAuthorization: s.passAuthorization,
      passEnv: s.passEnv,
      serverSoftware,
    }),
  ];
  const guarded = withAuthorizers(unguarded, config.authorizers, { documentRoot: config.publicDir, serverSoftware, log: log.child({ component: 'authorizer' }) });
  const mounts = guarded.mounts;
  // Shared resources outlive the mounts that use them: released after the front has closed.
  const closeAll = async (): Promise<void> => {
    await fcgiClient.close();
    await Promise.allSettled([spawner.close(), pool?.stop(), guarded.close()]);
  };
  return {
    mounts,
    tracing,
    describe: { spawnBackend: spawner.backend, fcgiUpstreams: upstreams, workers: pool ? config.pool.workers : undefined },
    counts: ops?.counts,
    setFront: (figures) => {
      front = figures;
    },
    close: closeAll,
    kill: async () => {
      await Promise.allSettled([spawner.close(), pool?.kill()]);
    },
    pool,
  };
}
