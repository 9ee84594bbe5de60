// In-process test server: the real HTTP front with the /cgi-bin/ mount and a real spawner, logs captured as JSON lines.
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { request as httpRequest, Agent, type IncomingHttpHeaders } from 'node:http';
import { createLogger } from '../../src/log.js';
import { createFront, type Front } from '../../src/http/server.js';
import { createAccessLog } from '../../src/http/access-log.js';
import { createCgiMount, type CgiMountOptions } from '../../src/cgi/mount.js';
import { createSpawner } from '../../src/spawn/spawner.js';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const fixtureCgiBin = repoRoot + 'test/fixtures/cgi-bin';
export const publicDir = repoRoot + 'public';

export interface Harness {
  readonly port: number;
  readonly url: string;
  readonly front: Front;
  logs(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly host?: string;
  readonly cgiBin?: string;
  readonly limits?: Partial<CgiMountOptions['limits']>;
  readonly maxChildren?: number;
  readonly queueSize?: number;
  readonly passAuthorization?: boolean;
  readonly passEnv?: Record<string, string>;
  /** Spawner backend; default 'auto' (the native helper when built, as in production). */
  readonly backend?: 'auto' | 'native' | 'node';
  /** Default 'debug' (tests read the lines); benchmarks pass 'warn'. */
  readonly logLevel?: 'debug' | 'info' | 'warn';
  /** The front's request head limit; default 16 KiB. */
  readonly maxHeaderSize?: number;
}

export async function startHarness(o: HarnessOptions = {}): Promise<Harness> {
  const lines: Array<Record<string, unknown>> = [];
  let partial = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      partial += chunk.toString('utf8');
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(partial.slice(0, nl)) as Record<string, unknown>);
        partial = partial.slice(nl + 1);
      }
      cb();
    },
  });
  const log = createLogger({ level: o.logLevel ?? 'debug', destination: sink });
  const spawner = createSpawner({ maxChildren: o.maxChildren ?? 16, queueSize: o.queueSize ?? 256, killGraceMs: 500, stderrLimit: 64 * 1024, backend: o.backend ?? 'auto' }, log);
  const mount = createCgiMount({
    cgiBin: o.cgiBin ?? fixtureCgiBin,
    publicDir,
    spawner,
    log,
    limits: { maxBodySize: 16 * 1024 * 1024, timeoutMs: 20_000, idleTimeoutMs: 10_000, maxHeaderBytes: 64 * 1024, ...o.limits },
    passAuthorization: o.passAuthorization ?? false,
    passEnv: o.passEnv ?? {},
    serverSoftware: 'forkfast/test',
  });
  const front = createFront({
    mounts: [mount],
    log,
    // The access log as `serve` writes it by default (a JSON line of the log): tests read it.
    access: createAccessLog('json', undefined, log),
    limits: { maxHeaderSize: o.maxHeaderSize ?? 16 * 1024, maxBodySize: 16 * 1024 * 1024, headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 5_000, shutdownTimeoutMs: 2_000 },
  });
  const host = o.host ?? '127.0.0.1';
  const where = await front.listen({ kind: 'tcp', host, port: 0 } as Parameters<Front['listen']>[0]);
  const port = where.port ?? 0;
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    front,
    logs: () => lines,
    close: async () => {
      await front.close(2_000);
      await spawner.close();
    },
  };
}

export interface Reply {
  readonly status: number;
  readonly statusMessage: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly body: Buffer;
  readonly text: string;
}

export interface FetchOptions {
  readonly method?: string;
  readonly headers?: Record<string, string | string[]>;
  readonly body?: Buffer | string | Buffer[];
  readonly agent?: Agent;
  readonly timeoutMs?: number;
  readonly host?: string;
}

/** One HTTP request with node:http (not fetch: we need raw headers, HEAD, chunked bodies, agents). */
export function fetchRaw(port: number, path: string, o: FetchOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: o.host ?? '127.0.0.1', port, path, method: o.method ?? 'GET', headers: o.headers, agent: o.agent ?? false });
    const timer = setTimeout(() => req.destroy(new Error(`request ${path} timed out`)), o.timeoutMs ?? 15_000);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      res.on('end', () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', headers: res.headers, rawHeaders: res.rawHeaders, body, text: body.toString('utf8') });
      });
    });
    if (Array.isArray(o.body)) {
      for (const part of o.body) req.write(part);
      req.end();
    } else req.end(o.body);
  });
}

/** True while a process with this pid exists (signal 0 probes without killing). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls until `pred` holds or the deadline passes. */
export async function eventually(pred: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return pred();
}

/** Parses KEY=value lines (env.sh / test.cgi output). */
export function parseEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}
