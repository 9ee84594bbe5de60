// `forkfast pool`: the resident worker pool alone, as a FastCGI backend.
import type { PoolConfig } from './config.js';

export async function runPoolCommand(config: PoolConfig): Promise<number> {
  void config;
  process.stderr.write('forkfast: pool is not built yet\n');
  return 1;
}
