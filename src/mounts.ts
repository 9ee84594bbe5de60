// Assembles the mount table of `forkfast serve` from the config: static, cgi, fastcgi, ops.
import type { ServeConfig } from './config.js';
import type { Logger } from './log.js';
import type { Mount } from './http/route.js';
import { createStatusMount, type StatsSource } from './ops/status.js';

export interface BuiltMounts {
  readonly mounts: Mount[];
  /** Fields for the 'listening' log line. */
  readonly describe: Record<string, unknown>;
  addSource(name: string, source: StatsSource): void;
  /** Releases what was built when the front never started. */
  close(): Promise<void>;
}

export async function buildMounts(config: ServeConfig, log: Logger, version: string): Promise<BuiltMounts> {
  const sources: Record<string, StatsSource> = {};
  const mounts: Mount[] = [createStatusMount({ sources, version })];
  void config;
  void log;
  return {
    mounts,
    describe: {},
    addSource: (name, source) => {
      sources[name] = source;
    },
    close: async () => {
      await Promise.allSettled(mounts.map((m) => m.close?.()));
    },
  };
}
