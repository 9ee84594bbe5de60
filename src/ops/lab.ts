// The lab at /-/lab: its page, one request traced through both mounts, the race, and the pool live.
//
// Exports: createLabMount(opts) -> Mount, LabOptions, PoolView.
//
// Routes (all for allowed clients only: loopback, or --lab-allow):
//   GET  /-/lab/ and its files       public/lab/ (index.html, lab.js, lab.css)
//   POST /-/lab/anatomy              JSON {script, pathInfo, method, query, headers, body}: sent
//                                    through /cgi-bin/ and /fcgi-bin/, each traced (ops/trace)
//   GET  /-/lab/race?script&connections&duration   Server-Sent Events (ops/lab-race)
//   GET  /-/lab/pool                 the pool's workers (pid, state, generation, served)
//   POST /-/lab/pool/reload, /-/lab/pool/kill?pid=N   SIGHUP the pool, SIGKILL one of its workers
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Mount, RequestContext } from '../http/route.js';
import { sendError } from '../errors.js';
import { TRACE_HEADER, type TraceRecorder } from './trace.js';
import type { LabAllow } from './lab-allow.js';
import { exchange, rawRequest, selfAddress, type LabRequest } from './lab-send.js';
import { RACE_LIMITS, runRace } from './lab-race.js';

export interface PoolView {
  stats(): { state: string; target: number; ready: number; workers: readonly { pid: number; state: string; generation: number; served: number; inFlight: number }[] };
  reload(): void;
}

export interface LabOptions {
  /** public/: the page lives in public/lab/. */
  readonly publicDir: string;
  readonly recorder: TraceRecorder;
  readonly allowed: LabAllow;
  /** The embedded pool, when /fcgi-bin/ has one (not with --upstream). */
  readonly pool: PoolView | undefined;
}

const FILES: Record<string, string> = { '': 'index.html', 'index.html': 'index.html', 'lab.js': 'lab.js', 'lab.css': 'lab.css', 'meta.js': 'meta.js' };
const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
const TOKEN = /^[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const MAX_BODY = 64 * 1024;

function json(res: ServerResponse, status: number, data: unknown): void {
  const body = JSON.stringify(data);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) return null;
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return null;
  }
}

/** The page's form, checked: no CR/LF anywhere, a token method, a script name within cgi-bin/. */
function labRequest(input: unknown): { mountPath: string; request: Omit<LabRequest, 'target'> } | string {
  if (typeof input !== 'object' || input === null) return 'expected a JSON object';
  const o = input as Record<string, unknown>;
  const str = (k: string): string => (typeof o[k] === 'string' ? (o[k] as string) : '');
  const script = str('script').replace(/^\/+/, '');
  const method = str('method') || 'GET';
  const pathInfo = str('pathInfo');
  const query = str('query').replace(/^\?/, '');
  if (!FIELD_NAME.test(method)) return 'invalid method';
  if (script === '' || script.split('/').includes('..') || !TOKEN.test(script)) return 'invalid script';
  if (!TOKEN.test(pathInfo) || (pathInfo !== '' && !pathInfo.startsWith('/'))) return 'invalid path info (starts with /)';
  if (/[\s#]/.test(query)) return 'invalid query (no spaces)';
  const headers: [string, string][] = [];
  for (const h of Array.isArray(o['headers']) ? o['headers'] : []) {
    if (!Array.isArray(h) || typeof h[0] !== 'string' || typeof h[1] !== 'string') return 'headers are [name, value] pairs';
    const [name, value] = h as [string, string];
    if (name === '') continue;
    if (!FIELD_NAME.test(name) || /[\r\n\0]/.test(value)) return `invalid header ${JSON.stringify(name)}`;
    if (['host', 'connection', TRACE_HEADER].includes(name.toLowerCase())) return `the lab sets ${name} itself`;
    headers.push([name, value]);
  }
  const body = str('body');
  return { mountPath: script + pathInfo + (query === '' ? '' : `?${query}`), request: { method, headers, body } };
}

async function anatomy(req: IncomingMessage, res: ServerResponse, opts: LabOptions): Promise<void> {
  const parsed = labRequest(await readJson(req));
  if (typeof parsed === 'string') return json(res, 400, { error: parsed });
  const at = selfAddress(req);
  const host = 'path' in at ? 'localhost' : at.host.includes(':') ? `[${at.host}]:${at.port}` : `${at.host}:${at.port}`;
  const one = async (mount: string): Promise<unknown> => {
    const id = `lab-${randomBytes(6).toString('hex')}`;
    const target = mount + parsed.mountPath;
    const bytes = rawRequest({ ...parsed.request, target }, host, [TRACE_HEADER, id]);
    const waiting = opts.recorder.expect(id, 15000);
    try {
      const sent = await exchange(at, bytes, 12000);
      return { mount, target, request: bytes.toString('latin1'), response: sent.answer.toString('latin1'), truncated: sent.truncated, clientMs: sent.ms, trace: await waiting };
    } catch (err) {
      return { mount, target, request: bytes.toString('latin1'), error: (err as Error).message, trace: await waiting };
    }
  };
  // One after the other: each timing is then the script's own, not a share of a busy CPU.
  const cgi = await one('/cgi-bin/');
  const fcgi = await one('/fcgi-bin/');
  json(res, 200, { mounts: [cgi, fcgi] });
}

export function createLabMount(opts: LabOptions): Mount {
  let racing = false;

  async function page(res: ServerResponse, ctx: RequestContext, name: string): Promise<void> {
    const file = FILES[name];
    if (file === undefined) return sendError(res, 'FF_NOT_FOUND', ctx.id);
    let body: Buffer;
    try {
      body = await readFile(join(opts.publicDir, 'lab', file));
    } catch {
      return sendError(res, 'FF_NOT_FOUND', ctx.id);
    }
    res.writeHead(200, { 'content-type': TYPES[file.slice(file.lastIndexOf('.') + 1)] ?? 'application/octet-stream', 'content-length': body.length, 'cache-control': 'no-cache' });
    res.end(ctx.method === 'HEAD' ? undefined : body);
  }

  async function race(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const q = new URLSearchParams(ctx.query);
    const at = selfAddress(req);
    if ('path' in at) return json(res, 409, { error: 'the race needs forkfast to listen on TCP (the load engine speaks to host:port)' });
    const script = q.get('script') ?? 'hello.mjs';
    if (script.split('/').includes('..') || !TOKEN.test(script) || script === '') return json(res, 400, { error: 'invalid script' });
    const connections = Math.min(RACE_LIMITS.maxConnections, Math.max(1, Number.parseInt(q.get('connections') ?? '4', 10) || 4));
    const durationS = Math.min(RACE_LIMITS.maxDurationS, Math.max(1, Number.parseFloat(q.get('duration') ?? '3') || 3));
    if (racing) return json(res, 409, { error: 'a race is already running: one at a time' });
    racing = true;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    try {
      await runRace(res, at, { script, connections, durationS });
    } finally {
      racing = false;
      res.end();
    }
  }

  function pool(res: ServerResponse, ctx: RequestContext, action: string): void {
    const p = opts.pool;
    if (p === undefined) return json(res, 404, { error: 'no embedded pool: /fcgi-bin/ goes to --upstream' });
    if (action === '') return json(res, 200, { ...p.stats(), at: Date.now() });
    if (ctx.method !== 'POST') return sendError(res, 'FF_METHOD_NOT_ALLOWED', ctx.id, { allow: 'POST' });
    if (action === 'reload') {
      p.reload();
      return json(res, 202, { reloading: true });
    }
    const pid = Number.parseInt(new URLSearchParams(ctx.query).get('pid') ?? '', 10);
    // Only a worker of this pool: the lab is no kill(1) for any pid of the machine.
    if (action !== 'kill' || !p.stats().workers.some((w) => w.pid === pid)) return json(res, 400, { error: 'not a worker of this pool' });
    process.kill(pid, 'SIGKILL');
    json(res, 202, { killed: pid });
  }

  return {
    prefix: '/-/lab/',
    kind: 'ops',
    handle: async (req, res, ctx) => {
      if (!opts.allowed(req.socket.remoteAddress)) return sendError(res, 'FF_FORBIDDEN', ctx.id);
      if (ctx.rawPath === '/-/lab') {
        res.writeHead(301, { location: '/-/lab/', 'content-length': 0 });
        return void res.end();
      }
      const rest = ctx.rawPath.slice('/-/lab/'.length);
      if (rest === 'anatomy') {
        if (ctx.method !== 'POST') return sendError(res, 'FF_METHOD_NOT_ALLOWED', ctx.id, { allow: 'POST' });
        return anatomy(req, res, opts);
      }
      if (rest === 'race') return race(req, res, ctx);
      if (rest === 'pool' || rest.startsWith('pool/')) return pool(res, ctx, rest.slice(5));
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return sendError(res, 'FF_METHOD_NOT_ALLOWED', ctx.id, { allow: 'GET, HEAD' });
      return page(res, ctx, rest);
    },
  };
}
