// Runs a real `forkfast serve` (dist/src/cli.js) in its own process group, in a temp dir with its
// own TMPDIR (so a socket directory left behind is seen), parses its JSON log, and kills every
// process it saw on close.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { ROOT, makeFixtureDir, type LogLine } from './harness.js';

export const CLI = join(ROOT, 'dist', 'src', 'cli.js');

/** Programs with a child of their own; the pids land in $FAMILY_DIR/<query>.pids. */
const PROGRAMS: Record<string, string> = {
  'family.sh': `#!/bin/sh\nsleep 30 &\necho "$$ $!" > "$FAMILY_DIR/$QUERY_STRING.pids"\nprintf 'Content-Type: text/plain\\r\\n\\r\\nstarted\\n'\nwait\n`,
  'nap.sh': `#!/bin/sh\nsleep 0.4\nprintf 'Content-Type: text/plain\\r\\n\\r\\nnap done\\n'\n`,
};

const LIVE = new Set<ServeProcess>();

export async function killAllServes(): Promise<void> {
  await Promise.all([...LIVE].map((s) => s.close()));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export function get(port: number, path: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Alive and not a zombie. */
export function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export interface ServeOptions {
  readonly args?: readonly string[];
  /** null: no --workers flag (a config file sets it). */
  readonly workers?: number | null;
  /** TMPDIR of the server (default: a fresh `tmp` in the test dir). */
  readonly tmpdir?: string;
  /** More environment for the server. */
  readonly env?: Readonly<Record<string, string>>;
}

export class ServeProcess {
  readonly lines: LogLine[] = [];
  readonly out: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly proc: ChildProcess;
  readonly pidFile: string;
  readonly familyDir: string;
  readonly tmp: string;
  private readonly seen = new Set<number>();

  constructor(
    readonly dir: string,
    readonly cgiBin: string,
    readonly port: number,
    opts: ServeOptions,
  ) {
    this.pidFile = join(dir, 'serve.pid');
    this.familyDir = join(dir, 'family');
    mkdirSync(this.familyDir);
    this.tmp = opts.tmpdir ?? join(dir, 'tmp');
    mkdirSync(this.tmp, { recursive: true });
    mkdirSync(join(dir, 'public'), { recursive: true });
    const args = [CLI, 'serve', '--listen', `127.0.0.1:${port}`, '--cgi-bin', cgiBin, '--public', join(dir, 'public'), ...(opts.workers === null ? [] : ['--workers', String(opts.workers ?? 2)]), '--pid', this.pidFile, '--pass-env', `FAMILY_DIR=${this.familyDir}`, ...(opts.args ?? [])];
    // Its own process group, as a shell gives a foreground job: a test can signal the whole group.
    this.proc = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, TMPDIR: this.tmp, ...opts.env } });
    let buf = '';
    this.proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const line = JSON.parse(text) as LogLine;
          this.lines.push(line);
          for (const pid of [line.pid, line.workerPid]) if (typeof pid === 'number') this.seen.add(pid);
        } catch {
          this.out.push(text);
        }
      }
    });
    this.proc.stderr!.setEncoding('utf8').on('data', (c: string) => this.out.push(c));
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
    LIVE.add(this);
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Waits for a log line matching `pred` (from index `from`), or fails at the deadline. */
  async waitFor(pred: (l: LogLine) => boolean, timeoutMs: number, what: string, from = 0): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.slice(from).find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; log:\n${this.dump()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The pids a family.sh run wrote (script, its child), once it wrote them. */
  async family(name: string, timeoutMs = 15_000): Promise<number[]> {
    const file = join(this.familyDir, `${name}.pids`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const pids = readFileSync(file, 'utf8').trim().split(' ').map(Number);
        if (pids.length === 2 && pids.every((p) => p > 0)) return pids;
      } catch {
        // not yet
      }
      if (Date.now() > deadline) throw new Error(`family.sh?${name} did not start; log:\n${this.dump()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Worker pids the log says are alive. */
  workerPids(): number[] {
    const live = new Set<number>();
    for (const l of this.lines) {
      if (l.workerPid === undefined) continue;
      if (l.msg === 'worker ready') live.add(l.workerPid);
      if (l.msg === 'worker exited' || l.msg === 'worker died unexpectedly; replacing it' || l.msg === 'worker failed to boot') live.delete(l.workerPid);
    }
    return [...live];
  }

  /** Every pid seen in the log (master, workers). */
  seenPids(): number[] {
    return [...this.seen];
  }

  /** Entries left in the server's TMPDIR (a socket directory left behind shows here). */
  tmpLeft(): string[] {
    try {
      return readdirSync(this.tmp);
    } catch {
      return [];
    }
  }

  dump(): string {
    return this.lines.map((l) => JSON.stringify(l)).join('\n') + '\n' + this.out.join('');
  }

  async close(): Promise<void> {
    LIVE.delete(this);
    for (const pid of this.seen) {
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

/** Starts serve with the pool fixtures plus family.sh and nap.sh; resolves once /fcgi-bin/ answers. */
export async function startServe(opts: ServeOptions = {}, fixtures = makeFixtureDir()): Promise<ServeProcess> {
  for (const [name, text] of Object.entries(PROGRAMS)) {
    writeFileSync(join(fixtures.cgiBin, name), text);
    chmodSync(join(fixtures.cgiBin, name), 0o755);
  }
  const s = new ServeProcess(fixtures.dir, fixtures.cgiBin, await freePort(), opts);
  await s.waitFor((l) => l.msg === 'listening', 30_000, 'serve listening');
  return s;
}
