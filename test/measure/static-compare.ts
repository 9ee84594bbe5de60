// Bench: forkfast's static mount vs `send` and `serve-static` on node:http vs nginx, 1 KiB file, wrk.
//
// Usage: node dist/test/measure/static-compare.js [--duration 5] [--connections 32] [--file-size 1024]
// Needs wrk on PATH; nginx is measured when installed. `send` and `serve-static` are not
// dependencies of forkfast: install them beside it for the measurement only
// (`npm install --no-save send serve-static`, or anywhere and point NODE_PATH at that
// node_modules: they are loaded through require(), which honours NODE_PATH). A missing peer is
// skipped with a note. Every server runs in its own process so each gets a whole event loop; wrk
// runs with -t2 like the figures in MEASUREMENTS.md. Figures on a shared 2-core machine move by
// 10–30 % between runs: compare the ratios printed in one run.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { silentLogger } from '../../src/log.js';
import type { RequestContext } from '../../src/http/route.js';
import { createStaticMount } from '../../src/static/serve.js';

type Kind = 'forkfast' | 'forkfast-nocache' | 'send' | 'serve-static';
const NODE_KINDS: readonly Kind[] = ['forkfast', 'forkfast-nocache', 'send', 'serve-static'];

interface Row {
  readonly name: string;
  readonly rps?: number;
  readonly p99ms?: number;
  readonly note?: string;
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/** Child side: builds one kind of server on an ephemeral port and prints {"port":N}. */
async function serveChild(kind: Kind, root: string): Promise<void> {
  const require = createRequire(import.meta.url);
  let listener: Listener;
  if (kind === 'send') {
    const send = require('send') as (req: IncomingMessage, path: string, opts: { root: string }) => { pipe(res: ServerResponse): void };
    listener = (req, res) => send(req, (req.url ?? '/').split('?')[0] ?? '/', { root }).pipe(res);
  } else if (kind === 'serve-static') {
    const serveStatic = require('serve-static') as (root: string) => (req: IncomingMessage, res: ServerResponse, next: () => void) => void;
    const mw = serveStatic(root);
    listener = (req, res) =>
      mw(req, res, () => {
        res.statusCode = 404;
        res.end();
      });
  } else {
    const mount = createStaticMount({ root, log: silentLogger(), cache: kind === 'forkfast' ? {} : false });
    const log = silentLogger();
    let n = 0;
    // The same minimal context the front builds (src/http/dispatch.ts), without its access log.
    listener = (req, res) => {
      const target = req.url ?? '/';
      const q = target.indexOf('?');
      const ctx: RequestContext = {
        id: String(++n),
        log,
        method: req.method ?? 'GET',
        target,
        rawPath: q < 0 ? target : target.slice(0, q),
        query: q < 0 ? '' : target.slice(q + 1),
        redirectDepth: 0,
        kind: 'static',
        redirect: () => Promise.reject(new Error('no redirects')),
      };
      void mount.handle(req, res, ctx);
    };
  }
  const server = createServer({ keepAliveTimeout: 60_000 }, listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function canRequire(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}

async function startNodeServer(kind: Kind, root: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', kind, root], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`${kind} server exited ${code}`)));
  });
  return { child, port };
}

/** nginx as in the peer baselines of MEASUREMENTS.md: 2 workers, sendfile, access_log off, long keep-alive. */
async function startNginx(dir: string, root: string): Promise<{ child: ChildProcess; port: number }> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  mkdirSync(join(dir, 'nginx', 'logs'), { recursive: true });
  const conf = join(dir, 'nginx', 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 2; daemon off; pid ${dir}/nginx/nginx.pid; error_log ${dir}/nginx/logs/error.log warn;
events { worker_connections 1024; }
http { include /etc/nginx/mime.types; default_type application/octet-stream; access_log off;
  sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path ${dir}/nginx/tmp; proxy_temp_path ${dir}/nginx/tmp; fastcgi_temp_path ${dir}/nginx/tmp;
  scgi_temp_path ${dir}/nginx/tmp; uwsgi_temp_path ${dir}/nginx/tmp;
  server { listen 127.0.0.1:${port}; root ${root}; } }
`,
  );
  const child = spawn('nginx', ['-p', join(dir, 'nginx'), '-c', conf, '-e', join(dir, 'nginx', 'logs', 'error.log')], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  return { child, port };
}

/** One GET before the load: a server answering 403 or 404 quickly must not pass for a fast one. */
async function probe(url: string, size: number): Promise<void> {
  const r = await fetch(url);
  const body = await r.arrayBuffer();
  if (r.status !== 200 || body.byteLength !== size) throw new Error(`${url}: status ${r.status}, ${body.byteLength} bytes`);
}

function wrk(url: string, seconds: number, connections: number): { rps: number; p99ms: number } {
  const r = spawnSync('wrk', ['-t2', `-c${connections}`, `-d${seconds}s`, '--latency', url], { encoding: 'utf8' });
  if (/Non-2xx or 3xx responses/.test(r.stdout)) throw new Error(`${url}: wrk saw error responses`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? NaN);
  const m = /\s99%\s+([\d.]+)(us|ms|s)\b/.exec(r.stdout);
  const scale = m?.[2] === 'us' ? 0.001 : m?.[2] === 's' ? 1000 : 1;
  return { rps, p99ms: Number(m?.[1] ?? NaN) * scale };
}

export async function compareStatic(opts: { seconds: number; connections: number; fileSize: number }): Promise<Row[]> {
  if (!has('wrk')) throw new Error('wrk is not installed (apt-get install -y wrk)');
  const dir = mkdtempSync(join(tmpdir(), 'ff-static-bench-'));
  chmodSync(dir, 0o755); // nginx workers run as nobody when started by root
  const root = join(dir, 'public');
  mkdirSync(root);
  writeFileSync(join(root, 'file.txt'), Buffer.alloc(opts.fileSize, 'x'));
  const rows: Row[] = [];
  const peers: [string, () => Promise<{ child: ChildProcess; port: number }>][] = [];
  if (has('nginx')) peers.push(['nginx (2 workers, sendfile)', () => startNginx(dir, root)]);
  else rows.push({ name: 'nginx', note: 'not installed' });
  for (const kind of NODE_KINDS) {
    if ((kind === 'send' || kind === 'serve-static') && !canRequire(kind)) rows.push({ name: kind, note: `not installed (npm install --no-save ${kind})` });
    else peers.push([`${kind} on node:http`, () => startNodeServer(kind, root)]);
  }
  try {
    for (const [name, start] of peers) {
      const { child, port } = await start();
      try {
        const url = `http://127.0.0.1:${port}/file.txt`;
        await probe(url, opts.fileSize);
        wrk(url, 1, opts.connections); // warm-up: JIT, caches
        rows.push({ name, ...wrk(url, opts.seconds, opts.connections) });
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

function printRows(rows: readonly Row[], opts: { seconds: number; connections: number; fileSize: number }): void {
  const base = (prefix: string): number | undefined => rows.find((r) => r.name.startsWith(prefix))?.rps;
  const nginx = base('nginx');
  const send = base('send');
  console.log(`static ${opts.fileSize} B file, wrk -t2 -c${opts.connections} -d${opts.seconds}s`);
  console.log('| server | req/s | p99 ms | vs nginx | vs send |\n|---|---:|---:|---:|---:|');
  for (const r of rows) {
    if (r.rps === undefined) {
      console.log(`| ${r.name} | – | – | – | – (${r.note ?? ''}) |`);
      continue;
    }
    const ratio = (b: number | undefined): string => (b ? `${(r.rps! / b).toFixed(2)}×` : '–');
    console.log(`| ${r.name} | ${Math.round(r.rps)} | ${r.p99ms?.toFixed(2)} | ${ratio(nginx)} | ${ratio(send)} |`);
  }
}

function flag(args: readonly string[], name: string, def: number): number {
  const i = args.indexOf(name);
  const v = i < 0 ? undefined : Number(args[i + 1]);
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : def;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  if (args[0] === '--serve') {
    await serveChild(args[1] as Kind, args[2] ?? '.');
  } else {
    const opts = { seconds: flag(args, '--duration', 5), connections: flag(args, '--connections', 32), fileSize: flag(args, '--file-size', 1024) };
    printRows(await compareStatic(opts), opts);
  }
}
