// `forkfast serve`: builds the mounts, starts the HTTP front, and stops it gracefully on signals.
import { VERSION as version } from './version.js';
import type { ServeConfig } from './config.js';
import { formatListen } from './config-parse.js';
import { createLogger } from './log.js';
import { createFront } from './http/server.js';
import { buildMounts } from './mounts.js';

export async function runServe(config: ServeConfig): Promise<number> {
  const log = createLogger({ level: config.logLevel });
  const built = await buildMounts(config, log, version);
  const front = createFront({ mounts: built.mounts, log, limits: config.limits });
  built.addSource('http', () => ({ inFlight: front.inFlight(), uptimeSeconds: Math.round(process.uptime()) }));

  try {
    const where = await front.listen(config.listen);
    log.info({ address: where.address, port: where.port, public: config.publicDir, cgiBin: config.scripts.cgiBin, ...built.describe }, 'listening');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EADDRINUSE' ? 'address already in use' : e.code === 'EACCES' ? 'permission denied' : e.message;
    log.fatal({ code: e.code, listen: formatListen(config.listen) }, 'cannot listen');
    await built.close();
    log.flush?.();
    process.stderr.write(`forkfast: cannot listen on ${formatListen(config.listen)}: ${why}\n`);
    return 1;
  }

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        // A second signal: stop at once.
        log.warn({ signal }, 'second signal: stopping now');
        log.flush?.();
        process.exit(1);
      }
      stopping = true;
      log.info({ signal, inFlight: front.inFlight(), deadlineMs: config.limits.shutdownTimeoutMs }, 'stopping: draining in-flight requests');
      void front.close(config.limits.shutdownTimeoutMs).then(async (outcome) => {
        await built.close();
        log.info({ outcome }, 'stopped');
        log.flush?.();
        resolveExit(outcome === 'drained' ? 0 : 1);
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
