// `forkfast pool`: the resident worker pool alone, as a FastCGI backend (nginx fastcgi_pass).
import type { PoolConfig } from './config.js';
import { createLogger } from './log.js';
import { runPool } from './pool/master.js';

export async function runPoolCommand(config: PoolConfig): Promise<number> {
  const log = createLogger({ level: config.logLevel });
  const code = await runPool(config, log);
  log.flush?.();
  return code;
}
