// `forkfast pool`: the resident worker pool alone, as a FastCGI backend (nginx fastcgi_pass).
import { createServer } from 'node:net';
import type { PoolConfig } from './config.js';
import { changedKeys } from './config-diff.js';
import { formatListen } from './config-parse.js';
import type { Logger } from './log.js';
import { openLogs } from './log-output.js';
import { reopenWorkerLogs, runPool } from './pool/master.js';
import type { RereadOptions } from './pool/arbiter.js';

export async function runPoolCommand(config: PoolConfig, reread?: () => PoolConfig): Promise<number> {
  // A TCP address in use would only show when each worker fails to bind, five boot failures
  // later: try it once here, so a busy port is one clear line (a unix socket is checked by runPool).
  const busy = config.listen.kind === 'tcp' && config.listen.port !== 0 ? await tryBind(config.listen.host, config.listen.port) : null;
  if (busy !== null) {
    process.stderr.write(`forkfast: cannot listen on ${formatListen(config.listen)}: ${busy}\n`);
    return 1;
  }
  const logs = openLogs({ level: config.logLevel, logFile: config.logFile });
  const log = logs.log;
  // SIGUSR1: flush and reopen the log file, the master's and every worker's (logrotate's postrotate).
  const stopReopen = logs.onSigusr1(reopenWorkerLogs);
  process.once('exit', () => logs.flushSync());
  try {
    return await runPool(config, log, { reloadOnEdit: config.reload, reread: reread && (() => rereadPool(config, reread(), log)) });
  } finally {
    stopReopen();
    logs.close();
  }
}

/** null when the address can be bound, else why not (in the words of `serve`). */
function tryBind(host: string, port: number): Promise<string | null> {
  return new Promise((resolveBind) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      resolveBind(err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EACCES' ? 'permission denied' : err.message);
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolveBind(null)));
  });
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
