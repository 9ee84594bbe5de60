// Starts our own `forkfast serve` child on an ephemeral loopback port for the bench, and always stops it.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection, createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';

export interface OwnServer {
  pid: number;
  baseUrl: string;
  /** The static ceiling we put in our temp public dir. */
  staticPath: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  cgiBin: string;
  workers?: number;
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
}

/** 1 KiB, like the peers' nginx static file, so the ceiling compares with theirs. */
const STATIC_NAME = '1k.txt';
const STATIC_BODY = 'a'.repeat(1023) + '\n';

const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));

/** The port from the server's JSON log line `{"msg":"listening","port":N,...}`, if this is it. */
export function listeningPort(line: string): number | null {
  if (!line.startsWith('{')) return null;
  try {
    const rec = JSON.parse(line) as { msg?: unknown; port?: unknown };
    if (rec.msg === 'listening' && typeof rec.port === 'number' && rec.port > 0) return rec.port;
  } catch {
    // not a log line
  }
  return null;
}

/**
 * A free loopback port, picked by binding port 0 and closing. The server's own `--listen
 * 127.0.0.1:0` would be race-free, but its "listening" line is logged at info level (hidden by
 * --log-level warn, which keeps the access log from costing server CPU), so we choose the port.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** True once something accepts TCP connections on the port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Signal the child's whole process group (it is its leader: detached), so forked scripts go too. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

export async function startServer(opts: StartOptions, log: Logger): Promise<OwnServer> {
  const publicDir = await mkdtemp(join(tmpdir(), 'forkfast-bench-'));
  await writeFile(join(publicDir, STATIC_NAME), STATIC_BODY);
  const chosen = await freePort();
  const args = [CLI, 'serve', '--listen', `127.0.0.1:${chosen}`, '--log-level', 'warn', '--public', publicDir, '--cgi-bin', opts.cgiBin];
  if (opts.workers !== undefined) args.push('--workers', String(opts.workers));
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  // Whatever happens to us (exception, process.exit), the server does not outlive the bench.
  const onExit = (): void => {
    killGroup(child, 'SIGKILL');
    rmSync(publicDir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const tail: string[] = [];
  let done = false;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not accepting connections on 127.0.0.1:${chosen} within ${opts.startTimeoutMs ?? 15000} ms`)), opts.startTimeoutMs ?? 15000);
    const onLine = (line: string): void => {
      // Keep reading for the whole run: a full pipe would stall the server under load.
      tail.push(line);
      if (tail.length > 20) tail.shift();
      const p = listeningPort(line);
      if (p !== null) {
        clearTimeout(timer);
        resolve(p);
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    // Ready when the port accepts (or the log line said so, whichever comes first).
    const poll = async (): Promise<void> => {
      while (alive(child) && !done) {
        if (await accepts(chosen)) {
          clearTimeout(timer);
          resolve(chosen);
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    void poll();
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${signal ?? `code ${code}`} before listening`));
    });
  });
  port.then(
    () => (done = true),
    () => (done = true),
  );

  const stop = async (): Promise<void> => {
    if (alive(child)) {
      killGroup(child, 'SIGTERM');
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), opts.stopTimeoutMs ?? 5000).unref());
      if ((await Promise.race([exited, timeout])) === 'timeout') {
        log.warn({ pid: child.pid }, 'bench server did not stop on SIGTERM, killing it');
        killGroup(child, 'SIGKILL');
        await exited;
      }
    }
    // The group may outlive its leader (a script still running): end it too.
    killGroup(child, 'SIGKILL');
    process.removeListener('exit', onExit);
    await rm(publicDir, { recursive: true, force: true });
  };

  try {
    const p = await port;
    return { pid: child.pid!, baseUrl: `http://127.0.0.1:${p}`, staticPath: `/${STATIC_NAME}`, stop };
  } catch (err) {
    await stop();
    const detail = tail.length > 0 ? `; its last output:\n  ${tail.join('\n  ')}` : '';
    throw new Error(`the bench server failed to start: ${(err as Error).message}${detail}`);
  }
}
