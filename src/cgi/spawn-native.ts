// The native spawn backend: posix_spawn(3) in a small N-API addon (src/native/), when it was built.
import type { Logger } from '../log.js';
import type { StartChild } from './spawn-backend.js';

/** Placeholder until the addon lands: always falls back to the node backend. */
export function loadNativeStarter(log: Logger): StartChild | null {
  log.debug({}, 'native spawn addon not available, using child_process');
  return null;
}
