// Runs a real `forkfast pool` (dist/src/cli.js) in a temp dir with fixture scripts; parses its
// JSON log lines so tests can wait for lifecycle events; kills every process it saw on close.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Address } from './fcgi-client.js';

/** The repository root, from dist/test/pool/harness.js. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');

export interface LogLine {
  level: number;
  msg: string;
  pid: number;
  workerPid?: number;
  [k: string]: unknown;
}

/** Fixture scripts every pool test gets in its cgi-bin (counter.mjs is the repo's own). */
const FIXTURES: Record<string, string> = {
  'slow.mjs': `export default async (request) => {
  const ms = Number(new URL(request.url).searchParams.get('ms') ?? '50');
  await new Promise((r) => setTimeout(r, ms));
  return new Response('slow pid=' + process.pid + '\\n');
};\n`,
  'block.mjs': `export default (request) => {
  const end = Date.now() + Number(new URL(request.url).searchParams.get('ms') ?? '10000');
  while (Date.now() < end) {}
  return new Response('unblocked\\n');
};\n`,
  'throw.mjs': `export default () => { throw new Error('handler failure on purpose'); };\n`,
  'hang.mjs': `export default () => new Promise(() => {});\n`,
  'stray.mjs': `export default () => {
  Promise.reject(new Error('stray rejection on purpose'));
  setTimeout(() => { throw new Error('stray exception on purpose'); }, 1);
  return new Response('still fine\\n');
};\n`,
  'version.mjs': `export default () => new Response('v1 pid=' + process.pid + '\\n');\n`,
};
const PROGRAMS: Record<string, string> = {
  'hello.cgi': `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nhello %s\\n' "$QUERY_STRING"\necho "note from hello.cgi" >&2\n`,
  'sleeper.cgi': `#!/bin/sh\necho $$ > "$SLEEPER_PID_FILE"\nexec sleep 30\n`,
  // Echoes its stdin: a body when CONTENT_LENGTH says so, else /dev/null (EOF at once).
  'echo.cgi': `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nexec cat\n`,
  // 300 KiB of body: past what the worker collects whole, so it streams.
  'big.cgi': `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nhead -c 307200 /dev/zero | tr '\\0' b\n`,
  // A head, a pause longer than the worker waits for EOF, then the rest.
  'slow.cgi': `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nfirst\\n'\nsleep 0.3\nprintf 'second\\n'\n`,
};

export interface PoolOptionsJson {
  workers?: number;
  maxRequests?: number;
  maxRequestsJitter?: number;
  workerTimeoutMs?: number;
  shutdownTimeoutMs?: number;
  cgiTimeoutMs?: number;
  cgiBin?: string;
  listen?: string;
  pidFile?: string;
  /** More `forkfast pool` flags, as given on the command line. */
  extraArgs?: string[];
}

const LIVE = new Set<PoolProcess>();

/** For `after(killAllPools)` in each test file: nothing outlives the file, even after a timeout. */
export async function killAllPools(): Promise<void> {
  await Promise.all([...LIVE].map((p) => p.close()));
}

export class PoolProcess {
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly seenPids = new Set<number>();
  private waiters: Array<() => void> = [];

  constructor(
    readonly proc: ChildProcess,
    readonly dir: string,
    readonly cgiBin: string,
    readonly address: Address,
  ) {
    let buf = '';
    proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const line = JSON.parse(text) as LogLine;
          this.lines.push(line);
          if (typeof line.workerPid === 'number') this.seenPids.add(line.workerPid);
          this.seenPids.add(line.pid);
        } catch {
          this.stderr.push(text);
        }
      }
      for (const w of this.waiters.splice(0)) w();
    });
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => this.stderr.push(c));
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    // A test that times out never reaches its finally: killAllPools() (an after() hook of each
    // test file) kills what it started.
    LIVE.add(this);
  }

  /** Synchronous SIGKILL of everything seen (for the process 'exit' hook). */
  killAll(): void {
    for (const pid of [this.pid, ...this.seenPids]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Waits for a log line matching `pred` (among lines from index `from`), or fails at the deadline. */
  async waitFor(pred: (l: LogLine) => boolean, timeoutMs: number, what: string, from = 0): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.slice(from).find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; log:\n${this.dump()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits until `cond()` holds, re-checked at each log line and every 200 ms. */
  async waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    await this.waitFor(() => cond(), timeoutMs, what).catch(async (err: Error) => {
      if (!cond()) throw err;
    });
  }

  count(msg: string, from = 0): number {
    return this.lines.slice(from).filter((l) => l.msg === msg).length;
  }

  /** Worker pids that said ready and have not been reaped, per the master's log. */
  liveWorkers(): Set<number> {
    const live = new Set<number>();
    for (const l of this.lines) {
      if (l.workerPid === undefined) continue;
      if (l.msg === 'worker ready') live.add(l.workerPid);
      if (l.msg === 'worker exited' || l.msg === 'worker died unexpectedly; replacing it' || l.msg === 'worker failed to boot') live.delete(l.workerPid);
    }
    return live;
  }

  signal(sig: NodeJS.Signals): void {
    this.proc.kill(sig);
  }

  dump(): string {
    return this.lines.map((l) => JSON.stringify(l)).join('\n') + '\n' + this.stderr.join('');
  }

  /** Kills the master and every worker it ever logged, then removes the temp dir. */
  async close(): Promise<void> {
    LIVE.delete(this);
    for (const pid of this.seenPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Makes a temp dir with a cgi-bin of fixtures; returns both. */
export function makeFixtureDir(): { dir: string; cgiBin: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ff-pool-test-'));
  const cgiBin = join(dir, 'cgi-bin');
  mkdirSync(cgiBin);
  copyFileSync(join(ROOT, 'cgi-bin', 'counter.mjs'), join(cgiBin, 'counter.mjs'));
  for (const [name, text] of Object.entries(FIXTURES)) writeFileSync(join(cgiBin, name), text);
  for (const [name, text] of Object.entries(PROGRAMS)) {
    writeFileSync(join(cgiBin, name), text);
    chmodSync(join(cgiBin, name), 0o755);
  }
  writeFileSync(join(dir, 'secret.mjs'), 'export default () => new Response("secret")\n');
  return { dir, cgiBin };
}

/** `forkfast pool` flags for the options (times in seconds, as the CLI takes them). */
function cliArgs(o: PoolOptionsJson & { cgiBin: string; listen: string }): string[] {
  const args = ['pool', '--listen', o.listen, '--cgi-bin', o.cgiBin, '--workers', String(o.workers ?? 2), '--log-level', 'info'];
  if (o.maxRequests !== undefined) args.push('--max-requests', String(o.maxRequests));
  if (o.maxRequestsJitter !== undefined) args.push('--max-requests-jitter', String(o.maxRequestsJitter));
  if (o.workerTimeoutMs !== undefined) args.push('--worker-timeout', String(o.workerTimeoutMs / 1000));
  if (o.shutdownTimeoutMs !== undefined) args.push('--shutdown-timeout', String(o.shutdownTimeoutMs / 1000));
  if (o.cgiTimeoutMs !== undefined) args.push('--cgi-timeout', String(o.cgiTimeoutMs / 1000));
  if (o.pidFile !== undefined) args.push('--pid', o.pidFile);
  if (o.extraArgs !== undefined) args.push(...o.extraArgs);
  return args;
}

/** Starts `forkfast pool` with the options; resolves once the pool logged "pool ready" (or a fatal line). */
export async function startPool(opts: PoolOptionsJson = {}, fixtures = makeFixtureDir()): Promise<PoolProcess> {
  const { dir, cgiBin } = fixtures;
  const sock = join(dir, 'pool.sock');
  const listen = opts.listen ?? sock;
  const address: Address = listen.includes('/') ? { path: listen } : { host: listen.split(':')[0]!, port: Number(listen.split(':')[1]) };
  // No FORKFAST_* variable of the caller may change the options under test.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FORKFAST_')));
  const proc = spawn(process.execPath, [CLI, ...cliArgs({ cgiBin, ...opts, listen })], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const pool = new PoolProcess(proc, dir, cgiBin, address);
  try {
    await pool.waitFor((l) => l.msg === 'pool ready' || l.level >= 60, 15_000, 'pool ready');
  } catch (err) {
    await pool.close();
    throw err;
  }
  return pool;
}

/**
 * `forkfast pool` with one worker, the handler fixtures of test/fixtures/cgi-bin whose names start
 * with `prefix`, and `extraArgs`; fails unless exactly one "pool ready" line came.
 */
export async function startPoolWithFixtures(prefix: string, extraArgs: string[]): Promise<PoolProcess> {
  const fixtures = makeFixtureDir();
  const source = join(ROOT, 'test', 'fixtures', 'cgi-bin');
  for (const name of readdirSync(source)) if (name.startsWith(prefix) && name.endsWith('.mjs')) copyFileSync(join(source, name), join(fixtures.cgiBin, name));
  const pool = await startPool({ workers: 1, extraArgs }, fixtures);
  if (pool.count('pool ready') !== 1) {
    await pool.close();
    throw new Error(`pool did not start: ${pool.dump()}`);
  }
  return pool;
}

export function counterParams(cgiBin: string): Record<string, string> {
  return { SCRIPT_FILENAME: join(cgiBin, 'counter.mjs'), REQUEST_URI: '/fcgi-bin/counter.mjs', SCRIPT_NAME: '/fcgi-bin/counter.mjs', HTTP_HOST: 'localhost' };
}

export function scriptParams(cgiBin: string, name: string, query = ''): Record<string, string> {
  return { SCRIPT_FILENAME: join(cgiBin, name), REQUEST_URI: `/fcgi-bin/${name}${query ? '?' + query : ''}`, QUERY_STRING: query, SCRIPT_NAME: `/fcgi-bin/${name}`, HTTP_HOST: 'localhost' };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
