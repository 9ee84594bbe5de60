// Starts the real forkfast CLI as a child process on an ephemeral port, for integration tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const cliPath = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly proc: ChildProcess;
  /** Every JSON log line the server printed so far. */
  logs(): Array<Record<string, unknown>>;
  /** Raw stderr so far. */
  stderr(): string;
  /** Waits until a log line matches, or fails after timeoutMs. */
  waitForLog(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the exit code once the process ended by itself (SIGKILL after timeoutMs). */
  exited(timeoutMs?: number): Promise<number | null>;
  /** SIGTERM, then SIGKILL after a deadline; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
  readonly command?: string;
  readonly timeoutMs?: number;
  /** The server logs to this file (--log-file): its lines are read from there instead of stdout. */
  readonly readyFile?: string | undefined;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Runs `forkfast serve --listen 127.0.0.1:0 ...args` and resolves once it logged 'listening'. */
export async function startServer(args: string[] = [], opts: StartOptions = {}): Promise<RunningServer> {
  const command = opts.command ?? 'serve';
  const proc = spawn(process.execPath, [cliPath, command, '--listen', '127.0.0.1:0', '--log-level', 'debug', ...args], {
    cwd: opts.cwd ?? repoRoot,
    env: { ...process.env, FORKFAST_LOG_LEVEL: undefined, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  const lines: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  let err = '';
  let partial = '';
  const take = (chunk: string): void => {
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ raw: line });
      }
    }
    for (const w of waiters) w();
  };
  if (opts.readyFile === undefined) proc.stdout!.setEncoding('utf8').on('data', take);
  else {
    proc.stdout!.resume();
    const file = opts.readyFile;
    let offset = 0;
    const poll = setInterval(() => {
      let text = '';
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        return;
      }
      // A rotated (renamed) file starts again at 0.
      if (text.length < offset) offset = 0;
      take(text.slice(offset));
      offset = text.length;
    }, 50);
    proc.once('exit', () => clearInterval(poll));
  }
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => {
    live.delete(proc);
    for (const w of waiters) w();
    r(code);
  }));

  const waitForLog = (pred: (line: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> =>
    new Promise((resolveWait, rejectWait) => {
      const check = (): void => {
        const hit = lines.find(pred);
        if (hit) {
          cleanup();
          resolveWait(hit);
        } else if (proc.exitCode !== null || proc.signalCode !== null) {
          cleanup();
          rejectWait(new Error(`server exited (${proc.exitCode ?? proc.signalCode}) before the expected log line; stderr: ${err}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        rejectWait(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${err}; logs: ${JSON.stringify(lines.slice(-5))}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };

  try {
    const listening = await waitForLog((l) => l['msg'] === 'listening', opts.timeoutMs ?? 15_000);
    const port = Number(listening['port']);
    const waitExit = async (timeoutMs = 15_000): Promise<number | null> => {
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    };
    return { url: `http://127.0.0.1:${port}`, port, proc, logs: () => lines, stderr: () => err, waitForLog, exited: waitExit, stop };
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
}

/** Runs the CLI to completion (for usage errors); resolves with code, stdout and stderr. */
export function runCli(args: string[], opts: StartOptions = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const proc = spawn(process.execPath, [cliPath, ...args], { cwd: opts.cwd ?? repoRoot, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
    proc.once('close', (code) => {
      clearTimeout(timer);
      live.delete(proc);
      resolveRun({ code, stdout, stderr });
    });
  });
}
