// The native spawn backend: posix_spawn(3) in a small N-API addon (src/native/), when it was built.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import { diagnoseStartFailure } from './spawn-diagnose.js';
import type { RawChild, RawExit, StartChild } from './spawn-backend.js';
import { SpawnError, type SpawnRequest } from './spawn-types.js';

/** The addon's surface (src/native/spawn.c). Negative numbers are -errno. */
type OnExit = (code: number | null, signal: number) => void;
type Spawned = number[] | number;
interface NativeSpawn {
  /** posix_spawn on libuv's thread pool: the event loop does not wait for the child's exec. */
  spawn(file: string, argv: string, env: string, cwd: string, stdinPipe: boolean, onExit: OnExit, onSpawned: (r: Spawned) => void): number;
  /** posix_spawn on the calling (main) thread: blocked until the child has exec'd. */
  spawnSync(file: string, argv: string, env: string, cwd: string, stdinPipe: boolean, onExit: OnExit): Spawned;
  probe(): number;
}

/** Where posix_spawn runs: 'pool' (default) or 'inline' on the event loop (kept to measure). */
export type NativeMode = 'pool' | 'inline';

/** Where the built addon may be: next to the sources, seen from src/cgi/ or from dist/src/cgi/. */
const CANDIDATES = ['../native/build/Release/forkfast_spawn.node', '../../../src/native/build/Release/forkfast_spawn.node'];

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));
const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

let cached: NativeSpawn | null | undefined;

function loadAddon(log: Logger): NativeSpawn | null {
  if (cached !== undefined) return cached;
  cached = null;
  const require = createRequire(import.meta.url);
  for (const rel of CANDIDATES) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (!existsSync(path)) continue;
    try {
      const addon = require(path) as NativeSpawn;
      const probe = addon.probe();
      if (probe !== 0) {
        log.debug({ errno: ERRNO_NAMES.get(-probe) ?? probe }, 'native spawn addon unusable here (pidfd_open failed), using child_process');
        return null;
      }
      cached = addon;
      return addon;
    } catch (err) {
      log.debug({ path, err: (err as Error).message }, 'native spawn addon failed to load, using child_process');
      return null;
    }
  }
  log.debug({}, 'native spawn addon not built, using child_process');
  return null;
}

/** NUL-terminated strings end to end; a NUL inside a value would split it, so it is refused. */
function blob(items: readonly string[]): string | null {
  for (const s of items) if (s.includes('\0')) return null;
  return items.join('\0') + '\0';
}

function envBlob(env: Readonly<Record<string, string>>): string | null {
  const items: string[] = [];
  for (const key in env) {
    // A '=' in a name would let it spoof another variable (execve takes "name=value" strings).
    if (key === '' || key.includes('=')) return null;
    items.push(`${key}=${env[key]}`);
  }
  return blob(items);
}

/** A net.Socket over one end of a pipe: libuv reads and writes it without the thread pool. */
function pipeSocket(fd: number, readable: boolean): Socket {
  return new Socket({ fd, readable, writable: !readable });
}

export function loadNativeStarter(log: Logger, mode: NativeMode = 'pool'): StartChild | null {
  const addon = loadAddon(log);
  if (!addon) return null;
  return async (request: SpawnRequest): Promise<RawChild> => {
    const argv = blob([request.file, ...request.args]);
    const env = envBlob(request.env);
    if (argv === null || env === null || request.cwd.includes('\0')) {
      throw new SpawnError('EINVAL', `cannot execute "${request.file}": NUL byte or bad variable name in its arguments or environment`);
    }
    let resolveExit!: (exit: RawExit) => void;
    const reaped = new Promise<RawExit>((resolve) => (resolveExit = resolve));
    const onExit = (code: number | null, signal: number): void => {
      resolveExit({ code, signal: signal ? (SIGNAL_NAMES.get(signal) ?? null) : null });
    };
    const stdinPipe = request.stdin !== null;
    const r =
      mode === 'inline'
        ? addon.spawnSync(request.file, argv, env, request.cwd, stdinPipe, onExit)
        : await new Promise<Spawned>((resolve) => {
            const queued = addon.spawn(request.file, argv, env, request.cwd, stdinPipe, onExit, resolve);
            if (queued !== 0) resolve(queued);
          });
    if (typeof r === 'number') {
      throw await diagnoseStartFailure(ERRNO_NAMES.get(-r) ?? `errno ${-r}`, request.file, request.cwd);
    }
    const [pid, stdinFd, stdoutFd, stderrFd] = r as [number, number, number, number];
    return { pid, stdin: stdinFd >= 0 ? pipeSocket(stdinFd, false) : null, stdout: pipeSocket(stdoutFd, true), stderr: pipeSocket(stderrFd, true), reaped };
  };
}
