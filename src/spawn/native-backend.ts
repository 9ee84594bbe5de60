// The native spawn backend: clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD) + execve in a small N-API addon (src/spawn/native/), when it was built.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import { diagnoseStartFailure } from './diagnose.js';
import type { RawChild, RawExit, StartChild } from './backend.js';
import { SpawnError, type SpawnRequest } from './types.js';

/** The addon's surface (src/spawn/native/addon.c, child_io.c). Negative numbers are -errno. */
type OnExit = (code: number | null, signal: number, stderrEnded: boolean) => void;
/** A stdout chunk (null with eof when there is none). */
type OnStdout = (chunk: Buffer | null, eof: boolean) => void;
/** A stderr chunk; null is its end, when that comes after the exit. */
type OnStderr = (chunk: Buffer | null) => void;
/** [pid, stdinFd (-1 without a body), handle of the child's stdout reader] or -errno. */
type Spawned = [number, number, object] | number;
interface NativeSpawn {
  /** The clone + exec on libuv's thread pool: the event loop does not wait for the child's exec. */
  spawn(file: string, argv: string, env: string, cwd: string, stdinPipe: boolean, onExit: OnExit, onStdout: OnStdout, onStderr: OnStderr, onSpawned: (r: Spawned) => void): number;
  /** The clone + exec on the calling (main) thread: blocked until the child has exec'd. */
  spawnSync(file: string, argv: string, env: string, cwd: string, stdinPipe: boolean, onExit: OnExit, onStdout: OnStdout, onStderr: OnStderr): Spawned;
  /** Stops and restarts reading stdout: the JS stream's backpressure. */
  pause(handle: object): void;
  resume(handle: object): void;
  /** Stops reading stdout and closes it: the consumer is gone (the child gets EPIPE). */
  closeStdout(handle: object): void;
  probe(): number;
}

/** Where the clone + exec runs: 'pool' (default) or 'inline' on the event loop (kept to measure). */
export type NativeMode = 'pool' | 'inline';

/** Where the built addon may be: next to the sources, seen from src/cgi/ or from dist/src/cgi/. */
const CANDIDATES = ['./native/build/Release/forkfast_spawn.node', '../../../src/spawn/native/build/Release/forkfast_spawn.node'];

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
      log.debug({ path, err }, 'native spawn addon failed to load, using child_process');
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

/**
 * The child's stdout, fed by the addon (child_io.c reads the pipe with a uv_poll_t): a plain
 * Readable is much cheaper than a net.Socket over the pipe (no handle, no fstat/isatty/fcntl, no
 * close callback). Backpressure: when push() says the buffer is full we pause the addon's
 * polling until _read() asks again. `bytesRead` feeds the idle timer, as net.Socket's did.
 */
class ChildStdout extends Readable {
  bytesRead = 0;
  handle: object | null = null;
  private stopped = false;
  private wanted = false;

  constructor(private readonly addon: NativeSpawn) {
    super();
  }

  readonly onChunk: OnStdout = (chunk, eof) => {
    if (chunk !== null) {
      this.bytesRead += chunk.length;
      // Paused from here, not by a return value: the ticks after this callback may call
      // _read() before the addon would see one. `wanted`: a _read() during push() itself.
      this.wanted = false;
      if (!this.push(chunk) && !this.wanted && !eof && this.handle !== null) {
        this.stopped = true;
        this.addon.pause(this.handle);
      }
    }
    if (eof) this.push(null);
  };

  override _read(): void {
    this.wanted = true;
    if (this.stopped && this.handle !== null) {
      this.stopped = false;
      this.addon.resume(this.handle);
    }
  }

  /** EOF now, after what was read; the addon stops polling and closes the pipe. */
  finish(): void {
    if (this.readableEnded || this.destroyed) return;
    if (this.handle !== null) this.addon.closeStdout(this.handle);
    this.handle = null;
    this.push(null);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.handle !== null) this.addon.closeStdout(this.handle);
    cb(err);
  }
}

/** The body's way in: a net.Socket over our end of the stdin pipe (libuv writes it). */
function stdinSocket(fd: number): Socket {
  return new Socket({ fd, readable: false, writable: true });
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
    const stdout = new ChildStdout(addon);
    const stderr = new Readable({ read() {} });
    const onStderr: OnStderr = (chunk) => void stderr.push(chunk);
    const onExit: OnExit = (code, signal, stderrEnded) => {
      // child_io passed on every stderr byte the leader wrote before telling us of its exit.
      if (stderrEnded) stderr.push(null);
      resolveExit({ code, signal: signal ? (SIGNAL_NAMES.get(signal) ?? null) : null });
    };
    const stdinPipe = request.stdin !== null;
    const r =
      mode === 'inline'
        ? addon.spawnSync(request.file, argv, env, request.cwd, stdinPipe, onExit, stdout.onChunk, onStderr)
        : await new Promise<Spawned>((resolve) => {
            const queued = addon.spawn(request.file, argv, env, request.cwd, stdinPipe, onExit, stdout.onChunk, onStderr, resolve);
            if (queued !== 0) resolve(queued);
          });
    if (typeof r === 'number') {
      throw await diagnoseStartFailure(ERRNO_NAMES.get(-r) ?? `errno ${-r}`, request.file, request.cwd);
    }
    const [pid, stdinFd, handle] = r;
    stdout.handle = handle;
    return { pid, stdin: stdinFd >= 0 ? stdinSocket(stdinFd) : null, stdout, stderr, endStdout: () => stdout.finish(), reaped };
  };
}
