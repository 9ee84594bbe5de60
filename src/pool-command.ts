// `forkfast pool`: the resident worker pool alone, as a FastCGI backend (nginx fastcgi_pass).
import type { PoolConfig } from './config.js';
import { changedKeys } from './config-diff.js';
import { createLogger, type Logger } from './log.js';
import { runPool } from './pool/master.js';
import type { RereadOptions } from './pool/arbiter.js';

export async function runPoolCommand(config: PoolConfig, reread?: () => PoolConfig): Promise<number> {
  const log = createLogger({ level: config.logLevel });
  const code = await runPool(config, log, { reloadOnEdit: config.reload, reread: reread && (() => rereadPool(config, reread(), log)) });
  log.flush?.();
  return code;
}

/**
 * SIGHUP: what a worker receives at fork (worker settings, script limits, --pass-env, the
 * shutdown deadline) applies to the new generation; the socket, the directory, the pid file and
 * the log level stay until a restart, and one line says which of those changed.
 */
function rereadPool(current: PoolConfig, next: PoolConfig, log: Logger): RereadOptions {
  const fixed = (c: PoolConfig): object => ({ listen: c.listen, logLevel: c.logLevel, pidFile: c.pidFile, reload: c.reload, cgiBin: c.scripts.cgiBin });
  const restart = changedKeys(fixed(current), fixed(next));
  const applied = changedKeys({ pool: current.pool, scripts: current.scripts, shutdownTimeoutMs: current.shutdownTimeoutMs }, { pool: next.pool, scripts: next.scripts, shutdownTimeoutMs: next.shutdownTimeoutMs }).filter((k) => k !== 'scripts.cgiBin');
  if (applied.length > 0 || restart.length > 0) log.info({ component: 'pool', applied, needRestart: restart }, 'configuration re-read: the new workers take the applied values; the others need a restart');
  return { pool: next.pool, scripts: { ...next.scripts, cgiBin: current.scripts.cgiBin }, shutdownTimeoutMs: next.shutdownTimeoutMs };
}
