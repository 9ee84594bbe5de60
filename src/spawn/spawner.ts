// The process spawner (`spawn/spawner`): a bounded number of children, each in its own process group.
import type { Logger } from '../log.js';
import type { StartChild } from './backend.js';
import { supervise } from './child.js';
import { startNodeChild } from './node-backend.js';
import { abortError, SlotQueue } from './queue.js';
import { SpawnError, type AbortSignalLike, type ChildExit, type SpawnedChild, type Spawner, type SpawnerOptions, type SpawnRequest } from './types.js';
import { loadNativeStarter, type NativeMode } from './native-backend.js';
import { LiveSet } from '../live-set.js';

export { SpawnError } from './types.js';
export type { ChildExit, ExitReason, SpawnedChild, Spawner, SpawnerOptions, SpawnRequest } from './types.js';

/** Defaults the configuration may start from: "a few per CPU" children (issue 3). */
export function defaultSpawnerOptions(cpus: number): SpawnerOptions {
  return { maxChildren: Math.max(4, cpus * 4), queueSize: 256, killGraceMs: 2000, stderrLimit: 64 * 1024, backend: 'auto' };
}

/** Knobs for benchmarks and tests, not for configuration. */
export interface SpawnerInternals {
  /** Where the native backend calls clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD): libuv's thread pool (default) or inline. */
  readonly nativeMode?: NativeMode;
}

function chooseBackend(options: SpawnerOptions, log: Logger, internals: SpawnerInternals): { name: 'native' | 'node'; start: StartChild } {
  if (options.backend === 'node') return { name: 'node', start: startNodeChild };
  const native = loadNativeStarter(log, internals.nativeMode);
  if (native) return { name: 'native', start: native };
  if (options.backend === 'native') {
    throw new Error('spawn backend "native" was requested but the addon is not built (run `npm run build:native`)');
  }
  return { name: 'node', start: startNodeChild };
}

export function createSpawner(options: SpawnerOptions, parentLog: Logger, internals: SpawnerInternals = {}): Spawner {
  if (!(options.maxChildren >= 1)) throw new RangeError('maxChildren must be at least 1');
  const log = parentLog.child({ component: 'spawn' });
  const backend = chooseBackend(options, log, internals);
  const slots = new SlotQueue(options.maxChildren, Math.max(0, options.queueSize));
  const children = new LiveSet<SpawnedChild>();
  let spawned = 0;
  let timedOut = 0;
  let killed = 0;
  const countExit = (e: ChildExit): void => {
    if (e.reason === 'timeout' || e.reason === 'idle-timeout') timedOut++;
    else if (e.reason !== 'exited') killed++;
  };
  let closing = false;

  const closedError = (): SpawnError => new SpawnError('ECLOSED', 'the spawner is closing');

  async function spawn(request: SpawnRequest, signal?: AbortSignalLike): Promise<SpawnedChild> {
    if (closing) throw closedError();
    await slots.acquire(signal);
    let raw;
    try {
      if (closing) throw closedError();
      raw = await backend.start(request);
    } catch (err) {
      slots.release();
      throw err;
    }
    spawned++;
    const child = supervise(raw, request, {
      killGraceMs: options.killGraceMs,
      stderrLimit: options.stderrLimit,
      log,
      onReaped: () => {
        children.delete(child);
        slots.release();
      },
    });
    children.add(child);
    void child.exited.then(countExit);
    if (signal) {
      if (signal.aborted || closing) {
        // Abandoned while exec ran: nobody will read stdout, so close it ourselves (else its fd
        // would stay open) and kill the child.
        child.kill('aborted');
        raw.stdout.destroy();
        throw closing ? closedError() : abortError(signal);
      }
      const onAbort = (): void => child.kill('aborted');
      signal.addEventListener('abort', onAbort, { once: true });
      void child.exited.then(() => signal.removeEventListener('abort', onAbort));
    }
    return child;
  }

  async function close(): Promise<void> {
    closing = true;
    slots.rejectAll(closedError);
    const pending: Promise<ChildExit>[] = [];
    for (const child of children) {
      child.kill('killed');
      pending.push(child.exited);
    }
    await Promise.all(pending);
  }

  return {
    backend: backend.name,
    spawn,
    stats: () => ({ running: slots.active, queued: slots.queued, spawned, maxChildrenReached: slots.reachedLimit, refused: slots.refused, timedOut, killed }),
    groups: () => [...children].map((c) => c.pid),
    close,
  };
}
