// Assembles the mount table of `forkfast serve` from the config: static, cgi, fastcgi, ops.
import type { ServeConfig } from './config.js';
import type { Logger } from './log.js';
import type { Mount } from './http/route.js';
import { createStatusMount, type StatsSource } from './ops/status.js';
import { createStaticMount } from './static/serve.js';
import { createCgiMount } from './cgi/mount.js';
import { createSpawner, defaultSpawnerOptions } from './cgi/spawn.js';
import { availableParallelism } from 'node:os';

export interface BuiltMounts {
  readonly mounts: Mount[];
  /** Fields for the 'listening' log line. */
  readonly describe: Record<string, unknown>;
  addSource(name: string, source: StatsSource): void;
  /** Releases the shared resources (spawner, embedded pool), after the front closed its mounts. */
  close(): Promise<void>;
}

export async function buildMounts(config: ServeConfig, log: Logger, version: string): Promise<BuiltMounts> {
  const sources: Record<string, StatsSource> = {};
  const s = config.scripts;
  const spawner = createSpawner(
    { ...defaultSpawnerOptions(availableParallelism()), maxChildren: s.maxChildren, queueSize: s.queueSize, backend: s.spawnBackend },
    log,
  );
  sources['cgi'] = () => ({ backend: spawner.backend, ...spawner.stats() });
  const mounts: Mount[] = [
    createStatusMount({ sources, version }),
    createStaticMount({ root: config.publicDir, log: log.child({ component: 'static' }) }),
    createCgiMount({
      cgiBin: s.cgiBin,
      publicDir: config.publicDir,
      spawner,
      log: log.child({ component: 'cgi' }),
      limits: { maxBodySize: config.limits.maxBodySize, timeoutMs: s.cgiTimeoutMs, idleTimeoutMs: s.cgiIdleTimeoutMs, maxHeaderBytes: 64 * 1024 },
      passAuthorization: s.passAuthorization,
      passEnv: s.passEnv,
      serverSoftware: `forkfast/${version}`,
    }),
  ];
  // Shared resources outlive the mounts that use them: released after the front has closed.
  const closeAll = async (): Promise<void> => {
    await spawner.close();
  };
  return {
    mounts,
    describe: { spawnBackend: spawner.backend },
    addSource: (name, source) => {
      sources[name] = source;
    },
    close: closeAll,
  };
}
