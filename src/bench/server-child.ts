// Starts our own `forkfast serve` child on an ephemeral loopback port for the bench, and always stops it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  const args = [CLI, 'serve', '--listen', '127.0.0.1:0', '--log-level', 'warn', '--public', publicDir, '--cgi-bin', opts.cgiBin];
  if (opts.workers !== undefined) args.push('--workers', String(opts.workers));
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  // Whatever happens to us (exception, process.exit), the server does not outlive the bench.
  const onExit = (): void => killGroup(child, 'SIGKILL');
  process.once('exit', onExit);

  const tail: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" log line within ${opts.startTimeoutMs ?? 15000} ms`)), opts.startTimeoutMs ?? 15000);
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
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${signal ?? `code ${code}`} before listening`));
    });
  });

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
